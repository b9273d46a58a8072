package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	class string // search, autocomplete, narrowed, sort
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

	// The orders of sort: (and the empty query, trending).
	{class: "sort", q: "sort:trending"},
	{class: "sort", q: "sort:trending", page2: true},
	{class: "sort", q: "sort:stars"},
	{class: "sort", q: "sort:stars", page2: true},
	{class: "sort", q: "sort:new"},
	{class: "sort", q: "sort:launches"},
	{class: "sort", q: "lang:go sort:stars"},
	{class: "sort", q: "lang:python framework:flask sort:trending"},
	{class: "sort", q: "category:chat sort:new"},
	{class: "sort", q: "dashboard sort:stars"},
	{class: "sort", q: "dash sort:trending"},
	{class: "sort", q: "topic:kalujo sort:new"},
}

// BenchmarkSearch seeds 100 000 repositories (about 1 000 000 tag links)
// and measures, for each class of the fixed mix, the latency of
//
//   - api: the HTTP API (api.Server over real HTTP on loopback), as any
//     client sees it: the request sent, the whole JSON answer read;
//   - client: the same through the Go client, which also decodes the JSON
//     into Go values (what the CLI and the TUI pay);
//   - sql: the SQL statements the request ran, run directly on the
//     database (rows read, not decoded): the floor.
//
// Reported: api-p50-ms, api-p99-ms, client-p50-ms, client-p99-ms,
// sql-p50-ms, sql-p99-ms, and the ratios api/sql of the medians and of the
// 99th percentiles. Per-query figures are logged. Figures and how to read
// them: docs/performance.md.
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

	srv := httptest.NewServer((&api.Server{Store: st, Logger: logger, Guard: &api.Guard{Loopback: true}}).Handler())
	defer srv.Close()
	c := &client.Client{BaseURL: srv.URL}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer hc.CloseIdleConnections()

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

	for _, class := range []string{"search", "autocomplete", "narrowed", "sort"} {
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
			// Warm every path (connections, caches, the first plans),
			// and check that the API answers what the store does.
			for range 3 {
				for _, q := range qs {
					if err := q.viaClient(ctx, c); err != nil {
						b.Fatalf("%q: %v", q.q, err)
					}
					if err := q.viaHTTP(ctx, hc, srv.URL); err != nil {
						b.Fatalf("%q: %v", q.q, err)
					}
					if err := q.viaSQL(ctx, conn.Conn()); err != nil {
						b.Fatalf("%q: %v", q.q, err)
					}
				}
			}
			runtime.GC()
			type path struct {
				name string
				run  func(q *benchQuery) error
				per  map[*benchQuery][]time.Duration
				all  []time.Duration
			}
			paths := []*path{
				{name: "api", run: func(q *benchQuery) error { return q.viaHTTP(ctx, hc, srv.URL) }},
				{name: "client", run: func(q *benchQuery) error { return q.viaClient(ctx, c) }},
				{name: "sql", run: func(q *benchQuery) error { return q.viaSQL(ctx, conn.Conn()) }},
			}
			for _, p := range paths {
				p.per = make(map[*benchQuery][]time.Duration)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q := qs[i%len(qs)]
				// Rotate which path goes first so that none always finds
				// another's work in the caches.
				for j := range paths {
					p := paths[(i+j)%len(paths)]
					start := time.Now()
					if err := p.run(q); err != nil {
						b.Fatalf("%s %q: %v", p.name, q.q, err)
					}
					d := time.Since(start)
					p.per[q], p.all = append(p.per[q], d), append(p.all, d)
				}
			}
			b.StopTimer()
			api, cl, sq := paths[0], paths[1], paths[2]
			for _, p := range paths {
				b.ReportMetric(ms(percentile(p.all, 50)), p.name+"-p50-ms")
				b.ReportMetric(ms(percentile(p.all, 99)), p.name+"-p99-ms")
			}
			b.ReportMetric(float64(percentile(api.all, 50))/float64(percentile(sq.all, 50)), "ratio-p50")
			b.ReportMetric(float64(percentile(api.all, 99))/float64(percentile(sq.all, 99)), "ratio-p99")
			if b.N >= 10*len(qs) {
				var lines []string
				for _, q := range qs {
					lines = append(lines, fmt.Sprintf("  %-40q api %6.2f %6.2f  client %6.2f %6.2f  sql %6.2f %6.2f  (%d statements)",
						q.label(), ms(percentile(api.per[q], 50)), ms(percentile(api.per[q], 99)),
						ms(percentile(cl.per[q], 50)), ms(percentile(cl.per[q], 99)),
						ms(percentile(sq.per[q], 50)), ms(percentile(sq.per[q], 99)), len(q.stmts)))
				}
				b.Logf("%s, %d samples per path, p50 and p99 in ms:\n%s", class, b.N, strings.Join(lines, "\n"))
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
	if q.class == "search" || q.class == "sort" {
		_, err := st.Search(ctx, store.SearchOptions{Query: q.q, Cursor: q.cursor})
		return err
	}
	_, err := st.Suggest(ctx, store.SuggestOptions{Query: q.q, Pos: len(q.q)})
	return err
}

// viaHTTP sends the request and reads the whole answer, as any HTTP
// client does, without decoding it.
func (q *benchQuery) viaHTTP(ctx context.Context, hc *http.Client, base string) error {
	v := url.Values{"q": {q.q}}
	path := "/api/v1/search"
	if q.class == "search" || q.class == "sort" {
		if q.cursor != "" {
			v.Set("cursor", q.cursor)
		}
	} else {
		path = "/api/v1/autocomplete"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+v.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || len(body) == 0 || body[0] != '{' {
		return fmt.Errorf("answer %s: %.200s", resp.Status, body)
	}
	return nil
}

func (q *benchQuery) viaClient(ctx context.Context, c *client.Client) error {
	if q.class == "search" || q.class == "sort" {
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
		mode := pgx.QueryExecModeCacheDescribe
		if s.Prepared {
			mode = pgx.QueryExecModeCacheStatement
		}
		rows, err := conn.Query(ctx, s.SQL, append([]any{mode}, s.Args...)...)
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
