package apitype

import "github.com/appstore-dev/appstore/catalog"

// EnvVar is one of an app's variables.
type EnvVar = catalog.EnvVar

// SecretInfo is one of an app's secrets: name and update time, never the
// value.
type SecretInfo = catalog.SecretInfo

// DeclaredEnv is a variable an app declares it reads.
type DeclaredEnv = catalog.DeclaredEnv

// What sets a declared variable (DeclaredConfig.SetBy).
const (
	SetByVariable = "variable" // `appstore env set`
	SetBySecret   = "secret"   // `appstore secret set`
	SetByDefault  = "default"  // nothing is set; the declared default applies
)

// DeclaredConfig is a declared variable and what sets it.
type DeclaredConfig struct {
	DeclaredEnv
	// SetBy is variable, secret, default, or empty when nothing sets it.
	SetBy string `json:"set_by,omitempty"`
}

// AppConfig is the answer of GET /api/v1/repositories/{slug}/env and of
// its changes: the app's variables with their values, its secrets'
// names, what it declares and what is missing for it to launch.
type AppConfig struct {
	Slug      string           `json:"slug"`
	Variables []EnvVar         `json:"variables"`
	Secrets   []SecretInfo     `json:"secrets"`
	Declared  []DeclaredConfig `json:"declared"`
	// Missing are the required names that nothing sets: a launch is
	// refused until they are.
	Missing []string `json:"missing"`
	// ConfigVersion changes with every change of variables or secrets;
	// a running launch started at an older one is marked config_changed.
	ConfigVersion int64 `json:"config_version"`
	// NotSet, in the answer to an unset, are the names that were not set.
	NotSet []string `json:"not_set,omitempty"`
}

// EnvChange is the body of PATCH /api/v1/repositories/{slug}/env: set
// some variables, or unset some (not both in one request).
type EnvChange struct {
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
}

// SecretList is the answer of GET /api/v1/repositories/{slug}/secrets.
type SecretList struct {
	Secrets []SecretInfo `json:"secrets"`
}

// SecretValue is the body of PUT /api/v1/repositories/{slug}/secrets/{name}.
// The value is never sent back by any route.
type SecretValue struct {
	Value string `json:"value"`
}
