package appconfig

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// Service opens the apps' configuration for the runner and the builder,
// and seals secrets for the API.
type Service struct {
	Store  *store.Store
	Keys   *Keyring
	Logger *slog.Logger
}

// Launch is what a launch of an app is given.
type Launch struct {
	// Env is NAME=value for the container: the declared defaults, then
	// the variables, then the secrets (PORT is the runner's).
	Env []string
	// Version is the configuration version Env was read at.
	Version int64
	// Redact hides the app's secret values in text.
	Redact *Redactor
}

// LaunchConfig returns the environment of a launch of the app slug, or a
// *catalog.MissingConfigError when a required variable or secret is not
// set.
func (s *Service) LaunchConfig(ctx context.Context, slug string) (*Launch, error) {
	c, err := s.Store.AppConfig(ctx, slug)
	if err != nil {
		return nil, err
	}
	if missing := c.State().Missing(); len(missing) > 0 {
		return nil, &catalog.MissingConfigError{Slug: slug, Missing: missing}
	}
	values := map[string]string{}
	for _, d := range c.Declared {
		if d.Default != "" && !d.Secret {
			values[d.Name] = d.Default
		}
	}
	for _, v := range c.Variables {
		values[v.Name] = v.Value
	}
	secrets, err := s.open(c)
	if err != nil {
		return nil, err
	}
	for name, v := range secrets {
		values[name] = string(v)
	}
	out := &Launch{Version: c.Version, Redact: newRedactor(secrets)}
	for name, v := range values {
		out.Env = append(out.Env, name+"="+v)
	}
	slices.Sort(out.Env)
	return out, nil
}

// open decrypts the app's secrets.
func (s *Service) open(c *store.AppConfig) (map[string][]byte, error) {
	out := map[string][]byte{}
	if len(c.Secrets) > 0 && s.Keys == nil {
		return nil, fmt.Errorf("%s has secrets, and this appstored has no secrets key", c.Slug)
	}
	for _, sec := range c.Secrets {
		v, err := s.Keys.Open(c.RepositoryID, sec.Name, sec.Sealed, sec.KeyID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Slug, err)
		}
		out[sec.Name] = v
	}
	return out, nil
}

// Secrets returns the app's secrets by name, for `RUN --mount=type=secret`
// in its builds, and their redactor.
func (s *Service) Secrets(ctx context.Context, slug string) (map[string][]byte, *Redactor, error) {
	c, err := s.Store.AppConfig(ctx, slug)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := s.open(c)
	if err != nil {
		return nil, nil, err
	}
	return secrets, newRedactor(secrets), nil
}

// Redactor returns the redactor of the app slug's secrets. When they
// cannot be read it logs why and returns a redactor of nothing: the text
// it would clean is an error message or log already on its way.
func (s *Service) Redactor(ctx context.Context, slug string) *Redactor {
	if s == nil {
		return nil
	}
	_, r, err := s.Secrets(ctx, slug)
	if err != nil {
		if s.Logger != nil {
			s.Logger.Warn("read the app's secrets to redact them", "slug", slug, "err", err)
		}
		return nil
	}
	return r
}

// SetSecret seals value and stores it as the secret name of the app
// slug. The value is never logged or quoted in an error.
func (s *Service) SetSecret(ctx context.Context, slug, name string, value []byte) error {
	if s.Keys == nil {
		return fmt.Errorf("this appstored has no secrets key")
	}
	return s.Store.SetSecret(ctx, slug, name, func(repositoryID int64) ([]byte, string, error) {
		return s.Keys.Seal(repositoryID, name, value)
	})
}

// Redactor replaces the values of an app's secrets in text by
// "[secret NAME]". A nil Redactor changes nothing.
type Redactor struct {
	secrets []namedValue // longest first, so that a value inside another is not cut in two
}

type namedValue struct {
	name, value string
}

func newRedactor(secrets map[string][]byte) *Redactor {
	r := &Redactor{}
	for name, v := range secrets {
		if len(v) >= catalog.MinSecretLen {
			r.secrets = append(r.secrets, namedValue{name, string(v)})
		}
	}
	slices.SortFunc(r.secrets, func(a, b namedValue) int {
		return cmp.Or(cmp.Compare(len(b.value), len(a.value)), cmp.Compare(a.name, b.name))
	})
	return r
}

// Empty reports whether there is nothing to redact.
func (r *Redactor) Empty() bool { return r == nil || len(r.secrets) == 0 }

// String returns s with every secret value replaced.
func (r *Redactor) String(s string) string {
	if r.Empty() {
		return s
	}
	for _, v := range r.secrets {
		if strings.Contains(s, v.value) {
			s = strings.ReplaceAll(s, v.value, "[secret "+v.name+"]")
		}
	}
	return s
}

// Fragment is String for text that may have been cut out of a longer
// output (the tail of a failed launch's output, a line cut at its length
// limit): a piece of a secret at its start (after an optional "…") or at
// its end, at least catalog.MinSecretLen bytes long, is replaced too.
func (r *Redactor) Fragment(s string) string {
	s = r.String(s)
	if r.Empty() {
		return s
	}
	lead := ""
	if rest, ok := strings.CutPrefix(s, "…"); ok {
		lead, s = "…", rest
	}
	for _, v := range r.secrets {
		// The longest end of the value that starts s.
		for n := len(v.value) - 1; n >= catalog.MinSecretLen; n-- {
			if strings.HasPrefix(s, v.value[len(v.value)-n:]) {
				s = "[secret " + v.name + "]" + s[n:]
				break
			}
		}
		// The longest start of the value that ends s.
		for n := len(v.value) - 1; n >= catalog.MinSecretLen; n-- {
			if strings.HasSuffix(s, v.value[:n]) {
				s = s[:len(s)-n] + "[secret " + v.name + "]"
				break
			}
		}
	}
	return lead + s
}

// Bytes is String for a byte slice.
func (r *Redactor) Bytes(b []byte) []byte {
	if r.Empty() {
		return b
	}
	return []byte(r.String(string(b)))
}
