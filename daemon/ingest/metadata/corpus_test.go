package metadata_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
	"github.com/appstore-dev/appstore/internal/cardcorpus"
)

// The corpus: each folder of testdata/corpus holds a repository laid out
// like a kind of real public repository (files.txtar) and the card a
// careful maintainer would write for it (want.yaml). TestCorpus ingests
// every one and scores, field by field, how many cards are right.

// corpusFields are the scored fields.
var corpusFields = []string{"name", "description", "port", "dockerfile", "lang", "framework", "license"}

// corpusThreshold is the share of right fields below which the test fails,
// overall and for each field.
const corpusThreshold = 0.95

func TestCorpus(t *testing.T) {
	fixtures, err := cardcorpus.Load(filepath.Join("testdata", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fixtures) < 30 {
		t.Errorf("the corpus has %d fixtures, want at least 30", len(fixtures))
	}
	right := map[string]int{}
	total := 0
	for _, fx := range fixtures {
		name, want := fx.Name, fx.Want
		root := filepath.Join(t.TempDir(), "repo")
		if err := fx.Write(root); err != nil {
			t.Fatal(err)
		}
		res, err := metadata.Extract(context.Background(), root, metadata.Options{})
		switch {
		case want.Error == "" && err != nil:
			t.Errorf("%s: Extract: %v", name, err)
			continue
		case want.Error != "" && (err == nil || !strings.Contains(err.Error(), want.Error)):
			t.Errorf("%s: error %v, want one with %q", name, err, want.Error)
		case want.Error != "" && !metadata.IsPermanent(err):
			t.Errorf("%s: error %v is not permanent", name, err)
		}
		if res == nil {
			t.Errorf("%s: no card with the error %v", name, err)
			continue
		}
		total++
		got := corpusCard(res, want.Repo)
		exp := wantCard(want)
		for _, f := range corpusFields {
			if got[f] == exp[f] {
				right[f]++
				continue
			}
			t.Logf("%s (%s): %s is %q, want %q", name, want.Kind, f, got[f], exp[f])
		}
		if want.Emoji != res.Emoji {
			t.Errorf("%s: emoji %q, want %q", name, res.Emoji, want.Emoji)
		}
		if want.Warning != "" && !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, want.Warning) }) {
			t.Errorf("%s: warnings %q, want one with %q", name, res.Warnings, want.Warning)
		}
		for _, o := range want.Others {
			if res.Build == nil || !slices.ContainsFunc(res.Build.Others, func(x catalog.OtherDockerfile) bool { return x.Path == o && x.Why != "" }) {
				t.Errorf("%s: %s is not listed with a reason among the other Dockerfiles: %+v", name, o, res.Build)
			}
		}
	}
	var all int
	var b strings.Builder
	fmt.Fprintf(&b, "corpus of %d repositories, right fields:\n", total)
	for _, f := range corpusFields {
		all += right[f]
		share := float64(right[f]) / float64(total)
		fmt.Fprintf(&b, "  %-12s %3d/%d  %5.1f %%\n", f, right[f], total, 100*share)
		if share < corpusThreshold {
			t.Errorf("field %s is right in %.1f %% of the corpus, want at least %.0f %%", f, 100*share, 100*corpusThreshold)
		}
	}
	overall := float64(all) / float64(total*len(corpusFields))
	fmt.Fprintf(&b, "  %-12s %3d/%d  %5.1f %%", "all", all, total*len(corpusFields), 100*overall)
	t.Log(b.String())
	if overall < corpusThreshold {
		t.Errorf("%.1f %% of the card fields are right, want at least %.0f %%", 100*overall, 100*corpusThreshold)
	}
}

// corpusCard renders the scored fields of a Result as the worker stores
// them (the repository's name when the card has none).
func corpusCard(res *metadata.Result, repoName string) map[string]string {
	var lang, fw, lic []string
	for _, t := range res.Tags {
		switch t.Key {
		case "lang":
			lang = append(lang, t.Value)
		case "framework":
			fw = append(fw, t.Value)
		case "license":
			lic = append(lic, t.Value)
		}
	}
	name := res.Name
	if name == "" {
		name = repoName
	}
	return map[string]string{
		"name":        name,
		"description": res.Description,
		"port":        fmt.Sprintf("%d (%s)", res.Port, res.PortSource),
		"dockerfile":  fmt.Sprintf("%s (context %s%s)", res.DockerfilePath, res.ContextPath, stage(buildTarget(res))),
		"lang":        setString(lang),
		"framework":   setString(fw),
		"license":     setString(lic),
	}
}

// wantCard renders the scored fields of a want.yaml like corpusCard.
func wantCard(w cardcorpus.Want) map[string]string {
	return map[string]string{
		"name":        w.Name,
		"description": w.Description,
		"port":        fmt.Sprintf("%d (%s)", w.Port, w.PortSource),
		"dockerfile":  fmt.Sprintf("%s (context %s%s)", w.Dockerfile, w.Context, stage(w.Target)),
		"lang":        setString(w.Lang),
		"framework":   setString(w.Framework),
		"license":     setString(w.License),
	}
}

func setString(s []string) string {
	s = slices.Clone(s)
	sort.Strings(s)
	return strings.Join(s, ",")
}

// TestCorpusScoringSeesAWrongCard: the scoring compares every field, so a
// card that differs in any one of them is not counted right.
func TestCorpusScoringSeesAWrongCard(t *testing.T) {
	fx, err := cardcorpus.LoadOne(filepath.Join("testdata", "corpus", "compose-flask-nginx-postgres"))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "repo")
	if err := fx.Write(root); err != nil {
		t.Fatal(err)
	}
	res, err := metadata.Extract(context.Background(), root, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The proxy's Dockerfile, as the report had it.
	res.DockerfilePath, res.ContextPath, res.Port, res.PortSource = "services/nginx/Dockerfile", "services/nginx", 80, "expose"
	res.Tags = res.Tags[:0]
	got, want := corpusCard(res, fx.Want.Repo), wantCard(fx.Want)
	for _, f := range []string{"dockerfile", "port", "framework", "lang"} {
		if got[f] == want[f] {
			t.Errorf("%s: %q counted right", f, got[f])
		}
	}
	if got["name"] != want["name"] {
		t.Errorf("name %q, want %q", got["name"], want["name"])
	}
}

func buildTarget(res *metadata.Result) string {
	if res.Build == nil {
		return ""
	}
	return res.Build.Target
}

func stage(target string) string {
	if target == "" {
		return ""
	}
	return ", stage " + target
}
