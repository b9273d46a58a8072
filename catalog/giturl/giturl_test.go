package giturl

import (
	"strings"
	"testing"
)

func TestSameRepository(t *testing.T) {
	same := []string{
		"https://github.com/a/b",
		"https://github.com/a/b.git",
		"https://GitHub.com/A/B.git/",
		"git@github.com:a/b.git",
		"ssh://git@github.com/a/b",
		"ssh://git@github.com:22/a/b.git",
		"git://github.com/a/b.git",
		"https://github.com:443/a/b",
	}
	want := "github.com/a/b"
	for _, s := range same {
		got, err := Normalize(s)
		if err != nil {
			t.Fatalf("Normalize(%q): %v", s, err)
		}
		if got != want {
			t.Errorf("Normalize(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	bad := []string{
		"",
		"-uhttps://x/y",
		"--upload-pack=touch /tmp/x",
		"ftp://example.com/a/b",
		"https://user:pass@example.com/a/b",
		"https://token@example.com/a/b",
		"https://example.com/",
		"https://exa mple.com/a",
		"https://example.com/a?x=1",
		"not a url",
		"relative/path",
		"file://relative",
		"https://-oProxyCommand=x/a/b",
		"ext::sh -c touch% /tmp/pwned",
	}
	for _, s := range bad {
		if u, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", s, u)
		}
	}
}

// TestParseRefusalsSayWhatToDo: the messages people see most name the
// problem and show a URL that would do.
func TestParseRefusalsSayWhatToDo(t *testing.T) {
	for in, want := range map[string]string{
		"https://":        `git URL "https://" has no host: give one, e.g. https://github.com/owner/repo.git`,
		"ssh:///a/b":      `has no host: give one, e.g.`,
		"not-a-url":       `is not a URL: give https://host/owner/repo.git`,
		"ftp://x.org/a/b": `scheme "ftp" is not supported; use https, ssh or git`,
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want it to say %q", in, err, want)
		}
	}
}

func TestCloneURLAndName(t *testing.T) {
	cases := []struct{ in, clone, name, owner string }{
		{"https://github.com/acme/dash.git", "https://github.com/acme/dash.git", "dash", "acme"},
		{"git@github.com:acme/dash.git", "git@github.com:acme/dash.git", "dash", "acme"},
		{"/srv/git/hello", "file:///srv/git/hello", "hello", ""},
		{"file:///srv/git/../git/hello.git", "file:///srv/git/hello.git", "hello", ""},
		{"http://127.0.0.1:8080/repos/x.git", "http://127.0.0.1:8080/repos/x.git", "x", "repos"},
	}
	for _, c := range cases {
		u, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if got := u.CloneURL(); got != c.clone {
			t.Errorf("CloneURL(%q) = %q, want %q", c.in, got, c.clone)
		}
		if got := u.Name(); got != c.name {
			t.Errorf("Name(%q) = %q, want %q", c.in, got, c.name)
		}
		if got := u.Owner(); got != c.owner {
			t.Errorf("Owner(%q) = %q, want %q", c.in, got, c.owner)
		}
	}
}
