package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

func thumb(repoID, build int64, fill byte) catalog.Thumbnail {
	return catalog.Thumbnail{
		RepositoryID: repoID, BuildID: &build, LaunchID: 1, ContentType: "image/webp",
		Image: bytes.Repeat([]byte{fill}, 100), Image2x: bytes.Repeat([]byte{fill}, 300), Width: 320, Height: 200,
	}
}

func updatedEvents(t *testing.T, st *store.Store, slug string) []map[string]any {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{Topics: []string{"repository", "ingestion"}, Subject: slug})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range evs {
		if e.Type != "repository.updated" && e.Type != "ingestion.warning" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		d["type"] = e.Type
		out = append(out, d)
	}
	return out
}

func TestThumbnailSavedServedReplacedAndGoneWithTheRepository(t *testing.T) {
	st, repo, b1 := builtDash(t)
	ctx := context.Background()

	if _, err := st.Thumbnail(ctx, "dash"); !errors.Is(err, catalog.ErrNotFound) || !strings.Contains(err.Error(), "thumbnail") {
		t.Fatalf("thumbnail before any = %v, want a thumbnail not found", err)
	}
	if _, has, err := st.ThumbnailBuild(ctx, repo.ID); err != nil || has {
		t.Fatalf("ThumbnailBuild before any = %v, %v", has, err)
	}

	saved, err := st.SaveThumbnail(ctx, thumb(repo.ID, b1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if saved.ETag == "" || saved.Repository != "dash" || saved.Image != nil {
		t.Fatalf("saved = %+v", saved)
	}
	got, err := st.Thumbnail(ctx, "dash")
	if err != nil {
		t.Fatal(err)
	}
	if got.ETag != saved.ETag || len(got.Image) != 100 || len(got.Image2x) != 300 || got.Width != 320 || *got.BuildID != b1 {
		t.Fatalf("thumbnail = %+v (etag %s), want what was saved", got, saved.ETag)
	}
	r, err := st.Repository(ctx, "dash")
	if err != nil {
		t.Fatal(err)
	}
	if want := "/api/v1/repositories/dash/thumbnail?v=" + saved.ETag; r.ThumbnailURL != want {
		t.Errorf("thumbnail_url = %q, want %q", r.ThumbnailURL, want)
	}
	page, err := st.Search(ctx, store.SearchOptions{Query: "dash"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 1 || page.Results[0].ThumbnailURL != r.ThumbnailURL {
		t.Errorf("search results = %+v, want dash with its thumbnail_url", page.Results)
	}
	evs := updatedEvents(t, st, "dash")
	if len(evs) != 1 || evs[0]["thumbnail_url"] != r.ThumbnailURL {
		t.Fatalf("events = %v, want one repository.updated with the thumbnail_url", evs)
	}

	// The same picture again (a refresh): said so.
	if _, err := st.SaveThumbnail(ctx, thumb(repo.ID, b1, 1)); err != nil {
		t.Fatal(err)
	}
	if evs := updatedEvents(t, st, "dash"); len(evs) != 2 || evs[1]["same_picture"] != true || evs[0]["same_picture"] != false {
		t.Fatalf("events after the same picture = %v, want a second one with same_picture", evs)
	}

	// A newer build's picture replaces it.
	b2 := succeededBuild(t, st, repo.ID, "bbbbbbbbbbbb")
	saved2, err := st.SaveThumbnail(ctx, thumb(repo.ID, b2, 2))
	if err != nil {
		t.Fatal(err)
	}
	if saved2.ETag == saved.ETag {
		t.Fatal("a different picture has the same ETag")
	}
	if b, has, err := st.ThumbnailBuild(ctx, repo.ID); err != nil || !has || b != b2 {
		t.Fatalf("ThumbnailBuild = %d, %v, %v; want %d", b, has, err, b2)
	}
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM thumbnails`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d thumbnails stored (%v), want the newest only", n, err)
	}

	// The timeline gets warnings.
	if err := st.AddTimelineWarning(ctx, repo.ID, "thumbnail", "no thumbnail: the page did not finish loading"); err != nil {
		t.Fatal(err)
	}
	steps, err := st.IngestionTimeline(ctx, "dash", store.TimelineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := steps[len(steps)-1]
	if last.Status != catalog.TimelineWarning || !strings.Contains(last.Message, "did not finish loading") {
		t.Errorf("last step = %+v, want the warning", last)
	}
	if evs := updatedEvents(t, st, "dash"); len(evs) != 4 || evs[3]["type"] != "ingestion.warning" || evs[3]["source"] != "thumbnail" {
		t.Errorf("events = %v, want an ingestion.warning from thumbnail last", evs)
	}

	// Gone with the repository.
	if err := st.DeleteRepository(ctx, "dash"); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM thumbnails`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d thumbnails left after the repository was removed (%v)", n, err)
	}
}

func TestThumbnailGoesWithItsBuildAndRefusesNonImages(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/dash.git")
	b := succeededBuild(t, st, repo.ID, "aaaaaaaaaaaa")
	if _, err := st.SaveThumbnail(ctx, catalog.Thumbnail{RepositoryID: repo.ID, BuildID: &b, ContentType: "image/webp"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("save without images = %v, want invalid", err)
	}
	big := thumb(repo.ID, b, 3)
	big.Image2x = make([]byte, 3<<20)
	if _, err := st.SaveThumbnail(ctx, big); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("save of 3 MiB = %v, want invalid", err)
	}
	if _, err := st.SaveThumbnail(ctx, thumb(repo.ID, b, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `DELETE FROM builds WHERE id = $1`, b); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Thumbnail(ctx, "dash"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("thumbnail after its build was deleted = %v, want not found", err)
	}
}
