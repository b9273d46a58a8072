package builder

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/internal/textutil"
	bkclient "github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

// plainProgress turns BuildKit's progress into the lines `docker buildx
// build --progress=plain` prints:
//
//	#5 [2/4] RUN make
//	#5 0.231 compiling
//	#5 DONE 0.4s
//
//	#3 [1/4] COPY go.mod .
//	#3 CACHED
//
// A step's output keeps the order in which it was written, standard
// output and error interleaved; terminal escapes are dropped. It also
// remembers the step that failed and its last lines of output.
type plainProgress struct {
	emit func(string)

	vertexes map[digest.Digest]*vertexState
	next     int
	last     *vertexState // the vertex whose lines were printed last
	failed   *vertexState
	failedAt digest.Digest
}

type vertexState struct {
	index     int
	name      string
	started   time.Time
	announced bool
	done      bool
	partial   map[int][]byte // per stream: text not yet ended by a newline
	tail      []string
	errMsg    string
}

func newPlainProgress(emit func(string)) *plainProgress {
	return &plainProgress{emit: emit, vertexes: map[digest.Digest]*vertexState{}}
}

func (p *plainProgress) vertex(d digest.Digest) *vertexState {
	v, ok := p.vertexes[d]
	if !ok {
		v = &vertexState{partial: map[int][]byte{}}
		p.vertexes[d] = v
	}
	return v
}

// announce prints a vertex's header line, once, with a blank line
// between vertexes as buildx does.
func (p *plainProgress) announce(v *vertexState) {
	if v.announced {
		if p.last != v {
			p.emit(fmt.Sprintf("#%d ...", v.index))
			p.last = v
		}
		return
	}
	p.next++
	v.index = p.next
	v.announced = true
	if p.last != nil {
		p.emit("")
	}
	p.emit(fmt.Sprintf("#%d %s", v.index, cleanLine(v.name)))
	p.last = v
}

// update handles one status message: new vertexes, their output (in the
// order it was written), transfers that ended, and vertexes that ended.
func (p *plainProgress) update(s *bkclient.SolveStatus) {
	for _, vx := range s.Vertexes {
		v := p.vertex(vx.Digest)
		if vx.Name != "" {
			v.name = vx.Name
		}
		if vx.Started != nil && v.started.IsZero() {
			v.started = *vx.Started
		}
		if (vx.Started != nil || vx.Cached) && !v.announced {
			p.announce(v)
		}
	}
	logs := slices.Clone(s.Logs)
	slices.SortStableFunc(logs, func(a, b *bkclient.VertexLog) int { return a.Timestamp.Compare(b.Timestamp) })
	for _, l := range logs {
		v := p.vertex(l.Vertex)
		p.write(v, l.Stream, l.Data, l.Timestamp)
	}
	for _, st := range s.Statuses {
		if st.Completed == nil {
			continue
		}
		v := p.vertex(st.Vertex)
		if v.done {
			continue // the engine reports some transfers after their step
		}
		p.announce(v)
		line := fmt.Sprintf("#%d %s", v.index, st.ID)
		if st.Current > 0 {
			line += " " + humanBytes(st.Current)
		}
		p.emit(line + " done")
	}
	for _, w := range s.Warnings {
		v := p.vertex(w.Vertex)
		p.announce(v)
		p.emit(fmt.Sprintf("#%d WARN: %s", v.index, cleanLine(string(w.Short))))
	}
	for _, vx := range s.Vertexes {
		if vx.Completed == nil {
			continue
		}
		v := p.vertex(vx.Digest)
		if v.done {
			continue
		}
		p.announce(v)
		p.flushVertex(v, time.Time{})
		v.done = true
		switch {
		case vx.Error != "":
			if strings.HasSuffix(vx.Error, "context canceled") {
				p.emit(fmt.Sprintf("#%d CANCELED", v.index))
			} else {
				v.errMsg = vx.Error
				p.emit(fmt.Sprintf("#%d ERROR: %s", v.index, cleanLine(textutil.FirstLine(vx.Error))))
				if p.failed == nil {
					p.failed, p.failedAt = v, vx.Digest
				}
			}
		case vx.Cached:
			p.emit(fmt.Sprintf("#%d CACHED", v.index))
		default:
			d := ""
			if vx.Started != nil {
				d = fmt.Sprintf(" %.1fs", vx.Completed.Sub(*vx.Started).Seconds())
			}
			p.emit(fmt.Sprintf("#%d DONE%s", v.index, d))
		}
	}
}

// write adds a chunk of a vertex's output, emitting the lines it ends.
func (p *plainProgress) write(v *vertexState, stream int, data []byte, at time.Time) {
	p.announce(v)
	// A chunk of the other stream ends this stream's pending line, so
	// that the two keep their order.
	for s := range v.partial {
		if s != stream && len(v.partial[s]) > 0 {
			p.line(v, string(v.partial[s]), at)
			v.partial[s] = v.partial[s][:0]
		}
	}
	buf := append(v.partial[stream], data...)
	for {
		i := strings.IndexByte(string(buf), '\n')
		if i < 0 {
			break
		}
		p.line(v, string(buf[:i]), at)
		buf = buf[i+1:]
	}
	for len(buf) >= maxLineBytes {
		p.line(v, string(buf[:maxLineBytes]), at)
		buf = buf[maxLineBytes:]
	}
	v.partial[stream] = append([]byte(nil), buf...)
}

func (p *plainProgress) flushVertex(v *vertexState, at time.Time) {
	for s, b := range v.partial {
		if len(b) > 0 {
			p.line(v, string(b), at)
			v.partial[s] = nil
		}
	}
}

// flush ends every pending line (the build is over).
func (p *plainProgress) flush() {
	for _, v := range p.vertexes {
		p.flushVertex(v, time.Time{})
	}
}

func (p *plainProgress) line(v *vertexState, s string, at time.Time) {
	s = cleanLine(s)
	if len(v.tail) == tailLines {
		copy(v.tail, v.tail[1:])
		v.tail = v.tail[:tailLines-1]
	}
	v.tail = append(v.tail, s)
	ts := ""
	if !v.started.IsZero() && !at.IsZero() {
		ts = fmt.Sprintf(" %.3f", max(at.Sub(v.started).Seconds(), 0))
	}
	p.emit(fmt.Sprintf("#%d%s %s", v.index, ts, s))
}

var exitCodeRE = regexp.MustCompile(`exit code: (\d+)`)

// failure describes the step that failed: its name, where (" (Dockerfile
// line 4)", or ""), what went wrong in short, and its last lines of
// output; "" when no step failed.
func (p *plainProgress) failure(where string) string {
	v := p.failed
	if v == nil {
		return ""
	}
	what := textutil.FirstLine(v.errMsg)
	if m := exitCodeRE.FindStringSubmatch(what); m != nil {
		what = "exit code " + m[1]
	}
	var b strings.Builder
	b.WriteString(cleanLine(v.name))
	b.WriteString(where)
	b.WriteString(": ")
	b.WriteString(what)
	if tail := trimBlank(v.tail); len(tail) > 0 {
		b.WriteString("\n")
		b.WriteString(strings.Join(tail, "\n"))
	}
	return b.String()
}

// humanBytes prints a transfer size as buildx does: 2.31kB.
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2fkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}
