package catalog

// The card of an app is what ingestion derives from its repository: name,
// description, emoji, port and the Dockerfile a build uses. The fields
// below are kept in Repository.Metadata besides Repository's own columns.

// Port sources: where ingestion found Repository.AppPort
// (Repository.PortSource). Ingestion tries them in this order and the
// first that gives a port wins.
const (
	PortFromTagsFile  = "tags.yaml"  // tags.yaml's port
	PortFromReadme    = "readme"     // app_port of the README's Hugging Face front matter
	PortFromExpose    = "expose"     // EXPOSE of the image's final stage
	PortFromCompose   = "compose"    // ports or expose of the compose service built
	PortFromCmd       = "cmd"        // a flag or address of the image's CMD or ENTRYPOINT
	PortFromEnv       = "env"        // ENV PORT, or the server's own variable
	PortFromDockerRun = "docker-run" // the container port of a `docker run -p` the README shows
	PortFromCode      = "code"       // a literal port in the program the image runs (ListenAndServe(":8080"))
	PortFromFramework = "framework"  // the default port of the server the command runs, or of the base image
	PortFromHFDefault = "hf-default" // Hugging Face's port for the Space's SDK (7860 for docker)
)

// PortSourceText says in words where a port came from, for people.
func PortSourceText(source string) string {
	switch source {
	case PortFromTagsFile:
		return "port in tags.yaml"
	case PortFromReadme:
		return "app_port in the README front matter"
	case PortFromExpose:
		return "EXPOSE in the Dockerfile"
	case PortFromCompose:
		return "the compose service's ports"
	case PortFromCmd:
		return "the Dockerfile's CMD/ENTRYPOINT"
	case PortFromEnv:
		return "ENV in the Dockerfile"
	case PortFromDockerRun:
		return "docker run -p in the README"
	case PortFromCode:
		return "the program's code"
	case PortFromFramework:
		return "the server's default port"
	case PortFromHFDefault:
		return "the Hugging Face Spaces default"
	case PortFromManual:
		return "set by hand with appstore edit --port"
	}
	return source
}

// Dockerfile choices: why ingestion builds the Dockerfile it chose
// (BuildChoice.Source).
const (
	ChoiceRegistration = "registration" // the repository's dockerfile setting (--dockerfile)
	ChoiceTagsFile     = "tags.yaml"    // tags.yaml's dockerfile
	ChoiceCompose      = "compose"      // the application service of a compose file
	ChoiceRoot         = "root"         // the Dockerfile at the repository root
	ChoiceManifest     = "manifest"     // the Dockerfile beside an application manifest
	ChoiceFound        = "found"        // the shallowest other Dockerfile found
)

// RepositoryMetadata is the part of Repository.Metadata that describes
// the card (other keys hold facts of the Dockerfile and the clone).
type RepositoryMetadata struct {
	// HF holds the Hugging Face Spaces fields of the README's front
	// matter that have no column of their own.
	HF *HFMetadata `json:"hf,omitempty"`
	// Build says which Dockerfile and context builds use and why, and
	// which other Dockerfiles the repository has.
	Build *BuildChoice `json:"build,omitempty"`
	// Storage is the data directory the app declares (tags.yaml
	// storage:), kept in a volume of its own.
	Storage *Storage `json:"storage,omitempty"`
	// Env are the variables the app declares it reads (tags.yaml env:,
	// .env.example, .env.sample, the compose service's environment:).
	Env []DeclaredEnv `json:"env,omitempty"`
}

// HFMetadata are the Hugging Face Spaces fields of a README's front
// matter kept for the card besides name, description, port and tags.
type HFMetadata struct {
	SDK        string   `json:"sdk,omitempty"`
	SDKVersion string   `json:"sdk_version,omitempty"`
	AppFile    string   `json:"app_file,omitempty"`
	Emoji      string   `json:"emoji,omitempty"`
	ColorFrom  string   `json:"color_from,omitempty"`
	ColorTo    string   `json:"color_to,omitempty"`
	Pinned     *bool    `json:"pinned,omitempty"`
	Models     []string `json:"models,omitempty"`
	Datasets   []string `json:"datasets,omitempty"`
}

// IsZero reports whether nothing was declared.
func (h HFMetadata) IsZero() bool {
	return h.SDK == "" && h.SDKVersion == "" && h.AppFile == "" && h.Emoji == "" && h.ColorFrom == "" &&
		h.ColorTo == "" && h.Pinned == nil && len(h.Models) == 0 && len(h.Datasets) == 0
}

// BuildChoice is the Dockerfile and context ingestion chose, and why.
type BuildChoice struct {
	Dockerfile string `json:"dockerfile"`
	Context    string `json:"context"`
	// Source is one of the Choice constants; Reason says it in words,
	// e.g. "service web of compose.yaml (nginx is a proxy, db a datastore)".
	Source string `json:"source"`
	Reason string `json:"reason"`
	// ComposeFile and ComposeService name the compose service chosen.
	ComposeFile    string `json:"compose_file,omitempty"`
	ComposeService string `json:"compose_service,omitempty"`
	// Target is the stage of the Dockerfile builds stop at (the compose
	// service's build.target), "" for the final stage; Args are the
	// build arguments (its build.args), nil for none.
	Target string            `json:"target,omitempty"`
	Args   map[string]string `json:"args,omitempty"`
	// Others are the other Dockerfiles found, each with why it was not
	// chosen.
	Others []OtherDockerfile `json:"others,omitempty"`
}

// OtherDockerfile is a Dockerfile of the repository that builds do not use.
type OtherDockerfile struct {
	Path string `json:"path"`
	Why  string `json:"why"`
}
