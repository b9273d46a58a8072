package tui

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
	"github.com/appstore-dev/appstore/client"
)

// fakeSource is an in-memory daemon for model tests: repositories with
// tags, builds, logs and launches, an autocomplete that counts tags like
// the real one, and an event stream the test feeds.
type fakeSource struct {
	mu       sync.Mutex
	starred  map[string]bool
	comments map[string][]client.Comment
	repos    []*client.Repository
	builds   map[string][]client.Build
	timeline map[string][]client.IngestionEvent
	launches []*client.Launch
	logs     map[int64]chan client.LogLine // live lines; closed when the build ends
	events   chan client.Event
	offline  bool
	nextID   int64
	// launchErr, when set, is StartLaunch's answer; commentErr
	// AddComment's.
	launchErr  error
	commentErr error
	// memberMe makes Whoami's user a member (else an admin).
	memberMe bool
	// configs are the apps' configurations (setConfig); envErr, when
	// set, is SetEnv's and UnsetEnv's answer (envbox_test.go).
	configs map[string]*client.AppConfig
	envErr  error
	// secretValues are the values SetSecret was given, in order.
	secretValues []string

	// gate, when set, holds every Autocomplete until a value is sent or
	// its context is cancelled.
	gate chan struct{}

	calls     []string
	suggestQs []string // queries of the autocomplete calls
	cancelled int      // autocomplete calls that ended by cancellation
	added     []client.AddRepositoryRequest
	created   []string // "slug nocache=…"
}

func newFakeSource() *fakeSource {
	return &fakeSource{
		builds:   map[string][]client.Build{},
		timeline: map[string][]client.IngestionEvent{},
		logs:     map[int64]chan client.LogLine{},
		events:   make(chan client.Event, 64),
		nextID:   100,
	}
}

var fakeEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// addRepo registers a ready repository with tags ("key:value@source").
func (f *fakeSource) addRepo(slug, name, desc string, tags ...string) *client.Repository {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &client.Repository{
		ID: int64(len(f.repos) + 1), Slug: slug, Name: name, Description: desc,
		GitURL:       "https://git.example.com/acme/" + slug + ".git",
		IngestStatus: catalog.IngestReady, LastCommitSHA: "0123456789abcdef0123456789abcdef01234567",
		DockerfilePath: "Dockerfile", ContextPath: ".", AppPort: 8080, PortSource: "EXPOSE",
		Metadata:  []byte(`{"dockerfile":{"base_image":"golang:1.22","stages":2,"user":"app","healthcheck":true}}`),
		CreatedAt: fakeEpoch.Add(time.Duration(len(f.repos)) * time.Minute),
	}
	for _, t := range tags {
		tag, src, _ := strings.Cut(t, "@")
		k, v, _ := strings.Cut(tag, ":")
		if src == "" {
			src = "auto"
		}
		r.Tags = append(r.Tags, catalog.Tag{Key: k, Value: v, Source: catalog.TagSource(src)})
	}
	f.repos = append(f.repos, r)
	return r
}

func (f *fakeSource) setBuild(slug string, b client.Build) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b.Repository = slug
	if b.CreatedAt.IsZero() {
		b.CreatedAt = fakeEpoch.Add(time.Hour)
	}
	f.builds[slug] = append([]client.Build{b}, f.builds[slug]...)
	for _, r := range f.repos {
		if r.Slug == slug {
			r.LatestBuild = &catalog.BuildSummary{ID: b.ID, Status: b.Status, CommitSHA: b.CommitSHA}
		}
	}
}

func (f *fakeSource) setOffline(v bool) {
	f.mu.Lock()
	f.offline = v
	f.mu.Unlock()
}

func (f *fakeSource) called(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.offline {
		return &client.UnreachableError{URL: "http://127.0.0.1:7070", Err: errors.New("dial tcp 127.0.0.1:7070: connect: connection refused")}
	}
	return nil
}

func (f *fakeSource) callCount(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == name {
			n++
		}
	}
	return n
}

func (f *fakeSource) find(slug string) *client.Repository {
	for _, r := range f.repos {
		if r.Slug == slug {
			return r
		}
	}
	return nil
}

func (f *fakeSource) LastEventID(ctx context.Context) (int64, error) {
	if err := f.called("LastEventID"); err != nil {
		return 0, err
	}
	return 0, nil
}

func (f *fakeSource) Events(ctx context.Context, since int64, onLost func(error)) iter.Seq2[client.Event, error] {
	return func(yield func(client.Event, error) bool) {
		if err := f.called("Events"); err != nil {
			yield(client.Event{}, err)
			return
		}
		for {
			select {
			case ev := <-f.events:
				if !yield(ev, nil) {
					return
				}
			case <-ctx.Done():
				yield(client.Event{}, ctx.Err())
				return
			}
		}
	}
}

func hasTag(r *client.Repository, key, value string) bool {
	for _, t := range r.Tags {
		if t.Key == key && t.Value == value {
			return true
		}
	}
	return false
}

func (f *fakeSource) matches(r *client.Repository, q *query.Query) bool {
	for _, fl := range q.Filters {
		ok := false
		for _, v := range fl.Values {
			ok = ok || hasTag(r, fl.Key, v)
		}
		if !ok {
			return false
		}
	}
	for _, fl := range q.Excludes {
		for _, v := range fl.Values {
			if hasTag(r, fl.Key, v) {
				return false
			}
		}
	}
	for _, w := range q.Words {
		if !strings.Contains(strings.ToLower(r.Name+" "+r.Description), w) {
			return false
		}
	}
	return true
}

func (f *fakeSource) Search(ctx context.Context, q string, limit int, cursor string) (*catalog.SearchPage, error) {
	if err := f.called("Search"); err != nil {
		return nil, err
	}
	parsed, err := query.Parse(q)
	if err != nil {
		return nil, &client.APIError{StatusCode: 400, Code: client.CodeInvalid, Message: err.Error(), Field: "q"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	page := &catalog.SearchPage{TotalExact: true}
	for _, r := range f.repos {
		if !f.matches(r, parsed) {
			continue
		}
		res := catalog.SearchResult{ID: r.ID, Slug: r.Slug, Name: r.Name, Description: r.Description,
			Tags: dedupTags(r.Tags), IngestStatus: r.IngestStatus, CreatedAt: r.CreatedAt}
		if r.LatestBuild != nil {
			b := *r.LatestBuild
			res.LatestBuild = &b
		}
		page.Results = append(page.Results, res)
	}
	page.Total = int64(len(page.Results))
	// Pages: the cursor is the offset.
	off, _ := strconv.Atoi(cursor)
	page.Results = page.Results[min(off, len(page.Results)):]
	if limit > 0 && len(page.Results) > limit {
		page.Results = page.Results[:limit]
		page.NextCursor = strconv.Itoa(off + limit)
	}
	return page, nil
}

// Autocomplete suggests keys and pairs for a word, values for a key:…
// token, counting the repositories the rest of the query selects.
func (f *fakeSource) Autocomplete(ctx context.Context, q string, pos int) (*catalog.Suggestions, error) {
	f.mu.Lock()
	f.suggestQs = append(f.suggestQs, q)
	gate := f.gate
	f.mu.Unlock()
	if err := f.called("Autocomplete"); err != nil {
		return nil, err
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			f.mu.Lock()
			f.cancelled++
			f.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	tok := query.TokenAt(q, pos)
	rest, err := query.Parse(query.WithoutToken(q, tok))
	if err != nil {
		rest = &query.Query{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &catalog.Suggestions{Start: tok.Start, End: tok.End, Token: tok.Kind.String(), Key: tok.Key, Prefix: tok.Prefix, Narrowed: !rest.IsEmpty()}
	counts := map[string]int64{}
	keys := map[string]int64{}
	for _, r := range f.repos {
		if !f.matches(r, rest) {
			continue
		}
		seenKey := map[string]bool{}
		for _, t := range dedupTags(r.Tags) {
			counts[t.String()]++
			if !seenKey[t.Key] {
				keys[t.Key]++
				seenKey[t.Key] = true
			}
		}
	}
	neg := ""
	if tok.Negated {
		neg = "-"
	}
	switch tok.Kind {
	case query.KindWord:
		for k, n := range keys {
			if strings.HasPrefix(k, tok.Prefix) {
				out.Suggestions = append(out.Suggestions, catalog.Suggestion{Text: neg + k + ":", Kind: catalog.SuggestKey, Key: k, Count: n})
			}
		}
		for p, n := range counts {
			if strings.HasPrefix(p, tok.Prefix) && tok.Prefix != "" {
				k, v, _ := strings.Cut(p, ":")
				out.Suggestions = append(out.Suggestions, catalog.Suggestion{Text: neg + p, Kind: catalog.SuggestPair, Key: k, Value: v, Count: n})
			}
		}
	case query.KindValue:
		for p, n := range counts {
			k, v, _ := strings.Cut(p, ":")
			if k == tok.Key && strings.HasPrefix(v, tok.Prefix) {
				out.Suggestions = append(out.Suggestions, catalog.Suggestion{Text: neg + tok.Complete(v), Kind: catalog.SuggestValue, Key: k, Value: v, Count: n})
			}
		}
	}
	sort.Slice(out.Suggestions, func(i, j int) bool {
		a, b := out.Suggestions[i], out.Suggestions[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Text < b.Text
	})
	if len(out.Suggestions) > suggestLimit {
		out.Suggestions = out.Suggestions[:suggestLimit]
	}
	return out, nil
}

func (f *fakeSource) Repository(ctx context.Context, slug string) (*client.Repository, error) {
	if err := f.called("Repository"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.find(slug)
	if r == nil {
		return nil, &client.APIError{StatusCode: 404, Code: client.CodeNotFound, Message: "repository " + slug + " not found"}
	}
	cp := *r
	cp.Tags = slices.Clone(r.Tags)
	return &cp, nil
}

func (f *fakeSource) Timeline(ctx context.Context, slug string, limit int) ([]client.IngestionEvent, error) {
	if err := f.called("Timeline"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.timeline[slug]), nil
}

func (f *fakeSource) Builds(ctx context.Context, slug string, limit int) ([]client.Build, error) {
	if err := f.called("Builds"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.builds[slug]), nil
}

func (f *fakeSource) Build(ctx context.Context, id int64) (*client.Build, error) {
	if err := f.called("Build"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, bs := range f.builds {
		for _, b := range bs {
			if b.ID == id {
				return &b, nil
			}
		}
	}
	return nil, &client.APIError{StatusCode: 404, Code: client.CodeNotFound, Message: "no such build"}
}

// logChannel is where a test sends the live lines of build id.
func (f *fakeSource) logChannel(id int64) chan client.LogLine {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, ok := f.logs[id]
	if !ok {
		ch = make(chan client.LogLine, 100)
		f.logs[id] = ch
	}
	return ch
}

func (f *fakeSource) BuildLogs(ctx context.Context, id, since int64) iter.Seq2[client.LogLine, error] {
	ch := f.logChannel(id)
	return func(yield func(client.LogLine, error) bool) {
		if err := f.called("BuildLogs"); err != nil {
			yield(client.LogLine{}, err)
			return
		}
		for {
			select {
			case l, ok := <-ch:
				if !ok {
					return
				}
				if l.ID > since && !yield(l, nil) {
					return
				}
			case <-ctx.Done():
				yield(client.LogLine{}, ctx.Err())
				return
			}
		}
	}
}

func (f *fakeSource) AddRepository(ctx context.Context, req client.AddRepositoryRequest) (*client.Repository, error) {
	if err := f.called("AddRepository"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.added = append(f.added, req)
	f.mu.Unlock()
	slug := strings.TrimSuffix(req.GitURL[strings.LastIndex(req.GitURL, "/")+1:], ".git")
	f.mu.Lock()
	exists := f.find(slug) != nil
	f.mu.Unlock()
	if exists {
		return nil, &client.APIError{StatusCode: 409, Code: client.CodeConflict, Slug: slug,
			Message: "this repository is already registered as " + slug}
	}
	var tags []string
	for _, t := range req.Tags {
		tags = append(tags, t+"@manual")
	}
	r := f.addRepo(slug, slug, "", tags...)
	f.mu.Lock()
	r.IngestStatus = catalog.IngestQueued
	cp := *r
	f.mu.Unlock()
	return &cp, nil
}

func (f *fakeSource) Refresh(ctx context.Context, slug string) (*client.Repository, error) {
	if err := f.called("Refresh"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.find(slug)
	r.IngestStatus = catalog.IngestQueued
	cp := *r
	return &cp, nil
}

func (f *fakeSource) CreateBuild(ctx context.Context, slug string, noCache bool) (*client.Build, error) {
	if err := f.called("CreateBuild"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.nextID++
	id := f.nextID
	f.created = append(f.created, slug+map[bool]string{true: " no-cache", false: ""}[noCache])
	f.mu.Unlock()
	b := client.Build{ID: id, Status: catalog.BuildQueued, NoCache: noCache, CommitSHA: "0123456789abcdef"}
	f.setBuild(slug, b)
	return &b, nil
}

func (f *fakeSource) CancelBuild(ctx context.Context, id int64) (*client.Build, error) {
	if err := f.called("CancelBuild"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for slug, bs := range f.builds {
		for i := range bs {
			if bs[i].ID == id {
				if bs[i].Status.Terminal() {
					return nil, &client.APIError{StatusCode: 409, Code: client.CodeConflict, Message: fmt.Sprintf("build %d already %s: there is nothing to cancel", id, bs[i].Status)}
				}
				bs[i].Status = catalog.BuildCancelled
				f.builds[slug] = bs
				cp := bs[i]
				return &cp, nil
			}
		}
	}
	return nil, &client.APIError{StatusCode: 404, Code: client.CodeNotFound, Message: "no such build"}
}

func (f *fakeSource) StartLaunch(ctx context.Context, slug string) (*client.Launch, error) {
	if err := f.called("StartLaunch"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.launchErr != nil {
		return nil, f.launchErr
	}
	f.nextID++
	l := &client.Launch{ID: f.nextID, Repository: slug, Status: catalog.LaunchStarting, CreatedAt: fakeEpoch, Origin: "created"}
	f.launches = append(f.launches, l)
	cp := *l
	// Like the daemon, the app comes up after the answer, and the event
	// stream says so.
	l.Status = catalog.LaunchRunning
	l.PreviewURL = "http://" + slug + ".localhost:7070/"
	ev := event("launch.running", slug, map[string]any{"launch_id": l.ID, "slug": slug, "status": l.Status})
	go func() { f.events <- ev }()
	return &cp, nil
}

func (f *fakeSource) Launch(ctx context.Context, id int64) (*client.Launch, error) {
	if err := f.called("Launch"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.launches {
		if l.ID == id {
			cp := *l
			return &cp, nil
		}
	}
	return nil, &client.APIError{StatusCode: 404, Code: client.CodeNotFound, Message: "no such launch"}
}

func (f *fakeSource) WaitLaunch(ctx context.Context, id int64, max time.Duration) (*client.Launch, error) {
	if err := f.called("WaitLaunch"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.launches {
		if l.ID == id {
			l.Status = catalog.LaunchRunning
			l.PreviewURL = "http://" + l.Repository + ".localhost:7070/"
			cp := *l
			return &cp, nil
		}
	}
	return nil, &client.APIError{StatusCode: 404, Code: client.CodeNotFound, Message: "no such launch"}
}

func (f *fakeSource) StopLaunch(ctx context.Context, id int64) (*client.Launch, error) {
	if err := f.called("StopLaunch"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.launches {
		if l.ID == id {
			l.Status = catalog.LaunchStopped
			cp := *l
			return &cp, nil
		}
	}
	return nil, &client.APIError{StatusCode: 404, Code: client.CodeNotFound, Message: "no such launch"}
}

func (f *fakeSource) ActiveLaunches(ctx context.Context, slug string) ([]client.Launch, error) {
	if err := f.called("ActiveLaunches"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []client.Launch
	for _, l := range f.launches {
		if (slug == "" || l.Repository == slug) && !l.Status.Terminal() {
			out = append(out, *l)
		}
	}
	return out, nil
}

// AppConfig answers the configuration set with setConfig (none by
// default); it is not counted in calls.
func (f *fakeSource) AppConfig(ctx context.Context, slug string) (*client.AppConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.configs[slug]; c != nil {
		cp := *c
		return &cp, nil
	}
	return &client.AppConfig{Slug: slug}, nil
}

func (f *fakeSource) setConfig(c *client.AppConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.configs == nil {
		f.configs = map[string]*client.AppConfig{}
	}
	f.configs[c.Slug] = c
}

var _ Source = (*fakeSource)(nil)

func (f *fakeSource) StarState(ctx context.Context, slug string) (*client.StarState, error) {
	if err := f.called("StarState"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.find(slug)
	if r == nil {
		return nil, &client.APIError{StatusCode: 404, Code: client.CodeNotFound, Message: "repository " + slug + " not found"}
	}
	return &client.StarState{Repository: slug, Starred: f.starred[slug], StarCount: r.StarCount}, nil
}

func (f *fakeSource) SetStar(ctx context.Context, slug string, on bool) (*client.StarState, error) {
	if err := f.called("SetStar"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	r := f.find(slug)
	if r != nil && f.starred[slug] != on {
		if f.starred == nil {
			f.starred = map[string]bool{}
		}
		f.starred[slug] = on
		if on {
			r.StarCount++
		} else {
			r.StarCount--
		}
	}
	f.mu.Unlock()
	return f.StarState(ctx, slug)
}

func (f *fakeSource) Comments(ctx context.Context, slug string, limit int) ([]client.Comment, error) {
	if err := f.called("Comments"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.comments[slug]), nil
}

func (f *fakeSource) DeleteComment(ctx context.Context, id int64) error {
	if err := f.called("DeleteComment"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for slug, cs := range f.comments {
		for i, c := range cs {
			if c.ID == id {
				f.comments[slug] = append(cs[:i:i], cs[i+1:]...)
				return nil
			}
		}
	}
	return &client.APIError{StatusCode: 404, Code: "not_found", Message: fmt.Sprintf("comment %d not found", id)}
}

// Whoami is the local user (id 1), who writes AddComment's comments: an
// admin, or a member with memberMe.
func (f *fakeSource) Whoami(ctx context.Context) (*client.Whoami, error) {
	if err := f.called("Whoami"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	role := catalog.RoleAdmin
	if f.memberMe {
		role = catalog.RoleMember
	}
	return &client.Whoami{User: client.User{ID: 1, Name: "local", Role: role}}, nil
}

func (f *fakeSource) AddComment(ctx context.Context, slug, body string) (*client.Comment, error) {
	if err := f.called("AddComment"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commentErr != nil {
		return nil, f.commentErr
	}
	if f.comments == nil {
		f.comments = map[string][]client.Comment{}
	}
	f.nextID++
	c := client.Comment{ID: f.nextID, Repository: slug, Author: "local", AuthorID: 1, Body: body, CreatedAt: fakeEpoch}
	f.comments[slug] = append(f.comments[slug], c)
	return &c, nil
}
