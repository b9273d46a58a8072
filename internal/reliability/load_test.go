package reliability

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// loadShape is one load test's size.
type loadShape struct {
	Registrations int           // registered at once, at the start
	SearchesPerS  int           // searches sent per second, open loop
	Watchers      int           // WebSocket clients following every event
	Duration      time.Duration // how long searches run and clients follow
}

// latencies collects the durations of one operation.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// quantiles returns the count, p50, p99 and max.
func (l *latencies) quantiles() (n int, p50, p99, max time.Duration) {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	if len(d) == 0 {
		return 0, 0, 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	q := func(f float64) time.Duration { return d[min(len(d)-1, int(f*float64(len(d))))] }
	return len(d), q(0.50), q(0.99), d[len(d)-1]
}

// TestLoad puts appstored (the real binary, roles api and worker: builds
// are the runner's and have their own benchmark) under load on loopback:
// Registrations registered at once, SearchesPerS searches per second and
// Watchers WebSocket clients for Duration. No answer may be a 5xx, every
// registration must be ingested, and every client must receive every
// event of the log, in order, once. It reports p50/p99 of each operation
// (docs/reliability.md).
func TestLoad(t *testing.T) {
	gitserver.RequireGit(t)
	shape := loadTest
	t.Logf("load: %d registrations at once, %d searches/s and %d WebSocket clients for %s",
		shape.Registrations, shape.SearchesPerS, shape.Watchers, shape.Duration)
	db, st := newCatalog(t)
	const serviceToken = "load-service-token-01"
	p := newProc(t, "appstored", nil, "--database-url", db, "--data-dir", t.TempDir(), "--roles", "api,worker",
		"--service-token", serviceToken, "--health-interval", "1h")
	p.start()
	ctx := context.Background()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 0}}
	c := &client.Client{BaseURL: p.URL(), HTTPClient: httpc}

	// The repositories, served over smart HTTP.
	var repos []*gitserver.Repo
	for i := range shape.Registrations {
		name := fmt.Sprintf("load%03d", i)
		repos = append(repos, gitserver.NewNamedRepo(t, name, map[string]string{
			"Dockerfile": "FROM scratch\nCOPY app /app\nEXPOSE 8080\n",
			"tags.yaml":  fmt.Sprintf("description: load test app %d\ntags:\n  category: %s\n  tier: t%d\n", i, []string{"tools", "games", "data", "chat"}[i%4], i%10),
			"README.md":  fmt.Sprintf("# %s\n\nApp number %d of the load test, for words to search.\n", name, i),
			"go.mod":     "module example.com/" + name + "\n\ngo 1.22\n",
			"main.go":    "package main\n\nfunc main() {}\n",
		}))
	}
	git := gitserver.HTTP(t, repos...)

	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var fiveXX, failures atomic.Int64
	var failMu sync.Mutex
	var failList []string
	fail := func(what string, err error) {
		if ae := apiError(err); ae != nil && ae.StatusCode >= 500 {
			fiveXX.Add(1)
		}
		failures.Add(1)
		failMu.Lock()
		if len(failList) < 10 {
			failList = append(failList, what+": "+err.Error())
		}
		failMu.Unlock()
	}

	// The WebSocket clients, connected before anything happens.
	type received struct {
		ids []int64
		n   atomic.Int64 // len(ids), for polling while the client runs
	}
	clients := make([]*received, shape.Watchers)
	var reconnects atomic.Int64
	var delivery latencies
	wctx, stopWatchers := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	var connected sync.WaitGroup
	for i := range clients {
		clients[i] = &received{}
		watchers.Add(1)
		connected.Add(1)
		go func() {
			defer watchers.Done()
			r := clients[i]
			wc := &client.Client{BaseURL: p.URL(), HTTPClient: httpc}
			opts := client.EventsOptions{Since: since, ReconnectFor: time.Minute,
				OnReconnect: func(err error, _ time.Duration) { reconnects.Add(1) }}
			live := false
			for ev, err := range wc.Events(wctx, opts) {
				if err != nil {
					if wctx.Err() == nil {
						fail("event stream", err)
					}
					return
				}
				r.ids = append(r.ids, ev.ID)
				r.n.Add(1)
				if live {
					delivery.add(time.Since(ev.Time))
				}
				if ev.Type == "service.created" && ev.Subject == "marker" && !live {
					live = true
					connected.Done()
				}
			}
		}()
	}
	// A marker event tells when every client follows the live stream.
	if _, _, err := c.WithToken(serviceToken).CreateService(ctx, client.ServiceSpec{Slug: "marker", BaseURL: "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	connected.Wait()

	// The registrations, all at once.
	var register latencies
	slugs := make([]string, len(repos))
	registeredAt := make([]time.Time, len(repos))
	var regs sync.WaitGroup
	for i, repo := range repos {
		regs.Add(1)
		go func() {
			defer regs.Done()
			start := time.Now()
			r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo)})
			register.add(time.Since(start))
			if err != nil {
				fail("register "+repo.Name, err)
				return
			}
			slugs[i], registeredAt[i] = r.Slug, start
		}()
	}

	// Searches, open loop: one every 1/SearchesPerS whatever the answers.
	queries := []string{"", "load", "app", "lang:go", "category:tools", "category:games,chat", "-category:data number",
		"tier:t3", "load0", "search", "category:data tier:t1", "test"}
	var search latencies
	var searches sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(shape.SearchesPerS))
	end := time.Now().Add(shape.Duration)
	for n := 0; time.Now().Before(end); n++ {
		<-tick.C
		q := queries[n%len(queries)]
		searches.Add(1)
		go func() {
			defer searches.Done()
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.Search(sctx, client.SearchOptions{Query: q})
			search.add(time.Since(start))
			if err != nil {
				fail("search "+q, err)
			}
		}()
	}
	tick.Stop()
	searches.Wait()
	regs.Wait()

	// Every registration ingested.
	var ingest latencies
	readyAt := map[string]time.Time{}
	eventually(t, 3*time.Minute, "every registration ingested", func() (bool, string) {
		var n int
		_ = st.Pool().QueryRow(ctx, `SELECT count(*) FROM repositories WHERE ingest_status = 'ready'`).Scan(&n)
		return n == shape.Registrations, fmt.Sprintf("%d of %d ready", n, shape.Registrations)
	})
	rows, err := st.Pool().Query(ctx, `SELECT subject, created_at FROM events WHERE type = 'ingestion.ready'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var at time.Time
		if err := rows.Scan(&s, &at); err != nil {
			t.Fatal(err)
		}
		readyAt[s] = at
	}
	rows.Close()
	for i, slug := range slugs {
		if at, ok := readyAt[slug]; ok {
			ingest.add(at.Sub(registeredAt[i]))
		}
	}

	// Every client received every event of the log, in order, once.
	var want []int64
	for ev, err := range c.StoredEvents(ctx, client.EventsOptions{Since: since}) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ev.ID)
	}
	var lagging int
	eventually(t, time.Minute, "every client caught up with the log", func() (bool, string) {
		lagging = 0
		for _, r := range clients {
			if int(r.n.Load()) < len(want) {
				lagging++
			}
		}
		return lagging == 0, fmt.Sprintf("%d clients behind", lagging)
	})
	stopWatchers()
	watchers.Wait()
	for i, r := range clients {
		if !slices.Equal(r.ids, want) {
			t.Errorf("client %d received %d events, the log has %d (first difference at %d)", i, len(r.ids), len(want), firstDiff(r.ids, want))
		}
	}

	if n := fiveXX.Load(); n > 0 {
		t.Errorf("%d answers were 5xx", n)
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed: %s", n, strings.Join(failList, "; "))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "| operation | count | p50 | p99 | max |\n|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		l    *latencies
	}{
		{"registration (POST /repositories)", &register},
		{"registration → ingestion.ready", &ingest},
		{"search (GET /search)", &search},
		{"event delivery (commit → client)", &delivery},
	} {
		n, p50, p99, max := row.l.quantiles()
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", row.name, n, ms(p50), ms(p99), ms(max))
	}
	t.Logf("load results (%d events × %d clients, %d reconnects, %d failures, %d 5xx):\n%s",
		len(want), len(clients), reconnects.Load(), failures.Load(), fiveXX.Load(), b.String())
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
