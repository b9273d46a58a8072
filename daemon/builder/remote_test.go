package builder

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

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

var testResolver = fakeResolver{
	"localhost":        "127.0.0.1",
	"files.example":    "93.184.216.34",
	"intranet.example": "10.0.0.5",
	"sneaky.example":   "169.254.169.254",
}

// TestFetchPolicyHostProblem: the hosts a build may fetch from or pull
// from. Loopback is refused even where the Git policy admits private
// addresses (a daemon bound to loopback): the engine's and appstored's
// own services listen there. Numbers that resolvers read as addresses
// are refused whatever they stand for.
func TestFetchPolicyHostProblem(t *testing.T) {
	for _, tc := range []struct {
		host         string
		allowPrivate bool
		refused      string // part of the reason; "" when admitted
	}{
		{"files.example", false, ""},
		{"127.0.0.1", true, "127.0.0.1 is loopback"},
		{"localhost", true, "localhost resolves to 127.0.0.1, which is loopback"},
		{"::1", true, "::1 is loopback"},
		{"sneaky.example", true, "169.254.169.254, which is link-local"},
		{"169.254.169.254", true, "link-local"},
		{"intranet.example", false, "10.0.0.5, which is a private address"},
		{"intranet.example", true, ""},
		{"127.1", true, "short or numeric form"},
		{"2130706433", true, "short or numeric form"},
		{"0x7f.0.0.1", true, "short or numeric form"},
		{"017700000001", true, "short or numeric form"},
		{"nowhere.example", false, ""}, // the connection fails saying so
	} {
		p := fetchPolicy{git: giturl.Policy{AllowPrivate: tc.allowPrivate, Resolver: testResolver}}
		why := p.hostProblem(context.Background(), tc.host)
		switch {
		case tc.refused == "" && why != "":
			t.Errorf("%s (private %v): refused: %s", tc.host, tc.allowPrivate, why)
		case tc.refused != "" && !strings.Contains(why, tc.refused):
			t.Errorf("%s (private %v): %q, want a refusal containing %q", tc.host, tc.allowPrivate, why, tc.refused)
		}
	}
}

// TestCheckClassicSources: with the classic builder every remote ADD is
// refused, read as the engine expands it.
func TestCheckClassicSources(t *testing.T) {
	for _, tc := range []struct {
		name, dockerfile string
		refused          string // part of the error; "" when allowed
		args             map[string]string
	}{
		{"public URL", "FROM scratch\nADD https://files.example/app.tgz /app.tgz\n", "line 2: ADD https://files.example/app.tgz", nil},
		{"JSON form", "FROM scratch\nADD [\"http://localhost/x\", \"/x\"]\n", "line 2: ADD http://localhost/x", nil},
		{"ARG-expanded host", "ARG H=127.0.0.1:8080\nFROM scratch\nADD http://${H}/secret /s\n", "line 3: ADD http://127.0.0.1:8080/secret", nil},
		{"stage ARG and ENV", "FROM scratch\nARG P=http\nENV U=$P://sneaky.example/m\nADD $U /m\n", "line 4: ADD http://sneaky.example/m", nil},
		{"ONBUILD", "FROM scratch AS base\nONBUILD ADD http://127.0.0.1/x /c\nFROM base\n", "line 2: ADD http://127.0.0.1/x (ONBUILD)", nil},
		{"Git remote", "FROM scratch\nADD git@github.com:moby/moby.git /src\n", "ADD git@github.com:moby/moby.git", nil},
		{"lower-case instruction", "from scratch\nadd http://127.0.0.1/x /x\n", "line 2: ADD http://127.0.0.1/x", nil},
		{"COPY is not fetched", "FROM scratch\nCOPY http://127.0.0.1/x /x\n", "", nil},
		{"local paths", "FROM scratch\nARG F=app.tgz\nADD $F /app\n", "", nil},
		{"a build argument over a local default", "FROM scratch\nARG F=app.tgz\nADD $F /app\n", "line 3: ADD http://127.0.0.1/x",
			map[string]string{"F": "http://127.0.0.1/x"}},
		{"a build argument over a global ARG", "ARG H=files\nFROM scratch\nARG H\nADD ${H}/app.tgz /app\n", "line 4: ADD https://sneaky.example/app.tgz",
			map[string]string{"H": "https://sneaky.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkClassicSources(context.Background(), []byte(tc.dockerfile), "Dockerfile", triggerEngine{}, tc.args)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), "RUN step")):
				t.Errorf("got %v, want an error containing %q that suggests a RUN step", err, tc.refused)
			}
			var ce *contextError
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("%T is not a contextError (the build must fail as the repository's fault)", err)
			}
		})
	}
}

// TestCheckClassicSourcesReadsBaseImageTriggers: an ONBUILD ADD of a
// base image is found through the engine's image inspect.
func TestCheckClassicSourcesReadsBaseImageTriggers(t *testing.T) {
	e := triggerEngine{image: "example/base:1", triggers: []string{"RUN true", "ADD http://127.0.0.1:9/token /t"}}
	err := checkClassicSources(context.Background(), []byte("FROM example/base:1\nCOPY . /\n"), "Dockerfile", e, nil)
	if err == nil || !strings.Contains(err.Error(), "line 1: ADD http://127.0.0.1:9/token (an ONBUILD trigger of the base image example/base:1)") {
		t.Errorf("got %v", err)
	}
}

type triggerEngine struct {
	Engine
	image    string
	triggers []string
}

func (o triggerEngine) ImageInspect(_ context.Context, ref string, _ ...dockerclient.ImageInspectOption) (image.InspectResponse, error) {
	if ref != o.image {
		return image.InspectResponse{}, errors.New("No such image: " + ref)
	}
	cfg := &dockerspec.DockerOCIImageConfig{}
	cfg.OnBuild = o.triggers
	return image.InspectResponse{ID: "sha256:1", Config: cfg}, nil
}

// TestLiteralURLs: --build-allow-remote-add admits only URLs written out
// in the Dockerfile, ONBUILD ADD of its stages included; not those built
// from variables.
func TestLiteralURLs(t *testing.T) {
	got := literalURLs([]byte("FROM scratch\nADD https://files.example/a.tgz /a\nADD --chmod=644 [\"https://files.example/b\", \"/b\"]\n" +
		"ARG H=files.example\nADD http://${H}/c /c\nONBUILD ADD https://files.example/d /d\nCOPY https://files.example/e /e\n"))
	for _, want := range []string{"https://files.example/a.tgz", "https://files.example/b", "https://files.example/d"} {
		if !got[want] {
			t.Errorf("%s is not literal: %v", want, got)
		}
	}
	for _, unwanted := range []string{"http://${H}/c", "http://files.example/c", "https://files.example/e"} {
		if got[unwanted] {
			t.Errorf("%s counted as a literal ADD source: %v", unwanted, got)
		}
	}
}
