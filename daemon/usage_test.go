package daemon_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// previewFrom sends a GET for the app slug's preview host from the
// loopback address src (127.0.0.0/8 is all this host's), with user agent ua.
func previewFrom(t *testing.T, base, slug, src, ua string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, u.Host)
		},
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "http://"+slug+".localhost:"+u.Port()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", ua)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("preview of %s from %s: %s", slug, src, resp.Status)
	}
}

// TestUsageIsCountedAndNoClientAddressIsStored launches an app, visits it
// from two loopback addresses, and checks the day's counts; then it reads
// every column of every table of the catalog and finds neither address
// (as text, or as the bytes of an inet or a hash input) nor the user
// agents.
func TestUsageIsCountedAndNoClientAddressIsStored(t *testing.T) {
	docker := runnertest.Docker(t)
	dataDir := t.TempDir()
	d := daemontest.Start(t, daemon.Config{DataDir: dataDir, UsageFlushInterval: 100 * time.Millisecond, StartupTimeout: 20 * time.Second})
	runnerID, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnertest.CleanupContainers(t, docker, strings.TrimSpace(string(runnerID)))
	tag, id := runnertest.Image(t, docker, runnertest.ImageOptions{Args: []string{"-name", "visits", "-page", "visits"}})
	runnertest.App(t, d.Store, "visits", tag, id, 0)
	c := &client.Client{BaseURL: d.URL}
	l := launchRunning(t, c, "visits")
	t.Cleanup(func() { _, _ = c.StopLaunch(context.Background(), l.ID) })

	const (
		addrA, addrB = "127.0.0.77", "127.0.0.78"
		uaA, uaB     = "privacy-probe-a/1.0", "privacy-probe-b/1.0"
	)
	for range 3 {
		previewFrom(t, d.URL, "visits", addrA, uaA)
	}
	previewFrom(t, d.URL, "visits", addrB, uaB)
	previewFrom(t, d.URL, "visits", addrA, uaB) // same address, another browser: another visitor

	var today client.UsageDay
	waitFor(t, "the day's counts", 15*time.Second, func() (bool, string) {
		st, err := c.Stats(context.Background(), "visits", client.StatsOptions{Days: 1})
		if err != nil {
			return false, err.Error()
		}
		today = st.Days[0]
		return today.PreviewRequests >= 5 && today.Visitors >= 3, fmt.Sprintf("%+v", today)
	})
	if today.PreviewRequests != 5 || today.Visitors != 3 || today.Launches != 1 || today.ActiveMinutes < 1 || today.ActiveMinutes > 2 {
		t.Fatalf("today = %+v; want 5 requests, 3 visitors, 1 launch, 1 or 2 active minutes", today)
	}

	// Every column of every table, as text (bytea as hex), against each
	// address in its text, hex and 4-byte forms, and the user agents.
	ctx := context.Background()
	needles := []string{addrA, addrB, uaA, uaB}
	for _, a := range []string{addrA, addrB} {
		ip := net.ParseIP(a).To4()
		needles = append(needles, hex.EncodeToString([]byte(a)), hex.EncodeToString(ip))
	}
	rows, err := d.Store.Pool().Query(ctx, `
		SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c
		JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ schema, table, name string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		return c, r.Scan(&c.schema, &c.table, &c.name)
	})
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{}
	for _, col := range cols {
		tables[col.table] = true
		q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE lower(%s::text) LIKE ANY($1)`,
			pgx.Identifier{col.schema, col.table}.Sanitize(), pgx.Identifier{col.name}.Sanitize())
		var pats []string
		for _, n := range needles {
			pats = append(pats, "%"+strings.ToLower(n)+"%")
		}
		var n int
		if err := d.Store.Pool().QueryRow(ctx, q, pats).Scan(&n); err != nil {
			t.Fatalf("%s.%s: %v", col.table, col.name, err)
		}
		if n > 0 {
			t.Errorf("%s.%s holds a client address or user agent in %d rows", col.table, col.name, n)
		}
	}
	for _, want := range []string{"usage_days", "usage_visitors", "usage_keys", "events", "launches"} {
		if !tables[want] {
			t.Errorf("the scan did not cover %s (tables: %v)", want, tables)
		}
	}
}
