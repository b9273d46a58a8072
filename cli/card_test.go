package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// TestShowExplainsTheCard ingests a compose monorepo through a real
// appstored and reads the card back with show: the emoji, the port and its
// source, why the Dockerfile was chosen and the other Dockerfiles, in a
// pipe, on a terminal and in JSON.
func TestShowExplainsTheCard(t *testing.T) {
	d := ingestingDaemon(t)
	repo := gitserver.NewNamedRepo(t, "flask-on-docker", map[string]string{
		"README.md":                     "---\ntitle: Notes\nemoji: 📝\nsdk: docker\n---\n\n# Notes\n\nNotes with Flask, Postgres and Nginx.\n",
		"docker-compose.yml":            "services:\n  web:\n    build: ./services/web\n    expose: [5000]\n  nginx:\n    build: ./services/nginx\n    ports: ['1337:80']\n  db:\n    image: postgres:15\n",
		"services/web/Dockerfile":       "FROM python:3.11-slim\nCOPY requirements.txt .\nCMD gunicorn --bind 0.0.0.0:5000 manage:app\n",
		"services/web/requirements.txt": "Flask\n",
		"services/nginx/Dockerfile":     "FROM nginx:1.25\nCOPY nginx.conf /etc/nginx/conf.d\n",
		"services/nginx/nginx.conf":     "server {}\n",
	})
	git := gitserver.HTTP(t, repo)
	if r := cmd(t, d.URL, false, "add", git.URL(repo), "--wait"); r.code != 0 {
		t.Fatalf("add --wait: %+v", r)
	}

	r := cmd(t, d.URL, false, "show", "flask-on-docker")
	if r.code != 0 || !inOrder(r.stdout,
		`^name:\tNotes$`, `^emoji:\t📝$`, `^dockerfile:\tservices/web/Dockerfile$`, `^context:\tservices/web$`,
		`^chosen because:\tservice web of docker-compose.yml builds it \(nginx is a proxy \(nginx\), db is a datastore \(postgres\)\)$`,
		`^port:\t5000 \(from compose\)$`,
		`^other dockerfile:\tservices/nginx/Dockerfile\tservice nginx of docker-compose.yml is a proxy \(nginx\)$`) {
		t.Errorf("show in a pipe:\n%s", r.stdout)
	}
	r = cmd(t, d.URL, true, "show", "flask-on-docker")
	if !inOrder(r.stdout, `^port: +5000 \(from compose: the compose service's ports\)$`, `^other dockerfiles:$`, `^  services/nginx/Dockerfile  service nginx`) {
		t.Errorf("show on a terminal:\n%s", r.stdout)
	}
	r = cmd(t, d.URL, false, "show", "flask-on-docker", "--json")
	var got client.Repository
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	var meta catalog.RepositoryMetadata
	if err := json.Unmarshal(got.Metadata, &meta); err != nil || got.PortSource != "compose" || got.Emoji != "📝" ||
		meta.Build == nil || meta.Build.ComposeService != "web" || meta.HF == nil || meta.HF.SDK != "docker" {
		t.Errorf("show --json: port_source %q emoji %q metadata %s (%v)", got.PortSource, got.Emoji, got.Metadata, err)
	}
	if r := cmd(t, d.URL, false, "show", "flask-on-docker", "--jq", ".metadata.build.others[0].path"); strings.TrimSpace(r.stdout) != "services/nginx/Dockerfile" {
		t.Errorf("--jq .metadata.build.others: %q", r.stdout)
	}
}
