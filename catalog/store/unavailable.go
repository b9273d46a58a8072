package store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err means that PostgreSQL could not be
// reached or went away (stopped, restarting, the connection cut), as
// opposed to an error of the statement itself. The API answers such
// errors with 503 rather than 500: nothing is wrong with the request, and
// the pool reconnects by itself once the server is back.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down, crashed, or not yet accepting connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	if errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ENOENT) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// WhileUnavailable runs op again while it fails because PostgreSQL is away
// (IsUnavailable), every 250 ms at first and every 2 s at most, until ctx
// ends; it returns op's last error. Workers use it to record an outcome
// they computed while the server restarted, once it is back, rather than
// dropping the work and doing it again after its lease ran out.
func WhileUnavailable(ctx context.Context, op func() error) error {
	wait := 250 * time.Millisecond
	for {
		err := op()
		if err == nil || !IsUnavailable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
