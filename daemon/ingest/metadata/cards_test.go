package metadata

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// dfFacts parses a Dockerfile for the port tests.
func dfFacts(t *testing.T, df string) *dockerfileFacts {
	t.Helper()
	f, _, err := analyzeDockerfile("Dockerfile", []byte(df))
	if err != nil {
		t.Fatalf("parse %q: %v", df, err)
	}
	return f
}

func TestCommandPort(t *testing.T) {
	scripts := map[string]string{
		"start":   "next start",
		"serve":   "node server.js",
		"preview": "vite preview --port 4173 --host",
	}
	files := map[string]string{
		"/app/start.sh":   "#!/bin/sh\nset -e\npython manage.py migrate\nexec gunicorn --bind 0.0.0.0:8001 site.wsgi\n",
		"entrypoint.sh":   "#!/bin/sh\nexec \"$@\"\n",
		"/docker-init.sh": "#!/bin/sh\nnginx -g 'daemon off;'\n",
	}
	pc := func(f *dockerfileFacts) portContext {
		return portContext{
			env:    f.Env,
			script: func(n string) string { return scripts[n] },
			file: func(n string) []byte {
				if s, ok := files[n]; ok {
					return []byte(s)
				}
				return nil
			},
		}
	}
	for _, tc := range []struct {
		df     string
		port   int
		source string
	}{
		// Flags, exec form.
		{`CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "7860"]`, 7860, PortFromCmd},
		{`CMD ["uvicorn", "app:app", "--port=7861"]`, 7861, PortFromCmd},
		{`CMD ["next", "start", "-p", "3001"]`, 3001, PortFromCmd},
		{`CMD ["http-server", "-p8081", "public"]`, 8081, PortFromCmd},
		{`CMD ["gunicorn", "--bind", "0.0.0.0:7862", "app:app"]`, 7862, PortFromCmd},
		{`CMD ["gunicorn", "--bind=0.0.0.0:7863", "app:app"]`, 7863, PortFromCmd},
		{`CMD ["gunicorn", "-b", ":8002", "app:app"]`, 8002, PortFromCmd},
		{`CMD ["puma", "-b", "tcp://0.0.0.0:3002"]`, 3002, PortFromCmd},
		{`CMD ["hypercorn", "--bind", "[::]:8003", "app:app"]`, 8003, PortFromCmd},
		{`CMD ["caddy", "file-server", "--listen", "0.0.0.0:8082"]`, 8082, PortFromCmd},
		{`CMD ["serve", "-s", "build", "-l", "3003"]`, 3003, PortFromCmd},
		{`CMD ["streamlit", "run", "app.py", "--server.port", "8502"]`, 8502, PortFromCmd},
		{`CMD ["streamlit", "run", "app.py", "--server.port=8503"]`, 8503, PortFromCmd},
		{`CMD ["/server", "-port=9001"]`, 9001, PortFromCmd},
		{`CMD ["/server", "-port", "9002"]`, 9002, PortFromCmd},
		{`CMD ["/server", "-addr", ":9003"]`, 9003, PortFromCmd},
		{`CMD ["java", "-Dserver.port=8083", "-jar", "/app.jar"]`, 8083, PortFromCmd},
		{`CMD ["python", "manage.py", "runserver", "0.0.0.0:8004"]`, 8004, PortFromCmd},
		{`CMD ["php", "-S", "0.0.0.0:8005", "-t", "public"]`, 8005, PortFromCmd},
		{`CMD ["python", "-m", "http.server", "8084"]`, 8084, PortFromCmd},
		// Shell form: split into commands, variables expanded.
		{"CMD uvicorn main:app --host 0.0.0.0 --port 7864", 7864, PortFromCmd},
		{"CMD mkdir -p /data && exec gunicorn -w 2 -b 0.0.0.0:8006 app:app", 8006, PortFromCmd},
		{"ENV PORT=7865\nCMD uvicorn main:app --port $PORT", 7865, PortFromCmd},
		{"CMD uvicorn main:app --port ${PORT:-7866}", 7866, PortFromCmd},
		{`CMD ["sh", "-c", "python migrate.py && uvicorn main:app --port 7867"]`, 7867, PortFromCmd},
		{`CMD ["/bin/bash", "-lc", "exec streamlit run app.py --server.port 8504"]`, 8504, PortFromCmd},
		{"CMD PORT=3004 node server.js", 3004, PortFromEnv},
		// ENTRYPOINT and CMD together, the exec forms joined.
		{"ENTRYPOINT [\"uvicorn\"]\nCMD [\"app:app\", \"--port\", \"8007\"]", 8007, PortFromCmd},
		// Wrappers.
		{`CMD ["tini", "--", "uvicorn", "a:b", "--port", "8008"]`, 8008, PortFromCmd},
		{`CMD ["poetry", "run", "uvicorn", "a:b", "--port", "8009"]`, 8009, PortFromCmd},
		{`CMD ["bundle", "exec", "rails", "server", "-b", "0.0.0.0", "-p", "3005"]`, 3005, PortFromCmd},
		// npm scripts and copied shell scripts.
		{`CMD ["npm", "start"]`, 3000, PortFromFramework},
		{`CMD ["npm", "run", "preview"]`, 4173, PortFromCmd},
		{`CMD ["npm", "start", "--", "-p", "3006"]`, 3006, PortFromCmd},
		{"ENV PORT=8085\nCMD [\"yarn\", \"serve\"]", 8085, PortFromEnv},
		{"COPY start.sh /app/start.sh\nCMD [\"/app/start.sh\"]", 8001, PortFromCmd},
		{"COPY docker-init.sh /\nCMD [\"sh\", \"/docker-init.sh\"]", 80, PortFromFramework},
		// The environment: the server's own variable, then PORT.
		{"ENV PORT=8086\nCMD [\"node\", \"server.js\"]", 8086, PortFromEnv},
		{"ENV FLASK_RUN_PORT=5001\nCMD [\"flask\", \"run\", \"--host=0.0.0.0\"]", 5001, PortFromEnv},
		{"ENV PORT=9999\nCMD [\"streamlit\", \"run\", \"app.py\"]", 8501, PortFromFramework},
		{"ENV PORT=3007\nCMD [\"next\", \"start\"]", 3007, PortFromEnv},
		{"ARG PORT=1234\nCMD [\"node\", \"server.js\"]", 0, ""},
		// Framework defaults when the command names the server.
		{`CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]`, 8000, PortFromFramework},
		{`CMD ["gunicorn", "app:app"]`, 8000, PortFromFramework},
		{`CMD ["streamlit", "run", "app.py"]`, 8501, PortFromFramework},
		{`CMD ["gradio", "app.py"]`, 7860, PortFromFramework},
		{`CMD ["flask", "run"]`, 5000, PortFromFramework},
		{`CMD ["next", "start"]`, 3000, PortFromFramework},
		{`CMD ["npx", "serve", "-s", "dist"]`, 3000, PortFromFramework},
		{`CMD ["python3", "-m", "http.server"]`, 8000, PortFromFramework},
		{`CMD ["nginx", "-g", "daemon off;"]`, 80, PortFromFramework},
		{`CMD ["python", "-m", "uvicorn", "main:app"]`, 8000, PortFromFramework},
		// Nothing said.
		{`CMD ["python", "app.py"]`, 0, ""},
		{`CMD ["flask", "db", "upgrade"]`, 0, ""},
		{`CMD ["docker", "run", "-p", "8080:80", "x"]`, 0, ""},
	} {
		f := dfFacts(t, "FROM base\n"+tc.df+"\n")
		got := commandPort(f.Entrypoint, f.Cmd, pc(f))
		if got.port != tc.port || got.source != tc.source {
			t.Errorf("%q: port %d from %q, want %d from %q", tc.df, got.port, got.source, tc.port, tc.source)
		}
	}
}

func TestCommandPortInheritsFromStages(t *testing.T) {
	f := dfFacts(t, "FROM python:3.12 AS base\nENV PORT=8010\nCMD [\"gunicorn\", \"app:app\"]\nFROM base\nRUN true\n")
	if got := commandPort(f.Entrypoint, f.Cmd, portContext{env: f.Env}); got.port != 8010 || got.source != PortFromEnv {
		t.Errorf("derived stage: port %d from %q, want 8010 from env (gunicorn honours PORT)", got.port, got.source)
	}
	// ENTRYPOINT resets the CMD of the stage it derives from.
	f = dfFacts(t, "FROM node AS base\nCMD [\"next\", \"start\", \"-p\", \"1\"]\nFROM base\nENTRYPOINT [\"/run.sh\"]\n")
	if f.Cmd != nil || f.Entrypoint == nil {
		t.Errorf("cmd %+v entrypoint %+v, want the CMD reset", f.Cmd, f.Entrypoint)
	}
	// A final stage that starts from an image forgets the build stages.
	f = dfFacts(t, "FROM node AS build\nENV PORT=1111\nCMD [\"x\"]\nFROM nginx:alpine\nCOPY --from=build /dist /usr/share/nginx/html\n")
	if f.Cmd != nil || f.Env["PORT"] != "" || !f.CopiesFromStage {
		t.Errorf("final stage facts %+v", f)
	}
	if baseImagePort(f.Info.BaseImage) != 80 || baseImagePort("php:8.3-apache") != 80 || baseImagePort("php:8.3-fpm") != 0 ||
		baseImagePort("nginxinc/nginx-unprivileged:1.27") != 8080 {
		t.Error("base image ports")
	}
}

func TestDockerfileSources(t *testing.T) {
	f := dfFacts(t, `FROM golang AS build
ARG DIR=cmd
RUN --mount=type=bind,source=go.mod,target=go.mod --mount=type=cache,target=/root/.cache go mod download
RUN --mount=type=bind,target=. go build ./...
COPY ["go.sum", "./"]
COPY $DIR/server ./server
COPY ${UNSET}/x ./x
ADD https://example.invalid/a.tgz /tmp/
COPY <<EOF /etc/motd
hello
EOF
FROM scratch
COPY --from=build /bin/app /app
`)
	var got []string
	for _, s := range f.Sources {
		got = append(got, s.Instr+" "+s.Path)
	}
	want := []string{"RUN --mount go.mod", "COPY go.sum", "COPY cmd/server"}
	if !slices.Equal(got, want) {
		t.Errorf("sources %q, want %q", got, want)
	}
	if !f.CopiesFromStage {
		t.Error("COPY --from not seen")
	}
}

func TestParseReadmeCard(t *testing.T) {
	for _, tc := range []struct {
		name, md, title, desc string
	}{
		{"plain", "# Dash 📊\n\nA dashboard for the team.\n", "Dash 📊", "A dashboard for the team."},
		{"badges before the title",
			"[![CI](https://x/badge.svg)](https://x) ![v](https://img/v.svg)\n\n# Dash\n\n[![a](b)](c) A **dashboard** for `ops`, see [the docs](https://d).\n",
			"Dash", "A dashboard for ops, see the docs."},
		{"title with link and image", "# [Dash](https://dash.example) ![logo](logo.png)\n\nCharts for everyone here.\n", "Dash", "Charts for everyone here."},
		{"skips images, links, tables, code, comments, quotes, lists",
			"# T\n\n![shot](s.png)\n\n<img src=\"a.png\">\n\n[Demo](https://a) | [Docs](https://b) · [Blog](https://c)\n\n" +
				"<!-- a comment\nthat spans lines -->\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```sh\nmake run\n```\n\n    indented code\n\n" +
				"> Note: quoted\n\n- a list item\n\nThe real description is here.\n",
			"T", "The real description is here."},
		{"lead-in and admonition", "# T\n\nNote: this is a fork.\n\nInstall it with:\n\nA tool that does things well.\n", "T", "A tool that does things well."},
		{"label and link", "# T\n\nLive demo: https://t.example\n\nTurns notes into flashcards.\n", "T", "Turns notes into flashcards."},
		{"only the introduction", "# T\n\n## Installation\n\nRun the installer on your machine.\n", "T", ""},
		{"about section", "# T\n\n## About\n\nT keeps the office plants watered.\n", "T", "T keeps the office plants watered."},
		{"subtitle heading", "## Compose sample\n### A React app with a Node backend\n\nProject structure:\n", "", "A React app with a Node backend"},
		{"template boilerplate", "# Getting Started with Create React App\n\nThis project was bootstrapped with [Create React App](https://x).\n", "", ""},
		{"html header", "<div align=\"center\">\n<img src=\"l.svg\">\n<h1>Beacon</h1>\n<p>Uptime checks for projects.</p>\n</div>\n", "Beacon", "Uptime checks for projects."},
		{"setext title", "Dash\n====\n\nA dashboard with setext headings.\n", "Dash", "A dashboard with setext headings."},
		{"entities and escapes", "# Tom &amp; Jerry\n\nCats \\* mice &amp; more, forever.\n", "Tom & Jerry", "Cats * mice & more, forever."},
	} {
		c := parseReadmeCard([]byte(tc.md))
		if c.Title != tc.title || c.Description != tc.desc {
			t.Errorf("%s: title %q description %q, want %q and %q", tc.name, c.Title, c.Description, tc.title, tc.desc)
		}
	}
}

func TestCutSentence(t *testing.T) {
	long := "Book Swap lets neighbours list the books they are done with and request the ones they want next. " +
		"Requests are matched weekly, e.g. on Sundays, and each swap gets a pickup spot. " +
		"It runs on Django with a Postgres database, and an admin for moderators."
	got := cutSentence(long, 200)
	if got != "Book Swap lets neighbours list the books they are done with and request the ones they want next. Requests are matched weekly, e.g. on Sundays, and each swap gets a pickup spot." {
		t.Errorf("cut at %q", got)
	}
	short := "Short enough."
	if cutSentence(short, 200) != short {
		t.Error("short text cut")
	}
	noStop := strings.Repeat("word ", 80)
	if got := cutSentence(noStop, 200); !strings.HasSuffix(got, "…") || len([]rune(got)) > 201 {
		t.Errorf("no sentence end: %q", got)
	}
}

func TestUnfencedFrontMatter(t *testing.T) {
	m, w := parseReadme("README.md", []byte("title: HackRx\nemoji: 📄\ncolorFrom: blue\ncolorTo: green\nsdk: docker\napp_port: 7860\npinned: false\ntags:\n  - qa\n---\n# HackRx API\n\nAnswers questions.\n"))
	if len(w) != 0 || m.Title != "HackRx" || m.SDK != "docker" || m.AppPort != 7860 || m.HF.Emoji != "📄" ||
		m.HF.ColorFrom != "blue" || m.HF.Pinned == nil || *m.HF.Pinned || !slices.Equal(m.Topics, []string{"qa"}) {
		t.Errorf("unfenced front matter: %+v warnings %q", m, w)
	}
	if !strings.HasPrefix(m.Body, "# HackRx API") {
		t.Errorf("body %q", m.Body)
	}
	for _, md := range []string{
		"title: My notes\nauthor: me\n\nNotes.\n",              // no Spaces key
		"Note: this README is old.\nsdk: docker\n",             // prose first
		"sdk: docker\n\nA docker SDK wrapper.\n",               // one key only
		"# Title\nsdk: docker\napp_port: 1\n",                  // a heading first
		"description: x\nsdk: docker\nThen a line of prose.\n", // prose without a blank line
	} {
		m, _ := parseReadme("README.md", []byte(md))
		if m.SDK != "" || m.Body != md {
			t.Errorf("%q read as front matter: %+v", md, m)
		}
	}
}

func TestSpacesMetadata(t *testing.T) {
	m, w := parseReadme("README.md", []byte("---\ntitle: T\nemoji: 🦙\ncolorFrom: Blue\ncolorTo: '#ff0000'\nsdk: Gradio\nsdk_version: 4.1.0\napp_file: src/app.py\npinned: true\nmodels:\n- a/b\n- c/d\ndatasets: [e/f]\n---\n"))
	if len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	h := m.HF
	if h.Emoji != "🦙" || h.ColorFrom != "blue" || h.ColorTo != "#ff0000" || h.SDK != "gradio" || h.SDKVersion != "4.1.0" ||
		h.AppFile != "src/app.py" || h.Pinned == nil || !*h.Pinned || !slices.Equal(h.Models, []string{"a/b", "c/d"}) || !slices.Equal(h.Datasets, []string{"e/f"}) {
		t.Errorf("spaces metadata %+v", h)
	}
	_, w = parseReadme("README.md", []byte("---\nemoji: rocket\npinned: maybe\n---\n"))
	if len(w) != 2 {
		t.Errorf("bad emoji and pinned: warnings %q", w)
	}
	for _, e := range []string{"🚀", "👩‍💻", "🇫🇷", "❤️"} {
		if cleanEmoji(e) != e {
			t.Errorf("emoji %q refused", e)
		}
	}
	for _, e := range []string{"rocket", ":rocket:", "🚀 launch", strings.Repeat("🚀", 13)} {
		if cleanEmoji(e) != "" {
			t.Errorf("%q taken for an emoji", e)
		}
	}
}

func TestDecodeText(t *testing.T) {
	utf16le := func(s string, bigEndian bool) []byte {
		b := []byte{0xff, 0xfe}
		if bigEndian {
			b = []byte{0xfe, 0xff}
		}
		for _, u := range utf16.Encode([]rune(s)) {
			if bigEndian {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		return b
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte("Flask==3.0\n"), "Flask==3.0\n"},
		{[]byte("\xef\xbb\xbfFlask==3.0\n"), "Flask==3.0\n"},
		{utf16le("Flask==3.0\r\ngradio 🦙\r\n", false), "Flask==3.0\r\ngradio 🦙\r\n"},
		{utf16le("Flask==3.0\n", true), "Flask==3.0\n"},
		{[]byte("caf\xe9 = 1\n" + strings.Repeat("x", 100)), "caf\uFFFD = 1\n" + strings.Repeat("x", 100)},
	} {
		got, err := decodeText(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("decodeText(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{
		{0x00, 0x01, 0x02, 'a'},
		{0xff, 0xfe, 'a'},                     // odd length
		bytes.Repeat([]byte{0xc3, 0x28}, 100), // mostly invalid UTF-8
	} {
		if _, err := decodeText(bad); err == nil {
			t.Errorf("decodeText(%q) succeeded", bad)
		}
	}
}

func TestParseCompose(t *testing.T) {
	svcs, w := parseCompose("deploy/compose.yaml", []byte(`services:
  web:
    build: ../app
    ports:
      - "8000:5000"
      - 127.0.0.1:9000:9001/tcp
      - target: 7000
        published: 80
  api:
    build:
      context: ../api
      dockerfile: docker/Dockerfile.prod
      target: final
    expose: ["3000", 3001]
    depends_on:
      db:
        condition: service_healthy
  proxy:
    image: ${PROXY_IMAGE:-nginx}:1.27
    ports: ["${HTTP_PORT:-80}:80"]
  remote:
    build: https://github.com/acme/x.git
  escape:
    build: ../../outside
  db:
    image: postgres:16
`))
	if len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	byName := map[string]composeService{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	if s := byName["web"]; !s.Build || s.Context != "app" || s.Dockerfile != "app/Dockerfile" || !slices.Equal(s.Ports, []int{5000, 9001, 7000}) {
		t.Errorf("web %+v", s)
	}
	if s := byName["api"]; s.Context != "api" || s.Dockerfile != "api/docker/Dockerfile.prod" || s.Target != "final" ||
		!slices.Equal(s.Expose, []int{3000, 3001}) || !slices.Equal(s.DependsOn, []string{"db"}) {
		t.Errorf("api %+v", s)
	}
	if s := byName["proxy"]; s.Build || s.Image != "nginx:1.27" || !slices.Equal(s.Ports, []int{80}) {
		t.Errorf("proxy %+v", s)
	}
	if byName["remote"].Build || byName["escape"].Build {
		t.Error("remote or escaping contexts taken as builds from the repository")
	}
	if _, w := parseCompose("compose.yaml", []byte("services: [\n")); len(w) != 1 {
		t.Errorf("malformed compose: warnings %q", w)
	}
	files := []string{"docker/compose.yaml", "docker-compose.dev.yml", "docker-compose.prod.yml", "compose.yaml", "docker-compose.yml"}
	sortComposeFiles(files)
	if !slices.Equal(files, []string{"compose.yaml", "docker-compose.yml", "docker-compose.prod.yml", "docker-compose.dev.yml", "docker/compose.yaml"}) {
		t.Errorf("compose order %q", files)
	}
}
