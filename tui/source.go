package tui

import (
	"context"
	"iter"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Source is everything the TUI asks of the daemon. The real one is
// ClientSource over a *client.Client; model tests use an in-memory fake.
// Every method may block (they run inside tea.Cmds, never in Update) and
// must return promptly once ctx is cancelled.
type Source interface {
	// LastEventID doubles as the reachability check: the TUI is online
	// once it answers, and follows events after the id it returned.
	LastEventID(ctx context.Context) (int64, error)
	// Events follows the event stream after since, reconnecting by itself
	// when the stream drops (onLost, when set, hears of each drop). It
	// ends with an error only when it could not connect at all.
	Events(ctx context.Context, since int64, onLost func(error)) iter.Seq2[client.Event, error]

	Search(ctx context.Context, q string, limit int, cursor string) (*catalog.SearchPage, error)
	Autocomplete(ctx context.Context, q string, pos int) (*catalog.Suggestions, error)

	Repository(ctx context.Context, slug string) (*client.Repository, error)
	Timeline(ctx context.Context, slug string, limit int) ([]client.IngestionEvent, error)
	Builds(ctx context.Context, slug string, limit int) ([]client.Build, error)
	Build(ctx context.Context, id int64) (*client.Build, error)
	// BuildLogs follows a build's log after line id since until the build
	// ends.
	BuildLogs(ctx context.Context, id, since int64) iter.Seq2[client.LogLine, error]

	AddRepository(ctx context.Context, req client.AddRepositoryRequest) (*client.Repository, error)
	Refresh(ctx context.Context, slug string) (*client.Repository, error)
	CreateBuild(ctx context.Context, slug string, noCache bool) (*client.Build, error)
	CancelBuild(ctx context.Context, id int64) (*client.Build, error)

	StartLaunch(ctx context.Context, slug string) (*client.Launch, error)
	// Launch returns a launch as it is now.
	Launch(ctx context.Context, id int64) (*client.Launch, error)
	// WaitLaunch returns the launch once it is no longer starting, or as
	// it is after max.
	WaitLaunch(ctx context.Context, id int64, max time.Duration) (*client.Launch, error)
	StopLaunch(ctx context.Context, id int64) (*client.Launch, error)
	// ActiveLaunches lists the starting, running and stopping launches of
	// slug ("" for every repository).
	ActiveLaunches(ctx context.Context, slug string) ([]client.Launch, error)

	// StarState says whether the user of the token starred slug, and how
	// many did; SetStar stars (on) or unstars it.
	StarState(ctx context.Context, slug string) (*client.StarState, error)
	SetStar(ctx context.Context, slug string, on bool) (*client.StarState, error)
	// Comments are the newest limit comments of slug, newest last;
	// AddComment writes one as the user of the token.
	Comments(ctx context.Context, slug string, limit int) ([]client.Comment, error)
	AddComment(ctx context.Context, slug, body string) (*client.Comment, error)
	// DeleteComment removes a comment (one's own; an admin's any).
	DeleteComment(ctx context.Context, id int64) error
	// Whoami says who the daemon takes the token for.
	Whoami(ctx context.Context) (*client.Whoami, error)
	// AppConfig returns what the app declares it reads and what is set
	// (names only for secrets).
	AppConfig(ctx context.Context, slug string) (*client.AppConfig, error)
	// SetEnv sets variables of the app, UnsetEnv removes some; both
	// answer the configuration as it is then.
	SetEnv(ctx context.Context, slug string, vars map[string]string) (*client.AppConfig, error)
	UnsetEnv(ctx context.Context, slug string, names []string) (*client.AppConfig, error)
	// SetSecret seals and stores the app's secret name; no answer ever
	// carries a value.
	SetSecret(ctx context.Context, slug, name, value string) (*client.SecretInfo, error)
}

// ClientSource is the Source of a real daemon.
type ClientSource struct {
	C *client.Client
}

var _ Source = ClientSource{}

// suggestLimit is how many suggestions one autocomplete asks for: the list
// shows at most eight, the rest let local narrowing keep a full list while
// the next answer is on its way.
const suggestLimit = 20

func (s ClientSource) LastEventID(ctx context.Context) (int64, error) {
	return s.C.LastEventID(ctx)
}

func (s ClientSource) Events(ctx context.Context, since int64, onLost func(error)) iter.Seq2[client.Event, error] {
	opts := client.EventsOptions{
		Since:  since,
		Topics: []string{"repository", "ingestion", "build", "launch", "comment"},
		// Keep trying for as long as the TUI runs: the daemon may be
		// restarted while someone watches a build.
		ReconnectFor: -1,
	}
	if onLost != nil {
		opts.OnReconnect = func(err error, _ time.Duration) { onLost(err) }
	}
	return s.C.Events(ctx, opts)
}

func (s ClientSource) Search(ctx context.Context, q string, limit int, cursor string) (*catalog.SearchPage, error) {
	return s.C.Search(ctx, client.SearchOptions{Query: q, Limit: limit, Cursor: cursor})
}

func (s ClientSource) Autocomplete(ctx context.Context, q string, pos int) (*catalog.Suggestions, error) {
	return s.C.Autocomplete(ctx, client.AutocompleteOptions{Query: q, Pos: pos, Limit: suggestLimit})
}

func (s ClientSource) Repository(ctx context.Context, slug string) (*client.Repository, error) {
	return s.C.Repository(ctx, slug)
}

func (s ClientSource) Timeline(ctx context.Context, slug string, limit int) ([]client.IngestionEvent, error) {
	return s.C.Timeline(ctx, slug, client.TimelineOptions{Limit: limit})
}

func (s ClientSource) Builds(ctx context.Context, slug string, limit int) ([]client.Build, error) {
	l, err := s.C.Builds(ctx, slug, client.ListBuildsOptions{Limit: limit})
	if err != nil {
		return nil, err
	}
	return l.Builds, nil
}

func (s ClientSource) Build(ctx context.Context, id int64) (*client.Build, error) {
	return s.C.Build(ctx, id)
}

func (s ClientSource) BuildLogs(ctx context.Context, id, since int64) iter.Seq2[client.LogLine, error] {
	return s.C.BuildLogs(ctx, id, client.BuildLogOptions{Follow: true, Since: since})
}

func (s ClientSource) AddRepository(ctx context.Context, req client.AddRepositoryRequest) (*client.Repository, error) {
	return s.C.AddRepository(ctx, req)
}

func (s ClientSource) Refresh(ctx context.Context, slug string) (*client.Repository, error) {
	return s.C.Refresh(ctx, slug)
}

func (s ClientSource) CreateBuild(ctx context.Context, slug string, noCache bool) (*client.Build, error) {
	return s.C.CreateBuild(ctx, slug, client.CreateBuildRequest{NoCache: noCache})
}

func (s ClientSource) CancelBuild(ctx context.Context, id int64) (*client.Build, error) {
	return s.C.CancelBuild(ctx, id)
}

func (s ClientSource) StartLaunch(ctx context.Context, slug string) (*client.Launch, error) {
	return s.C.StartLaunch(ctx, slug, client.LaunchRequest{})
}

func (s ClientSource) Launch(ctx context.Context, id int64) (*client.Launch, error) {
	return s.C.Launch(ctx, id)
}

func (s ClientSource) WaitLaunch(ctx context.Context, id int64, max time.Duration) (*client.Launch, error) {
	return s.C.WaitLaunch(ctx, id, max)
}

func (s ClientSource) StopLaunch(ctx context.Context, id int64) (*client.Launch, error) {
	return s.C.StopLaunch(ctx, id)
}

func (s ClientSource) AppConfig(ctx context.Context, slug string) (*client.AppConfig, error) {
	return s.C.AppConfig(ctx, slug)
}

func (s ClientSource) ActiveLaunches(ctx context.Context, slug string) ([]client.Launch, error) {
	l, err := s.C.Launches(ctx, client.ListLaunchesOptions{Repository: slug, Active: true, Limit: 100})
	if err != nil {
		return nil, err
	}
	return l.Launches, nil
}

func (s ClientSource) StarState(ctx context.Context, slug string) (*client.StarState, error) {
	return s.C.StarState(ctx, slug)
}

func (s ClientSource) SetStar(ctx context.Context, slug string, on bool) (*client.StarState, error) {
	if on {
		return s.C.Star(ctx, slug)
	}
	return s.C.Unstar(ctx, slug)
}

func (s ClientSource) Comments(ctx context.Context, slug string, limit int) ([]client.Comment, error) {
	l, err := s.C.Comments(ctx, slug, limit)
	if err != nil {
		return nil, err
	}
	return l.Comments, nil
}

func (s ClientSource) AddComment(ctx context.Context, slug, body string) (*client.Comment, error) {
	return s.C.AddComment(ctx, slug, body)
}

func (s ClientSource) DeleteComment(ctx context.Context, id int64) error {
	return s.C.DeleteComment(ctx, id)
}

func (s ClientSource) Whoami(ctx context.Context) (*client.Whoami, error) {
	return s.C.Whoami(ctx)
}
