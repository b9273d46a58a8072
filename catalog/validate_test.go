package catalog

import (
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
