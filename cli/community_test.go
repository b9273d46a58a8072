package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
)

// communityDaemon starts appstored (api role) with the daemon token admin
// and the members ann and bob, and registers the app dash. It returns the
// daemon and a way to run the CLI as each of them.
func communityDaemon(t *testing.T) (*daemon.Daemon, func(who string, tty bool, stdin string, args ...string) result) {
	t.Helper()
	const adminToken = "admin-token-0123456789abcdef"
	d := daemontest.Start(t, daemon.Config{Roles: []string{daemon.RoleAPI}, Token: adminToken})
	ctx := context.Background()
	tokens := map[string]string{"admin": adminToken}
	for _, name := range []string{"ann", "bob"} {
		token, hash := catalog.NewUserToken()
		if _, err := d.Store.CreateUser(ctx, store.NewUser{Name: name, Role: catalog.RoleMember, TokenHash: hash}); err != nil {
			t.Fatal(err)
		}
		tokens[name] = token
	}
	u, _ := giturl.Parse("https://git.example.com/acme/dash.git")
	if _, err := d.Store.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: "dash", Owner: "acme"}); err != nil {
		t.Fatal(err)
	}
	return d, func(who string, tty bool, stdin string, args ...string) result {
		t.Helper()
		return invocation{env: map[string]string{EnvURL: d.URL, EnvToken: tokens[who]}, tty: tty, stdin: stdin}.run(t, args...)
	}
}

func TestStarsThroughTheCLI(t *testing.T) {
	d, as := communityDaemon(t)
	if r := as("ann", false, "", "star", "dash"); r.code != 0 || r.stdout != "dash\ttrue\t1\n" {
		t.Fatalf("ann stars dash:\n%s", r)
	}
	if r := as("bob", true, "", "star", "dash"); r.code != 0 || !strings.Contains(r.stdout, "Starred dash (2 stars)") {
		t.Fatalf("bob stars dash on a terminal:\n%s", r)
	}
	if r := as("bob", false, "", "unstar", "dash", "--json"); r.code != 0 || decodeJSON[[]client.StarState](t, r.stdout)[0] != (client.StarState{Repository: "dash", StarCount: 1}) {
		t.Fatalf("bob unstars dash:\n%s", r)
	}
	if r := as("ann", false, "", "list", "--starred", "-q"); r.code != 0 || r.stdout != "dash\n" {
		t.Fatalf("ann's starred:\n%s", r)
	}
	if r := as("bob", false, "", "list", "--starred", "-q"); r.code != 0 || r.stdout != "" {
		t.Fatalf("bob's starred:\n%s", r)
	}
	if r := as("ann", true, "", "list", "--starred"); r.code != 0 || !strings.Contains(r.stdout, "STARS") || !strings.Contains(r.stdout, "dash") {
		t.Fatalf("ann's starred on a terminal:\n%s", r)
	}
	if r := as("ann", false, "", "search", "is:starred", "-q"); r.code != 0 || r.stdout != "dash\n" {
		t.Fatalf("ann's is:starred:\n%s", r)
	}
	if r := as("ann", false, "", "show", "dash", "--json"); r.code != 0 || decodeJSON[client.Repository](t, r.stdout).StarCount != 1 {
		t.Fatalf("show dash:\n%s", r)
	}
	if r := as("ann", false, "", "star", "nope"); r.code != ExitNotFound {
		t.Fatalf("star a missing app:\n%s", r)
	}
	evs, err := d.Store.Events(context.Background(), store.EventFilter{Subject: "dash", Topics: []string{"repository"}})
	if err != nil {
		t.Fatal(err)
	}
	var starred []string
	for _, e := range evs {
		if e.Type == store.EventRepositoryStarred {
			starred = append(starred, e.Actor)
		}
	}
	if strings.Join(starred, ",") != "ann,bob,bob" {
		t.Fatalf("repository.starred events by %v, want ann, bob, bob", starred)
	}
}

func TestCommentsThroughTheCLI(t *testing.T) {
	_, as := communityDaemon(t)
	r := as("ann", false, "", "comment", "dash", "Works", "well")
	if r.code != 0 {
		t.Fatalf("ann comments:\n%s", r)
	}
	annID := strings.TrimSpace(r.stdout)
	if r = as("bob", false, "first line\n\x1b[31msecond\x1b[0m line\n", "comment", "dash", "-"); r.code != 0 {
		t.Fatalf("bob comments from stdin:\n%s", r)
	}
	bobID := strings.TrimSpace(r.stdout)
	if r := as("bob", false, "", "comment", "dash", strings.Repeat("x", catalog.MaxCommentLen+1)); r.code != ExitUsage || !strings.Contains(r.stderr, "at most 2000") {
		t.Fatalf("a comment too long:\n%s", r)
	}

	r = as("ann", false, "", "comments", "dash")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], annID+"\tann\t") || !strings.HasSuffix(lines[0], "\tWorks well") ||
		!strings.HasSuffix(lines[1], "\tfirst line\\nsecond line") {
		t.Fatalf("comments in a pipe (oldest first, escapes gone):\n%s", r)
	}
	r = as("ann", true, "", "comments", "dash")
	if r.code != 0 || !strings.Contains(r.stdout, "#"+bobID) || !strings.Contains(r.stdout, "\n  second line\n") || strings.Contains(r.stdout, "\x1b[31m") {
		t.Fatalf("comments on a terminal:\n%s", r)
	}

	// Only the author or an admin removes a comment.
	if r := as("bob", false, "", "comment", "rm", annID); r.code == 0 || !strings.Contains(r.stderr, "only its author or an admin") {
		t.Fatalf("bob removes ann's comment:\n%s", r)
	}
	if r := as("admin", false, "", "comment", "rm", annID); r.code != 0 {
		t.Fatalf("the admin removes ann's comment:\n%s", r)
	}
	if r := as("bob", false, "", "comment", "rm", bobID); r.code != 0 {
		t.Fatalf("bob removes his comment:\n%s", r)
	}
	if r := as("bob", false, "", "comment", "rm", bobID); r.code != ExitNotFound {
		t.Fatalf("removing it again:\n%s", r)
	}
	if r := as("ann", false, "", "comments", "dash", "--json"); r.code != 0 || r.stdout != "[]\n" {
		t.Fatalf("comments after removal:\n%s", r)
	}
	if r := as("ann", false, "", "comment", "rm", "x1"); r.code != ExitUsage {
		t.Fatalf("a bad id:\n%s", r)
	}
}

func TestStatsThroughTheCLI(t *testing.T) {
	d, as := communityDaemon(t)
	now := time.Now()
	if err := d.Store.RecordUsage(context.Background(), []store.UsageCount{
		{Slug: "dash", Day: now, Launches: 2, PreviewRequests: 40, Visitors: [][]byte{{1}, {2}}, Minutes: []int{1, 2, 3}},
		{Slug: "dash", Day: now.AddDate(0, 0, -2), PreviewRequests: 10, Visitors: [][]byte{{1}}, Minutes: []int{5}},
	}); err != nil {
		t.Fatal(err)
	}
	r := as("ann", false, "", "stats", "dash", "--days", "3")
	today := catalog.UsageDayOf(now)
	want := today.AddDate(0, 0, -2).Format(time.DateOnly) + "\t0\t10\t1\t1\n" +
		today.AddDate(0, 0, -1).Format(time.DateOnly) + "\t0\t0\t0\t0\n" +
		today.Format(time.DateOnly) + "\t2\t40\t2\t3\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("stats in a pipe:\n%s\nwant:\n%s", r, want)
	}
	r = as("ann", true, "", "stats", "dash", "--days", "3")
	if r.code != 0 || !strings.Contains(r.stdout, "visitors") || !strings.Contains(r.stdout, "▄·█") || !strings.Contains(r.stdout, "2 launches of all time") {
		t.Fatalf("stats on a terminal (a sparkline per figure):\n%s", r)
	}
	r = as("ann", false, "", "stats", "dash", "--json")
	st := decodeJSON[client.UsageStats](t, r.stdout)
	if len(st.Days) != catalog.DefaultStatsDays || st.Total.PreviewRequests != 50 || st.Total.Visitors != 3 {
		t.Fatalf("stats --json: %+v", st)
	}
	if r := as("ann", false, "", "stats", "dash", "--days", strconv.Itoa(catalog.MaxStatsDays+1)); r.code != ExitUsage {
		t.Fatalf("too many days:\n%s", r)
	}
	if r := as("ann", false, "", "stats", "nope"); r.code != ExitNotFound {
		t.Fatalf("stats of a missing app:\n%s", r)
	}
}

func TestSparkline(t *testing.T) {
	for _, c := range []struct {
		in   []int64
		want string
	}{
		{[]int64{0, 0}, "··"},
		{[]int64{1, 8, 4, 0}, "▁█▄·"},
		{[]int64{100, 1}, "█▁"},
	} {
		if got := sparkline(c.in); got != c.want {
			t.Errorf("sparkline(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
