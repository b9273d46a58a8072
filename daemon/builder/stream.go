package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// engineMessage is one JSON message of the engine's build output. The
// legacy builder sends "stream" text (not always whole lines: "Step 1/4 :
// FROM scratch" and its newline come in two messages), "aux" with the
// image id, "status" while pulling, and "error"/"errorDetail" when the
// build fails.
type engineMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	ID          string `json:"id"`
	Progress    string `json:"progress"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// maxLineBytes bounds one log line: a program that prints megabytes
// without a newline is cut into lines of this size.
const maxLineBytes = 16 << 10

// tailLines is how many lines of the failing step's output an error
// message carries.
const tailLines = 12

var (
	stepRE    = regexp.MustCompile(`^Step (\d+)/(\d+) : (.*)$`)
	nonZeroRE = regexp.MustCompile(`returned a non-zero code: (\d+)`)
)

// outputParser turns the engine's messages into log lines, and remembers
// what the end of the build needs: the image id, the error, the step that
// was running and the last lines of its output.
type outputParser struct {
	emit func(line string) // receives each complete line
	// addedSteps is how many instructions the worker appended to the
	// Dockerfile (its LABEL): steps are numbered as in the user's
	// Dockerfile, and the added ones are named for what they are.
	addedSteps int

	partial  []byte // text of the current line not yet ended by a newline
	imageID  string
	errMsg   string
	step     string   // "Step 3/5 : RUN /fail"
	stepTail []string // the last tailLines output lines of step
}

// parse reads messages from r until it ends or fails. A build failure
// reported by the engine is not an error of parse: see failure.
func (p *outputParser) parse(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m engineMessage
		if err := dec.Decode(&m); err != nil {
			p.flush()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read the engine's build output: %w", err)
		}
		p.handle(&m)
	}
}

func (p *outputParser) handle(m *engineMessage) {
	switch {
	case m.ErrorDetail != nil || m.Error != "":
		msg := m.Error
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			msg = m.ErrorDetail.Message
		}
		p.flush()
		p.errMsg = strings.TrimSpace(msg)
	case len(m.Aux) > 0:
		var aux struct{ ID string }
		if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
			p.imageID = aux.ID
		}
	case m.Stream != "":
		p.write(m.Stream)
	case m.Status != "":
		// Pull progress: one line per status change, not per byte.
		line := m.Status
		if m.ID != "" {
			line = m.ID + ": " + line
		}
		p.write(line + "\n")
	}
}

// write appends text, emitting every line it completes.
func (p *outputParser) write(text string) {
	for text != "" {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			p.partial = append(p.partial, text...)
			if len(p.partial) >= maxLineBytes {
				p.flush()
			}
			return
		}
		p.partial = append(p.partial, text[:i]...)
		text = text[i+1:]
		p.flush()
	}
}

// flush emits the pending partial line, if any.
func (p *outputParser) flush() {
	if len(p.partial) == 0 {
		return
	}
	for len(p.partial) > 0 {
		n := min(len(p.partial), maxLineBytes)
		// Do not split a UTF-8 sequence.
		for n < len(p.partial) && n > 0 && !utf8.RuneStart(p.partial[n]) {
			n--
		}
		p.line(string(p.partial[:n]))
		p.partial = p.partial[n:]
	}
	p.partial = p.partial[:0]
}

// line handles one complete line.
func (p *outputParser) line(s string) {
	s = cleanLine(s)
	if m := stepRE.FindStringSubmatch(s); m != nil {
		if p.addedSteps > 0 {
			n, _ := strconv.Atoi(m[1])
			total, _ := strconv.Atoi(m[2])
			if total -= p.addedSteps; n > total {
				s = "Labelling the image: " + m[3]
			} else {
				s = fmt.Sprintf("Step %d/%d : %s", n, total, m[3])
			}
		}
		p.step = s
		p.stepTail = p.stepTail[:0]
	} else if !builderChatter(s) {
		if len(p.stepTail) == tailLines {
			copy(p.stepTail, p.stepTail[1:])
			p.stepTail = p.stepTail[:tailLines-1]
		}
		p.stepTail = append(p.stepTail, s)
	}
	p.emit(s)
}

// builderChatter reports lines the legacy builder prints about itself,
// which say nothing about why a step failed.
func builderChatter(s string) bool {
	return strings.HasPrefix(s, " ---> ") || strings.HasPrefix(s, "Removing intermediate container ") ||
		strings.TrimSpace(s) == "--->" || strings.TrimSpace(s) == ""
}

// cleanLine makes a line storable and readable (textutil.CleanLine, the
// sanitiser of launch output too): only the text after the last carriage
// return, no terminal escape sequences (the legacy builder wraps every line
// a step writes to stderr in ESC[91m … ESC[0m, and build tools colour their
// output; a stored log is read in pipes, JSON, terminals and the web view)
// and no control characters (NUL, which PostgreSQL text cannot hold,
// among them); invalid UTF-8 becomes U+FFFD.
func cleanLine(s string) string { return textutil.CleanLine(s) }

// failure describes the engine's build error for people: the step that
// failed, what went wrong in short, and the last lines of the step's
// output. It is "" when the engine reported no error.
func (p *outputParser) failure() string {
	if p.errMsg == "" {
		return ""
	}
	what := p.errMsg
	if m := nonZeroRE.FindStringSubmatch(what); m != nil {
		what = "exit code " + m[1]
	}
	var b strings.Builder
	if p.step != "" {
		b.WriteString(p.step)
		b.WriteString(": ")
	}
	b.WriteString(what)
	if tail := trimBlank(p.stepTail); len(tail) > 0 {
		b.WriteString("\n")
		b.WriteString(strings.Join(tail, "\n"))
	}
	return b.String()
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
