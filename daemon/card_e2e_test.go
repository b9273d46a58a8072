package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/internal/cardcorpus"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestCorpusCardsThroughTheDaemon ingests fixtures of the card corpus
// through a real appstored (API, queue, worker, PostgreSQL, Git over smart
// HTTP) and checks the cards the catalog shows against their want.yaml:
// a compose monorepo, an unfenced Space, a Dockerfile in deploy/ built
// from the root, a UTF-16 manifest and a repository without a Dockerfile.
func TestCorpusCardsThroughTheDaemon(t *testing.T) {
	_, c := ingestDaemon(t, daemon.Config{})
	ctx := context.Background()
	dir := filepath.Join(testenv.ModuleRoot(t), filepath.FromSlash(cardcorpus.Dir))
	names := []string{"compose-flask-nginx-postgres", "hf-space-unfenced", "deploy-dockerfile-root-context", "flask-utf16-requirements", "no-dockerfile-node-cli"}
	git := gitserver.HTTP(t)
	slugs := map[string]string{}
	fixtures := map[string]cardcorpus.Fixture{}
	for _, name := range names {
		fx, err := cardcorpus.LoadOne(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var files []gitserver.File
		for p, content := range fx.Files {
			files = append(files, gitserver.File{Name: p, Content: string(content)})
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		repo := gitserver.NewRepoFiles(t, strings.ToLower(fx.Want.Repo), files)
		git.Add(repo)
		r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo)})
		if err != nil {
			t.Fatal(err)
		}
		slugs[name], fixtures[name] = r.Slug, fx
	}
	for _, name := range names {
		want := fixtures[name].Want
		r := waitRepo(t, c, slugs[name], name, func(r *client.Repository) bool {
			return r.IngestStatus == catalog.IngestReady || r.IngestStatus == catalog.IngestFailed
		})
		if want.Error == "" && r.IngestStatus != catalog.IngestReady || want.Error != "" && !strings.Contains(r.IngestError, want.Error) {
			t.Errorf("%s: %s %q, want error %q", name, r.IngestStatus, r.IngestError, want.Error)
		}
		var lang, fw, lic []string
		for _, tg := range r.Tags {
			switch tg.Key {
			case "lang":
				lang = append(lang, tg.Value)
			case "framework":
				fw = append(fw, tg.Value)
			case "license":
				lic = append(lic, tg.Value)
			}
		}
		got := fmt.Sprintf("%s|%s|%s|%d %s|%s in %s|%v|%v|%v", r.Name, r.Description, r.Emoji, r.AppPort, r.PortSource,
			r.DockerfilePath, r.ContextPath, sortedSet(lang), sortedSet(fw), sortedSet(lic))
		exp := fmt.Sprintf("%s|%s|%s|%d %s|%s in %s|%v|%v|%v", want.Name, want.Description, want.Emoji, want.Port, want.PortSource,
			want.Dockerfile, want.Context, sortedSet(want.Lang), sortedSet(want.Framework), sortedSet(want.License))
		if got != exp {
			t.Errorf("%s: card\n got %s\nwant %s", name, got, exp)
		}
		if want.Dockerfile != "" && r.LatestBuild == nil {
			t.Errorf("%s: no build queued", name)
		}
	}
	tl, err := c.Timeline(ctx, slugs["flask-utf16-requirements"], client.TimelineOptions{})
	if err != nil || len(tl) == 0 || !strings.Contains(tl[len(tl)-1].Message, "port 8000 from cmd") {
		t.Errorf("timeline %+v %v", tl, err)
	}
}

func sortedSet(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}
