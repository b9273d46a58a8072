// Package seed fills a catalog database with a large, deterministic, made-up
// catalog for benchmarks: n repositories with about ten tags each, names,
// descriptions, READMEs, ingest statuses, launch counts and builds, written
// with COPY. The search benchmark (catalog/store) and the TUI keystroke
// benchmark share it so that their figures describe the same data.
//
// The data is a function of n alone: Seed(ctx, pool, 100_000) writes the
// same rows on every machine. Its shape, which benchmark queries rely on:
//
//	lang       1–3 of 30 languages, Zipf-distributed: go, python, javascript,
//	           typescript, rust, java … (every repository has one)
//	framework  0–2 of 60, e.g. gin, gorilla, graphql, gradio, fiber, django,
//	           flask, fastapi, express, react … (about 70 % have one)
//	license    one of 12 (mit, apache-2.0, gpl-3.0 …), 90 %
//	runtime    one of 40 base images (node:20, python:3.12, golang:1.22 …)
//	category   1–2 of 25 (dashboard, chat, blog, cms …)
//	topic      2–5 of 3 000 words, Zipf-distributed (a long tail)
//	sdk        docker, gradio or streamlit, 30 %
//	db         one of 10 (postgres, redis, sqlite …), 55 %
//
// Statuses: 85 % ready, 6 % failed, 5 % queued, 4 % processing. Ready
// repositories have one or two builds, the latest succeeded nine times in
// ten. Launch counts are 0 for 60 % and long-tailed otherwise; star counts
// follow launches, and a third of the launched repositories have a
// trending score (the rest none). Text is drawn
// from a vocabulary of common tech words followed by a long tail of
// made-up words, Zipf-distributed, so that common words ("app", "web")
// match a large share of the catalog and rare ones a handful.
package seed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/appstore-dev/appstore/catalog"
)

// Stats describes what Seed wrote.
type Stats struct {
	Repositories int // rows of repositories
	Tags         int // distinct key:value tags
	TagLinks     int // rows of repository_tags
	Builds       int // rows of builds
	Duration     time.Duration
}

// Epoch is the created_at of the first seeded repository; repository i was
// created i minutes later.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Seed writes n repositories (see the package documentation) into the empty,
// migrated catalog database behind pool, then VACUUMs and ANALYZEs it so
// that plans and index-only scans are those of a settled database. It
// refuses a database that already holds repositories.
func Seed(ctx context.Context, pool *pgxpool.Pool, n int) (Stats, error) {
	start := time.Now()
	if n <= 0 {
		return Stats{}, fmt.Errorf("seed: n = %d, want a positive number of repositories", n)
	}
	var existing bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM repositories)`).Scan(&existing); err != nil {
		return Stats{}, fmt.Errorf("seed: %w (is the database migrated?)", err)
	}
	if existing {
		return Stats{}, errors.New("seed: the database already holds repositories; seed an empty one")
	}
	g := newGenerator(n)
	st := Stats{Repositories: n, Tags: len(g.tags), TagLinks: len(g.links), Builds: len(g.builds)}

	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := copyTags(ctx, tx, g); err != nil {
			return err
		}
		if err := copyRepositories(ctx, tx, g); err != nil {
			return err
		}
		if err := copyLinks(ctx, tx, g); err != nil {
			return err
		}
		if err := copyBuilds(ctx, tx, g); err != nil {
			return err
		}
		// The rows carry their own ids; move the sequences past them so
		// that later inserts (tests adding apps) do not collide.
		for _, t := range []string{"repositories", "tags", "builds"} {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s))`, t, t)); err != nil {
				return fmt.Errorf("seed: set %s sequence: %w", t, err)
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	// Fold the facet-count deltas the COPY left (migration 0006), as the
	// daemon's writers do every few hundred changes.
	if _, err := pool.Exec(ctx, `SELECT appstore_fold_tag_counts() WHERE to_regproc('appstore_fold_tag_counts') IS NOT NULL`); err != nil {
		return Stats{}, fmt.Errorf("seed: fold tag counts: %w", err)
	}
	// VACUUM cannot run in a transaction; it sets the visibility map so
	// that index-only scans skip the heap, as autovacuum would on a live
	// system. Every table, those of later migrations (counters) too.
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	if err != nil {
		return Stats{}, fmt.Errorf("seed: list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Stats{}, fmt.Errorf("seed: list tables: %w", err)
	}
	if err := vacuum(ctx, pool, tables); err != nil {
		return Stats{}, err
	}
	st.Duration = time.Since(start)
	return st, nil
}

// vacuum VACUUMs and ANALYZEs tables until the pages of repositories are
// all-visible (and then those of the other tables, which the same commit
// filled, are too). A transaction that took its snapshot before the seed
// committed (an autovacuum worker analysing the new database's catalogs,
// say) keeps the rows from being visible to all, and VACUUM then leaves
// the visibility map empty; such a transaction is short, so this polls,
// up to a deadline, rather than leave a database whose plans differ from
// a settled one's.
func vacuum(ctx context.Context, pool *pgxpool.Pool, tables []string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		for _, t := range tables {
			if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+pgx.Identifier{t}.Sanitize()); err != nil {
				return fmt.Errorf("seed: vacuum %s: %w", t, err)
			}
		}
		var pages, visible int64
		if err := pool.QueryRow(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE oid = 'repositories'::regclass`).
			Scan(&pages, &visible); err != nil {
			return fmt.Errorf("seed: read the visibility map: %w", err)
		}
		if visible*10 >= pages*9 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("seed: after a minute of VACUUM only %d of %d pages of repositories are all-visible: a transaction older than the seed is still open", visible, pages)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func copyTags(ctx context.Context, tx pgx.Tx, g *generator) error {
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"tags"}, []string{"id", "key", "value"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(g.tags) {
				return nil, nil
			}
			t := g.tags[i]
			i++
			return []any{int64(i), t.Key, t.Value}, nil
		}))
	if err != nil {
		return fmt.Errorf("seed: copy tags: %w", err)
	}
	return nil
}

func copyRepositories(ctx context.Context, tx pgx.Tx, g *generator) error {
	i := 0
	cols := []string{"id", "slug", "name", "git_url", "git_url_key", "default_branch", "description", "owner",
		"readme", "dockerfile_path", "app_port", "ingest_status", "ingest_error", "ingest_attempts",
		"last_ingested_at", "last_commit_sha", "launch_count", "tags", "created_at", "updated_at", "star_count", "trend"}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"repositories"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(g.repos) {
			return nil, nil
		}
		r := &g.repos[i]
		i++
		var ingested *time.Time
		var port *int32
		ingestErr, sha := "", ""
		if r.status == catalog.IngestReady || r.status == catalog.IngestFailed {
			t := r.created.Add(2 * time.Minute)
			ingested = &t
		}
		if r.status == catalog.IngestReady {
			p := int32(r.port)
			port = &p
			sha = r.sha
		}
		if r.status == catalog.IngestFailed {
			ingestErr = "clone: repository not found"
		}
		tags := make([]string, len(r.tags))
		for j, id := range r.tags {
			tags[j] = g.tags[id].String()
		}
		return []any{r.id, r.slug, r.name, "https://git.example.com/" + r.owner + "/" + r.slug + ".git",
			"git.example.com/" + r.owner + "/" + r.slug, "main", r.description, r.owner,
			r.readme, "Dockerfile", port, string(r.status), ingestErr, int32(1),
			ingested, sha, r.launches, tags, r.created, r.created, stars(r.id, r.launches), trend(r.id, r.launches)}, nil
	}))
	if err != nil {
		return fmt.Errorf("seed: copy repositories: %w", err)
	}
	return nil
}

func copyLinks(ctx context.Context, tx pgx.Tx, g *generator) error {
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"repository_tags"}, []string{"repository_id", "tag_id", "source", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(g.links) {
				return nil, nil
			}
			l := g.links[i]
			i++
			return []any{l.repo, int64(l.tag + 1), string(l.source), g.repos[l.repo-1].created}, nil
		}))
	if err != nil {
		return fmt.Errorf("seed: copy repository_tags: %w", err)
	}
	return nil
}

func copyBuilds(ctx context.Context, tx pgx.Tx, g *generator) error {
	i := 0
	cols := []string{"id", "repository_id", "commit_sha", "status", "dockerfile_path", "image_tag", "attempts",
		"created_at", "started_at", "completed_at", "duration_ms"}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"builds"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(g.builds) {
			return nil, nil
		}
		b := g.builds[i]
		i++
		r := &g.repos[b.repo-1]
		created := r.created.Add(time.Duration(3+b.seq) * time.Minute)
		done := created.Add(time.Duration(b.seconds) * time.Second)
		image := ""
		if b.status == catalog.BuildSucceeded {
			image = "appstore/" + r.slug + ":" + r.sha[:12]
		}
		return []any{int64(i), b.repo, r.sha, string(b.status), "Dockerfile", image, int32(1),
			created, created, done, int64(b.seconds) * 1000}, nil
	}))
	if err != nil {
		return fmt.Errorf("seed: copy builds: %w", err)
	}
	return nil
}

// repo is one generated repository.
type repo struct {
	id          int64
	slug, name  string
	owner       string
	description string
	readme      string
	status      catalog.IngestStatus
	port        int
	sha         string
	launches    int64
	created     time.Time
	tags        []int // indexes into generator.tags, sorted by tag text
}

type link struct {
	repo   int64
	tag    int
	source catalog.TagSource
}

type build struct {
	repo    int64
	seq     int
	status  catalog.BuildStatus
	seconds int
}

type generator struct {
	rng    *rand.Rand
	words  []string // the text vocabulary, most common first
	text   *rand.Zipf
	tags   []catalog.Tag
	tagIdx map[string]int
	repos  []repo
	links  []link
	builds []build
}

// Value lists. The order is the popularity order of Zipf draws.
var (
	langs = []string{"go", "python", "javascript", "typescript", "rust", "java", "ruby", "php", "c", "cpp",
		"csharp", "kotlin", "swift", "elixir", "scala", "haskell", "clojure", "dart", "lua", "perl",
		"r", "julia", "zig", "nim", "ocaml", "erlang", "crystal", "fsharp", "groovy", "shell"}
	frameworks = []string{"react", "express", "django", "flask", "fastapi", "gin", "nextjs", "vue", "spring", "rails",
		"laravel", "fiber", "svelte", "echo", "gradio", "streamlit", "angular", "nuxt", "phoenix", "actix",
		"axum", "chi", "gorilla", "graphql", "symfony", "sinatra", "quarkus", "rocket", "ktor", "vapor",
		"hono", "remix", "astro", "gatsby", "grails", "koa", "nestjs", "fastify", "starlette", "tornado",
		"aiohttp", "bottle", "pyramid", "micronaut", "helidon", "dropwizard", "play", "lift", "yesod", "servant",
		"beego", "revel", "buffalo", "iris", "martini", "gorm", "htmx", "alpine", "solid", "qwik"}
	licenses = []string{"mit", "apache-2.0", "gpl-3.0", "bsd-3-clause", "agpl-3.0", "mpl-2.0", "lgpl-3.0",
		"unlicense", "isc", "bsd-2-clause", "gpl-2.0", "cc0-1.0"}
	runtimes = []string{"node:20", "python:3.12", "golang:1.22", "node:18", "python:3.11", "alpine:3.19", "nginx:1.25",
		"debian:bookworm", "ubuntu:22.04", "distroless:static", "node:22", "python:3.10", "golang:1.21", "rust:1.77",
		"eclipse-temurin:21", "ruby:3.3", "php:8.3", "openjdk:17", "alpine:3.18", "busybox", "denoland/deno:1.41",
		"oven/bun:1", "elixir:1.16", "swift:5.10", "dart:3", "haskell:9", "julia:1.10", "mcr.microsoft.com/dotnet/aspnet:8.0",
		"caddy:2", "httpd:2.4", "scratch", "gcr.io/distroless/base", "python:3.9", "node:16", "golang:1.20",
		"ruby:3.2", "php:8.2", "openjdk:11", "rust:1.75", "erlang:26"}
	categories = []string{"dashboard", "chat", "blog", "cms", "ecommerce", "analytics", "monitoring", "game",
		"education", "finance", "productivity", "devtools", "media", "social", "security", "ml", "docs",
		"forum", "wiki", "crm", "iot", "maps", "music", "health", "travel"}
	sdks = []string{"docker", "gradio", "streamlit"}
	dbs  = []string{"postgres", "redis", "sqlite", "mysql", "mongodb", "mariadb", "elasticsearch", "clickhouse", "cassandra", "neo4j"}

	// commonWords head the text vocabulary; made-up words follow.
	commonWords = strings.Fields(`app web simple dashboard chat fast open source self hosted server api data
	real time tool manager monitor blog notes demo service platform lightweight modern minimal starter template
	personal team live stream search file upload image video audio game player music photo gallery map weather
	news feed reader editor markdown wiki docs documentation project task todo kanban board calendar schedule
	event ticket support help desk chatbot bot assistant model inference llm embedding vector dataset training
	pipeline workflow automation cron job queue worker scheduler proxy gateway router load balancer cache
	storage backup sync share link shortener paste bin snippet code review git repository deploy build ci cd
	container docker kubernetes cluster cloud serverless function edge static site generator theme plugin
	extension widget component library framework sdk client cli terminal shell command line interface ui ux
	design system admin panel console portal store shop cart checkout payment invoice billing subscription
	account user auth login signup oauth identity access control permission role security scanner audit log
	logging metrics tracing alert notification email sms push webhook integration connector import export csv
	json yaml xml pdf report chart graph visualization analytics insight statistics counter tracker habit
	fitness health recipe food restaurant booking hotel travel trip finance budget expense stock crypto wallet
	exchange market price quote translation language learning quiz course school student teacher classroom
	forum community social network profile follow comment like vote poll survey form builder landing page
	portfolio resume gallery slideshow presentation whiteboard diagram drawing canvas collaborative realtime
	multiplayer websocket graphql rest grpc microservice monolith backend frontend fullstack mobile desktop
	responsive accessible dark mode offline progressive local first privacy friendly encrypted secure`)
)

// syllables make the long tail of made-up words.
var syllables = strings.Fields("ka lo mi ran te vu zo pel dor qui sa ne tor bi lu fa gen hor ix jo")

func newGenerator(n int) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(20240101, uint64(n))), tagIdx: map[string]int{}}
	seen := map[string]bool{}
	for _, w := range commonWords {
		if !seen[w] {
			seen[w] = true
			g.words = append(g.words, w)
		}
	}
	// Made-up words: every two- and three-syllable combination, a tail of
	// some 8 000 rare words.
	for _, a := range syllables {
		for _, b := range syllables {
			if w := a + b; !seen[w] {
				seen[w] = true
				g.words = append(g.words, w)
			}
			for _, c := range syllables {
				if w := a + b + c; !seen[w] {
					seen[w] = true
					g.words = append(g.words, w)
				}
			}
		}
	}
	g.text = rand.NewZipf(g.rng, 1.07, 4, uint64(len(g.words)-1))

	// Tag vocabulary, in a fixed order so that tag ids are deterministic.
	topics := g.words[:min(3000, len(g.words))]
	for _, vocabulary := range []struct {
		key    string
		values []string
	}{
		{"lang", langs}, {"framework", frameworks}, {"license", licenses}, {"runtime", runtimes},
		{"category", categories}, {"sdk", sdks}, {"db", dbs}, {"topic", topics},
	} {
		for _, v := range vocabulary.values {
			g.tag(vocabulary.key, v)
		}
	}

	langZ := rand.NewZipf(g.rng, 1.3, 2, uint64(len(langs)-1))
	fwZ := rand.NewZipf(g.rng, 1.2, 3, uint64(len(frameworks)-1))
	licZ := rand.NewZipf(g.rng, 1.5, 1, uint64(len(licenses)-1))
	rtZ := rand.NewZipf(g.rng, 1.3, 2, uint64(len(runtimes)-1))
	catZ := rand.NewZipf(g.rng, 1.2, 3, uint64(len(categories)-1))
	topicZ := rand.NewZipf(g.rng, 1.05, 8, uint64(len(topics)-1))
	dbZ := rand.NewZipf(g.rng, 1.4, 1, uint64(len(dbs)-1))

	owners := make([]string, 2000)
	for i := range owners {
		owners[i] = g.words[(i*7)%len(g.words)] + strconv.Itoa(i)
	}
	g.repos = make([]repo, n)
	for i := range g.repos {
		r := &g.repos[i]
		r.id = int64(i + 1)
		w1, w2 := g.word(), g.word()
		r.name = capitalize(w1) + " " + capitalize(w2)
		r.slug = catalog.Slugify(r.name) + "-" + strconv.FormatInt(r.id, 36)
		r.owner = owners[g.rng.IntN(len(owners))]
		r.description = g.sentence(6 + g.rng.IntN(11))
		r.readme = g.readme(r.name)
		r.created = Epoch.Add(time.Duration(i) * time.Minute)
		r.sha = fmt.Sprintf("%040x", g.rng.Uint64())
		r.port = 3000 + g.rng.IntN(6000)
		switch p := g.rng.IntN(100); {
		case p < 85:
			r.status = catalog.IngestReady
		case p < 91:
			r.status = catalog.IngestFailed
		case p < 96:
			r.status = catalog.IngestQueued
		default:
			r.status = catalog.IngestProcessing
		}
		if g.rng.IntN(10) >= 6 {
			r.launches = int64(g.rng.ExpFloat64()*40) + 1
			if g.rng.IntN(50) == 0 {
				r.launches *= 100
			}
		}

		tags := map[int]catalog.TagSource{}
		add := func(key, value string, src catalog.TagSource) {
			id := g.tagIdx[key+":"+value]
			if _, ok := tags[id]; !ok {
				tags[id] = src
			}
		}
		for range 1 + weighted(g.rng, 60, 30, 10) {
			add("lang", langs[langZ.Uint64()], catalog.SourceAuto)
		}
		for range weighted(g.rng, 30, 55, 15) {
			add("framework", frameworks[fwZ.Uint64()], catalog.SourceAuto)
		}
		if g.rng.IntN(10) < 9 {
			add("license", licenses[licZ.Uint64()], catalog.SourceAuto)
		}
		add("runtime", runtimes[rtZ.Uint64()], catalog.SourceAuto)
		src := catalog.SourceAuthor
		if g.rng.IntN(10) == 0 {
			src = catalog.SourceManual
		}
		for range 1 + weighted(g.rng, 70, 30) {
			add("category", categories[catZ.Uint64()], src)
		}
		for range 2 + weighted(g.rng, 25, 25, 25, 25) {
			add("topic", topics[topicZ.Uint64()], catalog.SourceAuthor)
		}
		if g.rng.IntN(10) < 3 {
			add("sdk", sdks[weighted(g.rng, 70, 20, 10)], catalog.SourceAuthor)
		}
		if g.rng.IntN(100) < 55 {
			add("db", dbs[dbZ.Uint64()], catalog.SourceAuto)
		}
		for id := range tags {
			r.tags = append(r.tags, id)
		}
		// Sorted by tag text, as the store keeps repositories.tags.
		slices.SortFunc(r.tags, func(a, b int) int { return strings.Compare(g.tags[a].String(), g.tags[b].String()) })
		for _, id := range r.tags {
			g.links = append(g.links, link{repo: r.id, tag: id, source: tags[id]})
		}

		if r.status == catalog.IngestReady {
			nb := 1 + weighted(g.rng, 70, 30)
			for s := range nb {
				st := catalog.BuildSucceeded
				if s == nb-1 && g.rng.IntN(10) == 0 {
					st = catalog.BuildFailed
				}
				g.builds = append(g.builds, build{repo: r.id, seq: s, status: st, seconds: 5 + g.rng.IntN(300)})
			}
		}
	}
	return g
}

func (g *generator) tag(key, value string) {
	t := catalog.Tag{Key: key, Value: value}
	if _, ok := g.tagIdx[t.String()]; ok {
		return
	}
	g.tagIdx[t.String()] = len(g.tags)
	g.tags = append(g.tags, t)
}

func (g *generator) word() string { return g.words[g.text.Uint64()] }

// phrases are word pairs that real descriptions and READMEs use together;
// drawn alone, their words would almost never meet.
var phrases = []string{"real time", "open source", "self hosted", "command line", "machine learning", "single page", "dark mode", "local first"}

func (g *generator) sentence(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		w := g.word()
		if g.rng.IntN(25) == 0 {
			w = phrases[g.rng.IntN(len(phrases))]
			i++
		}
		if b.Len() == 0 {
			w = capitalize(w)
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

// readme is a title and a few paragraphs: mostly 0.5–3 KB, a few far longer.
func (g *generator) readme(name string) string {
	var b strings.Builder
	b.WriteString("# " + name + "\n\n")
	words := 60 + int(g.rng.ExpFloat64()*200)
	for words > 0 {
		n := min(words, 8+g.rng.IntN(12))
		b.WriteString(g.sentence(n))
		words -= n
		if g.rng.IntN(5) == 0 {
			b.WriteString("\n\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// weighted returns i with probability weights[i]/sum(weights).
func weighted(rng *rand.Rand, weights ...int) int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	p := rng.IntN(sum)
	for i, w := range weights {
		if p < w {
			return i
		}
		p -= w
	}
	return len(weights) - 1
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// stars is a repository's star count: about one for every seven launches,
// so that stars are long-tailed as launches are. A function of the
// repository alone, as everything Seed writes.
func stars(id, launches int64) int64 { return (launches + id%5) / 7 }

// trend is a repository's trending score (repositories.trend, log2 of a
// decayed sum, see catalog/store): a third of the launched repositories
// were used recently, with scores spread over about 27 doublings; the
// rest have none (-Infinity), and trending orders them by launches.
func trend(id, launches int64) float64 {
	if launches == 0 || id%3 != 0 {
		return math.Inf(-1)
	}
	return 2900 + float64(id%1000)/37
}
