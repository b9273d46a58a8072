package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// DefaultBodyTimeout is how long a request body may take to arrive.
const DefaultBodyTimeout = 30 * time.Second

// withBodyDeadline bounds the time a request's body may take to arrive.
// The server's ReadTimeout cannot do it: it would also cut the streams
// (build logs, events) that run far longer than any body takes. Here the
// read deadline is set only while a body is pending and lifted once it
// has been read, so a handler that runs long afterwards is not cut off.
// It wraps the guard too: a refused request's body is drained by the
// server before it answers, and that must not wait forever either.
func withBodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: timeout}
		}
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = respond.Errorf(http.StatusRequestTimeout, apitype.CodeInvalid,
			"the request body did not arrive within %v: send it at once", b.timeout)
	}
	return n, err
}
