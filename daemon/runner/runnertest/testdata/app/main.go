// Command app is the web app of the runner's tests: a static binary (standard
// library only) that goes into FROM scratch images. Flags choose how it
// misbehaves; by default it serves HTTP on $PORT.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

var (
	name  = flag.String("name", "app", "name in answers")
	mode  = flag.String("mode", "serve", "serve, crash, hostile-crash or tcp")
	port  = flag.String("port", "", "port to listen on instead of $PORT")
	delay = flag.Duration("delay", 0, "wait this long before listening")
	page  = flag.String("page", "", "serve an HTML page at /: #rrggbb (that background), nosy (tries to reach the daemon and other hosts, then paints #118877) or never (a load that never ends)")
)

var hold [][]byte // memory kept by /alloc

func main() {
	flag.Parse()
	fmt.Printf("%s starting (mode %s)\n", *name, *mode)
	if *mode == "crash" {
		fmt.Fprintln(os.Stderr, "loading configuration")
		fmt.Fprintln(os.Stderr, "fatal: DATABASE_URL is not set")
		os.Exit(3)
	}
	if *mode == "hostile-crash" {
		// What a hostile app prints before it dies, for the launch's
		// error message: a window title, a clipboard write (OSC 52), a
		// disguised link, NUL and bytes that are not UTF-8.
		os.Stderr.Write([]byte("\x1b]0;pwned title\x07fatal: \x1b[31mboom\x1b[0m\x00 \x1b]52;c;cm0gLXJmIH4=\x07\xff\xfe\n"))
		os.Stderr.Write([]byte("\x1b]8;;https://evil.example/\x1b\\https://good.example/\x1b]8;;\x1b\\\n"))
		os.Exit(3)
	}
	time.Sleep(*delay)
	p := *port
	if p == "" {
		p = os.Getenv("PORT")
	}
	if p == "" {
		p = "8080"
	}
	ln, err := net.Listen("tcp", ":"+p)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s listening on %s\n", *name, p)
	if *mode == "tcp" {
		// A server that waits for its client to speak and never answers
		// HTTP: readiness must fall back to TCP.
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Name", *name)
		if *page != "" && r.URL.Path == "/" {
			servePage(w)
			return
		}
		fmt.Fprintf(w, "hello from %s on port %s path %s\n", *name, p, r.URL.Path)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// A request that takes a while (?d=300ms): in flight when a
		// launch is replaced.
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		time.Sleep(d)
		fmt.Fprintf(w, "hello from %s on port %s path %s\n", *name, p, r.URL.Path)
	})
	mux.HandleFunc("/never.png", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // the page's load never ends
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{"Host": r.Host, "Path": r.URL.RequestURI()}
		for k, v := range r.Header {
			h[k] = strings.Join(v, ",")
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(os.Environ())
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "1", Path: "/"})
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	mux.HandleFunc("/print", func(w http.ResponseWriter, r *http.Request) {
		// ?b64=: bytes to write to stdout as they are (escapes, NUL…).
		b, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("b64"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		os.Stdout.Write(b)
		fmt.Fprintln(w, "printed")
	})
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		// ?domain=: a cookie for a wider domain than the app's host.
		w.Header().Add("Set-Cookie", "wide=1; Path=/; Domain="+r.URL.Query().Get("domain"))
		w.Header().Add("Set-Cookie", "own=1; Path=/")
		w.Header().Set("X-Content-Type-Options", "app-says")
		w.Header().Set("Referrer-Policy", "unsafe-url")
		fmt.Fprintln(w, "cookies set")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		b, _ := os.ReadFile("/proc/self/status")
		out := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "Uid" || k == "CapEff" || k == "CapBnd" || k == "NoNewPrivs") {
				out[k] = strings.TrimSpace(v)
			}
		}
		_, err := os.Stat("/var/run/docker.sock")
		out["docker.sock"] = strconv.FormatBool(err == nil)
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Fprintf(os.Stderr, "exiting with %d on request\n", code)
		fmt.Fprintln(w, "bye")
		go func() { time.Sleep(50 * time.Millisecond); os.Exit(code) }()
	})
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		fmt.Printf("allocating %d MiB\n", mb)
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hold = append(hold, b)
		}
		fmt.Fprintf(w, "allocated %d MiB\n", mb)
	})
	mux.HandleFunc("/dial", func(w http.ResponseWriter, r *http.Request) {
		// Whether this container reaches addr: the network isolation test.
		c, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), 2*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c.Close()
		fmt.Fprintln(w, "connected")
	})
	mux.HandleFunc("/ws", echoWebSocket)
	_ = http.Serve(ln, mux)
}

// servePage writes the HTML page of -page.
func servePage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch *page {
	case "never":
		fmt.Fprint(w, `<!doctype html><title>never</title><body style="background:#118877"><img src="/never.png">`)
	case "nosy":
		// The daemon serves this page's origin (<slug>.localhost:PORT)
		// too: it tries the daemon's API on the same port under its own
		// names, another app's preview, and a WebSocket to the event
		// stream, then paints its background.
		fmt.Fprint(w, `<!doctype html><html><head><title>nosy</title>
<style>html,body{margin:0;height:100%;background:#aa2222}</style></head><body><script>
const port = location.port;
const tries = [
  fetch('http://127.0.0.1:' + port + '/api/v1/version?from=nosy'),
  fetch('http://localhost:' + port + '/api/v1/search?q=nosy'),
  fetch('http://other.localhost:' + port + '/'),
  fetch('http://127.0.0.1:' + port + '/healthz', {mode: 'no-cors'}),
  new Promise((ok) => { const ws = new WebSocket('ws://127.0.0.1:' + port + '/api/v1/events'); ws.onerror = ok; ws.onopen = ok; setTimeout(ok, 2000); }),
];
Promise.allSettled(tries).then(() => { document.body.style.background = '#118877'; });
</script></body></html>`)
	default:
		fmt.Fprintf(w, `<!doctype html><html><head><title>%s</title><style>html,body{margin:0;height:100%%;background:%s}</style></head>
<body><h1 style="margin:0;padding:40px;font:48px sans-serif;color:#fff">%s</h1></body></html>`, *name, *page, *name)
	}
}

// echoWebSocket is a minimal RFC 6455 server: it accepts the upgrade and
// echoes text and binary messages (unfragmented) until the client closes.
func echoWebSocket(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	if rw.Flush() != nil {
		return
	}
	for {
		op, payload, err := readFrame(rw.Reader)
		if err != nil {
			return
		}
		switch op {
		case 1, 2: // text, binary
			writeFrame(rw.Writer, op, append([]byte("echo: "), payload...))
		case 8: // close
			writeFrame(rw.Writer, 8, payload)
			_ = rw.Flush()
			return
		case 9: // ping
			writeFrame(rw.Writer, 10, payload)
		}
		if rw.Flush() != nil {
			return
		}
	}
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op := h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", n)
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return op, p, nil
}

func writeFrame(w *bufio.Writer, op byte, p []byte) {
	w.WriteByte(0x80 | op)
	switch {
	case len(p) < 126:
		w.WriteByte(byte(len(p)))
	case len(p) < 1<<16:
		w.WriteByte(126)
		_ = binary.Write(w, binary.BigEndian, uint16(len(p)))
	default:
		w.WriteByte(127)
		_ = binary.Write(w, binary.BigEndian, uint64(len(p)))
	}
	w.Write(p)
}
