package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/internal/seed"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// benchRepositories is the size of the seeded catalog (about ten tags each).
const benchRepositories = 100_000

// EnvBenchDatabaseURL names an already seeded database (seed.Seed with
// benchRepositories) for BenchmarkSearch to use instead of seeding a
// scratch one, which takes a minute or two.
const EnvBenchDatabaseURL = "APPSTORE_BENCH_DATABASE_URL"

// benchQuery is one request of the fixed mix.
type benchQuery struct {
	class string // search, autocomplete, narrowed
	q     string
	// page2 asks for the second page (the cursor of the first).
	page2 bool

	cursor string
	stmts  []store.Statement // what the store ran for it: the SQL floor
}

// benchMix is the fixed mix: what people type, over the seeded data (see
// package internal/seed for its shape). Words range from one in most
// READMEs to one in a few hundred; filters from 1 % to 85 % of the
// catalog.
var benchMix = []benchQuery{
	{class: "search", q: ""},
	{class: "search", q: "lang:go"},
	{class: "search", q: "lang:go", page2: true},
	{class: "search", q: "lang:go framework:gin"},
	{class: "search", q: "category:chat -license:gpl-3.0"},
	{class: "search", q: "lang:python,javascript db:postgres"},
	{class: "search", q: "status:ready lang:rust"},
	{class: "search", q: "topic:kalujo"},
	{class: "search", q: "dashboard"},
	{class: "search", q: "dash"},
	{class: "search", q: "kanban board"},
	{class: "search", q: `"real time"`},
	{class: "search", q: "lang:go chat"},
	{class: "search", q: "budget -crypto"},
	{class: "search", q: "lang:python fla"},
	{class: "search", q: "tekator"},

	{class: "autocomplete", q: ""},
	{class: "autocomplete", q: "d"},
	{class: "autocomplete", q: "fra"},
	{class: "autocomplete", q: "la"},
	{class: "autocomplete", q: "lang:"},
	{class: "autocomplete", q: "framework:g"},
	{class: "autocomplete", q: "topic:da"},
	{class: "autocomplete", q: "runtime:node"},
	{class: "autocomplete", q: "st"},
	{class: "autocomplete", q: "category:"},

	{class: "narrowed", q: "lang:go fra"},
	{class: "narrowed", q: "lang:go framework:"},
	{class: "narrowed", q: "lang:python "},
	{class: "narrowed", q: "category:chat lang:"},
	{class: "narrowed", q: "status:ready lang:go db:"},
	{class: "narrowed", q: "lang:rust -license:mit fr"},
	{class: "narrowed", q: "dashboard lang:"},
	{class: "narrowed", q: "framework:gin,echo,fiber topic:"},
	{class: "narrowed", q: "license:mit framework:react "},
	{class: "narrowed", q: "lang:elixir framework:p"},
}

// BenchmarkSearch seeds 100 000 repositories (about 1 000 000 tag links)
// and measures, for each class of the fixed mix, the latency of the HTTP
// API (api.Server over real HTTP on loopback, through the Go client: JSON
// both ways) and of the same SQL statements run directly on the database,
// the floor. Reported: api-p50-ms, api-p99-ms, sql-p50-ms, sql-p99-ms and
// the ratios api/sql of the medians and of the 99th percentiles. Per-query
// medians are logged. Figures and how to read them: docs/performance.md.
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	url := os.Getenv(EnvBenchDatabaseURL)
	seedIt := url == ""
	if seedIt {
		url = testenv.Postgres(b)
	}
	st, err := store.Open(ctx, url, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := store.Migrate(ctx, st.Pool(), logger); err != nil {
		b.Fatal(err)
	}
	if seedIt {
		stats, err := seed.Seed(ctx, st.Pool(), benchRepositories)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded %d repositories, %d tag links, %d tags, %d builds in %s",
			stats.Repositories, stats.TagLinks, stats.Tags, stats.Builds, stats.Duration.Round(time.Second))
	}

	routes := &api.Search{Store: st}
	srv := httptest.NewServer((&api.Server{Store: st, Logger: logger, Guard: &api.Guard{Loopback: true},
		Extra: []func(*http.ServeMux){routes.Register}}).Handler())
	defer srv.Close()
	c := &client.Client{BaseURL: srv.URL}

	mix := slices.Clone(benchMix)
	for i := range mix {
		bq := &mix[i]
		if bq.page2 {
			page, err := st.Search(ctx, store.SearchOptions{Query: bq.q})
			if err != nil || page.NextCursor == "" {
				b.Fatalf("%q: first page %v, no cursor", bq.q, err)
			}
			bq.cursor = page.NextCursor
		}
		rec := store.RecordStatements(ctx, &bq.stmts)
		if err := bq.viaStore(rec, st); err != nil {
			b.Fatalf("%q: %v", bq.q, err)
		}
	}

	for _, class := range []string{"search", "autocomplete", "narrowed"} {
		var qs []*benchQuery
		for i := range mix {
			if mix[i].class == class {
				qs = append(qs, &mix[i])
			}
		}
		b.Run(class, func(b *testing.B) {
			conn, err := st.Pool().Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Release()
			// Warm both paths: connections, caches, the first plans.
			for range 3 {
				for _, q := range qs {
					if err := q.viaAPI(ctx, c); err != nil {
						b.Fatalf("%q: %v", q.q, err)
					}
					if err := q.viaSQL(ctx, conn.Conn()); err != nil {
						b.Fatalf("%q: %v", q.q, err)
					}
				}
			}
			runtime.GC()
			apiT := make(map[*benchQuery][]time.Duration)
			sqlT := make(map[*benchQuery][]time.Duration)
			var apiAll, sqlAll []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q := qs[i%len(qs)]
				// Alternate which goes first so that neither always
				// finds the other's work in the caches.
				runAPI := func() {
					start := time.Now()
					if err := q.viaAPI(ctx, c); err != nil {
						b.Fatalf("%q: %v", q.q, err)
					}
					d := time.Since(start)
					apiT[q], apiAll = append(apiT[q], d), append(apiAll, d)
				}
				runSQL := func() {
					start := time.Now()
					if err := q.viaSQL(ctx, conn.Conn()); err != nil {
						b.Fatalf("%q: %v", q.q, err)
					}
					d := time.Since(start)
					sqlT[q], sqlAll = append(sqlT[q], d), append(sqlAll, d)
				}
				if i%2 == 0 {
					runAPI()
					runSQL()
				} else {
					runSQL()
					runAPI()
				}
			}
			b.StopTimer()
			ap50, ap99 := percentile(apiAll, 50), percentile(apiAll, 99)
			sp50, sp99 := percentile(sqlAll, 50), percentile(sqlAll, 99)
			b.ReportMetric(ms(ap50), "api-p50-ms")
			b.ReportMetric(ms(ap99), "api-p99-ms")
			b.ReportMetric(ms(sp50), "sql-p50-ms")
			b.ReportMetric(ms(sp99), "sql-p99-ms")
			b.ReportMetric(float64(ap50)/float64(sp50), "ratio-p50")
			b.ReportMetric(float64(ap99)/float64(sp99), "ratio-p99")
			if b.N >= 10*len(qs) {
				var lines []string
				for _, q := range qs {
					lines = append(lines, fmt.Sprintf("  %-40q api p50 %6.2f p99 %6.2f   sql p50 %6.2f p99 %6.2f ms  (%d statements)",
						q.label(), ms(percentile(apiT[q], 50)), ms(percentile(apiT[q], 99)),
						ms(percentile(sqlT[q], 50)), ms(percentile(sqlT[q], 99)), len(q.stmts)))
				}
				b.Logf("%s, %d samples per path:\n%s", class, b.N, strings.Join(lines, "\n"))
			}
		})
	}
}

func (q *benchQuery) label() string {
	if q.page2 {
		return q.q + " (page 2)"
	}
	return q.q
}

func (q *benchQuery) viaStore(ctx context.Context, st *store.Store) error {
	if q.class == "search" {
		_, err := st.Search(ctx, store.SearchOptions{Query: q.q, Cursor: q.cursor})
		return err
	}
	_, err := st.Suggest(ctx, store.SuggestOptions{Query: q.q, Pos: len(q.q)})
	return err
}

func (q *benchQuery) viaAPI(ctx context.Context, c *client.Client) error {
	if q.class == "search" {
		_, err := c.Search(ctx, client.SearchOptions{Query: q.q, Cursor: q.cursor})
		return err
	}
	_, err := c.Autocomplete(ctx, client.AutocompleteOptions{Query: q.q, Pos: -1})
	return err
}

// viaSQL runs the statements the store ran for q, reading every row but
// decoding none: the database's share of the request.
func (q *benchQuery) viaSQL(ctx context.Context, conn *pgx.Conn) error {
	for _, s := range q.stmts {
		rows, err := conn.Query(ctx, s.SQL, append([]any{pgx.QueryExecModeCacheDescribe}, s.Args...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			_ = rows.RawValues()
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
