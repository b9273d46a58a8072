package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
)

// maxStreamLine bounds one line of a JSON-lines stream.
const maxStreamLine = 4 << 20

// streamJSONLines GETs path and yields one T per line of the answer
// (newline-delimited JSON, as followed build logs are sent) until the
// answer ends, ctx is done, or the consumer stops. Blank lines are
// keep-alives and skipped. The response body is closed in every case.
func streamJSONLines[T any](ctx context.Context, c *Client, path string, query url.Values) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		req, err := c.NewRequest(ctx, http.MethodGet, path, query, nil)
		if err != nil {
			yield(zero, err)
			return
		}
		req.Header.Set("Accept", "application/x-ndjson")
		resp, err := c.Do(req)
		if err != nil {
			yield(zero, err)
			return
		}
		defer resp.Body.Close()
		for v, err := range decodeJSONLines[T](resp.Body) {
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					err = fmt.Errorf("GET %s: %w", path, ctxErr)
				} else {
					err = fmt.Errorf("GET %s: %w", path, err)
				}
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// decodeJSONLines yields one T per non-blank line of r and stops after the
// first error.
func decodeJSONLines[T any](r io.Reader) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), maxStreamLine)
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var v T
			if err := json.Unmarshal(line, &v); err != nil {
				var zero T
				yield(zero, fmt.Errorf("decode stream line: %w", err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			var zero T
			yield(zero, fmt.Errorf("read stream: %w", err))
		}
	}
}
