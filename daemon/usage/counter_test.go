package usage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

type fakeStore struct {
	mu      sync.Mutex
	batches [][]store.UsageCount
	fail    error
	keys    int
}

func (f *fakeStore) RecordUsage(_ context.Context, c []store.UsageCount) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.batches = append(f.batches, c)
	return nil
}

func (f *fakeStore) UsageKeys(_ context.Context, days ...time.Time) (map[time.Time][]byte, error) {
	f.keys++
	out := map[time.Time][]byte{}
	for _, d := range days {
		out[catalog.UsageDayOf(d)] = []byte(d.Format(time.DateOnly) + "-key")
	}
	return out, nil
}

func TestCounterCountsVisitorsByAddressAndAgentAndKeepsNoAddress(t *testing.T) {
	st := &fakeStore{}
	now := time.Date(2026, 3, 10, 10, 30, 0, 0, time.UTC)
	c := &Counter{Store: st, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }, TrustForwarded: true}
	send := func(slug, remote, ua, xff string) {
		r := httptest.NewRequest("GET", "http://"+slug+".localhost/", nil)
		r.RemoteAddr = remote
		r.Header.Set("User-Agent", ua)
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		c.Preview(slug, r)
	}
	send("dash", "10.0.0.1:5000", "a", "") // before the keys: a request, no visitor
	if err := c.LoadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	send("dash", "10.0.0.1:5001", "a", "")
	send("dash", "10.0.0.1:5002", "a", "")                       // same client, another port
	send("dash", "10.0.0.1:5003", "b", "")                       // another browser
	send("dash", "127.0.0.1:6000", "a", "203.0.113.9, 10.0.0.1") // a proxy on loopback: the last entry, 10.0.0.1
	now = now.Add(time.Minute)
	send("dash", "[2001:db8::1]:7000", "a", "")
	send("chat", "10.0.0.1:5004", "a", "")
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.UsageCount{}
	for _, uc := range st.batches[0] {
		got[uc.Slug] = uc
	}
	d := got["dash"]
	if d.PreviewRequests != 6 || len(d.Visitors) != 3 || len(d.Minutes) != 2 || !d.Day.Equal(catalog.UsageDayOf(now)) {
		t.Fatalf("dash = %d requests, %d visitors, minutes %v, day %s; want 6, 3 (10.0.0.1 a, 10.0.0.1 b, 2001:db8::1 a), 2", d.PreviewRequests, len(d.Visitors), d.Minutes, d.Day)
	}
	if ch := got["chat"]; ch.PreviewRequests != 1 || len(ch.Visitors) != 1 {
		t.Fatalf("chat = %+v", ch)
	}
	for _, uc := range st.batches[0] {
		for _, v := range uc.Visitors {
			if len(v) != visitorLen || bytes.Contains(v, []byte("10.0.0.1")) {
				t.Fatalf("a visitor is %x: want a %d-byte hash", v, visitorLen)
			}
		}
	}
	if err := c.Flush(context.Background()); err != nil || len(st.batches) != 1 {
		t.Fatalf("an empty flush wrote %d batches, %v", len(st.batches), err)
	}
}

func TestCounterKeepsCountsWhenAWriteFails(t *testing.T) {
	st := &fakeStore{fail: errors.New("database down")}
	c := &Counter{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := c.LoadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	c.Preview("dash", r)
	c.Preview("dash", r)
	if err := c.Flush(context.Background()); err == nil {
		t.Fatal("a failed write reported success")
	}
	c.Preview("dash", r)
	st.fail = nil
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if uc := st.batches[0][0]; uc.PreviewRequests != 3 || len(uc.Visitors) != 1 {
		t.Fatalf("after a failed write and a good one: %+v, want 3 requests and 1 visitor", uc)
	}
}

func TestCounterRunWritesOnItsIntervalAndAtTheEnd(t *testing.T) {
	st := &fakeStore{}
	c := &Counter{Store: st, Logger: slog.New(slog.DiscardHandler), FlushInterval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	c.Preview("dash", httptest.NewRequest("GET", "/", nil))
	deadline := time.Now().Add(30 * time.Second)
	for {
		st.mu.Lock()
		n := len(st.batches)
		st.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no write within 30 s of a 20 ms interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Preview("dash", httptest.NewRequest("GET", "/", nil))
	cancel()
	<-done
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.batches) != 2 || st.keys == 0 {
		t.Fatalf("%d writes, %d key reads: want the interval's and the last one, and the keys read", len(st.batches), st.keys)
	}
}
