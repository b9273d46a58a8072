package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/client"
)

// TestShowSaysWhoStarred: show names who starred the app, newest star
// first — a line each in a pipe, one list on a terminal — and says
// nothing of stars while there are none.
func TestShowSaysWhoStarred(t *testing.T) {
	d, as := communityDaemon(t)
	if r := as("ann", false, "", "show", "dash"); r.code != 0 || strings.Contains(r.stdout, "starred by") {
		t.Fatalf("show before any star:\n%s", r)
	}
	for _, who := range []string{"ann", "bob"} {
		if r := as(who, false, "", "star", "dash"); r.code != 0 {
			t.Fatalf("%s stars dash:\n%s", who, r)
		}
	}
	r := as("ann", false, "", "show", "dash")
	if r.code != 0 || !regexp.MustCompile(`(?m)^starred by:\tbob\t\S+Z\nstarred by:\tann\t\S+Z$`).MatchString(r.stdout) {
		t.Errorf("show in a pipe:\n%s", r)
	}
	r = as("ann", true, "", "show", "dash")
	if r.stdout = ansiCodes.ReplaceAllString(r.stdout, ""); r.code != 0 || !regexp.MustCompile(`(?m)^starred by: +bob, ann$`).MatchString(r.stdout) {
		t.Errorf("show on a terminal:\n%s", r)
	}

	c := &client.Client{BaseURL: d.URL}
	sg, err := c.Stargazers(context.Background(), "dash", 1)
	if err != nil || sg.StarCount != 2 || len(sg.Users) != 1 || sg.Users[0].User != "bob" {
		t.Errorf("the newest stargazer: %+v, %v", sg, err)
	}
	if _, err := c.Stargazers(context.Background(), "nope", 0); !client.IsNotFound(err) {
		t.Errorf("stargazers of a missing app: %v, want not found", err)
	}
	if _, err := c.Stargazers(context.Background(), "dash", 1001); err == nil || !strings.Contains(err.Error(), "1 to 1000") {
		t.Errorf("a limit over 1000: %v", err)
	}
}
