package metadata_test

import (
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
)

// TestDeclaredEnv: tags.yaml env:, .env.example and the built compose
// service's environment: give the app's declared variables, tags.yaml's
// first; bad entries are warnings, not failures.
func TestDeclaredEnv(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"tags.yaml": `env:
  - name: OPENAI_API_KEY
    description: key for the embeddings
    required: true
    secret: true
  - name: GREETING
    default: hello
  - name: TOKEN
    secret: yes
    default: leaked
  - name: PORT
  - name: bad-name
  - MODEL
  - name: FLAG
    required: maybe
`,
		".env.example": "# copy to .env\nOPENAI_API_KEY=sk-...\nexport DATABASE_URL=postgres://localhost/x\n\nnot a line\n1BAD=x\n",
		"docker-compose.yml": `services:
  web:
    build: .
    ports: ["8000:8000"]
    environment:
      REDIS_URL: redis://redis:6379
      GREETING: hi
  worker:
    image: redis
    environment:
      - IGNORED_FROM_ANOTHER_SERVICE=1
`,
		"Dockerfile": "FROM python:3.12\nEXPOSE 8000\n",
	})
	res := extract(t, root, metadata.Options{})
	var got []string
	for _, d := range res.Env {
		s := d.Name + "@" + d.Source
		if d.Required {
			s += ",required"
		}
		if d.Secret {
			s += ",secret"
		}
		if d.Default != "" {
			s += "=" + d.Default
		}
		got = append(got, s)
	}
	want := []string{
		"OPENAI_API_KEY@tags.yaml,required,secret", "GREETING@tags.yaml=hello", "TOKEN@tags.yaml,secret",
		"MODEL@tags.yaml", "FLAG@tags.yaml",
		"DATABASE_URL@.env.example", "REDIS_URL@compose",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("declared env\n got %v\nwant %v", got, want)
	}
	if res.Env[0].Description != "key for the embeddings" {
		t.Errorf("description %q", res.Env[0].Description)
	}
	warnings := strings.Join(res.Warnings, "\n")
	for _, w := range []string{"a secret has no default", "PORT is set by appstore", `"bad-name" is not a variable name`, "required must be true or false"} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warnings lack %q:\n%s", w, warnings)
		}
	}
	if res.Build == nil || res.Build.ComposeService != "web" {
		t.Fatalf("compose service chosen: %+v", res.Build)
	}

	// env: of the wrong shape is a warning; the app still ingests.
	root = writeRepo(t, map[string]string{"tags.yaml": "env: OPENAI_API_KEY\n", "Dockerfile": "FROM scratch\n"})
	res = extract(t, root, metadata.Options{})
	if len(res.Env) != 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "env must be a list") {
		t.Errorf("env as a string: %+v %q", res.Env, res.Warnings)
	}
}
