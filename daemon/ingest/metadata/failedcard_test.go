package metadata_test

import (
	"context"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
)

// TestCardOfARepositoryThatCannotBeBuilt: each permanent failure comes
// back with the card read from everything else (the fields of tags.yaml
// read before a bad one included), and the first failure is the error.
func TestCardOfARepositoryThatCannotBeBuilt(t *testing.T) {
	base := map[string]string{
		"README.md":        "# Tide Tables\n\nPredicts high and low water for a harbour.\n",
		"requirements.txt": "flask==3.0.0\n",
		"app.py":           "import flask\n",
		"Dockerfile":       "FROM python:3.12-slim\nCOPY . /app\nEXPOSE 5000\nCMD [\"python\", \"/app/app.py\"]\n",
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		opts    metadata.Options
		err     string
		card    string // the name
		port    int
		hasFile bool // the Dockerfile is on the result
	}{
		{"tags.yaml with a bad port keeps its name", map[string]string{"tags.yaml": "name: Harbour Tides\nport: [1]\nemoji: 🌊\n"}, metadata.Options{},
			"tags.yaml:2: port must be", "Harbour Tides", 5000, true},
		{"malformed tags.yaml", map[string]string{"tags.yaml": "name: [x\n"}, metadata.Options{}, "tags.yaml", "Tide Tables", 5000, true},
		{"unparsable Dockerfile", map[string]string{"Dockerfile": "FROM python:3.12\nRUNN pip install\n"}, metadata.Options{}, "unknown instruction", "Tide Tables", 0, false},
		{"declared Dockerfile missing", nil, metadata.Options{Dockerfile: "ops/Dockerfile"}, "ops/Dockerfile: the Dockerfile declared by", "Tide Tables", 0, false},
		{"bad tags.yaml and a missing Dockerfile: the first", map[string]string{"tags.yaml": "port: x\n"}, metadata.Options{Dockerfile: "ops/Dockerfile"}, "tags.yaml:1", "Tide Tables", 0, false},
		{"declared stage missing", nil, metadata.Options{Target: "prod"}, `target setting "prod"`, "Tide Tables", 5000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tc.files {
				files[k] = v
			}
			res, err := metadata.Extract(context.Background(), writeRepo(t, files), tc.opts)
			if err == nil || !metadata.IsPermanent(err) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want a permanent one with %q", err, tc.err)
			}
			if res == nil {
				t.Fatal("no card")
			}
			if res.Name != tc.card || res.Description != "Predicts high and low water for a harbour." || res.Port != tc.port {
				t.Errorf("card: name %q description %q port %d, want %q and port %d", res.Name, res.Description, res.Port, tc.card, tc.port)
			}
			if (res.DockerfilePath != "") != tc.hasFile {
				t.Errorf("dockerfile %q", res.DockerfilePath)
			}
			var flask bool
			for _, tag := range res.Tags {
				flask = flask || tag.String() == "framework:flask"
			}
			if !flask {
				t.Errorf("tags %v, want framework:flask", res.Tags)
			}
		})
	}
}
