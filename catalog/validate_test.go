package catalog

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestSlugify(t *testing.T) {
	cases := map[string]string{
		"Dash":                   "dash",
		"My  Cool_App!":          "my-cool-app",
		"--x--":                  "x",
		"":                       "app",
		"日本":                     "app",
		"2048":                   "app-2048",
		"1-2":                    "1-2",
		"app2048":                "app2048",
		"0":                      "app-0",
		"v1.2":                   "v1-2",
		"Café Über":              "cafe-uber",
		"Ｆｕｌｌ ｗｉｄｔｈ":             "full-width",
		"ﬁle ∂ev":                "file-ev",
		strings.Repeat("a", 200): strings.Repeat("a", MaxSlugLen-4),
		// The prefix counts in the length; a collision suffix still fits.
		strings.Repeat("9", 200): "app-" + strings.Repeat("9", MaxSlugLen-8),
	}
	for in, want := range cases {
		got := Slugify(in)
		if got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
		if !ValidSlug(got) || len(got) > MaxSlugLen-4 {
			t.Errorf("Slugify(%q) = %q is not a valid slug", in, got)
		}
		// The CLI takes a number for a build or launch id: no slug may be one.
		if _, err := strconv.ParseInt(got, 10, 64); err == nil {
			t.Errorf("Slugify(%q) = %q reads as an id", in, got)
		}
	}
}

func TestValidTopic(t *testing.T) {
	for s, want := range map[string]bool{
		"build": true, "repository": true, "my-topic_2": true, "9lives": true,
		"": false, "Build": false, "bad topic!": false, "-build": false, "_x": false, "build.succeeded": false,
		"a123456789012345678901234567890123456789012345678901234567890123":  true,
		"a1234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		if got := ValidTopic(s); got != want {
			t.Errorf("ValidTopic(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidateBranch(t *testing.T) {
	for _, ok := range []string{"", "main", "feature/x", "release-1.2"} {
		if err := ValidateBranch(ok); err != nil {
			t.Errorf("ValidateBranch(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"-rf", "/x", "x/", "x.lock", "a..b", "a@{1}", "a//b", "a b", "a~1", "a:b", strings.Repeat("b", MaxBranchLen+1)} {
		err := ValidateBranch(bad)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != "branch" {
			t.Errorf("ValidateBranch(%q) = %v, want an invalid branch", bad, err)
		}
	}
}

func TestParseTagsNamesTheField(t *testing.T) {
	tags, err := ParseTags("add_tags", []string{"Lang:Go", "kind:demo"})
	if err != nil || len(tags) != 2 || tags[0].String() != "lang:go" {
		t.Fatalf("ParseTags = %v, %v", tags, err)
	}
	var inv *InvalidError
	if _, err := ParseTags("add_tags", []string{"nocolon"}); !errors.As(err, &inv) || inv.Field != "add_tags" {
		t.Errorf("a tag without a colon: %v, want field add_tags", err)
	}
	if _, err := ParseTags("tags", make([]string, MaxTagsPerRepo+1)); !errors.As(err, &inv) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many tags: %v", err)
	}
}

func TestCleanDockerfilePath(t *testing.T) {
	if p, err := CleanDockerfilePath("./docker/Dockerfile"); err != nil || p != "docker/Dockerfile" {
		t.Errorf("CleanDockerfilePath = %q, %v", p, err)
	}
	if _, err := CleanDockerfilePath("../Dockerfile"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a path leaving the repository: %v", err)
	}
}
