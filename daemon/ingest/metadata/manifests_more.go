package metadata

import (
	"encoding/json"
	"regexp"
	"strings"
)

// parsePipfile reads the [packages] and [dev-packages] tables of a Pipfile.
func parsePipfile(data []byte) manifest {
	deps := map[string]bool{}
	for _, e := range scanTOML(data) {
		if (e.Section == "packages" || e.Section == "dev-packages") && e.Key != "" {
			deps[normalizePyName(e.Key)] = true
		}
	}
	return manifest{Frameworks: detectFrameworks(deps, pythonFrameworks)}
}

// rubyFrameworks maps gems to frameworks.
var rubyFrameworks = []framework{
	{dep: "rails", name: "rails"},
	{dep: "railties", name: "rails"},
	{dep: "sinatra", name: "sinatra"},
	{dep: "hanami", name: "hanami"},
	{dep: "roda", name: "roda"},
	{dep: "grape", name: "grape"},
}

// gemLine is a "gem 'name'" line of a Gemfile.
var gemLine = regexp.MustCompile(`^\s*gem\s*\(?\s*["']([A-Za-z0-9_.\-]+)["']`)

// parseGemfile reads the gems a Gemfile declares.
func parseGemfile(data []byte) manifest {
	deps := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := gemLine.FindStringSubmatch(line); m != nil {
			deps[strings.ToLower(m[1])] = true
		}
	}
	return manifest{Frameworks: detectFrameworks(deps, rubyFrameworks)}
}

// phpFrameworks maps Composer packages to frameworks.
var phpFrameworks = []framework{
	{dep: "laravel/framework", name: "laravel"},
	{dep: "laravel/lumen-framework", name: "lumen"},
	{dep: "symfony/framework-bundle", name: "symfony"},
	{dep: "slim/slim", name: "slim"},
	{dep: "cakephp/cakephp", name: "cakephp"},
	{dep: "yiisoft/yii2", name: "yii"},
	{dep: "codeigniter4/framework", name: "codeigniter"},
	{dep: "livewire/livewire", name: "livewire"},
}

// parseComposer reads composer.json: name (the package part of
// vendor/package), description, homepage, keywords, license and the
// frameworks among require and require-dev.
func parseComposer(file string, data []byte) (manifest, []string) {
	var m manifest
	var raw struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Homepage    string            `json:"homepage"`
		Keywords    []string          `json:"keywords"`
		License     json.RawMessage   `json:"license"`
		Require     map[string]any    `json:"require"`
		RequireDev  map[string]any    `json:"require-dev"`
		Extra       map[string]any    `json:"extra"`
		Scripts     map[string]any    `json:"scripts"`
		Support     map[string]string `json:"support"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		line, msg := jsonErrorLine(data, err)
		return m, []string{fileError(file, line, "malformed JSON: %s; ignored", msg).Error()}
	}
	m.File = file
	m.Name = raw.Name
	if _, pkg, ok := strings.Cut(raw.Name, "/"); ok {
		m.Name = pkg
	}
	m.Description = raw.Description
	m.Homepage = raw.Homepage
	m.Topics = appendCapped(nil, raw.Keywords)
	var one string
	var many []string
	switch {
	case json.Unmarshal(raw.License, &one) == nil:
		m.Licenses = licenseIDs(one)
	case json.Unmarshal(raw.License, &many) == nil:
		for i, l := range many {
			if i >= 4 {
				break
			}
			m.Licenses = append(m.Licenses, licenseIDs(l)...)
		}
	}
	deps := map[string]bool{}
	for k := range raw.Require {
		deps[strings.ToLower(k)] = true
	}
	for k := range raw.RequireDev {
		deps[strings.ToLower(k)] = true
	}
	m.Frameworks = detectFrameworks(deps, phpFrameworks)
	return m, nil
}

// jvmFrameworks maps Maven/Gradle coordinates (group:artifact, or a
// plugin id) to frameworks.
var jvmFrameworks = []framework{
	{dep: "org.springframework.boot", name: "spring-boot"},
	{dep: "io.quarkus", name: "quarkus"},
	{dep: "io.micronaut", name: "micronaut"},
	{dep: "io.ktor", name: "ktor"},
	{dep: "io.javalin", name: "javalin"},
	{dep: "io.vertx", name: "vertx"},
	{dep: "io.dropwizard", name: "dropwizard"},
}

// pomGroup finds groupIds and plugin/artifact ids that name a framework in
// pom.xml. A full XML decode is not needed for that: coordinates are plain
// element text.
var pomGroup = regexp.MustCompile(`<groupId>\s*([A-Za-z0-9_.\-]+)\s*</groupId>`)

// parsePom reads the groups of the dependencies, parent and plugins of a
// pom.xml.
func parsePom(data []byte) manifest {
	deps := map[string]bool{}
	for _, m := range pomGroup.FindAllStringSubmatch(string(data), 2000) {
		deps[jvmGroup(m[1])] = true
	}
	return manifest{Frameworks: detectFrameworks(deps, jvmFrameworks)}
}

// jvmGroup maps a group id to the framework key it belongs to
// (org.springframework.boot stays, io.quarkus.platform → io.quarkus).
func jvmGroup(g string) string {
	for _, f := range jvmFrameworks {
		if g == f.dep || strings.HasPrefix(g, f.dep+".") {
			return f.dep
		}
	}
	return g
}

// gradleCoord finds "group:artifact" strings and plugin ids in
// build.gradle and build.gradle.kts.
var gradleCoord = regexp.MustCompile(`["']([A-Za-z0-9_.\-]+)(?::[A-Za-z0-9_.\-]+)?(?::[^"']*)?["']`)

// parseGradle reads the coordinates and plugin ids of a Gradle build.
func parseGradle(data []byte) manifest {
	deps := map[string]bool{}
	for i, m := range gradleCoord.FindAllStringSubmatch(string(data), 4000) {
		if i > 4000 {
			break
		}
		deps[jvmGroup(m[1])] = true
	}
	return manifest{Frameworks: detectFrameworks(deps, jvmFrameworks)}
}
