package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// appSource is the web app of the test repositories, compiled static for
// FROM scratch images. "app build" is a RUN step of a Dockerfile that takes
// two seconds and logs what it does, so a build can be watched live.
const appSource = `package main

import (
	"flag"
	"fmt"
	"html"
	"net/http"
	"os"
	"time"
)

func main() {
	name := flag.String("name", "app", "who the page says hello from")
	flag.Parse()
	if flag.Arg(0) == "build" {
		for i := 1; i <= 8; i++ {
			fmt.Printf("compiling assets %d/8\n", i)
			// Long enough that a loaded browser still sees the build running.
			time.Sleep(600 * time.Millisecond)
		}
		return
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>Hello from %s</h1>", html.EscapeString(*name), html.EscapeString(*name))
	})
	fmt.Println("listening on", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

func dockerfile(name string, buildStep bool) string {
	var b strings.Builder
	b.WriteString("FROM scratch\nCOPY app /app\n")
	if buildStep {
		// The nonce (a file of the repository) makes the engine run the
		// step again whatever its build cache holds from an earlier run of
		// the test in this process: the first build's log must show it.
		b.WriteString("COPY nonce /nonce\nRUN [\"/app\", \"build\"]\n")
	}
	fmt.Fprintf(&b, "EXPOSE 8080\nCMD [\"/app\", \"-name\", %q]\n", name)
	return b.String()
}

func appRepo(t *testing.T, name string, bin []byte, files map[string]string) *gitserver.Repo {
	t.Helper()
	fs := []gitserver.File{{Name: "app", Content: string(bin), Mode: 0o755}}
	for n, c := range files {
		fs = append(fs, gitserver.File{Name: n, Content: c})
	}
	return gitserver.NewRepoFiles(t, name, fs)
}

func waitReady(t *testing.T, c *client.Client, slug string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := c.Repository(context.Background(), slug)
		if err != nil {
			t.Fatal(err)
		}
		if r.IngestStatus == catalog.IngestReady {
			return
		}
		if r.IngestStatus == catalog.IngestFailed || time.Now().After(deadline) {
			t.Fatalf("%s: ingestion %s: %s", slug, r.IngestStatus, r.IngestError)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanupDocker stops the launches the test left running before the
// daemon shuts down (testenv.Postgres removes the catalog's images from the
// shared engine afterwards).
func cleanupDocker(t *testing.T, c *client.Client) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if list, err := c.Launches(ctx, client.ListLaunchesOptions{Active: true, Limit: 100}); err == nil {
			for _, l := range list.Launches {
				if _, err := c.StopLaunch(ctx, l.ID); err != nil {
					t.Logf("cleanup: stop launch %d: %v", l.ID, err)
				}
			}
		}
	})
}

type option struct {
	Text  string `json:"text"`
	Count string `json:"count"`
}

// jsOptions lists the suggestions on screen: their text and the count shown.
const jsOptions = `[...document.querySelectorAll('#suggestions [role=option]')].map(li => ({
	text: li.dataset.text, count: li.querySelector('.count').firstChild.textContent}))`

const jsActive = `(() => {
	const id = document.getElementById('q').getAttribute('aria-activedescendant');
	const li = id && document.getElementById(id);
	return li && li.getAttribute('aria-selected') === 'true' ? li.dataset.text : '';
})()`

// TestWebView drives the web view in Chromium against a real appstored
// (API, worker and runner in one process; ingestion from smart HTTP Git,
// builds and launches on the Docker engine): search with keyboard
// autocomplete, tag chips, the back button, the add form following
// ingestion and build live, a rebuild watched live, a launch from a card,
// the preview, stop, and a narrow window.
func TestWebView(t *testing.T) {
	chromium(t)
	testenv.Docker(t)
	gitserver.RequireGit(t)
	dir := artifacts(t)
	ctx := context.Background()

	bin, err := os.ReadFile(testenv.StaticBinary(t, appSource))
	if err != nil {
		t.Fatal(err)
	}
	goMod := "module example.com/app\n\ngo 1.21\n"
	hello := appRepo(t, "hello-go", bin, map[string]string{
		"main.go": appSource, "go.mod": goMod, "Dockerfile": dockerfile("hello-go", false),
		"tags.yaml": "name: Hello Go\ndescription: Says hello, in Go\ntags:\n  category: demo\n",
	})
	notes := appRepo(t, "notes-py", bin, map[string]string{
		"app.py": "from flask import Flask\n\napp = Flask(__name__)\n", "requirements.txt": "flask==3.0.3\n",
		"Dockerfile": dockerfile("notes-py", false),
		"tags.yaml":  "name: Py Notes\ndescription: Keeps notes\ntags:\n  category: notes\n",
	})
	clock := appRepo(t, "gopher-clock", bin, map[string]string{
		"main.go": appSource, "go.mod": goMod, "Dockerfile": dockerfile("gopher-clock", true),
		"tags.yaml": "name: Gopher clock\ndescription: Tells the time, built before your eyes\n",
		"README.md": readmeMD, "nonce": strconv.FormatInt(time.Now().UnixNano(), 10),
	})
	broken := appRepo(t, "broken-build", bin, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY app /app\nRUN [\"/nonexistent\"]\nCMD [\"/app\"]\n",
	})
	git := gitserver.HTTP(t, hello, notes, clock, broken)

	d := startDaemon(t, dir, daemon.Config{})
	c := &client.Client{BaseURL: d.URL}
	cleanupDocker(t, c)
	for _, r := range []*gitserver.Repo{hello, notes} {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(r)}); err != nil {
			t.Fatal(err)
		}
	}
	waitReady(t, c, "hello-go")
	waitReady(t, c, "notes-py")

	b := newBrowser(t, dir)
	const short = 20 * time.Second

	// The search page lists every app and connects to the event stream.
	b.step("open the search page", short, chromedp.Navigate(d.URL+"/"))
	b.wait("two cards and a live event stream",
		`document.querySelectorAll('.card').length === 2 && document.getElementById('conn').dataset.state === 'live'`, short)
	if got := eval[string](b, `document.activeElement.id`); got != "q" {
		t.Errorf("focus on load: #%s, want the search box", got)
	}
	b.screenshot("search-all")

	// Tab completes a key and asks for its values; Esc closes the list.
	b.step("type cat", short, chromedp.SendKeys(chromedp.ID("q"), "cat"))
	b.wait("key suggestion category:", `[...document.querySelectorAll('#suggestions:not([hidden]) [role=option]')].some(li => li.dataset.text === 'category:')`, short)
	b.step("Tab", short, chromedp.KeyEvent(kb.Tab))
	b.wait("Tab completed the key, values suggested",
		`document.getElementById('q').value === 'category:' && document.activeElement.id === 'q' &&
		 [...document.querySelectorAll('#suggestions:not([hidden]) [role=option]')].map(li => li.dataset.text).join(' ') .includes('category:demo')`, short)
	b.screenshot("tab-completes-a-key")
	b.step("Esc", short, chromedp.KeyEvent(kb.Escape))
	b.wait("Esc closed the list", `document.getElementById('suggestions').hidden && document.getElementById('q').getAttribute('aria-expanded') === 'false'`, short)
	b.step("erase", short, chromedp.KeyEvent(strings.Repeat(kb.Backspace, len("category:"))))
	b.wait("empty box", `document.getElementById('q').value === ''`, short)

	// "lang:" suggests values with the counts the API gives.
	b.step("type lang:", short, chromedp.SendKeys(chromedp.ID("q"), "lang:"))
	b.wait("lang: values suggested",
		`(() => { const t = [...document.querySelectorAll('#suggestions:not([hidden]) [role=option]')].map(li => li.dataset.text);
		  return t.includes('lang:go') && t.includes('lang:python'); })()`, short)
	shown := eval[[]option](b, jsOptions)
	want, err := c.Autocomplete(ctx, client.AutocompleteOptions{Query: "lang:", Pos: -1, Limit: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != len(want.Suggestions) {
		t.Errorf("suggestions shown %+v, the API has %+v", shown, want.Suggestions)
	}
	for i, s := range want.Suggestions {
		if i < len(shown) && (shown[i].Text != s.Text || shown[i].Count != fmt.Sprint(s.Count)) {
			t.Errorf("suggestion %d shown as %s (%s), the API has %s (%d)", i, shown[i].Text, shown[i].Count, s.Text, s.Count)
		}
	}
	for _, o := range shown {
		if (o.Text == "lang:go" || o.Text == "lang:python") && o.Count != "1" {
			t.Errorf("%s shown with count %s, want 1", o.Text, o.Count)
		}
	}
	b.screenshot("suggestions-with-counts")

	// Arrows move the highlight; Enter takes it and searches.
	for i := 0; i <= len(shown); i++ {
		if i == len(shown) {
			t.Fatalf("ArrowDown never highlighted lang:python among %+v", shown)
		}
		b.step("ArrowDown", short, chromedp.KeyEvent(kb.ArrowDown))
		if eval[string](b, jsActive) == "lang:python" {
			break
		}
	}
	b.screenshot("lang-python-highlighted")
	b.step("Enter", short, chromedp.KeyEvent(kb.Enter))
	b.wait("results for lang:python, query in the URL",
		`location.search === '?q=lang%3Apython' && document.getElementById('q').value.trim() === 'lang:python' &&
		 document.getElementById('suggestions').hidden &&
		 [...document.querySelectorAll('.card')].map(c => c.dataset.slug).join() === 'notes-py'`, short)
	b.screenshot("results-lang-python")

	// The back button goes back to the previous query.
	b.step("back", short, chromedp.Evaluate[chromedp.Void](`history.back()`))
	b.wait("back to every app", `location.search === '' && document.getElementById('q').value === '' && document.querySelectorAll('.card').length === 2`, short)

	// A tag chip adds its tag to the query.
	b.step("click the chip category:demo", short, chromedp.Click(chromedp.CSS(`.card[data-slug="hello-go"] button.chip[data-tag="category:demo"]`)))
	b.wait("results for category:demo",
		`location.search === '?q=category%3Ademo' && document.getElementById('q').value === 'category:demo' &&
		 [...document.querySelectorAll('.card')].map(c => c.dataset.slug).join() === 'hello-go'`, short)
	b.screenshot("chip-added-to-query")

	// Add an app: the form leads to its page, which follows ingestion and
	// the first build live.
	b.step("open the add form", short, chromedp.Click(chromedp.CSS(`nav a[href="/add"]`)))
	b.wait("add form", `location.pathname === '/add' && document.activeElement.id === 'git-url'`, short)
	b.step("fill the add form", short,
		chromedp.SendKeys(chromedp.ID("git-url"), git.URL(clock)),
		chromedp.SendKeys(chromedp.ID("tags"), "team:web"))
	b.screenshot("add-form")
	b.step("submit", short, chromedp.KeyEvent(kb.Enter))
	b.wait("the new app's page", `location.pathname === '/app/gopher-clock'`, short)
	// Set on this document: if the page reloaded, it would be gone.
	b.step("mark the document", short, chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))
	b.wait("ingested, built, log complete",
		`document.querySelector('.timeline li[data-status="ready"]') &&
		 document.querySelector('#app-status [data-kind="build"][data-status="succeeded"]') &&
		 document.querySelector('.log').dataset.done === 'true'`, 3*time.Minute)
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Errorf("the app page reloaded to show ingestion and build")
	}
	if !eval[bool](b, `!document.querySelector('.launch [data-action="launch"]').disabled && !document.querySelector('[data-role="launch-blocked"]') && !document.querySelector('.builds tr.none')`) {
		t.Errorf("built, yet Launch is disabled or the builds table says there are none")
	}
	if got := eval[string](b, `document.querySelector('.log').textContent`); !strings.Contains(got, "compiling assets 8/8") {
		t.Errorf("build log lacks the RUN step's output:\n%s", got)
	}
	manual := eval[string](b, `[...document.querySelectorAll('.tag-group[data-source="manual"] .chip')].map(a => a.textContent).join(' ')`)
	auto := eval[string](b, `[...document.querySelectorAll('.tag-group[data-source="auto"] .chip')].map(a => a.textContent).join(' ')`)
	if manual != "team:web" || !strings.Contains(auto, "lang:go") {
		t.Errorf("tags by source: manual %q (want team:web), detected %q (want lang:go among them)", manual, auto)
	}
	if !eval[bool](b, `!!document.querySelector('.timeline li[data-status="processing"]') && !!document.querySelector('.timeline li[data-status="queued"]')`) {
		t.Errorf("ingestion timeline lacks its queued and processing steps")
	}
	b.screenshot("added-app-ingested-and-built")

	// A rebuild without cache, started from the page, is seen running
	// with its log streaming, then succeeding, without a reload.
	first := eval[int](b, `Number(document.querySelector('.builds tbody tr').dataset.buildId)`)
	// What the page showed is recorded as it changes (a MutationObserver),
	// not sampled by polls: a loaded browser or engine may run the whole
	// build between two polls, yet the page must still have shown it running
	// and appended its log lines before it ended.
	b.step("watch the builds table and the log", short, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
	  const first = %d, TERMINAL = ['succeeded', 'failed', 'canceled'];
	  window.__seenRunning = false; window.__liveLog = false;
	  const look = () => {
	    const tr = document.querySelector('.builds tbody tr');
	    if (!tr || Number(tr.dataset.buildId) <= first) return;
	    if (tr.dataset.status === 'running') window.__seenRunning = true;
	    const log = document.querySelector('.log');
	    if (log.dataset.buildId === tr.dataset.buildId && !TERMINAL.includes(tr.dataset.status) &&
	        log.textContent.includes('compiling assets')) window.__liveLog = true;
	  };
	  new MutationObserver(look).observe(document.querySelector('main') || document.body,
	    {subtree: true, childList: true, attributes: true, characterData: true});
	})()`, first)))
	b.step("rebuild without cache", short,
		chromedp.Click(chromedp.ID("no-cache")),
		chromedp.Click(chromedp.CSS(`[data-action="rebuild"]`)))
	b.wait("the new build was shown running, its log streaming before it ended",
		`window.__seenRunning === true && window.__liveLog === true`, 2*time.Minute)
	b.screenshot("build-running-log-live")
	b.wait("the new build succeeded",
		fmt.Sprintf(`(() => { const tr = document.querySelector('.builds tbody tr');
		  return Number(tr.dataset.buildId) > %d && tr.dataset.status === 'succeeded' &&
		    document.querySelector('.log').dataset.done === 'true' &&
		    document.querySelector('#app-status [data-kind="build"]').textContent.includes('#' + tr.dataset.buildId); })()`, first), 2*time.Minute)
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Errorf("the app page reloaded during the rebuild")
	}
	b.screenshot("build-succeeded-live")

	// Launch from the search card: it turns running over the event stream
	// and offers the preview, which serves the app.
	b.step("back to the search page", short, chromedp.Click(chromedp.CSS(`.crumbs a[href="/"]`)))
	b.wait("three cards", `location.pathname === '/' && document.querySelectorAll('.card').length === 3`, short)
	b.step("launch", short, chromedp.Click(chromedp.CSS(`.card[data-slug="gopher-clock"] [data-action="launch"]`)))
	b.wait("running with a preview link", `!!document.querySelector('.card[data-slug="gopher-clock"] .launch[data-status="running"] a[data-role="preview"]')`, time.Minute)
	b.screenshot("launched-from-card")
	preview := eval[string](b, `document.querySelector('.card[data-slug="gopher-clock"] a[data-role="preview"]').href`)
	base, _ := url.Parse(d.URL)
	if wantURL := "http://gopher-clock.localhost:" + base.Port() + "/"; preview != wantURL {
		t.Errorf("preview link %q, want %q", preview, wantURL)
	}
	b.step("open the preview", short, chromedp.Navigate(preview))
	b.wait("the app answers", `document.body && document.body.innerText.includes('Hello from gopher-clock')`, short)
	b.screenshot("preview")
	b.step("open the path preview", short, chromedp.Navigate(d.URL+"/apps/gopher-clock/"))
	b.wait("the app answers on /apps/", `document.body && document.body.innerText.includes('Hello from gopher-clock')`, short)

	// Stop it from the app page.
	b.step("open the app page", short, chromedp.Navigate(d.URL+"/app/gopher-clock"))
	b.wait("running launch shown", `!!document.querySelector('.launch[data-status="running"] [data-action="stop"]')`, short)
	b.step("stop", short, chromedp.Click(chromedp.CSS(`.launch [data-action="stop"]`)))
	b.wait("stopped", `!!document.querySelector('.launch[data-status="none"] [data-action="launch"]')`, time.Minute)
	b.screenshot("stopped")
	if list, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: "gopher-clock", Active: true}); err != nil || len(list.Launches) != 0 {
		t.Errorf("after Stop: active launches %+v, %v", list, err)
	}

	// A narrow window: one column, nothing wider than the screen, focus
	// visible when moving with the keyboard.
	b.step("narrow window", short, chromedp.EmulateViewport(360, 780), chromedp.Navigate(d.URL+"/?q=lang:go"))
	b.wait("results", `document.querySelectorAll('.card').length === 2`, short)
	if !eval[bool](b, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Errorf("the search page is wider than a 360px window: %d", eval[int](b, `document.documentElement.scrollWidth`))
	}
	b.step("Tab to the Search button", short, chromedp.Focus(chromedp.ID("q")), chromedp.KeyEvent(kb.Tab))
	focus := eval[string](b, `(() => { const s = getComputedStyle(document.activeElement);
		return document.activeElement.textContent + '|' + s.outlineStyle + '|' + s.outlineWidth; })()`)
	if parts := strings.Split(focus, "|"); parts[0] != "Search" || parts[1] == "none" || parts[2] == "0px" {
		t.Errorf("keyboard focus after Tab: %q, want the Search button with a visible outline", focus)
	}
	b.screenshot("narrow-search")
	b.step("narrow app page", short, chromedp.Navigate(d.URL+"/app/gopher-clock"))
	b.wait("app page", `document.querySelector('.log')?.dataset.done === 'true'`, short)
	if !eval[bool](b, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Errorf("the app page is wider than a 360px window: %d", eval[int](b, `document.documentElement.scrollWidth`))
	}
	b.screenshot("narrow-app-page")
	b.step("wide window", short, chromedp.EmulateViewport(1280, 900))
	appPage(t, b, c, d.URL, git.URL(broken))
}

// readmeMD is the README of the gopher-clock repository: Markdown with
// front matter, and HTML, script links and an image handler that must not
// make it to the page.
const readmeMD = "---\ntitle: Gopher clock\n---\n\n# Gopher clock\n\nRead [the docs](https://example.com/docs) **first**.\n\n" +
	"<script>window.__pwned = 1</script>\n\n<img src=x onerror=\"window.__pwned = 2\">\n\n" +
	"[click me](javascript:window.__pwned=3)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"

// appPage drives what the app page does beyond builds: the README, manual
// tags, a launch with a profile and a time to live whose output follows, the
// same Launch rule as the cards, and removing an app that runs.
func appPage(t *testing.T, b *browser, c *client.Client, base, brokenURL string) {
	ctx := context.Background()
	const short = 20 * time.Second
	b.step("open the app page", short, chromedp.Navigate(base+"/app/gopher-clock"))
	b.wait("the README, rendered", `document.querySelector('.readme h1')?.textContent === 'Gopher clock'`, short)
	if !eval[bool](b, `(() => { const r = document.querySelector('.readme');
		const a = r.querySelector('a[href="https://example.com/docs"]');
		return a && a.rel.includes('noopener') && a.textContent === 'the docs' && !!r.querySelector('strong') && !!r.querySelector('table td') &&
		  !r.querySelector('script, img, [onerror]') && !r.querySelector('a[href^="javascript"]') &&
		  !r.textContent.includes('title: Gopher') && window.__pwned === undefined; })()`) {
		t.Errorf("README: %s", eval[string](b, `document.querySelector('.readme').outerHTML`))
	}
	b.screenshot("readme")
	// The owner (the local user, on a daemon without accounts), linked to
	// the search of its apps.
	if got := eval[string](b, `document.querySelector('a.owner')?.getAttribute('href') + ' ' + document.querySelector('a.owner')?.textContent`); got != "/?q=owner%3Alocal local" {
		t.Errorf("the app page's owner link: %q", got)
	}

	// Manual tags: add one, remove another.
	b.step("add a tag", short, chromedp.SendKeys(chromedp.ID("new-tag"), "team:ops"), chromedp.Click(chromedp.CSS(`[data-action="add-tag"]`)))
	b.wait("the tag added", `[...document.querySelectorAll('.tag-group[data-source="manual"] a.chip')].map(a => a.textContent).join(' ') === 'team:ops team:web'`, short)
	b.step("remove a tag", short, chromedp.Click(chromedp.CSS(`[data-action="remove-tag"][data-tag="team:web"]`)))
	b.wait("the tag removed", `[...document.querySelectorAll('.tag-group[data-source="manual"] a.chip')].map(a => a.textContent).join(' ') === 'team:ops'`, short)
	if r, err := c.Repository(ctx, "gopher-clock"); err != nil || !strings.Contains(fmt.Sprint(r.Tags), "team:ops") || strings.Contains(fmt.Sprint(r.Tags), "team:web") {
		t.Errorf("tags after the page's edits: %v %v", r, err)
	}
	b.screenshot("tags-edited")

	// Launch with a profile and a time to live; the app's output follows.
	b.step("choose and launch", short,
		chromedp.SetValue(chromedp.CSS(`.launch select[data-role="profile"]`), "medium"),
		chromedp.SetValue(chromedp.CSS(`.launch select[data-role="ttl"]`), "30m"),
		chromedp.Click(chromedp.CSS(`.launch [data-action="launch"]`)))
	b.wait("running, its output shown", `!!document.querySelector('.launch[data-status="running"]') &&
		document.querySelector('.log.out').textContent.includes('listening on 8080')`, time.Minute)
	list, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: "gopher-clock", Active: true})
	if err != nil || len(list.Launches) != 1 || list.Launches[0].ResourceProfile != "medium" ||
		time.Until(*list.Launches[0].ExpiresAt) > 31*time.Minute || time.Until(*list.Launches[0].ExpiresAt) < 25*time.Minute {
		t.Fatalf("launch from the page with medium, 30m: %+v %v", list, err)
	}
	running := list.Launches[0]
	b.screenshot("launched-with-choices-output")

	// The same Launch rule on a card and on its app's page: a failed build
	// and nothing older leaves nothing to launch, on both.
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: brokenURL}); err != nil {
		t.Fatal(err)
	}
	b.step("open the broken app", short, chromedp.Navigate(base+"/app/broken-build"))
	b.wait("its build failed, Launch disabled", `document.querySelector('#app-status [data-kind="build"]')?.dataset.status === 'failed' &&
		document.querySelector('.launch [data-action="launch"]').disabled`, 2*time.Minute)
	pageWhy := eval[string](b, `document.querySelector('[data-role="launch-blocked"]').textContent`)
	b.step("search it", short, chromedp.Navigate(base+"/?q=broken"))
	b.wait("its card, Launch disabled", `(() => { const c = document.querySelector('.card[data-slug="broken-build"]');
		return c && c.querySelector('[data-action="launch"]').disabled && !!c.querySelector('[data-role="launch-blocked"]'); })()`, short)
	if cardWhy := eval[string](b, `document.querySelector('.card[data-slug="broken-build"] [data-role="launch-blocked"]').textContent`); cardWhy != pageWhy || pageWhy == "" {
		t.Errorf("Launch on the card: %q, on the page: %q", cardWhy, pageWhy)
	}
	b.screenshot("same-launch-rule")

	// Remove an app that runs: the page asks, saying so, then removes it
	// and its launch.
	b.step("open the running app", short, chromedp.Navigate(base+"/app/gopher-clock"))
	b.wait("running", `!!document.querySelector('.launch[data-status="running"]')`, short)
	b.step("remove", short, chromedp.Click(chromedp.CSS(`[data-action="remove"]`)))
	b.wait("asked, saying what runs", fmt.Sprintf(`document.querySelector('[data-role="remove-question"]')?.textContent.includes('It is running (launch %d); removing it stops it.')`, running.ID), short)
	b.screenshot("remove-asks")
	b.step("confirm", short, chromedp.Click(chromedp.CSS(`[data-action="confirm-remove"]`)))
	b.wait("back on the search page, the app gone", `location.pathname === '/' && !document.querySelector('.card[data-slug="gopher-clock"]') && document.querySelectorAll('.card').length > 0`, short)
	if _, err := c.Repository(ctx, "gopher-clock"); !client.IsNotFound(err) {
		t.Errorf("after Remove: %v", err)
	}
	if l, err := c.Launch(ctx, running.ID); err == nil && !l.Status.Terminal() {
		t.Errorf("the removed app's launch is %s", l.Status)
	}
	b.screenshot("removed")
}

// TestWebViewWithToken checks the token box: with appstored's --token, a
// change without the token is refused with advice, the event stream
// connects once the token is saved (as access_token: browsers cannot set
// headers on WebSockets), and the token stays in this tab only.
func TestWebViewWithToken(t *testing.T) {
	chromium(t)
	gitserver.RequireGit(t)
	dir := artifacts(t)
	repo := gitserver.NewRepoFiles(t, "token-app", []gitserver.File{
		{Name: "Dockerfile", Content: "FROM scratch\nCOPY app /app\nCMD [\"/app\"]\n"},
		{Name: "app", Content: "placeholder\n", Mode: 0o755},
		{Name: "tags.yaml", Content: "emoji: 🔑\nenv:\n  - name: API_KEY\n    description: the key of the service\n    required: true\n    secret: true\n"},
	})
	// No Dockerfile: its ingestion fails, and nothing is built.
	plain := gitserver.NewRepoFiles(t, "plain-app", []gitserver.File{{Name: "README.md", Content: "# plain\n"}})
	git := gitserver.HTTP(t, repo, plain)
	d := startDaemon(t, dir, daemon.Config{Token: "s3cret-web-token-0001", Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})

	// The query parameter is for WebSocket handshakes only: it does not
	// authorise a change.
	body := strings.NewReader(`{"git_url":"` + git.URL(repo) + `"}`)
	resp, err := http.Post(d.URL+"/api/v1/repositories?access_token=s3cret-web-token-0001", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST with ?access_token=: %s, want 401", resp.Status)
	}

	b := newBrowser(t, dir)
	const short = 20 * time.Second
	// A query that does not parse is refused with the place of the mistake
	// counted in characters (é is two bytes), not bytes, said once.
	b.step("open a bad query", short, chromedp.Navigate(d.URL+"/?q="+url.QueryEscape(`lang:go é "open`)))
	b.wait("the error names the character", `(() => { const e = document.getElementById('q-error');
		return e && !e.hidden && e.textContent.endsWith(`+"`"+`add a closing '"' after the phrase (at character 11)`+"`"+`)
			&& !e.textContent.includes('byte'); })()`, short)
	b.screenshot("bad-query")
	// An unknown app: said so, and none of an app's panels (whose buttons
	// could only fail).
	b.step("open an unknown app", short, chromedp.Navigate(d.URL+"/app/nope"))
	b.wait("no app, no panels", `(() => { const a = document.querySelector('article.app [role=alert]');
		const panels = document.querySelectorAll('article.app > .panel, article.app > .two');
		const h1 = document.querySelector('article.app h1');
		return h1 && h1.textContent === 'No app “nope”' && a && !a.hidden
			&& a.textContent.includes('not registered') && panels.length === 9
			&& document.querySelector('button[data-action="star"]').hidden
			&& [...panels].every((p) => p.hidden && p.offsetParent === null); })()`, short)
	b.screenshot("unknown-app")
	b.step("open the add form", short, chromedp.Navigate(d.URL+"/add"))
	b.wait("the event stream is refused without the token", `document.getElementById('conn').dataset.state === 'reconnecting'`, short)
	b.step("submit without the token", short,
		chromedp.SendKeys(chromedp.ID("git-url"), git.URL(repo)),
		chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)))
	b.wait("refused with advice", `(() => { const a = document.querySelector('form.add [role=alert]');
		return a && !a.hidden && a.textContent.includes('Token'); })()`, short)
	b.screenshot("refused-without-token")

	b.step("save the token", short,
		chromedp.Click(chromedp.CSS(`#token-box summary`)),
		chromedp.SendKeys(chromedp.ID("token"), "s3cret-web-token-0001"),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)))
	b.wait("the event stream connects with the token", `document.getElementById('conn').dataset.state === 'live'`, short)
	if !eval[bool](b, `sessionStorage.getItem('appstore.token') === 's3cret-web-token-0001' && localStorage.length === 0 && !location.href.includes('s3cret-web-token-0001')`) {
		t.Errorf("the token is not kept in sessionStorage only")
	}
	b.step("submit with the token", short, chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)))
	b.wait("registered and ingested, seen live", `location.pathname === '/app/token-app' &&
		!!document.querySelector('.timeline li[data-status="ready"]') &&
		!!document.querySelector('#app-status [data-kind="ingest"][data-status="ready"]')`, time.Minute)
	b.screenshot("added-with-token")
	// What the app declares it needs, read by ingestion from tags.yaml:
	// missing, with the command that sets it; set from elsewhere, the
	// page follows (repository.config_changed), and never shows a value.
	b.wait("the configuration lists the missing secret", `(() => { const r = document.querySelector('[data-role="config"] tr[data-name="API_KEY"]');
		return r && r.dataset.state === 'missing' && r.textContent.includes('appstore secret set token-app API_KEY')
			&& r.textContent.includes('required, secret') && r.textContent.includes('the key of the service'); })()`, short)
	cfgClient := &client.Client{BaseURL: d.URL, Token: "s3cret-web-token-0001"}
	if _, err := cfgClient.SetSecret(context.Background(), "token-app", "API_KEY", "web-secret-value-77"); err != nil {
		t.Fatal(err)
	}
	b.wait("the secret shows as set, live, without its value", `(() => { const r = document.querySelector('[data-role="config"] tr[data-name="API_KEY"]');
		return r && r.dataset.state === 'secret' && r.textContent.includes('set (secret)')
			&& !document.documentElement.outerHTML.includes('web-secret-value-77'); })()`, short)
	b.screenshot("configuration")
	// No runner here: the build cannot have succeeded, so Launch is
	// disabled and says why instead of offering a click that can only fail.
	b.wait("Launch disabled with the reason", `(() => { const btn = document.querySelector('.launch [data-action="launch"]');
		const why = document.querySelector('.launch [data-role="launch-blocked"]');
		return btn && btn.disabled && why && why.textContent.startsWith('Nothing to launch yet')
			&& btn.getAttribute('aria-describedby') === why.id; })()`, short)
	// The app's emoji shows beside its name, on its page and its card.
	b.step("reopen its page", short, chromedp.Navigate(d.URL+"/app/token-app"))
	b.wait("the emoji beside the name", `(() => { const h = document.querySelector('article.app h1'); return h && h.textContent === '🔑 token-app'; })()`, short)
	b.step("search it by name", short, chromedp.Navigate(d.URL+"/?q=token"))
	b.wait("its card shows the emoji", `(() => { const h = document.querySelector('.card[data-slug="token-app"] h3');
		return h && h.querySelector('.emoji').textContent === '🔑 ' && h.textContent === '🔑 token-app'; })()`, short)
	b.screenshot("emoji-on-the-card")

	// An app whose ingestion failed: its card and page say there is
	// nothing to launch and why, and no build will start.
	c := &client.Client{BaseURL: d.URL, Token: "s3cret-web-token-0001"}
	if _, err := c.AddRepository(context.Background(), client.AddRepositoryRequest{GitURL: git.URL(plain)}); err != nil {
		t.Fatal(err)
	}
	b.step("search it", short, chromedp.Navigate(d.URL+"/?q=plain"))
	b.wait("its card, ingestion failed, Launch disabled", `(() => { const card = document.querySelector('.card[data-slug="plain-app"]');
		const btn = card && card.querySelector('[data-action="launch"]');
		return btn && btn.disabled && card.querySelector('[data-kind="ingest"][data-status="failed"]')
			&& card.querySelector('[data-role="launch-blocked"]').textContent.includes('ingestion failed'); })()`, time.Minute)
	b.step("open its page", short, chromedp.Navigate(d.URL+"/app/plain-app"))
	b.wait("the page says why nothing builds or launches", `(() => { const none = document.querySelector('.builds tr.none');
		return none && none.textContent.includes('ingestion failed')
			&& document.getElementById('log-state').textContent.includes('none starts')
			&& document.querySelector('.launch [data-action="launch"]').disabled; })()`, short)
	b.screenshot("ingestion-failed")
}

// TestWebViewResumesAfterRestart: the page keeps its event stream across
// a restart of appstored and catches up from the last event it saw. What
// changed while the daemon was away (a description edited, a re-ingestion
// done by another appstored on the same database) shows up without a
// reload.
func TestWebViewResumesAfterRestart(t *testing.T) {
	chromium(t)
	gitserver.RequireGit(t)
	dir := artifacts(t)
	ctx := context.Background()
	repo := gitserver.NewRepoFiles(t, "resume-app", []gitserver.File{
		{Name: "Dockerfile", Content: "FROM scratch\nCOPY app /app\nCMD [\"/app\"]\n"},
		{Name: "app", Content: "placeholder\n", Mode: 0o755},
	})
	git := gitserver.HTTP(t, repo)
	db := testenv.Postgres(t)
	roles := []string{daemon.RoleAPI, daemon.RoleWorker}

	d := runDaemon(t, dir, daemon.Config{DatabaseURL: db, Roles: roles})
	addr := strings.TrimPrefix(d.URL, "http://")
	c := &client.Client{BaseURL: d.URL}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo)}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, "resume-app")

	b := newBrowser(t, dir)
	const short = 20 * time.Second
	b.step("open the app page", short, chromedp.Navigate(d.URL+"/app/resume-app"),
		chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))
	b.wait("one ingestion, live", `document.querySelectorAll('.timeline li[data-status="ready"]').length === 1 &&
		document.getElementById('conn').dataset.state === 'live'`, short)
	b.screenshot("before-restart")

	stopDaemon(t, d)
	b.wait("the page notices", `document.getElementById('conn').dataset.state === 'reconnecting'`, short)

	// Meanwhile another appstored on the same database changes the app.
	other := runDaemon(t, dir, daemon.Config{DatabaseURL: db, Roles: roles})
	oc := &client.Client{BaseURL: other.URL}
	desc := "Edited while the first daemon was down"
	if _, err := oc.UpdateRepository(ctx, "resume-app", client.UpdateRepositoryRequest{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Refresh(ctx, "resume-app"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		tl, err := oc.Timeline(ctx, "resume-app", client.TimelineOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range tl {
			if s.Status == catalog.IngestReady {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second ingestion did not finish: %+v", tl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopDaemon(t, other)

	d = runDaemon(t, dir, daemon.Config{DatabaseURL: db, Roles: roles, Addr: addr})
	t.Cleanup(func() { stopDaemon(t, d) })
	b.wait("caught up without a reload", `document.getElementById('conn').dataset.state === 'live' &&
		document.querySelectorAll('.timeline li[data-status="ready"]').length === 2 &&
		document.querySelector('.app-head .desc').textContent === `+"'"+desc+"'"+` &&
		window.__sameDocument === true`, time.Minute)
	b.screenshot("after-restart")
}
