package catalog_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
)

func TestServiceSpecNormalize(t *testing.T) {
	good := catalog.ServiceSpec{Slug: "llm", BaseURL: "http://10.0.0.5:8080/api/", Capabilities: []string{"Chat", " embeddings "},
		Metadata: json.RawMessage(` { "owner" : "ml" } `), Kind: "LLM"}
	sp, err := good.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if sp.Name != "llm" || sp.BaseURL != "http://10.0.0.5:8080/api" || sp.HealthURL != "http://10.0.0.5:8080/api/healthz" ||
		!slices.Equal(sp.Capabilities, []string{"chat", "embeddings"}) || string(sp.Metadata) != `{"owner":"ml"}` || sp.Kind != "llm" {
		t.Errorf("normalised %+v", sp)
	}
	if sp, _ := (catalog.ServiceSpec{Slug: "x", BaseURL: "https://x.example"}).Normalize(); string(sp.Metadata) != "{}" || sp.Capabilities == nil {
		t.Errorf("defaults: %+v", sp)
	}

	bad := []struct {
		spec  catalog.ServiceSpec
		field string
		want  string
	}{
		{catalog.ServiceSpec{BaseURL: "http://x"}, "slug", "required"},
		{catalog.ServiceSpec{Slug: "Bad_Slug", BaseURL: "http://x"}, "slug", "lower-case"},
		{catalog.ServiceSpec{Slug: "-x", BaseURL: "http://x"}, "slug", "not a slug"},
		{catalog.ServiceSpec{Slug: "x"}, "base_url", "required"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "ftp://x"}, "base_url", "only http"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "file:///etc/passwd"}, "base_url", "only http"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://"}, "base_url", "no host"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://u:p@x"}, "base_url", "credentials"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x?a=1"}, "base_url", "query"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x y"}, "base_url", "space"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthURL: "gopher://x"}, "health_url", "only http"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthURL: "http://x/#frag"}, "health_url", "fragment"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Kind: "a b"}, "kind", "lower-case"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Capabilities: []string{"chat", "CHAT"}}, "capabilities", "twice"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Capabilities: []string{""}}, "capabilities", "1 to"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Capabilities: make([]string, catalog.MaxServiceCapabilities+1)}, "capabilities", "at most"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Metadata: json.RawMessage(`[1]`)}, "metadata", "object"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Metadata: json.RawMessage(`{"a":`)}, "metadata", "not valid JSON"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Metadata: json.RawMessage(`{"a":"` + strings.Repeat("x", catalog.MaxServiceMetadataBytes) + `"}`)}, "metadata", "at most"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthInterval: "10ms"}, "health_interval", "out of range"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthInterval: "48h"}, "health_interval", "out of range"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthInterval: "soon"}, "health_interval", "not a duration"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthInterval: "0s"}, "health_interval", "is zero"},
		{catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", Name: "a\x00b"}, "name", "control"},
	}
	for _, c := range bad {
		_, err := c.spec.Normalize()
		var inv *catalog.InvalidError
		if !errors.As(err, &inv) || inv.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want field %s with %q", c.spec, err, c.field, c.want)
		}
	}
}

// A health interval is kept in the form time.Duration prints, so that two
// spellings of one duration compare equal.
func TestServiceSpecIntervalCanonical(t *testing.T) {
	sp, err := (catalog.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthInterval: " 90s "}).Normalize()
	if err != nil || sp.HealthInterval != "1m30s" || sp.Interval() != 90*time.Second {
		t.Fatalf("normalised interval %q (%v), %v: want 1m30s", sp.HealthInterval, sp.Interval(), err)
	}
}

func TestValidateManifest(t *testing.T) {
	entries := []*catalog.ServiceSpec{
		{Slug: "a", BaseURL: "http://a"},
		nil, // could not be decoded: reported by the caller
		{Slug: "bad", BaseURL: "ftp://x"},
		{Slug: "a", BaseURL: "http://other"},
	}
	valid, errs := catalog.ValidateManifest(entries)
	if len(valid) != 1 || valid[0].Slug != "a" || valid[0].HealthURL != "http://a/healthz" {
		t.Errorf("valid %+v", valid)
	}
	if len(errs) != 2 || errs[0].Index != 2 || errs[0].Field != "base_url" || errs[1].Index != 3 || errs[1].Field != "slug" ||
		!strings.Contains(errs[1].Message, "services[0]") {
		t.Fatalf("errors %+v", errs)
	}
	if got := errs[0].String(); !strings.HasPrefix(got, "services[2] (bad): base_url: ") {
		t.Errorf("String() = %q", got)
	}
	me := &catalog.ManifestError{Entries: errs}
	if !errors.Is(me, catalog.ErrInvalid) || !strings.Contains(me.Error(), "2 invalid entries") {
		t.Errorf("ManifestError %q", me.Error())
	}
	_, errs = catalog.ValidateManifest(make([]*catalog.ServiceSpec, catalog.MaxManifestServices+1))
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "at most") {
		t.Errorf("too long a manifest: %+v", errs)
	}
}
