package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// Limits of service declarations.
const (
	MaxServiceKindLen        = 64
	MaxServiceCapabilities   = 64
	MaxCapabilityLen         = 64
	MaxServiceMetadataBytes  = 16 << 10
	MaxManifestServices      = 1000
	MinServiceHealthInterval = time.Second
	MaxServiceHealthInterval = 24 * time.Hour
)

// ServiceSpec declares a service: the body of POST /api/v1/services, one
// entry of a manifest, and what the store keeps of it. The health state is
// not part of it: the poller owns that. Normalize checks it and puts every
// field in its stored form.
type ServiceSpec struct {
	Slug string `json:"slug"`
	// Name defaults to the slug.
	Name string `json:"name,omitempty"`
	// Kind is an optional label, [a-z0-9._-].
	Kind string `json:"kind,omitempty"`
	// BaseURL is the service's root URL (http or https).
	BaseURL string `json:"base_url"`
	// HealthURL defaults to BaseURL + "/healthz".
	HealthURL string `json:"health_url,omitempty"`
	// Capabilities are lower-cased labels ("chat", "embeddings").
	Capabilities []string `json:"capabilities,omitempty"`
	// Metadata is a JSON object (nil means {}).
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// HealthInterval overrides the daemon's --health-interval for this
	// service: a duration such as "10s" or "2m"; "" keeps the daemon's.
	// Normalize writes it as time.Duration.String does.
	HealthInterval string `json:"health_interval,omitempty"`
}

// Interval is the parsed HealthInterval of a normalised spec; 0 means the
// daemon's --health-interval.
func (sp ServiceSpec) Interval() time.Duration {
	d, _ := ParseHealthInterval(sp.HealthInterval)
	return d
}

// ParseHealthInterval reads a health_interval: a Go duration; "" means
// none (0). Zero itself is refused: leaving the field out says that.
func ParseHealthInterval(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, Invalid("health_interval", "%q is not a duration: give e.g. \"30s\" or \"5m\"", s)
	}
	if d == 0 {
		return 0, Invalid("health_interval", "is zero; leave it out to use the daemon's --health-interval")
	}
	return d, nil
}

// DefaultHealthURL is the health URL of a service that declares none.
func DefaultHealthURL(baseURL string) string {
	return strings.TrimRight(baseURL, "/") + "/healthz"
}

// Normalize checks spec and returns it with defaults filled in and values
// in their stored form. Errors are *InvalidError naming the field.
func (sp ServiceSpec) Normalize() (ServiceSpec, error) {
	interval, err := ParseHealthInterval(sp.HealthInterval)
	if err != nil {
		return sp, err
	}
	sp.Slug = strings.TrimSpace(sp.Slug)
	if sp.Slug == "" {
		return sp, Invalid("slug", "is required: give the service a slug such as \"llm-gateway\"")
	}
	if !ValidSlug(sp.Slug) {
		return sp, Invalid("slug", "%q is not a slug: use at most %d lower-case letters, digits and inner dashes, e.g. \"llm-gateway\"", textutil.Truncate(sp.Slug, 80), MaxSlugLen)
	}
	if sp.Name == "" {
		sp.Name = sp.Slug
	}
	if err := ValidateName(sp.Name); err != nil {
		return sp, err
	}
	sp.Kind = strings.ToLower(strings.TrimSpace(sp.Kind))
	if len(sp.Kind) > MaxServiceKindLen || !labelOK(sp.Kind, "._-") {
		return sp, Invalid("kind", "%q: use at most %d lower-case letters, digits, dots, dashes and underscores, e.g. \"llm\"", textutil.Truncate(sp.Kind, 80), MaxServiceKindLen)
	}
	if strings.TrimSpace(sp.BaseURL) == "" {
		return sp, Invalid("base_url", "is required: give the service's root URL, e.g. http://10.0.0.5:8080")
	}
	base, err := checkServiceURL("base_url", sp.BaseURL)
	if err != nil {
		return sp, err
	}
	if base.RawQuery != "" || base.ForceQuery {
		return sp, Invalid("base_url", "%q has a query; give the root URL without one (put a query in health_url if the check needs it)", textutil.Truncate(sp.BaseURL, 200))
	}
	sp.BaseURL = strings.TrimRight(base.String(), "/")
	if strings.TrimSpace(sp.HealthURL) == "" {
		sp.HealthURL = DefaultHealthURL(sp.BaseURL)
	} else {
		h, err := checkServiceURL("health_url", sp.HealthURL)
		if err != nil {
			return sp, err
		}
		sp.HealthURL = h.String()
	}
	if len(sp.Capabilities) > MaxServiceCapabilities {
		return sp, Invalid("capabilities", "has %d entries, at most %d are allowed", len(sp.Capabilities), MaxServiceCapabilities)
	}
	caps := make([]string, 0, len(sp.Capabilities))
	for _, c := range sp.Capabilities {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" || len(c) > MaxCapabilityLen || !labelOK(c, "._:/-") {
			return sp, Invalid("capabilities", "%q: a capability is 1 to %d lower-case letters, digits and . _ : / -, e.g. \"chat\"", textutil.Truncate(c, 80), MaxCapabilityLen)
		}
		if slices.Contains(caps, c) {
			return sp, Invalid("capabilities", "%q is listed twice", c)
		}
		caps = append(caps, c)
	}
	sp.Capabilities = caps
	meta, err := normalizeMetadata(sp.Metadata)
	if err != nil {
		return sp, err
	}
	sp.Metadata = meta
	if interval != 0 && (interval < MinServiceHealthInterval || interval > MaxServiceHealthInterval) {
		return sp, Invalid("health_interval", "%s is out of range: give a duration from %s to %s, or leave it out to use the daemon's --health-interval", interval, MinServiceHealthInterval, MaxServiceHealthInterval)
	}
	if interval%time.Millisecond != 0 {
		return sp, Invalid("health_interval", "%s is finer than a millisecond", interval)
	}
	sp.HealthInterval = ""
	if interval != 0 {
		sp.HealthInterval = interval.String()
	}
	return sp, nil
}

// checkServiceURL accepts absolute http(s) URLs without credentials: the
// registry is readable without a token, so a password in a URL would be
// published.
func checkServiceURL(field, raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > MaxURLLen {
		return nil, Invalid(field, "is longer than %d characters", MaxURLLen)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, Invalid(field, "%q contains a space or a control character", textutil.Truncate(raw, 200))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Invalid(field, "%q is not a URL: %v", textutil.Truncate(raw, 200), unwrapURLErr(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, Invalid(field, "%q: only http:// and https:// URLs are accepted", textutil.Truncate(raw, 200))
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, Invalid(field, "%q has no host, want e.g. http://10.0.0.5:8080", textutil.Truncate(raw, 200))
	}
	if u.User != nil {
		return nil, Invalid(field, "carries credentials; the registry is readable by anyone who can reach appstored, so leave them out")
	}
	if u.Fragment != "" {
		return nil, Invalid(field, "%q has a #fragment, which is never sent to the server; remove it", textutil.Truncate(raw, 200))
	}
	return u, nil
}

func unwrapURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// normalizeMetadata accepts a JSON object (or nothing) and returns it
// compacted.
func normalizeMetadata(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return json.RawMessage("{}"), nil
	}
	if trimmed[0] != '{' {
		return nil, Invalid("metadata", "must be a JSON object, e.g. {\"owner\":\"ml-team\"}")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, Invalid("metadata", "is not valid JSON: %v", err)
	}
	if buf.Len() > MaxServiceMetadataBytes {
		return nil, Invalid("metadata", "is %d bytes, at most %d are allowed", buf.Len(), MaxServiceMetadataBytes)
	}
	return buf.Bytes(), nil
}

func labelOK(s, extra string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// ManifestEntryError is what was wrong with one entry of a manifest.
type ManifestEntryError struct {
	// Index is the entry's position in the services array, from 0.
	Index int `json:"index"`
	// Slug is the entry's slug as given, when there was one.
	Slug    string `json:"slug,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ManifestError lists every invalid entry of a manifest. Nothing of the
// manifest was applied.
type ManifestError struct {
	Entries []ManifestEntryError
}

func (e *ManifestError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "manifest has %d invalid %s; nothing was applied", len(e.Entries), pluralWord(len(e.Entries), "entry", "entries"))
	for i, en := range e.Entries {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Entries)-3)
			break
		}
		fmt.Fprintf(&b, "; %s", en.String())
	}
	return b.String()
}

// String reads "services[2] (llm): base_url: …".
func (en ManifestEntryError) String() string {
	s := fmt.Sprintf("services[%d]", en.Index)
	if en.Slug != "" {
		s += fmt.Sprintf(" (%s)", textutil.Truncate(en.Slug, 64))
	}
	if en.Field != "" {
		s += ": " + en.Field
	}
	return s + ": " + en.Message
}

// Is makes a ManifestError a ErrInvalid.
func (e *ManifestError) Is(target error) bool { return target == ErrInvalid }

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ValidateManifest normalises every entry of a manifest and reports each
// invalid one, including slugs declared twice. Nil entries were already
// found invalid by the caller (they could not be decoded) and are skipped,
// so indices stay those of the manifest. The normalised specs are returned
// in manifest order, without the nil ones.
func ValidateManifest(entries []*ServiceSpec) ([]ServiceSpec, []ManifestEntryError) {
	var errs []ManifestEntryError
	out := make([]ServiceSpec, 0, len(entries))
	firstAt := map[string]int{}
	if len(entries) > MaxManifestServices {
		return nil, []ManifestEntryError{{Index: MaxManifestServices, Field: "services",
			Message: fmt.Sprintf("a manifest declares at most %d services; split it into several imports without --prune", MaxManifestServices)}}
	}
	for i, e := range entries {
		if e == nil {
			continue
		}
		sp, err := e.Normalize()
		if err != nil {
			en := ManifestEntryError{Index: i, Slug: e.Slug, Message: err.Error()}
			var inv *InvalidError
			if errors.As(err, &inv) {
				en.Field, en.Message = inv.Field, inv.Message
			}
			errs = append(errs, en)
			continue
		}
		if j, dup := firstAt[sp.Slug]; dup {
			errs = append(errs, ManifestEntryError{Index: i, Slug: sp.Slug, Field: "slug",
				Message: fmt.Sprintf("%q is already declared by services[%d]; a slug may appear once", sp.Slug, j)})
			continue
		}
		firstAt[sp.Slug] = i
		out = append(out, sp)
	}
	return out, errs
}
