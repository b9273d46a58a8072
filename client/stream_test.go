package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type logLine struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

func TestStreamJSONLines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/x-ndjson" {
			t.Errorf("Accept = %q", r.Header.Get("Accept"))
		}
		switch r.URL.Path {
		case "/ok":
			// A blank keep-alive line between values is skipped.
			fmt.Fprint(w, "{\"n\":1,\"text\":\"a\"}\n\n{\"n\":2,\"text\":\"b\"}\n")
		case "/bad":
			fmt.Fprint(w, "{\"n\":1}\nnot json\n{\"n\":3}\n")
		default:
			http.Error(w, `{"error":{"code":"not_found","message":"build 9 not found"}}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	ctx := context.Background()

	var got []string
	for v, err := range streamJSONLines[logLine](ctx, c, "/ok", nil) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d%s", v.N, v.Text))
	}
	if strings.Join(got, ",") != "1a,2b" {
		t.Errorf("got %v", got)
	}

	var n, errs int
	for _, err := range streamJSONLines[logLine](ctx, c, "/bad", nil) {
		if err != nil {
			errs++
			if !strings.Contains(err.Error(), "decode stream line") {
				t.Errorf("error %v", err)
			}
			continue
		}
		n++
	}
	if n != 1 || errs != 1 {
		t.Errorf("bad stream: %d values, %d errors; want 1 and 1 (stop at the first bad line)", n, errs)
	}

	for _, err := range streamJSONLines[logLine](ctx, c, "/missing", nil) {
		if !IsNotFound(err) {
			t.Errorf("missing stream: %v, want not found", err)
		}
	}
}
