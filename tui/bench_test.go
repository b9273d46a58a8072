package tui

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/seed"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// benchRepositories is the catalog of the keystroke benchmark: the search
// benchmark's data (internal/seed), so that their figures compare.
const benchRepositories = 100_000

// envBenchDatabaseURL names a database already seeded with
// seed.Seed(…, benchRepositories), to skip the minute or two of seeding
// (the same variable as the search benchmark's).
const envBenchDatabaseURL = "APPSTORE_BENCH_DATABASE_URL"

// benchTyping is what the benchmark types, one key at a time from an empty
// line: keys, pairs, values, narrowed counts, a negated term, a key
// followed by nothing yet. Each prefix has suggestions in the seeded data.
var benchTyping = []string{
	"lang:go fra",
	"framework:gin topic:da",
	"category:chat lang:",
	"-license:gp",
	"db:post",
	"runtime:node",
}

// typingInterval is the virtual time between keystrokes: a person typing
// ten keys a second, each key after the debounce interval, so each asks at
// once (keys closer together are coalesced by design and wait for the
// pause).
const typingInterval = 100 * time.Millisecond

// BenchmarkKeystrokeToSuggestions measures, with 100 000 apps in the
// catalog and an in-process appstored on loopback, the time from a key
// message handed to the model's Update to a View that shows the
// suggestions answering that keystroke: the autocomplete request through
// the real client, HTTP, the daemon and PostgreSQL, the answer's message
// back through Update, and the render. The harness is the program's
// message loop (Update on one goroutine, every command on its own), as
// tea.Program runs it; the terminal's frame (at most 1/60 s later) is not
// included. Reported: p50-ms, p99-ms, max-ms per keystroke.
func BenchmarkKeystrokeToSuggestions(b *testing.B) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	url := os.Getenv(envBenchDatabaseURL)
	if url == "" {
		url = testenv.Postgres(b)
		st, err := store.Open(ctx, url, logger)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.Migrate(ctx, st.Pool(), logger); err != nil {
			b.Fatal(err)
		}
		stats, err := seed.Seed(ctx, st.Pool(), benchRepositories)
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded %d repositories, %d tag links in %s", stats.Repositories, stats.TagLinks, stats.Duration.Round(time.Second))
	}
	d := daemontest.Start(b, daemon.Config{DatabaseURL: url, Roles: []string{daemon.RoleAPI}, Logger: logger})

	// The catalog is seeded once; the measuring runs as a sub-benchmark,
	// which the testing package may call several times.
	src := ClientSource{C: &client.Client{BaseURL: d.URL}}
	b.Run("typing", func(b *testing.B) { benchmarkTyping(b, src) })
}

func benchmarkTyping(b *testing.B, src Source) {
	h := newHarness(b, src, func(o *Options) {
		o.Debounce = DefaultDebounce
	})
	h.waitFor("the first search", func() bool { return h.m.online && h.m.results.searched && h.m.bar.Fresh() })

	// rendered reports whether the screen shows the answer to the last
	// keystroke: the list of its suggestions, or no list when there are
	// none.
	rendered := func() bool {
		if !h.m.bar.Fresh() {
			return false
		}
		v := h.m.View()
		vis := h.m.bar.Visible()
		return len(vis) == 0 || strings.Contains(v, vis[0].Text)
	}
	var keys []string // the keystrokes, "" clears the line
	for _, s := range benchTyping {
		for _, r := range s {
			keys = append(keys, string(r))
		}
		keys = append(keys, "")
	}
	typeKey := func(k string) {
		h.clock.advance(typingInterval)
		if k == "" {
			h.press("ctrl+u")
		} else {
			h.typeText(k)
		}
	}
	// Warm: connections, plans, caches.
	for _, k := range keys {
		typeKey(k)
		h.waitFor("suggestions", rendered)
	}

	var times []time.Duration
	byText := map[string][]time.Duration{}
	shown := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		if k == "" {
			b.StopTimer()
			typeKey(k)
			h.waitFor("the cleared line's suggestions", rendered)
			b.StartTimer()
			continue
		}
		start := time.Now()
		typeKey(k)
		h.waitFor("suggestions for "+h.m.bar.Value(), rendered)
		took := time.Since(start)
		times = append(times, took)
		byText[h.m.bar.Value()] = append(byText[h.m.bar.Value()], took)
		if h.m.bar.ListOpen() {
			shown++
		}
	}
	b.StopTimer()
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	pct := func(p float64) float64 {
		return float64(times[min(len(times)-1, int(p*float64(len(times))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d keystrokes, %d with a list shown; p50 %.2f ms, p99 %.2f ms (target ≤ 16 ms)", len(times), shown, pct(0.5), pct(0.99))
	// The slowest texts by median: where the time goes when it does.
	type slow struct {
		text   string
		median time.Duration
	}
	var slowest []slow
	for text, ts := range byText {
		slices.Sort(ts)
		slowest = append(slowest, slow{text, ts[len(ts)/2]})
	}
	slices.SortFunc(slowest, func(a, b slow) int { return int(b.median - a.median) })
	for _, s := range slowest[:min(5, len(slowest))] {
		b.Logf("  median %6.2f ms  %q", float64(s.median.Microseconds())/1000, s.text)
	}
}
