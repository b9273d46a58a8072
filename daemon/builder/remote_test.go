package builder

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

// fakeResolver answers from a table; other names do not resolve.
type fakeResolver map[string]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if ip, ok := f[host]; ok {
		return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckRemoteSources(t *testing.T) {
	resolver := fakeResolver{
		"localhost":        "127.0.0.1",
		"files.example":    "93.184.216.34",
		"intranet.example": "10.0.0.5",
		"sneaky.example":   "169.254.169.254",
	}
	for _, tc := range []struct {
		name, dockerfile string
		allowPrivate     bool
		refused          string // part of the error; "" when allowed
	}{
		{"public URL", "FROM scratch\nADD https://files.example/app.tgz /app.tgz\n", false, ""},
		{"loopback literal", "FROM scratch\nADD http://127.0.0.1:8080/secret /s\n", true, "127.0.0.1 is loopback"},
		{"loopback by name, JSON form", "FROM scratch\nADD [\"http://localhost/x\", \"/x\"]\n", true, "localhost resolves to 127.0.0.1, which is loopback"},
		{"metadata service by name", "FROM scratch\nCOPY a /a\nADD --chown=1:1 http://sneaky.example/latest/meta-data /m\n", true, "Dockerfile line 3: ADD http://sneaky.example/latest/meta-data: sneaky.example resolves to 169.254.169.254, which is link-local"},
		{"private refused by an exposed daemon's policy", "FROM scratch\nADD http://intranet.example/a /a\n", false, "10.0.0.5, which is a private address"},
		{"private admitted on loopback", "FROM scratch\nADD http://intranet.example/a /a\n", true, ""},
		{"several sources: one bad", "FROM scratch\nADD https://files.example/a http://[::1]/b /dir/\n", true, "::1 is loopback"},
		{"COPY is not fetched", "FROM scratch\nCOPY http://127.0.0.1/x /x\n", false, ""},
		{"local paths", "FROM scratch\nADD app.tgz /app\n", false, ""},
		{"unresolvable is the engine's to report", "FROM scratch\nADD http://nowhere.example/x /x\n", false, ""},
		{"lower-case instruction", "from scratch\nadd http://127.0.0.1/x /x\n", true, "127.0.0.1 is loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRemoteSources(context.Background(), []byte(tc.dockerfile), giturl.Policy{AllowPrivate: tc.allowPrivate, Resolver: resolver})
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("got %v, want an error containing %q", err, tc.refused)
			}
			var ce *contextError
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("%T is not a contextError (the build must fail as the repository's fault)", err)
			}
		})
	}
}
