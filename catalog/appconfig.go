package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// An app's configuration: variables (EnvVar, stored and shown in clear),
// secrets (stored encrypted, never shown) and what the app declares it
// needs (DeclaredEnv, read by ingestion). Both kinds reach the app's
// container as environment variables from its next launch.

// Limits of an app's configuration.
const (
	// MaxEnvNameLen bounds a variable's or secret's name.
	MaxEnvNameLen = 128
	// MaxEnvValueLen bounds one variable's value, in bytes.
	MaxEnvValueLen = 32 << 10
	// MaxSecretLen bounds one secret's value, in bytes.
	MaxSecretLen = 32 << 10
	// MinSecretLen is the shortest secret: shorter values could not be
	// redacted from logs without mangling them.
	MinSecretLen = 4
	// MaxEnvPerApp bounds the variables plus secrets of one app.
	MaxEnvPerApp = 100
	// MaxEnvBytesPerApp bounds the names and values of an app's variables
	// and secrets together.
	MaxEnvBytesPerApp = 256 << 10
)

// ReservedEnv are names the runner sets itself.
var ReservedEnv = []string{"PORT"}

// ValidateEnvName checks a variable's or secret's name: a letter or _,
// then letters, digits or _ ([A-Za-z_][A-Za-z0-9_]*), at most
// MaxEnvNameLen, not one the runner sets (PORT).
func ValidateEnvName(name string) error {
	if name == "" {
		return Invalid("name", "a variable needs a name: give NAME=value")
	}
	if len(name) > MaxEnvNameLen {
		return Invalid("name", "%q is longer than %d characters", name[:32]+"…", MaxEnvNameLen)
	}
	for i, c := range name {
		ok := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return Invalid("name", "%q is not a variable name: use letters, digits and _, not starting with a digit (e.g. OPENAI_API_KEY)", name)
		}
	}
	if slices.Contains(ReservedEnv, name) {
		return Invalid("name", "%s is set by appstore itself (the port the app must listen on); choose another name", name)
	}
	return nil
}

// ValidateEnvValue checks a variable's value: valid UTF-8 without NUL, at
// most MaxEnvValueLen bytes.
func ValidateEnvValue(name, value string) error {
	if len(value) > MaxEnvValueLen {
		return Invalid("value", "the value of %s is %d bytes, more than the %d allowed", name, len(value), MaxEnvValueLen)
	}
	if !utf8.ValidString(value) || strings.ContainsRune(value, 0) {
		return Invalid("value", "the value of %s is not text (invalid UTF-8 or a NUL byte)", name)
	}
	return nil
}

// ValidateSecretValue checks a secret's value. The value is never quoted
// in the error.
func ValidateSecretValue(name string, value []byte) error {
	switch {
	case len(value) > MaxSecretLen:
		return Invalid("value", "the secret %s is %d bytes, more than the %d allowed", name, len(value), MaxSecretLen)
	case len(value) < MinSecretLen:
		return Invalid("value", "the secret %s is shorter than %d bytes: so short a value cannot be redacted from logs; if it is not secret, use `appstore env set`", name, MinSecretLen)
	case slices.Contains(value, 0):
		return Invalid("value", "the secret %s contains a NUL byte, which an environment variable cannot hold", name)
	}
	return nil
}

// EnvVar is one of an app's variables.
type EnvVar struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SecretInfo is one of an app's secrets: its name and when it was set,
// never its value.
type SecretInfo struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Where an app's declared configuration was read from.
const (
	EnvFromTags       = "tags.yaml"
	EnvFromEnvExample = ".env.example"
	EnvFromEnvSample  = ".env.sample"
	EnvFromCompose    = "compose"
)

// DeclaredEnv is a variable an app says it reads: tags.yaml's env: list,
// or a name found in .env.example, .env.sample or the environment of the
// chosen compose service (those are never required, never secret).
type DeclaredEnv struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
	// Default is the value the app gets when nothing is set (tags.yaml
	// only; a secret has none).
	Default string `json:"default,omitempty"`
	// Source is one of the EnvFrom constants.
	Source string `json:"source"`
}

// MergeDeclaredEnv merges declarations in order of precedence: the first
// declaration of a name wins (tags.yaml first), and the result keeps that
// order, at most MaxEnvPerApp names.
func MergeDeclaredEnv(lists ...[]DeclaredEnv) []DeclaredEnv {
	var out []DeclaredEnv
	seen := map[string]bool{}
	for _, l := range lists {
		for _, d := range l {
			if seen[d.Name] || ValidateEnvName(d.Name) != nil || len(out) >= MaxEnvPerApp {
				continue
			}
			seen[d.Name] = true
			out = append(out, d)
		}
	}
	return out
}

// ConfigState is how an app's configuration stands: what it declares,
// what is set, and which required names are missing.
type ConfigState struct {
	Declared []DeclaredEnv `json:"declared"`
	// Variables are the names set with `appstore env set`; Secrets those
	// set with `appstore secret set`.
	Variables []string `json:"variables"`
	Secrets   []string `json:"secrets"`
}

// Missing returns the required declarations that no variable or secret
// sets. A default does not satisfy a required name.
func (c ConfigState) Missing() []DeclaredEnv {
	var out []DeclaredEnv
	for _, d := range c.Declared {
		if d.Required && !slices.Contains(c.Variables, d.Name) && !slices.Contains(c.Secrets, d.Name) {
			out = append(out, d)
		}
	}
	return out
}

// MissingConfigError refuses a launch of an app whose required
// configuration is not set; its message says what to run.
type MissingConfigError struct {
	Slug    string
	Missing []DeclaredEnv
}

func (e *MissingConfigError) Error() string {
	var names, cmds []string
	for _, d := range e.Missing {
		names = append(names, d.Name)
		if d.Secret {
			cmds = append(cmds, fmt.Sprintf("appstore secret set %s %s", e.Slug, d.Name))
		} else {
			cmds = append(cmds, fmt.Sprintf("appstore env set %s %s=…", e.Slug, d.Name))
		}
	}
	what := "variable"
	if len(names) > 1 {
		what = "variables"
	}
	return fmt.Sprintf("%s needs the %s %s before it can launch: run `%s`", e.Slug, what, strings.Join(names, ", "), strings.Join(cmds, "`, `"))
}

// Is makes a MissingConfigError a conflict for the API (409).
func (e *MissingConfigError) Is(target error) bool { return target == ErrConflict }
