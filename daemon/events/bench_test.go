package events_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
)

// Environment of the subscriber process of BenchmarkWebSocketFanOut.
const (
	benchChildURL     = "APPSTORE_BENCH_EVENTS_URL"
	benchChildN       = "APPSTORE_BENCH_EVENTS_SUBSCRIBERS"
	benchChildEvents  = "APPSTORE_BENCH_EVENTS_COUNT"
	benchChildClients = "APPSTORE_BENCH_EVENTS_CLIENTS"
	// benchChildProfile names a file for a CPU profile of the subscriber
	// process (go test's -cpuprofile covers only the daemon's process).
	benchChildProfile = "APPSTORE_BENCH_SUBSCRIBER_CPUPROFILE"
)

const (
	benchSubscribers = 1000
	benchRate        = 100 // events per second
	// benchClients of the subscribers follow the stream with the real
	// client.Events (full decoding, reconnection logic); the others are
	// wsProbes.
	benchClients = 10
)

// BenchmarkWebSocketFanOut measures, with 1000 WebSocket subscribers on
// one appstored and 100 events per second (each committed in its own
// transaction), the latency from the commit of an event to its delivery
// to each subscriber (p50, p99; target p99 ≤ 50 ms), the rate the
// publisher achieved, and the daemon's memory and CPU per subscriber and
// per delivered message. b.N is the number of events.
//
// The subscribers run in a child process, so that the daemon's memory and
// CPU are measured alone, but on the same two cores, where their CPU
// competes with the daemon's. They are measuring instruments: 10 follow
// the stream with client.Events, as `appstore events` does; the rest are
// wsProbes (wsprobe_test.go), real WebSocket clients over TCP that read
// frames without decoding JSON, so that the instruments take as little of
// the machine as they can. A delivery is timed when the subscriber has
// read the whole frame (probe) or when client.Events yields the decoded
// event: the subscriber's own scheduling delay counts against the daemon.
//
// "Commit" is when PublishEvent returned (the commit acknowledged), so
// p50-ms/p99-ms slightly understate (a delivery that beat the
// acknowledgement counts as 0); p99-from-insert-ms counts from before the
// INSERT and so overstates by the transaction's own time.
func BenchmarkWebSocketFanOut(b *testing.B) {
	// 1000 is the target; 100 shows how latency scales with the fan-out.
	for _, n := range []int{100, benchSubscribers} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchmarkFanOut(b, n) })
	}
}

func benchmarkFanOut(b *testing.B, subscribers int) {
	d := startDaemon(b, daemon.Config{})
	ctx := context.Background()
	before := serverMemory()
	baseSubs := d.Events.Stats().Subscribers

	child := exec.Command(os.Args[0], "-test.run=^TestBenchSubscriberProcess$", "-test.bench=^$")
	child.Env = append(os.Environ(),
		benchChildURL+"="+d.URL,
		benchChildN+"="+strconv.Itoa(subscribers),
		benchChildEvents+"="+strconv.Itoa(b.N),
		benchChildClients+"="+strconv.Itoa(min(benchClients, subscribers)))
	child.Stderr = os.Stderr
	toChild, err := child.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	lines := bufio.NewScanner(out)
	lines.Buffer(make([]byte, 0, 1<<20), 64<<20)
	if !lines.Scan() || lines.Text() != "ready" {
		b.Fatalf("subscriber process: %q %v", lines.Text(), lines.Err())
	}
	// The probes are subscribed once their handshake is answered; the
	// client.Events ones connect in the background.
	for deadline := time.Now().Add(time.Minute); d.Events.Stats().Subscribers-baseSubs != subscribers; {
		if time.Now().After(deadline) {
			b.Fatalf("%d subscribers connected after a minute, want %d", d.Events.Stats().Subscribers-baseSubs, subscribers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := serverMemory()

	b.ResetTimer()
	cpuBefore := processCPU()
	busyBefore, haveBusy := machineBusy()
	timed := time.Now()
	committed := make(map[int64]int64, b.N)
	pace := time.NewTimer(0)
	defer pace.Stop()
	start := time.Now()
	var first, last time.Time
	for i := 0; i < b.N; i++ {
		// A fixed schedule rather than a ticker: a publish that runs late
		// is followed at once by the next, so the rate stays 100/s as
		// long as PostgreSQL keeps up (a ticker drops the ticks missed).
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / benchRate)); wait > 0 {
			pace.Reset(wait)
			<-pace.C
		}
		id, err := d.Store.PublishEvent(ctx, store.EventSpec{Type: "bench.tick", Data: map[string]int64{"t": time.Now().UnixNano()}})
		if err != nil {
			b.Fatal(err)
		}
		last = time.Now()
		if i == 0 {
			first = last
		}
		committed[id] = last.UnixNano()
	}
	if _, err := d.Store.PublishEvent(ctx, store.EventSpec{Type: "bench.end"}); err != nil {
		b.Fatal(err)
	}
	// "received" comes once every subscriber got the end: the daemon's
	// CPU time until then is what the deliveries cost it.
	if !lines.Scan() || lines.Text() != "received" {
		b.Fatalf("subscriber process: %q %v", lines.Text(), lines.Err())
	}
	cpu := processCPU() - cpuBefore
	busy, _ := machineBusy()
	busy -= busyBefore
	wall := time.Since(timed)
	b.StopTimer()
	if err := json.NewEncoder(toChild).Encode(committed); err != nil {
		b.Fatal(err)
	}
	if !lines.Scan() {
		b.Fatalf("subscriber process ended without results: %v", lines.Err())
	}
	var res benchResult
	if err := json.Unmarshal(lines.Bytes(), &res); err != nil {
		b.Fatalf("results %q: %v", lines.Text(), err)
	}
	if want := int64(b.N) * int64(subscribers); res.All.Deliveries != want {
		b.Errorf("%d deliveries, want %d events × %d subscribers", res.All.Deliveries, b.N, subscribers)
	}
	if s := d.Events.Stats(); s.SlowConsumers > 0 {
		b.Errorf("%d subscribers were cut off as slow", s.SlowConsumers)
	}
	b.ReportMetric(res.All.P50MS, "p50-ms")
	b.ReportMetric(res.All.P99MS, "p99-ms")
	b.ReportMetric(res.All.MaxMS, "max-ms")
	b.ReportMetric(res.All.P99FromInsertMS, "p99-from-insert-ms")
	b.ReportMetric(res.All.FirstP99MS, "first-p99-ms")
	b.ReportMetric(res.All.SpreadP50MS, "spread-p50-ms")
	b.ReportMetric(res.All.SpreadP99MS, "spread-p99-ms")
	b.ReportMetric(res.Clients.P50MS, "client-p50-ms")
	b.ReportMetric(res.Clients.P99MS, "client-p99-ms")
	if b.N > 1 {
		b.ReportMetric(float64(b.N-1)/last.Sub(first).Seconds(), "events/s")
	}
	b.ReportMetric(float64(after-before)/float64(subscribers), "B/subscriber")
	b.ReportMetric(float64(res.All.Deliveries), "deliveries")
	if res.All.Deliveries > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(res.All.Deliveries), "daemon-cpu-µs/delivery")
		b.ReportMetric(res.CPUMicros/float64(res.All.Deliveries), "subscriber-cpu-µs/delivery")
	}
	if haveBusy {
		// What the rest of the machine (other tests, builds; and this
		// benchmark's PostgreSQL work, a few hundredths of a core) took
		// from the two cores meanwhile: the figures above depend on it.
		others := busy.Seconds() - cpu.Seconds() - res.CPUMicros/1e6
		b.ReportMetric(max(0, others)/wall.Seconds(), "other-cores")
	}
}

// machineBusy is the CPU time all cores of the machine have spent busy
// (user, system, interrupts, and time taken by the hypervisor), from
// /proc/stat; false where there is none.
func machineBusy() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	const userHZ = 100 // the unit of /proc/stat on every Linux architecture Go supports here
	return time.Duration(ticks) * time.Second / userHZ, true
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverMemory is the heap and goroutine stacks in use after a GC.
func serverMemory() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// benchResult is what the subscriber process reports.
type benchResult struct {
	All       latencies `json:"all"`     // every subscriber
	Clients   latencies `json:"clients"` // the client.Events ones
	CPUMicros float64   `json:"cpu_us"`  // the subscriber process's CPU time
}

type latencies struct {
	Deliveries      int64   `json:"deliveries"`
	P50MS           float64 `json:"p50_ms"`
	P99MS           float64 `json:"p99_ms"`
	MaxMS           float64 `json:"max_ms"`
	P99FromInsertMS float64 `json:"p99_from_insert_ms"`
	// Per event: from the commit to its first delivery (the way through
	// PostgreSQL's notification and the hub), and from its first delivery
	// to its last (the fan-out).
	FirstP99MS  float64 `json:"first_p99_ms"`
	SpreadP50MS float64 `json:"spread_p50_ms"`
	SpreadP99MS float64 `json:"spread_p99_ms"`
}

// delivery is one event received by one subscriber: its id, the time in
// its data (before the INSERT) and when the subscriber had it.
type delivery struct{ id, sent, received int64 }

// TestBenchSubscriberProcess is the subscriber side of
// BenchmarkWebSocketFanOut, run in a child process; on its own it does
// nothing.
func TestBenchSubscriberProcess(t *testing.T) {
	url := os.Getenv(benchChildURL)
	if url == "" {
		return // not started by the benchmark: nothing to do (not a skip: no dependency is missing)
	}
	n, err1 := strconv.Atoi(os.Getenv(benchChildN))
	events, err2 := strconv.Atoi(os.Getenv(benchChildEvents))
	clients, err3 := strconv.Atoi(os.Getenv(benchChildClients))
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probes := make([]*wsProbe, n-clients)
	var dialWG sync.WaitGroup
	sem := make(chan struct{}, 50)
	var dialErr error
	var mu sync.Mutex
	for i := range probes {
		dialWG.Add(1)
		sem <- struct{}{}
		go func() {
			defer dialWG.Done()
			defer func() { <-sem }()
			dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			p, err := dialProbe(dialCtx, wsURL(url, "?topics=bench"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErr = err
				return
			}
			probes[i] = p
		}()
	}
	dialWG.Wait()
	if dialErr != nil {
		t.Fatal(dialErr)
	}
	if path := os.Getenv(benchChildProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
	}
	cpuBefore := processCPU()

	got := make([][]delivery, n)
	for i := range got {
		got[i] = make([]delivery, 0, events)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		perr := runProbes(probes, time.Minute, func(i int, msg []byte, now int64) (bool, error) {
			if bytes.Contains(msg, []byte(`"type":"bench.end"`)) {
				return true, nil
			}
			id, ok1 := jsonInt(msg, `"id":`)
			sent, ok2 := jsonInt(msg, `"t":`)
			if !ok1 || !ok2 {
				return false, fmt.Errorf("message without id or t: %s", msg)
			}
			got[i] = append(got[i], delivery{id, sent, now})
			return false, nil
		})
		copy(errs, perr)
	}()
	c := &client.Client{BaseURL: url}
	for i := len(probes); i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev, err := range c.Events(ctx, client.EventsOptions{Since: client.SinceNow, Topics: []string{"bench"}}) {
				now := time.Now().UnixNano()
				if err != nil {
					errs[i] = err
					return
				}
				if ev.Type == "bench.end" {
					return
				}
				sent, ok := jsonInt(ev.Data, `"t":`)
				if !ok {
					errs[i] = fmt.Errorf("event %d without t: %s", ev.ID, ev.Data)
					return
				}
				got[i] = append(got[i], delivery{ev.ID, sent, now})
			}
		}()
	}
	fmt.Println("ready")
	wg.Wait()
	cpu := processCPU() - cpuBefore
	pprof.StopCPUProfile()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
	fmt.Println("received")

	// The publisher knows when each commit was acknowledged only now.
	var committed map[int64]int64
	if err := json.NewDecoder(os.Stdin).Decode(&committed); err != nil {
		t.Fatal(err)
	}
	res := benchResult{
		All:       summarize(got, committed),
		Clients:   summarize(got[len(probes):], committed),
		CPUMicros: float64(cpu.Microseconds()),
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// summarize gives the quantiles of the latencies from commit (clamped at
// 0: a delivery may beat the acknowledgement) and from before the INSERT.
func summarize(got [][]delivery, committed map[int64]int64) latencies {
	var fromCommit, fromInsert []int64
	type span struct{ first, last int64 }
	spans := make(map[int64]span, len(committed))
	for _, ds := range got {
		for _, d := range ds {
			fromInsert = append(fromInsert, d.received-d.sent)
			fromCommit = append(fromCommit, max(0, d.received-committed[d.id]))
			sp, ok := spans[d.id]
			if !ok {
				sp = span{d.received, d.received}
			}
			sp.first, sp.last = min(sp.first, d.received), max(sp.last, d.received)
			spans[d.id] = sp
		}
	}
	l := latencies{Deliveries: int64(len(fromCommit))}
	if len(fromCommit) == 0 {
		return l
	}
	var first, spread []int64
	for id, sp := range spans {
		first = append(first, max(0, sp.first-committed[id]))
		spread = append(spread, sp.last-sp.first)
	}
	for _, s := range [][]int64{fromCommit, fromInsert, first, spread} {
		slices.Sort(s)
	}
	q := func(s []int64, f float64) float64 { return float64(s[int(f*float64(len(s)-1))]) / 1e6 }
	l.P50MS, l.P99MS, l.MaxMS = q(fromCommit, 0.5), q(fromCommit, 0.99), q(fromCommit, 1)
	l.P99FromInsertMS = q(fromInsert, 0.99)
	l.FirstP99MS, l.SpreadP50MS, l.SpreadP99MS = q(first, 0.99), q(spread, 0.5), q(spread, 0.99)
	return l
}

// BenchmarkBuildLogLineToFollower measures the latency of a build log
// line from its commit (store.AppendBuildLog, as the build worker writes
// it, which NOTIFYs appstore_build_logs) to a `logs -f` client reading
// GET /api/v1/builds/{id}/logs?follow=1 through the hub's wake-up (target
// p99 ≤ 100 ms), at 100 lines per second. The engine-to-worker part (the
// worker reading the Docker build output) is not included.
func BenchmarkBuildLogLineToFollower(b *testing.B) {
	d := startDaemon(b, daemon.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := d.Store
	repo, err := st.CreateRepository(ctx, store.NewRepository{GitURL: "https://example.com/x/bench.git", GitURLKey: "example.com/x/bench", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	var buildID int64
	err = st.InTx(ctx, func(tx pgx.Tx) error {
		buildID, err = store.InsertQueuedBuild(ctx, tx, store.QueuedBuild{RepositoryID: repo.ID, Slug: repo.Slug, CommitSHA: strings.Repeat("a", 40)})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, claimed, err := st.ClaimBuild(ctx, buildID, "bench", time.Hour); err != nil || !claimed {
		b.Fatalf("claim build: %v %v", claimed, err)
	}

	c := &client.Client{BaseURL: d.URL}
	type sample struct {
		lat time.Duration
		err error
	}
	got := make(chan sample, 1024)
	go func() {
		for l, err := range c.BuildLogs(ctx, buildID, client.BuildLogOptions{Follow: true}) {
			now := time.Now()
			if err != nil {
				got <- sample{err: err}
				return
			}
			sent, err := strconv.ParseInt(strings.TrimPrefix(l.Line, "t="), 10, 64)
			got <- sample{lat: now.Sub(time.Unix(0, sent)), err: err}
		}
	}()
	// The follower is connected once a first line reaches it.
	if err := st.AppendBuildLog(ctx, buildID, []string{"t=" + strconv.FormatInt(time.Now().UnixNano(), 10)}, 0, false); err != nil {
		b.Fatal(err)
	}
	if s := <-got; s.err != nil {
		b.Fatal(s.err)
	}

	lats := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	tick := time.NewTicker(time.Second / benchRate)
	defer tick.Stop()
	var logBytes int64
	for i := 0; i < b.N; i++ {
		<-tick.C
		line := "t=" + strconv.FormatInt(time.Now().UnixNano(), 10)
		logBytes += int64(len(line)) + 1
		if err := st.AppendBuildLog(ctx, buildID, []string{line}, logBytes, false); err != nil {
			b.Fatal(err)
		}
		// Lines arrive in order; collect without stalling the pace.
	drain:
		for {
			select {
			case s := <-got:
				if s.err != nil {
					b.Fatal(s.err)
				}
				lats = append(lats, s.lat)
			default:
				break drain
			}
		}
	}
	for len(lats) < b.N {
		select {
		case s := <-got:
			if s.err != nil {
				b.Fatal(s.err)
			}
			lats = append(lats, s.lat)
		case <-time.After(10 * time.Second):
			b.Fatalf("%d of %d lines reached the follower", len(lats), b.N)
		}
	}
	b.StopTimer()
	slices.Sort(lats)
	q := func(f float64) float64 { return float64(lats[int(f*float64(len(lats)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

// BenchmarkLoopbackTCPFloor measures what the kernel alone charges for a
// delivery on this machine, the floor under BenchmarkWebSocketFanOut's
// CPU per delivery: a 150-byte write on one of 1000 loopback TCP
// connections (on loopback the write also runs the receiving socket's
// side of TCP), and the read of it on the other end (which also sends the
// ACK). Plain system calls on the sockets, no Go poller, no WebSocket.
func BenchmarkLoopbackTCPFloor(b *testing.B) {
	const conns = 1000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var writers, readers []int
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		defer s.Close()
		writers = append(writers, rawFD(b, s))
		readers = append(readers, rawFD(b, c))
	}
	msg := make([]byte, 150)
	buf := make([]byte, 4096)
	var writing, reading time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i += conns {
		n := min(conns, b.N-i)
		start := time.Now()
		for _, fd := range writers[:n] {
			if _, err := syscall.Write(fd, msg); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for _, fd := range readers[:n] {
			for {
				// Loopback delivers within the write, but let a late
				// segment be waited for rather than fail.
				_, err := syscall.Read(fd, buf)
				if err == nil {
					break
				}
				if !errors.Is(err, syscall.EAGAIN) {
					b.Fatal(err)
				}
			}
		}
		writing += mid.Sub(start)
		reading += time.Since(mid)
	}
	b.ReportMetric(float64(writing.Nanoseconds())/1e3/float64(b.N), "write-µs")
	b.ReportMetric(float64(reading.Nanoseconds())/1e3/float64(b.N), "read-µs")
}

// rawFD is the file descriptor of a TCP connection (non-blocking; the
// benchmark reads only what was written).
func rawFD(b *testing.B, c net.Conn) int {
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		b.Fatal(err)
	}
	return fd
}
