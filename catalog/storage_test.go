package catalog

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1g": 1 << 30, "1GiB": 1 << 30, "512m": 512 << 20, "200MB": 200 << 20, "1.5g": 3 << 29, "4096": 4096, "64k": 64 << 10, "1t": 1 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1g", "0", "2t", "1x"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestValidateStoragePath(t *testing.T) {
	for in, want := range map[string]string{"/data": "/data", "/var/lib/app/": "/var/lib/app", " /srv//notes ": "/srv/notes", "/data/../store": "/store"} {
		if got, err := ValidateStoragePath(in); err != nil || got != want {
			t.Errorf("ValidateStoragePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, why := range map[string]string{"": "empty", "data": "absolute", "/": "root", "/etc": "system", "/usr/share/x": "system",
		"/tmp": "system", "/proc/1": "system", "/a:b": "character", "/x/../..": "root"} {
		if _, err := ValidateStoragePath(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ValidateStoragePath(%q): %v, want an error saying %q", in, err, why)
		}
	}
}

func TestOverrideRules(t *testing.T) {
	got, err := CheckResetFields([]string{"Port", "name", "port", " profile "})
	if err != nil || !slices.Equal(got, []string{"name", "port", "profile"}) {
		t.Errorf("CheckResetFields: %v %v", got, err)
	}
	if _, err := CheckResetFields([]string{"colour"}); err == nil || !strings.Contains(err.Error(), "name, description") {
		t.Errorf("CheckResetFields(colour): %v", err)
	}
	for _, p := range []int{0, -1, 65536} {
		if ValidatePort(p) == nil {
			t.Errorf("ValidatePort(%d) accepted", p)
		}
	}
	if ValidatePort(8080) != nil || ValidateProfileName("medium") != nil || ValidateProfileName("Big One") == nil {
		t.Error("port or profile rules")
	}
	for in, want := range map[string]string{"": ".", ".": ".", "./web/": "web", "apps/api": "apps/api"} {
		if got, err := CleanContextPath(in); err != nil || got != want {
			t.Errorf("CleanContextPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := CleanContextPath("../up"); err == nil {
		t.Error("CleanContextPath(../up) accepted")
	}
	fields := []string{"port", "owner", "name", "context"}
	SortFields(fields)
	if !slices.Equal(fields, []string{"name", "context", "port", "owner"}) {
		t.Errorf("SortFields: %v", fields)
	}
	if ManualFieldName("requested_port") != "port" || StoredManualField("dockerfile") != "requested_dockerfile" || StoredManualField("name") != "name" {
		t.Error("manual field names")
	}
}
