package reliability

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dockerclient "github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog/store"
)

// ledger is what a test asked of appstored, so that the end state can be
// checked against it: every repository registered, and how many builds and
// launches were asked for each (accepted: the API answered; sent: the
// request left, whether or not an answer came back before a kill).
type ledger struct {
	mu            sync.Mutex
	repos         []string
	buildsSent    map[string]int
	buildsOK      map[string]int
	launchesSent  map[string]int
	launchesOK    map[string]int
	registerTried map[string]bool // slug guessed from the URL, answer lost
}

func newLedger() *ledger {
	return &ledger{buildsSent: map[string]int{}, buildsOK: map[string]int{}, launchesSent: map[string]int{},
		launchesOK: map[string]int{}, registerTried: map[string]bool{}}
}

func (l *ledger) repo(slug string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.repos, slug) {
		l.repos = append(l.repos, slug)
	}
}

func (l *ledger) build(slug string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buildsSent[slug]++
	if ok {
		l.buildsOK[slug]++
	}
}

func (l *ledger) launch(slug string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.launchesSent[slug]++
	if ok {
		l.launchesOK[slug]++
	}
}

// active are the states that a reconciler must end: nothing may stay in
// them once the daemon had its chance.
const activeStates = `
	SELECT 'repository ' || slug || ' ' || ingest_status FROM repositories WHERE ingest_status IN ('queued', 'processing')
	UNION ALL
	SELECT 'build ' || id || ' ' || status FROM builds WHERE status IN ('queued', 'running')
	UNION ALL
	SELECT 'launch ' || id || ' ' || status FROM launches WHERE status IN ('starting', 'stopping')`

// awaitSettled polls the catalog until no repository, build or launch is in
// a transient state, and returns how long that took.
func awaitSettled(t *testing.T, st *store.Store, within time.Duration) time.Duration {
	t.Helper()
	return eventually(t, within, "every repository, build and launch in a final state", func() (bool, string) {
		rows, err := st.Pool().Query(context.Background(), activeStates)
		if err != nil {
			return false, err.Error()
		}
		var left []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return false, err.Error()
			}
			left = append(left, s)
		}
		rows.Close()
		return len(left) == 0 && rows.Err() == nil, strings.Join(left, "; ")
	})
}

// duplicateWatch samples the catalog while a test runs and remembers any
// moment at which two builds of one repository and commit, or two launches
// of one app, were running. There is no handover moment: the launch that
// replaces another goes running in the transaction that moves the older one
// to stopping (store.RunLaunch), so a kill at any point leaves at most one
// running.
type duplicateWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	seen []string
}

func watchDuplicates(st *store.Store) *duplicateWatch {
	w := &duplicateWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			rows, err := st.Pool().Query(context.Background(), `
				SELECT r.slug || '@' || left(b.commit_sha, 12) || ': builds ' || string_agg(b.id::text, ', ')
				FROM builds b JOIN repositories r ON r.id = b.repository_id
				WHERE b.status = 'running' GROUP BY r.slug, b.commit_sha HAVING count(*) > 1
				UNION ALL
				SELECT r.slug || ': launches ' || string_agg(l.id::text, ', ' ORDER BY l.id) || ' running at once'
				FROM launches l JOIN repositories r ON r.id = l.repository_id
				WHERE l.status = 'running' AND NOT l.warm GROUP BY r.slug HAVING count(*) > 1`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var s string
				if rows.Scan(&s) == nil {
					w.mu.Lock()
					if !slices.Contains(w.seen, s) {
						w.seen = append(w.seen, s)
					}
					w.mu.Unlock()
				}
			}
			rows.Close()
		}
	}()
	return w
}

func (w *duplicateWatch) finish() []string {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

// checkFinalState checks a settled catalog against the ledger and the
// engine: every repository ready, every build ended (succeeded, or failed
// for a reason a crash explains), every launch ended or truly running and
// served, one timeline step per attempt and status, one ingestion.ready per
// repository, no more builds or launches than were asked for, and the
// runner's containers exactly the running launches' ones.
func checkFinalState(t *testing.T, st *store.Store, cli *dockerclient.Client, runner, baseURL string, l *ledger) {
	t.Helper()
	ctx := context.Background()
	q := func(sql string, args ...any) [][]any {
		rows, err := st.Pool().Query(ctx, sql, args...)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		defer rows.Close()
		var out [][]any
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}

	// Repositories.
	status := map[string]string{}
	for _, r := range q(`SELECT slug, ingest_status, ingest_error FROM repositories`) {
		status[r[0].(string)] = r[1].(string)
		if r[1] != "ready" {
			t.Errorf("repository %s is %s: %s", r[0], r[1], r[2])
		}
	}
	for _, slug := range l.repos {
		if _, ok := status[slug]; !ok {
			t.Errorf("repository %s was registered (the API said so) and is gone", slug)
		}
	}
	for _, r := range q(`SELECT r.slug, e.attempt, e.status, count(*) FROM ingestion_events e JOIN repositories r ON r.id = e.repository_id
		GROUP BY 1, 2, 3 HAVING count(*) > 1`) {
		t.Errorf("repository %s: %d timeline steps %s for attempt %d", r[0], r[3], r[2], r[1])
	}
	for _, r := range q(`SELECT r.slug, count(e.id) FROM repositories r LEFT JOIN events e ON e.subject = r.slug AND e.type = 'ingestion.ready'
		GROUP BY 1 HAVING count(e.id) <> 1`) {
		t.Errorf("repository %s: %d ingestion.ready events, want 1", r[0], r[1])
	}

	// Builds: one from the ingestion, plus at most one per request.
	for _, r := range q(`SELECT r.slug, count(b.id) FROM repositories r LEFT JOIN builds b ON b.repository_id = r.id GROUP BY 1`) {
		slug, n := r[0].(string), int(r[1].(int64))
		if lo, hi := 1+l.buildsOK[slug], 1+l.buildsSent[slug]; n < lo || n > hi {
			t.Errorf("repository %s has %d builds; %d were accepted and %d asked for besides the ingestion's", slug, n, l.buildsOK[slug], l.buildsSent[slug])
		}
	}
	for _, r := range q(`SELECT b.id, r.slug, b.status, b.error_message, b.attempts FROM builds b JOIN repositories r ON r.id = b.repository_id ORDER BY b.id`) {
		switch {
		case r[2] == "succeeded":
		case r[2] == "failed" && strings.Contains(r[3].(string), "interrupted"):
			t.Logf("build %d of %s failed after %d interruptions (a legitimate end): %s", r[0], r[1], r[4], r[3])
		default:
			t.Errorf("build %d of %s: %s %q after %d attempts", r[0], r[1], r[2], r[3], r[4])
		}
	}
	for _, r := range q(`SELECT e.data->>'build_id', count(*) FROM events e WHERE e.type IN ('build.succeeded', 'build.failed', 'build.cancelled')
		GROUP BY 1 HAVING count(*) > 1`) {
		t.Errorf("build %s ended %d times", r[0], r[1])
	}

	// Launches: ended, or running in a container that runs and serves.
	running := map[string]string{} // container id → slug
	for _, r := range q(`SELECT l.id, r.slug, l.status, l.container_id, l.error_message FROM launches l JOIN repositories r ON r.id = l.repository_id ORDER BY l.id`) {
		switch r[2] {
		case "running":
			running[r[3].(string)] = r[1].(string)
		case "stopped", "expired":
		case "failed":
			t.Logf("launch %d of %s failed: %s", r[0], r[1], r[4])
		default:
			t.Errorf("launch %d of %s is %s", r[0], r[1], r[2])
		}
	}
	// A redeploy (a newer build replacing a running launch) is the
	// runner's own launch, not one asked for.
	for _, r := range q(`SELECT r.slug, count(l.id) FROM repositories r JOIN launches l ON l.repository_id = r.id
		WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.type = 'launch.starting' AND (e.data->>'launch_id')::bigint = l.id
		                  AND e.data ? 'redeploy_of')
		GROUP BY 1`) {
		if n := int(r[1].(int64)); n > l.launchesSent[r[0].(string)] {
			t.Errorf("repository %s has %d launches; %d were asked for", r[0], n, l.launchesSent[r[0].(string)])
		}
	}

	var cids []string
	for _, c := range containers(t, cli, runner) {
		cids = append(cids, c.ID)
		slug, ok := running[c.ID]
		if !ok {
			t.Errorf("container %s (%s, launch %s) belongs to no running launch", c.ID[:12], c.State, c.Labels["appstore.launch"])
			continue
		}
		if c.State != "running" {
			t.Errorf("container %s of the running launch of %s is %s", c.ID[:12], slug, c.State)
			continue
		}
		code, body, err := get(baseURL + "/apps/" + slug + "/")
		if err != nil || code != http.StatusOK || !strings.Contains(body, "hello from "+slug) {
			t.Errorf("the running launch of %s does not serve: %d %q %v", slug, code, body, err)
		}
	}
	for cid, slug := range running {
		if !slices.Contains(cids, cid) {
			t.Errorf("the running launch of %s has no container (%s)", slug, cid)
		}
	}
}

func (l *ledger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d repositories, builds asked %v (accepted %v), launches asked %v (accepted %v)",
		len(l.repos), l.buildsSent, l.buildsOK, l.launchesSent, l.launchesOK)
}
