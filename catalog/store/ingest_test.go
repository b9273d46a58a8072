package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

func timeline(t *testing.T, st *store.Store, slug string) []catalog.IngestionEvent {
	t.Helper()
	evs, err := st.IngestionTimeline(context.Background(), slug, store.TimelineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func statuses(evs []catalog.IngestionEvent) []catalog.IngestStatus {
	var out []catalog.IngestStatus
	for _, e := range evs {
		out = append(out, e.Status)
	}
	return out
}

func eventTypes(t *testing.T, st *store.Store, subject string) []string {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func success(c *store.IngestClaim, sha string) store.IngestSuccess {
	return store.IngestSuccess{
		IngestAttempt: store.IngestAttempt{RepositoryID: c.RepositoryID, Claim: c.Claim, Attempt: c.Attempt, CommitSHA: sha, Duration: 1500 * time.Millisecond},
		Branch:        "main", Name: "Dashboard", Description: "A dashboard", Homepage: "https://dash.example.com",
		DockerfilePath: "Dockerfile", ContextPath: ".", AppPort: 3000, PortSource: "expose", Readme: "# Dash",
		Metadata: json.RawMessage(`{"dockerfile":{"base_image":"node:20"}}`),
		Message:  "ingested " + sha,
	}
}

func TestIngestionHappyPath(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	in := newRepo(t, "https://github.com/acme/dash.git", "category:dashboard")
	repo, err := st.CreateRepository(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateRepository(ctx, "dash", store.RepositoryUpdate{Homepage: ptr("https://mine.example.com")}); err != nil {
		t.Fatal(err)
	}

	c, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.Attempt != 1 || c.Slug != "dash" || c.GitURL != "https://github.com/acme/dash.git" || c.Recovered {
		t.Errorf("claim %+v", c)
	}
	if time.Until(c.LeaseUntil) < 50*time.Second {
		t.Errorf("lease until %v, want about a minute from now", c.LeaseUntil)
	}
	// A second worker gets the same job (a duplicate delivery): refused.
	_, err = st.ClaimIngest(ctx, repo.ID, time.Minute)
	var nc *store.NotClaimableError
	if !errors.As(err, &nc) || nc.Status != catalog.IngestProcessing {
		t.Fatalf("second claim: %v, want NotClaimableError while processing", err)
	}

	s := success(c, "aaaa1111")
	s.AuthorTags = storetest.Tags(t, "topic:charts", "category:dashboard")
	s.AutoTags = storetest.Tags(t, "lang:typescript", "runtime:node")
	done, err := st.CompleteIngest(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if !done.NewBuild || done.BuildID == 0 || done.Slug != "dash" {
		t.Errorf("completion %+v", done)
	}
	got, err := st.Repository(ctx, "dash")
	if err != nil {
		t.Fatal(err)
	}
	if got.IngestStatus != catalog.IngestReady || got.IngestError != "" || got.LastCommitSHA != "aaaa1111" || got.LastIngestedAt == nil {
		t.Errorf("state %s %q %q %v", got.IngestStatus, got.IngestError, got.LastCommitSHA, got.LastIngestedAt)
	}
	if got.Name != "Dashboard" || got.Description != "A dashboard" || got.Homepage != "https://mine.example.com" {
		t.Errorf("fields: name %q description %q homepage %q (homepage is manual and must stay)", got.Name, got.Description, got.Homepage)
	}
	if got.DefaultBranch != "main" || got.DockerfilePath != "Dockerfile" || got.ContextPath != "." || got.AppPort != 3000 || got.PortSource != "expose" {
		t.Errorf("build fields %+v", got)
	}
	if string(got.Metadata) == "" || !json.Valid(got.Metadata) {
		t.Errorf("metadata %s", got.Metadata)
	}
	wantTags := []catalog.Tag{
		{Key: "category", Value: "dashboard", Source: catalog.SourceAuthor},
		{Key: "category", Value: "dashboard", Source: catalog.SourceManual},
		{Key: "lang", Value: "typescript", Source: catalog.SourceAuto},
		{Key: "runtime", Value: "node", Source: catalog.SourceAuto},
		{Key: "topic", Value: "charts", Source: catalog.SourceAuthor},
	}
	if !slices.Equal(got.Tags, wantTags) {
		t.Errorf("tags %v\nwant %v", got.Tags, wantTags)
	}
	if got.LatestBuild == nil || got.LatestBuild.ID != done.BuildID || got.LatestBuild.Status != catalog.BuildQueued || got.LatestBuild.CommitSHA != "aaaa1111" {
		t.Errorf("latest build %+v", got.LatestBuild)
	}
	tl := timeline(t, st, "dash")
	if want := []catalog.IngestStatus{"queued", "processing", "ready"}; !slices.Equal(statuses(tl), want) {
		t.Fatalf("timeline %v, want %v", statuses(tl), want)
	}
	if r := tl[2]; r.CommitSHA != "aaaa1111" || r.DurationMS == nil || *r.DurationMS != 1500 || r.Attempt != 1 || r.Message != "ingested aaaa1111" {
		t.Errorf("ready step %+v", r)
	}
	want := []string{"repository.created", "repository.updated", "ingestion.processing", "build.queued", "ingestion.ready"}
	if got := eventTypes(t, st, "dash"); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	// The claim is spent: recording it again is refused and changes nothing.
	if _, err := st.CompleteIngest(ctx, s); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("second completion: %v, want ErrClaimLost", err)
	}
	if _, err := st.ClaimIngest(ctx, repo.ID, time.Minute); !errors.As(err, &nc) || nc.Status != catalog.IngestReady {
		t.Errorf("claim of a ready repository: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestReingestionReplacesAuthorAndAutoTagsKeepsManual(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/notes.git", "team:ops")
	if _, err := st.UpdateRepository(ctx, "notes", store.RepositoryUpdate{Description: ptr("my words")}); err != nil {
		t.Fatal(err)
	}
	c, _ := st.ClaimIngest(ctx, repo.ID, time.Minute)
	s := success(c, "c1")
	s.AuthorTags, s.AutoTags = storetest.Tags(t, "topic:old"), storetest.Tags(t, "lang:go")
	if _, err := st.CompleteIngest(ctx, s); err != nil {
		t.Fatal(err)
	}

	r, changed, err := st.RequestIngest(ctx, "notes", "refresh requested")
	if err != nil || !changed || r.IngestStatus != catalog.IngestQueued {
		t.Fatalf("request: %v %v %+v", changed, err, r)
	}
	// Asking again while queued changes nothing and adds no step.
	if _, changed, err := st.RequestIngest(ctx, "notes", "again"); err != nil || changed {
		t.Errorf("second request: changed %v err %v", changed, err)
	}
	c, err = st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil || c.Attempt != 1 {
		t.Fatalf("claim after refresh: %+v %v (attempts restart with each run)", c, err)
	}
	s = success(c, "c2")
	s.Name, s.Description = "", "from the repo"
	s.AuthorTags, s.AutoTags = storetest.Tags(t, "topic:new"), nil
	if _, err := st.CompleteIngest(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Repository(ctx, "notes")
	want := []catalog.Tag{{Key: "team", Value: "ops", Source: catalog.SourceManual}, {Key: "topic", Value: "new", Source: catalog.SourceAuthor}}
	if !slices.Equal(got.Tags, want) {
		t.Errorf("tags %v, want %v", got.Tags, want)
	}
	if got.Description != "my words" || got.Name != "Dashboard" {
		t.Errorf("description %q (manual, kept) name %q (empty keeps the current)", got.Description, got.Name)
	}
	var arr []string
	if err := st.Pool().QueryRow(ctx, `SELECT tags FROM repositories WHERE id = $1`, repo.ID).Scan(&arr); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(arr, []string{"team:ops", "topic:new"}) {
		t.Errorf("denormalised tags %v", arr)
	}
	if got := statuses(timeline(t, st, "notes")); !slices.Equal(got, []catalog.IngestStatus{"queued", "processing", "ready", "queued", "processing", "ready"}) {
		t.Errorf("timeline %v", got)
	}
}

func TestIngestionFailureAndRetry(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/flaky.git")
	c, _ := st.ClaimIngest(ctx, repo.ID, time.Minute)
	a := store.IngestAttempt{RepositoryID: repo.ID, Claim: c.Claim, Attempt: c.Attempt, Duration: 2 * time.Second}
	if err := st.RetryIngest(ctx, a, "network down; retrying", time.Hour); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Repository(ctx, "flaky")
	if got.IngestStatus != catalog.IngestQueued || got.IngestError != "network down; retrying" || got.IngestAttempts != 1 {
		t.Errorf("after retry: %s %q %d", got.IngestStatus, got.IngestError, got.IngestAttempts)
	}
	// The queue promised a retry within the hour: not stale yet, except
	// at start-up.
	if ids, _ := st.StaleIngestions(ctx, false, 0); slices.Contains(ids, repo.ID) {
		t.Errorf("stale %v includes a repository waiting for its retry", ids)
	}
	if ids, _ := st.StaleIngestions(ctx, true, 0); !slices.Contains(ids, repo.ID) {
		t.Errorf("start-up stale %v misses the queued repository", ids)
	}

	c, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil || c.Attempt != 2 {
		t.Fatalf("retry claim %+v %v", c, err)
	}
	a = store.IngestAttempt{RepositoryID: repo.ID, Claim: c.Claim, Attempt: 2, CommitSHA: "bad1", Duration: 300 * time.Millisecond}
	if err := st.FailIngest(ctx, a, "Dockerfile:3: unknown instruction"); err != nil {
		t.Fatal(err)
	}
	got, _ = st.Repository(ctx, "flaky")
	if got.IngestStatus != catalog.IngestFailed || got.IngestError != "Dockerfile:3: unknown instruction" || got.LatestBuild != nil {
		t.Errorf("after failure: %s %q build %+v", got.IngestStatus, got.IngestError, got.LatestBuild)
	}
	tl := timeline(t, st, "flaky")
	if want := []catalog.IngestStatus{"queued", "processing", "queued", "processing", "failed"}; !slices.Equal(statuses(tl), want) {
		t.Fatalf("timeline %v, want %v", statuses(tl), want)
	}
	if f := tl[4]; f.Message != "Dockerfile:3: unknown instruction" || f.CommitSHA != "bad1" || *f.DurationMS != 300 || f.Attempt != 2 {
		t.Errorf("failed step %+v", f)
	}
	if *tl[2].DurationMS != 2000 {
		t.Errorf("retried attempt's duration %v", *tl[2].DurationMS)
	}
	want := []string{"repository.created", "ingestion.processing", "ingestion.retrying", "ingestion.processing", "ingestion.failed"}
	if got := eventTypes(t, st, "flaky"); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	// The sync retries a failed repository only once it sees a new commit:
	// the one that failed is what it compares with.
	target, err := st.SyncTargetByID(ctx, repo.ID)
	if err != nil || target.SeenCommit != "bad1" || target.Status != catalog.IngestFailed {
		t.Errorf("sync target %+v %v", target, err)
	}
}

func TestExpiredLeaseIsRecoveredAndTheOldClaimLoses(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/crash.git")
	old, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.StaleIngestions(ctx, true, 0); slices.Contains(ids, repo.ID) {
		t.Errorf("a live lease is stale: %v", ids)
	}
	// The worker died; time passes beyond its lease.
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_lease_until = now() - interval '1 second' WHERE id = $1`, repo.ID); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.StaleIngestions(ctx, false, 0); !slices.Contains(ids, repo.ID) {
		t.Errorf("stale %v misses the expired lease", ids)
	}
	c, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil || !c.Recovered || c.Attempt != 2 {
		t.Fatalf("recovery claim %+v %v", c, err)
	}
	// The old worker comes back: its results are refused.
	if _, err := st.CompleteIngest(ctx, success(old, "x")); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("old claim completion: %v", err)
	}
	if err := st.FailIngest(ctx, old.Outcome(), "late"); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("old claim failure: %v", err)
	}
	tl := timeline(t, st, "crash")
	if last := tl[len(tl)-1]; last.Status != catalog.IngestProcessing || last.Attempt != 2 {
		t.Errorf("last step %+v", last)
	}
}

func TestRefreshWhileProcessingSupersedesTheRunningAttempt(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/busy.git")
	c, _ := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if _, changed, err := st.RequestIngest(ctx, "busy", "push to main"); err != nil || !changed {
		t.Fatalf("request while processing: %v %v", changed, err)
	}
	if _, err := st.CompleteIngest(ctx, success(c, "old")); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("superseded completion: %v, want ErrClaimLost", err)
	}
	c2, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil || c2.Attempt != 1 || c2.Claim == c.Claim {
		t.Fatalf("claim of the new run %+v %v (after %+v)", c2, err, c)
	}
	// The old attempt finishes while the new one runs: both are attempt 1
	// of their run, yet the old one cannot pass for the new one.
	if _, err := st.CompleteIngest(ctx, success(c, "old")); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("superseded completion during the new run: %v, want ErrClaimLost", err)
	}
	if err := st.FailIngest(ctx, c.Outcome(), "late"); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("superseded failure during the new run: %v, want ErrClaimLost", err)
	}
	if _, err := st.CompleteIngest(ctx, success(c2, "new")); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Repository(ctx, "busy")
	if got.LastCommitSHA != "new" {
		t.Errorf("commit %q", got.LastCommitSHA)
	}
}

func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/race.git")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, refused := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
			var nc *store.NotClaimableError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.As(err, &nc):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || refused != 7 {
		t.Errorf("%d claims won, %d refused; want 1 and 7", wins, refused)
	}
}

func TestCompleteIngestReusesAnIdenticalQueuedBuild(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/same.git")
	c, _ := st.ClaimIngest(ctx, repo.ID, time.Minute)
	first, err := st.CompleteIngest(ctx, success(c, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	st.RequestIngest(ctx, "same", "refresh")
	c, _ = st.ClaimIngest(ctx, repo.ID, time.Minute)
	second, err := st.CompleteIngest(ctx, success(c, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	if second.NewBuild || second.BuildID != first.BuildID {
		t.Errorf("same commit while its build is queued: %+v, want build %d reused", second, first.BuildID)
	}
	st.RequestIngest(ctx, "same", "refresh")
	c, _ = st.ClaimIngest(ctx, repo.ID, time.Minute)
	third, err := st.CompleteIngest(ctx, success(c, "s2"))
	if err != nil {
		t.Fatal(err)
	}
	if !third.NewBuild || third.BuildID == first.BuildID {
		t.Errorf("new commit: %+v, want a new build", third)
	}
}

func TestTimelineWindow(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/long.git")
	for i := 0; i < 5; i++ {
		c, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RetryIngest(ctx, c.Outcome(), "again", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	all := timeline(t, st, "long")
	if len(all) != 11 {
		t.Fatalf("%d steps, want 11", len(all))
	}
	last3, err := st.IngestionTimeline(ctx, "long", store.TimelineOptions{Limit: 3})
	if err != nil || len(last3) != 3 || last3[2].ID != all[10].ID || last3[0].ID != all[8].ID {
		t.Errorf("newest 3: %+v %v", last3, err)
	}
	after, err := st.IngestionTimeline(ctx, "long", store.TimelineOptions{After: all[7].ID, Limit: 2})
	if err != nil || len(after) != 2 || after[0].ID != all[8].ID || after[1].ID != all[9].ID {
		t.Errorf("2 after %d: %+v %v", all[7].ID, after, err)
	}
	if _, err := st.IngestionTimeline(ctx, "nope", store.TimelineOptions{}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("timeline of a missing repository: %v", err)
	}
}

func TestClaimSyncDueSplitsAndSpaces(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	var ids []int64
	for _, u := range []string{"https://github.com/acme/s1.git", "https://github.com/acme/s2.git", "https://github.com/acme/s3.git"} {
		repo := createRepo(t, st, u)
		c, _ := st.ClaimIngest(ctx, repo.ID, time.Minute)
		if _, err := st.CompleteIngest(ctx, success(c, "h")); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, repo.ID)
	}
	queued := createRepo(t, st, "https://github.com/acme/q.git")

	if due, err := st.ClaimSyncDue(ctx, time.Hour, 0); err != nil || len(due) != 0 {
		t.Errorf("due within the hour after ingestion: %v %v", due, err)
	}
	a, err := st.ClaimSyncDue(ctx, 0, 2)
	if err != nil || len(a) != 2 {
		t.Fatalf("first claim %v %v", a, err)
	}
	b, err := st.ClaimSyncDue(ctx, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The least recently synced come first, so the one left out is next.
	for _, id := range ids {
		if !slices.Contains(a, id) && !slices.Contains(b, id) {
			t.Errorf("second claim %v (after %v) misses repository %d, synced least recently", b, a, id)
		}
	}
	for _, got := range [][]int64{a, b} {
		if slices.Contains(got, queued.ID) {
			t.Errorf("a queued repository is not synced: %v", got)
		}
	}
	if due, _ := st.ClaimSyncDue(ctx, time.Minute, 0); len(due) != 0 {
		t.Errorf("synced a moment ago, yet due again: %v", due)
	}
	target, err := st.SyncTargetByID(ctx, ids[0])
	if err != nil || target.SeenCommit != "h" || target.GitURL != "https://github.com/acme/s1.git" {
		t.Errorf("target %+v %v", target, err)
	}
	repos, err := st.RepositoriesByURLKeys(ctx, []string{"github.com/acme/s2", "github.com/acme/none"})
	if err != nil || len(repos) != 1 || repos[0].Slug != "s2" {
		t.Errorf("by URL keys: %v %v", repos, err)
	}
}

// TestFailedIngestionKeepsTheCard: a repository without a Dockerfile fails,
// but its card (name, description, emoji, tags) is recorded, the fields
// the user set untouched; the emoji reaches search results.
func TestFailedIngestionKeepsTheCard(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo, err := st.CreateRepository(ctx, newRepo(t, "https://github.com/acme/md-toc.git"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateRepository(ctx, repo.Slug, store.RepositoryUpdate{Description: ptr("Mine")}); err != nil {
		t.Fatal(err)
	}
	c, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Outcome()
	a.CommitSHA, a.CardVersion = "cccc3333", 7
	card := &store.IngestCard{
		Name: "md toc", Description: "Tables of contents", Emoji: "📑", Readme: "# md toc",
		Metadata:   json.RawMessage(`{"hf":{"emoji":"📑"}}`),
		AuthorTags: storetest.Tags(t, "license:isc"), AutoTags: storetest.Tags(t, "lang:javascript"),
	}
	if err := st.FailIngestWithCard(ctx, a, "no Dockerfile found", card); err != nil {
		t.Fatal(err)
	}
	got, err := st.Repository(ctx, repo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if got.IngestStatus != catalog.IngestFailed || got.Name != "md toc" || got.Description != "Mine" || got.Emoji != "📑" || got.LatestBuild != nil {
		t.Errorf("failed with card: %s name %q description %q emoji %q build %+v", got.IngestStatus, got.Name, got.Description, got.Emoji, got.LatestBuild)
	}
	if !slices.ContainsFunc(got.Tags, func(tg catalog.Tag) bool { return tg.String() == "lang:javascript" }) {
		t.Errorf("tags %v", got.Tags)
	}
	var cv int
	if err := st.Pool().QueryRow(ctx, `SELECT card_version FROM repositories WHERE id = $1`, repo.ID).Scan(&cv); err != nil || cv != 7 {
		t.Errorf("card_version %d (%v), want 7", cv, err)
	}
	page, err := st.Search(ctx, store.SearchOptions{Query: "md"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 1 || page.Results[0].Emoji != "📑" {
		t.Errorf("search results %+v, want the emoji", page.Results)
	}
	if err := st.FailIngestWithCard(ctx, a, "late", &store.IngestCard{Metadata: json.RawMessage("{")}); err == nil {
		t.Error("invalid metadata accepted")
	}
}

// TestFailedIngestionAfterASuccessKeepsItsCard: a repository ingested
// before keeps the card of that commit (its builds run it) when a later
// commit fails; the failure is recorded.
func TestFailedIngestionAfterASuccessKeepsItsCard(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo, err := st.CreateRepository(ctx, newRepo(t, "https://github.com/acme/tides.git"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.ClaimIngest(ctx, repo.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Outcome()
	a.CommitSHA = "aaaa1111"
	if _, err := st.CompleteIngest(ctx, store.IngestSuccess{IngestAttempt: a, Name: "Tides", Description: "Tide tables",
		DockerfilePath: "Dockerfile", ContextPath: ".", AppPort: 8080, PortSource: "expose", AutoTags: storetest.Tags(t, "lang:go")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RequestIngest(ctx, repo.Slug, "refresh"); err != nil {
		t.Fatal(err)
	}
	if c, err = st.ClaimIngest(ctx, repo.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	a = c.Outcome()
	a.CommitSHA = "bbbb2222"
	if err := st.FailIngestWithCard(ctx, a, "tags.yaml:1: malformed YAML", &store.IngestCard{Name: "Broken", Description: "half read",
		AppPort: 9999, PortSource: "tags.yaml", AutoTags: storetest.Tags(t, "lang:python")}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Repository(ctx, repo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if got.IngestStatus != catalog.IngestFailed || got.IngestError != "tags.yaml:1: malformed YAML" {
		t.Errorf("status %s %q, want the failure", got.IngestStatus, got.IngestError)
	}
	if got.Name != "Tides" || got.Description != "Tide tables" || got.AppPort != 8080 || got.LastCommitSHA != "aaaa1111" ||
		len(got.Tags) != 1 || got.Tags[0].String() != "lang:go" {
		t.Errorf("card after a failed commit: %q %q port %d commit %s tags %v, want the last good one", got.Name, got.Description, got.AppPort, got.LastCommitSHA, got.Tags)
	}
}
