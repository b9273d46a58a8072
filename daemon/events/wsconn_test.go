package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
)

// TestWebSocketBacklogArrivesWholeAndInOrder commits 300 events in one
// transaction, so that the hub fans them out at once and every writer
// finds a backlog: the daemon then writes several frames per system call
// (some larger than a batch, some larger than the probe's buffer). A
// coder/websocket client and a wsProbe must both read every event, whole
// and in order.
func TestWebSocketBacklogArrivesWholeAndInOrder(t *testing.T) {
	d := startDaemon(t, daemon.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, _, err := dial(t, wsURL(d.URL, "?topics=burst"), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	probe, err := dialProbe(ctx, wsURL(d.URL, "?topics=burst"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return d.Events.Stats().Subscribers == 2 }, "two subscribers")

	const n = 300
	pad := func(i int) string {
		if i%50 == 49 {
			return strings.Repeat("p", 70<<10) // more than a batch and than the probe's buffer
		}
		return strings.Repeat("q", i%7)
	}
	var first int64
	err = d.Store.InTx(ctx, func(tx pgx.Tx) error {
		for i := range n {
			id, err := store.InsertEvent(ctx, tx, store.EventSpec{Type: "burst.tick", Data: map[string]any{"i": i, "pad": pad(i)}})
			if err != nil {
				return err
			}
			if i == 0 {
				first = id
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(i int, data []byte) error {
		var e client.Event
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		var body struct {
			I   int    `json:"i"`
			Pad string `json:"pad"`
		}
		if err := json.Unmarshal(e.Data, &body); err != nil {
			return fmt.Errorf("data of event %d: %w", e.ID, err)
		}
		if e.ID != first+int64(i) || body.I != i || body.Pad != pad(i) {
			return fmt.Errorf("message %d is event %d with i=%d and %d bytes of padding, want event %d", i, e.ID, body.I, len(body.Pad), first+int64(i))
		}
		return nil
	}
	for i := range n {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("coder/websocket: after %d events: %v", i, err)
		}
		if err := check(i, data); err != nil {
			t.Fatalf("coder/websocket: %v", err)
		}
	}
	got := 0
	errs := runProbes([]*wsProbe{probe}, 10*time.Second, func(_ int, msg []byte, _ int64) (bool, error) {
		if err := check(got, msg); err != nil {
			return false, err
		}
		got++
		return got == n, nil
	})
	if errs[0] != nil {
		t.Fatalf("probe: after %d events: %v", got, errs[0])
	}
	// The probe closed normally; the daemon lets the subscription go.
	waitFor(t, func() bool { return d.Events.Stats().Subscribers == 1 }, "the probe's subscription to end")
	_ = conn.Close(websocket.StatusNormalClosure, "")
}
