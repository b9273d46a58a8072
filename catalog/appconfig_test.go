package catalog_test

import (
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
)

func TestValidateEnvName(t *testing.T) {
	for _, ok := range []string{"A", "_", "OPENAI_API_KEY", "a1", "_9"} {
		if err := catalog.ValidateEnvName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1A", "A-B", "A B", "É", "PORT", "A=B", strings.Repeat("A", 129)} {
		if err := catalog.ValidateEnvName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidateValues(t *testing.T) {
	if err := catalog.ValidateEnvValue("A", "x\x00y"); err == nil {
		t.Error("NUL accepted")
	}
	if err := catalog.ValidateEnvValue("A", strings.Repeat("x", catalog.MaxEnvValueLen+1)); err == nil {
		t.Error("oversized value accepted")
	}
	if err := catalog.ValidateEnvValue("A", ""); err != nil {
		t.Errorf("empty value: %v", err)
	}
	err := catalog.ValidateSecretValue("K", []byte("abc"))
	if err == nil || strings.Contains(err.Error(), "abc") {
		t.Errorf("short secret: %v (must be refused without quoting it)", err)
	}
	if err := catalog.ValidateSecretValue("K", []byte("abcd")); err != nil {
		t.Error(err)
	}
}

func TestMergeDeclaredEnvFirstWins(t *testing.T) {
	got := catalog.MergeDeclaredEnv(
		[]catalog.DeclaredEnv{{Name: "KEY", Required: true, Source: catalog.EnvFromTags}},
		[]catalog.DeclaredEnv{{Name: "KEY", Source: catalog.EnvFromEnvExample}, {Name: "PORT"}, {Name: "bad-name"}, {Name: "OTHER", Source: catalog.EnvFromCompose}},
	)
	if len(got) != 2 || got[0].Source != catalog.EnvFromTags || !got[0].Required || got[1].Name != "OTHER" {
		t.Errorf("%+v", got)
	}
}
