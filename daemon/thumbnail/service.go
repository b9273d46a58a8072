package thumbnail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
)

// Store is what the service needs of the catalog (store.Store).
type Store interface {
	Launch(ctx context.Context, id int64) (*catalog.Launch, error)
	ThumbnailBuild(ctx context.Context, repoID int64) (int64, bool, error)
	SaveThumbnail(ctx context.Context, t catalog.Thumbnail) (*catalog.Thumbnail, error)
	AddTimelineWarning(ctx context.Context, repoID int64, source, message string) error
}

// Runner is what the service needs of the runner (runner.Runner, adapted
// in the daemon's wiring).
type Runner interface {
	// PreviewURL is where a person opens the app: http://<slug>.localhost:7070/.
	PreviewURL(slug string) string
	// Launch starts the app (or joins its running launch), as a person
	// asking for it would; created reports a new launch.
	Launch(ctx context.Context, slug string) (l *catalog.Launch, created bool, err error)
	// Wait returns the launch once it is no longer starting, or after max.
	Wait(ctx context.Context, id int64, max time.Duration) (*catalog.Launch, error)
}

// Capturer takes a screenshot (*Browser).
type Capturer interface {
	Capture(ctx context.Context, t Target) (*Shot, error)
}

// Source is the source of the service's timeline warnings.
const Source = "thumbnail"

// retryAfter is how long a build whose automatic capture failed is left
// alone: later launches of it do not try again (and write no new warning)
// within that time; a refresh always tries.
const retryAfter = 6 * time.Hour

// maxQueue bounds the captures waiting: one per app at most, and no more
// than this many apps.
const maxQueue = 64

// Service takes the thumbnails: it is told when a launch runs (Running),
// or asked for a new one (Refresh), and captures one page at a time in
// the background.
type Service struct {
	cap    Capturer
	st     Store
	run    Runner
	logger *slog.Logger
	// StartupWait bounds the wait for a launch that a refresh started.
	startupWait time.Duration

	mu     sync.Mutex
	queue  []job
	queued map[string]bool // slugs waiting
	failed map[int64]time.Time
	kick   chan struct{}
}

type job struct {
	launchID int64
	slug     string
	force    bool // a refresh: capture whatever the stored one shows
}

// NewService makes the service; Run does the work.
func NewService(c Capturer, st Store, run Runner, logger *slog.Logger, startupWait time.Duration) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if startupWait <= 0 {
		startupWait = 2 * time.Minute
	}
	return &Service{cap: c, st: st, run: run, logger: logger, startupWait: startupWait,
		queued: map[string]bool{}, failed: map[int64]time.Time{}, kick: make(chan struct{}, 1)}
}

// Running is the runner's hook: launch l answers now. The service
// captures it unless the app's thumbnail already shows this build or a
// newer one. It never blocks the launch.
func (s *Service) Running(l *catalog.Launch) {
	if l == nil || l.BuildID == nil {
		return
	}
	s.enqueue(job{launchID: l.ID, slug: l.Repository})
}

// Refresh asks for a new thumbnail of the app slug: of its running launch,
// or of one started for it.
func (s *Service) Refresh(ctx context.Context, slug string) (*apitype.ThumbnailRefresh, error) {
	l, created, err := s.run.Launch(ctx, slug)
	if err != nil {
		return nil, err
	}
	s.enqueue(job{launchID: l.ID, slug: slug, force: true})
	return &apitype.ThumbnailRefresh{Repository: slug, LaunchID: l.ID, Launched: created, Status: "queued"}, nil
}

func (s *Service) enqueue(j job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queued[j.slug] {
		// One capture per app waits; a refresh wins over a launch.
		for i := range s.queue {
			if s.queue[i].slug == j.slug {
				s.queue[i].launchID = max(s.queue[i].launchID, j.launchID)
				s.queue[i].force = s.queue[i].force || j.force
			}
		}
		return
	}
	if len(s.queue) >= maxQueue {
		s.logger.Warn("thumbnail: too many captures waiting, this one is dropped", "slug", j.slug, "launch", j.launchID)
		return
	}
	s.queue = append(s.queue, j)
	s.queued[j.slug] = true
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) next() (job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return job{}, false
	}
	j := s.queue[0]
	s.queue = s.queue[1:]
	delete(s.queued, j.slug)
	return j, true
}

// Run captures the queued launches, one at a time, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	ctx = catalog.WithCause(ctx, catalog.CauseThumbnail)
	for {
		j, ok := s.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
			}
			continue
		}
		s.capture(ctx, j)
	}
}

// capture takes one thumbnail and records the outcome: the picture, or a
// warning in the app's timeline.
func (s *Service) capture(ctx context.Context, j job) {
	logger := s.logger.With("slug", j.slug, "launch", j.launchID)
	l, err := s.st.Launch(ctx, j.launchID)
	if err != nil {
		logger.Debug("thumbnail: launch gone", "err", err)
		return
	}
	if j.force && l.Status == catalog.LaunchStarting {
		if l, err = s.run.Wait(ctx, l.ID, s.startupWait); err != nil {
			logger.Warn("thumbnail: wait for the launch", "err", err)
			return
		}
	}
	if l.Status != catalog.LaunchRunning || l.HostPort == 0 {
		if j.force && ctx.Err() == nil {
			s.warn(ctx, l.RepositoryID, logger, fmt.Sprintf("no thumbnail: launch %d is %s, not running%s", l.ID, l.Status, suffix(l.ErrorMessage)))
		}
		return
	}
	build := int64(0)
	if l.BuildID != nil {
		build = *l.BuildID
	}
	if !j.force {
		if at, ok := s.failedAt(build); ok && time.Since(at) < retryAfter {
			return
		}
		shown, has, err := s.st.ThumbnailBuild(ctx, l.RepositoryID)
		if err != nil {
			logger.Warn("thumbnail: read the current one", "err", err)
			return
		}
		if has && shown >= build {
			return // it shows this build already, or a newer one
		}
	}
	target := Target{URL: captureURL(s.run.PreviewURL(l.Repository)), Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(l.HostPort))}
	logger.Debug("thumbnail: capturing", "url", target.URL, "addr", target.Addr, "build", build)
	shot, err := s.cap.Capture(ctx, target)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		// A launch that ended under the capture explains the failure by
		// itself: no warning for that.
		if now, lerr := s.st.Launch(ctx, l.ID); lerr == nil && now.Status != catalog.LaunchRunning {
			logger.Debug("thumbnail: the launch ended during the capture", "status", now.Status, "err", err)
			return
		}
		s.markFailed(build)
		msg := fmt.Sprintf("no thumbnail of build #%d: %v; the card shows the app's initial instead, and `appstore thumbnail %s --refresh` tries again", build, err, l.Repository)
		s.warn(ctx, l.RepositoryID, logger, msg)
		return
	}
	var buildID *int64
	if l.BuildID != nil {
		buildID = l.BuildID
	}
	saved, err := s.st.SaveThumbnail(ctx, catalog.Thumbnail{
		RepositoryID: l.RepositoryID, BuildID: buildID, LaunchID: l.ID, ContentType: ContentType,
		Image: shot.Image, Image2x: shot.Image2x, Width: Width, Height: Height,
	})
	if err != nil {
		if !errors.Is(err, catalog.ErrNotFound) {
			logger.Warn("thumbnail: store it", "err", err)
		}
		return
	}
	s.forgetFailed(build)
	logger.Info("thumbnail taken", "build", build, "etag", saved.ETag, "shot", shot.Summary())
	if shot.NumBlocked > 0 {
		logger.Info("thumbnail: the page's requests for other origins were refused", "refused", shot.NumBlocked, "first", shot.Blocked)
	}
}

func (s *Service) warn(ctx context.Context, repoID int64, logger *slog.Logger, msg string) {
	logger.Warn("thumbnail not taken", "reason", msg)
	if err := s.st.AddTimelineWarning(ctx, repoID, Source, msg); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		logger.Warn("thumbnail: record the warning", "err", err)
	}
}

func (s *Service) failedAt(build int64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.failed[build]
	return at, ok
}

func (s *Service) markFailed(build int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for b, at := range s.failed {
		if time.Since(at) > retryAfter {
			delete(s.failed, b)
		}
	}
	s.failed[build] = time.Now()
}

func (s *Service) forgetFailed(build int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failed, build)
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// captureURL is the preview URL the browser opens: plain HTTP (the gate
// talks to the container, which speaks HTTP, whatever a proxy in front of
// the daemon does with TLS), with the port the preview URL names.
func captureURL(preview string) string {
	u, err := url.Parse(preview)
	if err != nil {
		return preview
	}
	if u.Scheme == "https" {
		u.Scheme = "http"
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "443")
		}
	}
	u.Path = "/"
	return u.String()
}
