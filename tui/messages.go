package tui

import (
	"image"

	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Messages of the program. Answers carry what they answer (a sequence
// number, a query, a slug, a build id) so that an answer that arrives after
// the user moved on is recognised and dropped.

// suggestTickMsg ends the debounce wait of change seq.
type suggestTickMsg struct{ seq uint64 }

// suggestionsMsg is the autocomplete answer for the text and cursor of
// change seq.
type suggestionsMsg struct {
	seq   uint64
	query string
	pos   int // byte offset
	s     *catalog.Suggestions
	err   error
}

// searchMsg is a page of results of search seq.
type searchMsg struct {
	seq    uint64
	query  string
	more   bool // a next page, to append
	page   *catalog.SearchPage
	err    error
	tookMS int64
}

// onlineMsg says the daemon answered; lastID is its newest event.
type onlineMsg struct{ lastID int64 }

// offlineMsg says a request could not reach the daemon.
type offlineMsg struct{ err error }

// retryMsg is the offline screen's timer: try again (attempt n).
type retryMsg struct{ attempt int }

// eventMsg is one event of the stream.
type eventMsg struct{ ev client.Event }

// streamLostMsg says the event stream dropped and is reconnecting.
type streamLostMsg struct{ err error }

// repoMsg is a repository with what the detail view shows about it.
type repoMsg struct {
	slug     string
	repo     *client.Repository
	timeline []client.IngestionEvent
	builds   []client.Build
	launches []client.Launch
	star     *client.StarState
	comments []client.Comment
	// config is the app's configuration; nil when it could not be read
	// (it is extra: the view shows the rest).
	config *client.AppConfig
	err    error
	// thumbURL is the thumbnail shown for it; thumb its picture, nil when
	// the one shown already is that one.
	thumbURL string
	thumb    image.Image
}

// rowMsg is a repository re-read after an event, to patch its row.
type rowMsg struct {
	slug string
	repo *client.Repository
	err  error
}

// launchesMsg are the active launches, read when the TUI comes online.
type launchesMsg struct {
	launches []client.Launch
	err      error
}

// launchMsg is a launch as an action left it (started, waited, stopped).
type launchMsg struct {
	slug   string
	action string // "launch", "wait", "stop"
	launch *client.Launch
	err    error
}

// launchTickMsg refreshes the elapsed time of a starting launch.
type launchTickMsg struct{ id int64 }

// openedMsg is the outcome of opening a URL in the browser.
type openedMsg struct {
	url string
	err error
}

// buildMsg is the answer to a build request.
type buildMsg struct {
	slug  string
	build *client.Build
	err   error
}

// cancelMsg is the answer to a cancel request of build id.
type cancelMsg struct {
	slug  string
	id    int64
	build *client.Build
	err   error
}

// refreshMsg is the answer to a refresh request.
type refreshMsg struct {
	slug string
	repo *client.Repository
	err  error
}

// addedMsg is the answer to the add form.
type addedMsg struct {
	repo *client.Repository
	err  error
}

// logLinesMsg are lines of the log of build (read in a batch).
type logLinesMsg struct {
	build int64
	lines []client.LogLine
}

// logEndMsg says the log of build ended (err nil: the build ended).
type logEndMsg struct {
	build int64
	err   error
}

// logBuildMsg is the build whose log is shown, re-read when its log ends.
type logBuildMsg struct {
	build *client.Build
	err   error
}

// clock is the time source; tests and the benchmark replace it.
type clock func() time.Time

// starMsg is the answer to the star key.
type starMsg struct {
	slug  string
	on    bool
	state *client.StarState
	err   error
}
