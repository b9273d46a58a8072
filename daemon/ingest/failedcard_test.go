package ingest_test

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/ingest"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// TestFailedCardKeepsItsPort: a repository whose ingestion fails (no
// Dockerfile yet) but whose tags.yaml or README names the port gets that
// port on its card, as a success would.
func TestFailedCardKeepsItsPort(t *testing.T) {
	e := newEnv(t)
	repo := gitserver.NewNamedRepo(t, "space-draft", map[string]string{
		"README.md": "---\ntitle: Draft Space\nsdk: docker\napp_port: 7861\n---\n\n# Draft Space\n\nA Space whose Dockerfile is not written yet.\n",
	})
	r := e.register(repo)
	got, err := e.ingest(r, 1)
	if err == nil || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "no Dockerfile found") {
		t.Fatalf("handler %v, status %s %q", err, got.IngestStatus, got.IngestError)
	}
	if got.AppPort != 7861 || got.PortSource != metadata.PortFromReadme {
		t.Errorf("failed card: port %d (%s), want 7861 (readme)", got.AppPort, got.PortSource)
	}

	// tags.yaml's port wins, as on a success.
	repo.Commit(t, map[string]string{"tags.yaml": "port: 3000\n"}, "declare the port")
	if _, _, err := e.st.RequestIngest(context.Background(), r.Slug, "refresh"); err != nil {
		t.Fatal(err)
	}
	if got, _ = e.ingest(r, 1); got.AppPort != 3000 || got.PortSource != metadata.PortFromTagsFile {
		t.Errorf("failed card with tags.yaml: port %d (%s), want 3000 (tags.yaml)", got.AppPort, got.PortSource)
	}
}

// weatherApp is a small Express app whose card the tests below expect,
// whatever else in the repository fails.
func weatherApp() map[string]string {
	return map[string]string{
		"README.md":    "# Weather Board\n\nShows tomorrow's weather for a list of cities.\n",
		"package.json": `{"name": "weather-board", "dependencies": {"express": "^4.19.0"}}`,
		"server.js":    "require('express')().listen(8080)\n",
		"Dockerfile":   "FROM node:20-alpine\nCOPY . /app\nEXPOSE 8080\nCMD [\"node\", \"/app/server.js\"]\n",
	}
}

// TestEveryFailureKeepsTheCardItCouldRead: an ingestion that fails for a
// reason other than a missing Dockerfile (a malformed or hostile tags.yaml,
// a Dockerfile that cannot be used, a stage it does not define, a tree
// over the size limit or with entries git refuses) still writes the card
// read from the rest of the repository, with the error (which says what
// to fix) beside it.
func TestEveryFailureKeepsTheCardItCouldRead(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "Dockerfile"), []byte("FROM alpine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *ingest.Config) { c.MaxCloneBytes = 256 << 10 })
	for _, tc := range []struct {
		name     string
		change   func(files map[string]string)
		register func(*store.NewRepository)
		update   *store.RepositoryUpdate
		err      []string // all in the error
		name2    string   // the card's name, when not the README's
		port     int      // 0: 8080 from EXPOSE
		warn     string   // in the stored warnings
	}{
		{name: "malformed-tags-yaml", change: func(f map[string]string) {
			f["tags.yaml"] = "tags:\n  category: [a, b\n"
		}, err: []string{"tags.yaml", "malformed YAML", "fix tags.yaml and push"}},
		{name: "tags-yaml-bad-port", change: func(f map[string]string) {
			f["tags.yaml"] = "name: Forecast Wall\nport: lots\n"
		}, err: []string{"tags.yaml:2", "port must be a TCP port", "fix tags.yaml and push"}, name2: "Forecast Wall"},
		{name: "huge-tags-yaml", change: func(f map[string]string) {
			f["tags.yaml"] = "description: x\n# " + strings.Repeat("x", 70<<10) + "\n"
		}, err: []string{"tags.yaml", "larger than the 64 KiB limit"}},
		{name: "unparsable-dockerfile", change: func(f map[string]string) {
			f["Dockerfile"] = "FROM node:20\nFROBNICATE now\n"
		}, err: []string{"Dockerfile:2", "unknown instruction"}, port: -1},
		{name: "declared-dockerfile-missing", register: func(in *store.NewRepository) { in.RequestedDockerfile = "deploy/Dockerfile" },
			err: []string{"deploy/Dockerfile", "does not exist"}, port: -1},
		{name: "declared-stage-missing", update: &store.RepositoryUpdate{Target: ptr("prod")},
			err: []string{"target setting \"prod\"", "appstore edit"}},
		{name: "tree-over-the-size-limit", change: func(f map[string]string) {
			f["data/zeros.bin"] = strings.Repeat("\x00", 1<<20)
		}, err: []string{"larger than the 256 KiB clone limit", "raise --max-clone-size or slim the repository", "the card shows what the 4 files"}, warn: "only part of the repository was read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := weatherApp()
			if tc.change != nil {
				tc.change(files)
			}
			repo := gitserver.NewNamedRepo(t, tc.name, files)
			r := e.register(repo, func(in *store.NewRepository) {
				if tc.register != nil {
					tc.register(in)
				}
			})
			if tc.update != nil {
				if _, err := e.st.UpdateRepository(context.Background(), r.Slug, *tc.update); err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.ingest(r, 1)
			if err == nil || !queue.IsPermanent(err) || got.IngestStatus != catalog.IngestFailed {
				t.Fatalf("handler %v, status %s: want a permanent failure", err, got.IngestStatus)
			}
			t.Logf("%s: %s", tc.name, got.IngestError)
			checkFailedCard(t, got, tc.err, cmp.Or(tc.name2, "Weather Board"), tc.port, tc.warn)
			if got.LatestBuild != nil || len(e.q.Take(queue.KindBuild)) != 0 {
				t.Errorf("a failed ingestion got a build: %+v", got.LatestBuild)
			}
		})
	}

	// A tree with an entry git refuses (".GIT"): the safe files are read.
	t.Run("hostile-tree", func(t *testing.T) {
		repo := gitserver.NewNamedRepo(t, "hostile-tree", weatherApp())
		var entries []gitserver.RawEntry
		for _, n := range []string{"Dockerfile", "README.md", "package.json", "server.js"} {
			entries = append(entries, gitserver.RawEntry{Mode: "100644", Name: n, Hash: repo.HashBlob(t, weatherApp()[n])})
		}
		hooks := repo.WriteRawTree(t, []gitserver.RawEntry{{Mode: "100755", Name: "post-checkout", Hash: repo.HashBlob(t, "#!/bin/sh\ntouch pwned\n")}})
		entries = append([]gitserver.RawEntry{{Mode: "40000", Name: ".GIT", Hash: hooks}}, entries...)
		repo.CommitRawTree(t, repo.WriteRawTree(t, entries), "hostile")
		got, err := e.ingest(e.register(repo), 1)
		if err == nil || !queue.IsPermanent(err) || got.IngestStatus != catalog.IngestFailed {
			t.Fatalf("handler %v, status %s: want a permanent failure", err, got.IngestStatus)
		}
		checkFailedCard(t, got, []string{`".GIT"`, "fix the repository"}, "Weather Board", 0, "only part of the repository was read")
	})

	// A clone that fails before anything arrived has nothing to read:
	// the repository keeps the name it was registered with.
	t.Run("not-found", func(t *testing.T) {
		r := e.registerURL(e.git.Base + "/missing.git")
		got, err := e.ingest(r, 1)
		if err == nil || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "check the URL") {
			t.Fatalf("handler %v, status %s %q", err, got.IngestStatus, got.IngestError)
		}
		if got.Name != "missing" || got.Description != "" || len(got.Tags) != 0 {
			t.Errorf("card of a repository never read: %q %q %v", got.Name, got.Description, got.Tags)
		}
	})
}

// checkFailedCard checks the card of a failed ingestion: its error, the
// name, description and tags the Weather Board has, its port (0: 8080
// from EXPOSE; -1: none, the Dockerfile could not be used) and a warning.
func checkFailedCard(t *testing.T, got *catalog.Repository, errs []string, name string, port int, warn string) {
	t.Helper()
	for _, w := range errs {
		if !strings.Contains(got.IngestError, w) {
			t.Errorf("error %q does not mention %q", got.IngestError, w)
		}
	}
	if got.Name != name || got.Description != "Shows tomorrow's weather for a list of cities." {
		t.Errorf("card: name %q description %q", got.Name, got.Description)
	}
	wantTags(t, got, map[string]catalog.TagSource{"framework:express": catalog.SourceAuto, "lang:javascript": catalog.SourceAuto})
	switch port {
	case 0:
		if got.AppPort != 8080 || got.PortSource != metadata.PortFromExpose {
			t.Errorf("port %d (%s), want 8080 from EXPOSE", got.AppPort, got.PortSource)
		}
	case -1:
		if got.AppPort != 0 {
			t.Errorf("port %d (%s), want none: the Dockerfile could not be used", got.AppPort, got.PortSource)
		}
	}
	var meta struct{ Warnings []string }
	if err := json.Unmarshal(got.Metadata, &meta); err != nil {
		t.Fatal(err)
	}
	if warn != "" && !slices.ContainsFunc(meta.Warnings, func(w string) bool { return strings.Contains(w, warn) }) {
		t.Errorf("warnings %q, want one with %q", meta.Warnings, warn)
	}
}
