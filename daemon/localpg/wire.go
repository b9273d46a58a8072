package localpg

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// This file is a deliberately tiny client of the PostgreSQL frontend/backend
// protocol (version 3): startup with trust authentication over the unix socket
// and the simple query protocol. It exists so that localpg stays stdlib-only and
// does not need psql: the package only has to check readiness, confirm which data
// directory a running server serves, and create or drop databases.

// ServerError is an error reported by the PostgreSQL server.
type ServerError struct {
	Severity string
	Code     string // SQLSTATE, e.g. "42P04"
	Message  string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("postgres: %s: %s (SQLSTATE %s)", e.Severity, e.Message, e.Code)
}

// SQLSTATE codes the package reacts to.
const (
	codeCannotConnectNow  = "57P03" // starting up, shutting down, in recovery
	codeDuplicateDatabase = "42P04"
	codeUniqueViolation   = "23505"
	codeTooManyConns      = "53300"
)

type wireConn struct {
	nc net.Conn
	r  *bufio.Reader
}

// socketPath is the path of the socket file a server listening on port creates
// in socketDir.
func socketPath(socketDir string, port int) string {
	return filepath.Join(socketDir, ".s.PGSQL."+strconv.Itoa(port))
}

// dialWire connects to the server at socketDir/port as user postgres to dbname
// and completes the startup handshake. The context bounds the whole handshake.
func dialWire(ctx context.Context, socketDir string, port int, dbname string) (*wireConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", socketPath(socketDir, port))
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	} else {
		_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	}
	c := &wireConn{nc: nc, r: bufio.NewReader(nc)}
	if err := c.startup(dbname); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *wireConn) startup(dbname string) error {
	var body []byte
	body = binary.BigEndian.AppendUint32(body, 196608) // protocol 3.0
	for _, kv := range [][2]string{{"user", superuser}, {"database", dbname}, {"application_name", "appstore-localpg"}} {
		body = append(body, kv[0]...)
		body = append(body, 0)
		body = append(body, kv[1]...)
		body = append(body, 0)
	}
	body = append(body, 0)
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
	msg = append(msg, body...)
	if _, err := c.nc.Write(msg); err != nil {
		return err
	}
	for {
		typ, payload, err := c.readMessage()
		if err != nil {
			return err
		}
		switch typ {
		case 'R':
			if len(payload) < 4 {
				return errors.New("postgres: short authentication message")
			}
			if method := binary.BigEndian.Uint32(payload); method != 0 {
				return fmt.Errorf("postgres asks for authentication method %d; the embedded cluster is set up with trust authentication on its unix socket (pg_hba.conf was changed?)", method)
			}
		case 'E':
			return parseServerError(payload)
		case 'Z':
			return nil
		}
		// 'S' ParameterStatus, 'K' BackendKeyData, 'N' notices: not needed.
	}
}

// query runs one statement with the simple query protocol and returns the
// rows of its result as text (nil for SQL NULL).
func (c *wireConn) query(sql string) ([][]*string, error) {
	msg := []byte{'Q'}
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(sql)+5))
	msg = append(msg, sql...)
	msg = append(msg, 0)
	if _, err := c.nc.Write(msg); err != nil {
		return nil, err
	}
	var rows [][]*string
	var qerr error
	for {
		typ, payload, err := c.readMessage()
		if err != nil {
			return nil, err
		}
		switch typ {
		case 'D':
			row, err := parseDataRow(payload)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		case 'E':
			qerr = parseServerError(payload)
		case 'Z':
			return rows, qerr
		}
		// 'T' RowDescription, 'C' CommandComplete, 'I' EmptyQuery, 'N' notices.
	}
}

func (c *wireConn) close() {
	_, _ = c.nc.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
	_ = c.nc.Close()
}

func (c *wireConn) readMessage() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 64<<20 {
		return 0, nil, fmt.Errorf("postgres: bad message length %d", n)
	}
	payload := make([]byte, n-4)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

func parseDataRow(p []byte) ([]*string, error) {
	if len(p) < 2 {
		return nil, errors.New("postgres: short data row")
	}
	ncol := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	row := make([]*string, ncol)
	for i := range ncol {
		if len(p) < 4 {
			return nil, errors.New("postgres: short data row")
		}
		l := int32(binary.BigEndian.Uint32(p))
		p = p[4:]
		if l < 0 {
			continue
		}
		if int(l) > len(p) {
			return nil, errors.New("postgres: short data row")
		}
		s := string(p[:l])
		row[i] = &s
		p = p[l:]
	}
	return row, nil
}

func parseServerError(p []byte) error {
	e := &ServerError{}
	for len(p) > 0 && p[0] != 0 {
		field := p[0]
		p = p[1:]
		end := strings.IndexByte(string(p), 0)
		if end < 0 {
			break
		}
		val := string(p[:end])
		p = p[end+1:]
		switch field {
		case 'V':
			e.Severity = val
		case 'S':
			if e.Severity == "" {
				e.Severity = val
			}
		case 'C':
			e.Code = val
		case 'M':
			e.Message = val
		}
	}
	return e
}

// isCode reports whether err is a ServerError with the given SQLSTATE.
func isCode(err error, code string) bool {
	var se *ServerError
	return errors.As(err, &se) && se.Code == code
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes a PostgreSQL string literal (standard_conforming_strings
// is on, so only single quotes need doubling).
func quoteLiteral(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
