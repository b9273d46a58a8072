package daemon_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/ingest/webhook"
)

// TestWebhookReplaysAreIgnored sends deliveries to two API processes on one
// database: a verified push re-ingests once; the same delivery again — to
// the other process, under another delivery id, or a new body under a used
// id — is answered "ignored" and re-ingests nothing; GitLab's and Gitea's
// delivery ids count as GitHub's does.
func TestWebhookReplaysAreIgnored(t *testing.T) {
	st, db := storetest.NewWithURL(t)
	cfg := daemon.Config{DatabaseURL: db, Roles: []string{daemon.RoleAPI}, WebhookSecret: webhookSecret}
	one, two := daemontest.Start(t, cfg), daemontest.Start(t, cfg)
	ctx := context.Background()
	c := &client.Client{BaseURL: one.URL}
	const url = "https://github.com/acme/dash.git"
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: url}); err != nil {
		t.Fatal(err)
	}
	// No worker runs: mark it ingested, so that a re-ingestion shows as
	// "queued" again.
	settle := func() {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'ready'`); err != nil {
			t.Fatal(err)
		}
	}
	requeued := func() bool {
		t.Helper()
		r, err := c.Repository(ctx, "dash")
		if err != nil {
			t.Fatal(err)
		}
		return r.IngestStatus == catalog.IngestQueued
	}
	deliver := func(base string, h http.Header, body string) (int, client.WebhookResult, bool) {
		t.Helper()
		settle()
		status, res := postWebhook(t, base, h, body)
		return status, res, requeued()
	}
	withID := func(h http.Header, name, id string) http.Header { h.Set(name, id); return h }

	first := pushPayload(url, "main", strings.Repeat("a", 40))
	if status, res, again := deliver(one.URL, withID(githubHeaders(first, webhookSecret), "X-GitHub-Delivery", "d-1"), first); status != http.StatusAccepted || !again {
		t.Fatalf("first delivery: %d %+v, re-ingested %v", status, res, again)
	}
	for _, tc := range []struct {
		name, base, id, body, mention string
	}{
		{"the same delivery to the other process", two.URL, "d-1", first, "delivery d-1 was already received"},
		{"the same body under a new delivery id", two.URL, "d-forged", first, "already received"},
		{"the same body without a delivery id", one.URL, "", first, "already received"},
		{"a used delivery id on another body", one.URL, "d-1", pushPayload(url, "main", strings.Repeat("b", 40)), "delivery d-1 was already received"},
	} {
		h := githubHeaders(tc.body, webhookSecret)
		if tc.id != "" {
			h.Set("X-GitHub-Delivery", tc.id)
		}
		status, res, again := deliver(tc.base, h, tc.body)
		if status != http.StatusOK || res.Status != "ignored" || !strings.Contains(res.Reason, tc.mention) || again {
			t.Errorf("%s: %d %+v, re-ingested %v; want 200 ignored mentioning %q", tc.name, status, res, again, tc.mention)
		}
	}
	// A new push is new.
	next := pushPayload(url, "main", strings.Repeat("c", 40))
	if status, res, again := deliver(two.URL, withID(githubHeaders(next, webhookSecret), "X-GitHub-Delivery", "d-2"), next); status != http.StatusAccepted || !again {
		t.Errorf("a new push: %d %+v, re-ingested %v", status, res, again)
	}

	// GitLab (Idempotency-Key) and Gitea (X-Gitea-Delivery).
	gl := strings.Replace(pushPayload(url, "main", strings.Repeat("d", 40)), `{"ref"`, `{"object_kind":"push","ref"`, 1)
	glHeaders := func() http.Header {
		return http.Header{"X-Gitlab-Event": {"Push Hook"}, "X-Gitlab-Token": {webhookSecret}, "Idempotency-Key": {"gl-1"}}
	}
	if status, res, again := deliver(one.URL, glHeaders(), gl); status != http.StatusAccepted || !again {
		t.Errorf("gitlab push: %d %+v, re-ingested %v", status, res, again)
	}
	if status, res, again := deliver(two.URL, glHeaders(), gl); res.Status != "ignored" || again {
		t.Errorf("gitlab retry: %d %+v, re-ingested %v", status, res, again)
	}
	gt := pushPayload(url, "main", strings.Repeat("e", 40))
	gtHeaders := func() http.Header {
		return http.Header{"X-Gitea-Event": {"push"}, "X-Gitea-Delivery": {"gt-1"}, "X-Gitea-Signature": {webhook.SignHex([]byte(gt), webhookSecret)}}
	}
	if status, res, again := deliver(one.URL, gtHeaders(), gt); status != http.StatusAccepted || !again {
		t.Errorf("gitea push: %d %+v, re-ingested %v", status, res, again)
	}
	if status, res, again := deliver(one.URL, gtHeaders(), gt); res.Status != "ignored" || again {
		t.Errorf("gitea retry: %d %+v, re-ingested %v", status, res, again)
	}
}
