package metadata

import (
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/appstore-dev/appstore/catalog"
)

// Port sources (Result.PortSource), in the order they are tried: see the
// catalog constants of the same names.
const (
	PortFromTagsFile  = catalog.PortFromTagsFile
	PortFromReadme    = catalog.PortFromReadme
	PortFromExpose    = catalog.PortFromExpose
	PortFromCompose   = catalog.PortFromCompose
	PortFromCmd       = catalog.PortFromCmd
	PortFromEnv       = catalog.PortFromEnv
	PortFromDockerRun = catalog.PortFromDockerRun
	PortFromCode      = catalog.PortFromCode
	PortFromFramework = catalog.PortFromFramework
	PortFromHFDefault = catalog.PortFromHFDefault
)

// server is a program a command can run: its default port and the
// environment variables it reads its port from.
type server struct {
	port int
	// env lists the variables it takes its port from; usesPORT says it
	// honours the generic PORT.
	env      []string
	usesPORT bool
}

// servers are the programs whose default port is known, by the name a
// command runs them by (after "python -m", "npx", "bundle exec"…).
var servers = map[string]server{
	"uvicorn":            {port: 8000, env: []string{"UVICORN_PORT"}},
	"gunicorn":           {port: 8000, usesPORT: true},
	"hypercorn":          {port: 8000},
	"daphne":             {port: 8000},
	"granian":            {port: 8000, env: []string{"GRANIAN_PORT"}},
	"fastapi":            {port: 8000},
	"streamlit":          {port: 8501, env: []string{"STREAMLIT_SERVER_PORT"}},
	"gradio":             {port: 7860, env: []string{"GRADIO_SERVER_PORT"}},
	"chainlit":           {port: 8000, env: []string{"CHAINLIT_PORT"}},
	"panel":              {port: 5006},
	"bokeh":              {port: 5006},
	"voila":              {port: 8866},
	"solara":             {port: 8765},
	"jupyter":            {port: 8888},
	"jupyter-lab":        {port: 8888},
	"mkdocs":             {port: 8000},
	"mlflow":             {port: 5000},
	"tensorboard":        {port: 6006},
	"flask":              {port: 5000, env: []string{"FLASK_RUN_PORT"}},
	"http.server":        {port: 8000},
	"next":               {port: 3000, usesPORT: true},
	"nuxt":               {port: 3000, env: []string{"NUXT_PORT", "NITRO_PORT"}, usesPORT: true},
	"nuxi":               {port: 3000, env: []string{"NUXT_PORT", "NITRO_PORT"}, usesPORT: true},
	"serve":              {port: 3000, usesPORT: true},
	"http-server":        {port: 8080, usesPORT: true},
	"vite":               {port: 5173},
	"ng":                 {port: 4200},
	"remix-serve":        {port: 3000, usesPORT: true},
	"astro":              {port: 4321},
	"rails":              {port: 3000, usesPORT: true},
	"rackup":             {port: 9292},
	"artisan":            {port: 8000},
	"runserver":          {port: 8000},
	"hugo":               {port: 1313},
	"nginx":              {port: 80},
	"httpd":              {port: 80},
	"httpd-foreground":   {port: 80},
	"apache2-foreground": {port: 80},
	"caddy":              {port: 80},
}

// subcommandServers are servers named by a program and its subcommand.
var subcommandServers = map[string]string{
	"flask run":        "flask",
	"next start":       "next",
	"next dev":         "next",
	"nuxt start":       "nuxt",
	"nuxt preview":     "nuxt",
	"nuxi preview":     "nuxi",
	"vite preview":     "vite-preview",
	"rails server":     "rails",
	"rails s":          "rails",
	"artisan serve":    "artisan",
	"hugo server":      "hugo",
	"mkdocs serve":     "mkdocs",
	"mlflow ui":        "mlflow",
	"mlflow server":    "mlflow",
	"panel serve":      "panel",
	"bokeh serve":      "bokeh",
	"chainlit run":     "chainlit",
	"streamlit run":    "streamlit",
	"fastapi run":      "fastapi",
	"fastapi dev":      "fastapi",
	"jupyter lab":      "jupyter",
	"jupyter notebook": "jupyter",
}

func init() {
	servers["vite-preview"] = server{port: 4173}
}

// needsSubcommand are programs that serve only with a subcommand (flask
// run, next start…): alone they say nothing.
var needsSubcommand = map[string]bool{
	"flask": true, "next": true, "nuxt": true, "nuxi": true, "rails": true, "artisan": true,
	"hugo": true, "mkdocs": true, "mlflow": true, "panel": true, "bokeh": true, "chainlit": true,
	"streamlit": true, "fastapi": true, "jupyter": true, "vite": false,
}

// baseImagePorts are the ports images serve on with their own command,
// for a Dockerfile that sets none: by the runtime: value of the base image.
var baseImagePorts = map[string]int{
	"nginx":              80,
	"nginx-unprivileged": 8080,
	"httpd":              80,
	"caddy":              80,
	"tomcat":             8080,
	"jetty":              8080,
}

// baseImagePort is the port a base image serves on with its own command:
// by its runtime: value, or for php by its apache variant (php:8.3-apache).
func baseImagePort(image string) int {
	rt := runtimeOf(image)
	if p := baseImagePorts[rt]; p > 0 {
		return p
	}
	_, tag, _ := strings.Cut(image[strings.LastIndexByte(image, '/')+1:], ":")
	if (rt == "php" || rt == "wordpress") && (strings.Contains(tag, "apache") || rt == "wordpress" && !strings.Contains(tag, "fpm")) {
		return 80
	}
	return 0
}

// portEnvNames are the variables read as the generic port of an image.
var portEnvNames = []string{"PORT", "APP_PORT", "HTTP_PORT", "SERVER_PORT", "LISTEN_PORT"}

// clientPortPrefixes name the services an app connects to: their *_PORT
// variables are where it dials, not where it listens.
var clientPortPrefixes = []string{"DB", "DATABASE", "POSTGRES", "POSTGRESQL", "PG", "MYSQL", "MARIADB",
	"REDIS", "MONGO", "MONGODB", "SMTP", "MAIL", "EMAIL", "IMAP", "AMQP", "RABBITMQ", "KAFKA", "NATS",
	"ELASTIC", "ELASTICSEARCH", "ES", "OPENSEARCH", "MEMCACHED", "CACHE", "LDAP", "FTP", "SSH", "SQL",
	"CLICKHOUSE", "CASSANDRA", "INFLUX", "INFLUXDB", "MINIO", "S3", "QDRANT", "WEAVIATE", "MILVUS",
	"CHROMA", "OLLAMA", "PROXY", "UPSTREAM", "BACKEND", "API", "METRICS", "PROMETHEUS", "STATSD",
	"OTEL", "JAEGER", "ZIPKIN", "DEBUG", "DEBUGGER", "INSPECT", "ADMIN", "MANAGEMENT", "GRPC"}

// soleAppPortEnv reads the port of an image whose command names no known
// server from its one ENV variable named like a listening port
// (AXUM_PORT, ROCKET_PORT, WEB_PORT): the program reads it, there is no
// other place it can come from. Two candidates are ambiguous, and the
// ports of databases, mail servers and the like are where the app dials.
func soleAppPortEnv(env map[string]string) (int, bool) {
	found, port := 0, 0
	for k, v := range env {
		prefix, ok := strings.CutSuffix(strings.ToUpper(k), "_PORT")
		if !ok || prefix == "" {
			continue
		}
		if i := strings.LastIndexByte(prefix, '_'); i >= 0 && slices.Contains(clientPortPrefixes, prefix[i+1:]) {
			continue
		}
		if slices.ContainsFunc(clientPortPrefixes, func(c string) bool { return prefix == c || strings.HasPrefix(prefix, c+"_") }) {
			continue
		}
		p, ok := parsePort(v)
		if !ok {
			continue
		}
		found++
		port = p
	}
	if found != 1 {
		return 0, false
	}
	return port, true
}

// portFlags take a port number.
var portFlags = map[string]bool{
	"port": true, "p": true, "server.port": true, "http-port": true, "http.port": true,
	"server-port": true, "dserver.port": true, "listen-port": true, "web-port": true, "app-port": true,
}

// addrFlags take an address with a port ("0.0.0.0:8000", ":8080",
// "tcp://0.0.0.0:3000").
var addrFlags = map[string]bool{
	"bind": true, "b": true, "listen": true, "l": true, "addr": true, "address": true,
	"http": true, "listen-addr": true, "http-addr": true, "web.listen-address": true, "s": true,
}

// bareAddr is an address that listens on every interface, as a positional
// argument: "0.0.0.0:8000" (manage.py runserver, php -S), "[::]:80".
var bareAddr = regexp.MustCompile(`^(?:[a-z]+://)?(?:0\.0\.0\.0|\[::\]|\*|::)?:(\d{1,5})/?$`)

// hostPort reads "host:port", ":port", "tcp://host:port" or a bare port.
var hostPort = regexp.MustCompile(`^(?:[a-z]+://)?(?:[A-Za-z0-9.\-]*|\[[0-9a-fA-F:]*\])?:(\d{1,5})/?$`)

// portContext is what commandPort may consult besides the command.
type portContext struct {
	env map[string]string
	// script returns the text of a package.json script ("start"), or "".
	script func(name string) string
	// file returns the content of a shell script the image copies from
	// its context, by the path the command runs it by, or nil.
	file func(name string) []byte
}

// portFind is a port and where it came from.
type portFind struct {
	port   int
	source string
	// server is the server the command runs, "" if none is known.
	server string
}

// maxScriptDepth bounds how deep npm scripts and shell scripts are
// followed.
const maxScriptDepth = 3

// commandPort reads the port of the image's command: explicit flags and
// addresses first (cmd), then the variables of the server it runs or the
// generic PORT (env), then the server's default (framework). It returns
// a zero port when the command says nothing.
func commandPort(entry, cmd *imageCommand, pc portContext) portFind {
	lex := shell.NewLex('\\')
	var lines [][]string
	add := func(c *imageCommand) {
		if c == nil {
			return
		}
		if c.Shell {
			lines = append(lines, shellCommands(lex, strings.Join(c.Words, " "), pc.env)...)
		} else {
			lines = append(lines, execCommands(lex, c.Words, pc.env)...)
		}
	}
	switch {
	case entry != nil && !entry.Shell && cmd != nil && !cmd.Shell:
		// The exec forms join: ENTRYPOINT ["uvicorn"] CMD ["app:app", "--port", "80"].
		add(&imageCommand{Words: append(append([]string{}, entry.Words...), cmd.Words...)})
	case entry != nil:
		add(entry)
	default:
		add(cmd)
	}
	return findInCommands(lex, lines, pc, 0)
}

func findInCommands(lex *shell.Lex, lines [][]string, pc portContext, depth int) portFind {
	var named portFind
	for _, words := range lines {
		f := wordsPort(lex, words, pc, depth)
		if f.port > 0 && (f.source == PortFromCmd || f.source == PortFromEnv) {
			return f
		}
		if named.server == "" && f.server != "" {
			named = f
		}
		if named.port == 0 && f.port > 0 {
			named = f
		}
	}
	if named.server == "" {
		if p, ok := envPort(pc.env, portEnvNames); ok {
			return portFind{port: p, source: PortFromEnv}
		}
		if named.port == 0 {
			if p, ok := soleAppPortEnv(pc.env); ok {
				return portFind{port: p, source: PortFromEnv}
			}
		}
		return named
	}
	srv := servers[named.server]
	if p, ok := envPort(pc.env, srv.env); ok {
		return portFind{port: p, source: PortFromEnv, server: named.server}
	}
	if srv.usesPORT {
		if p, ok := envPort(pc.env, []string{"PORT"}); ok {
			return portFind{port: p, source: PortFromEnv, server: named.server}
		}
	}
	if named.port > 0 {
		return named
	}
	return portFind{port: srv.port, source: PortFromFramework, server: named.server}
}

func envPort(env map[string]string, names []string) (int, bool) {
	for _, n := range names {
		if v, ok := env[n]; ok {
			if p, ok := parsePort(v); ok {
				return p, true
			}
		}
	}
	return 0, false
}

// shellCommands splits a shell command line into simple commands at
// &&, ||, ;, | and new lines, each as its words with variables expanded
// from env.
func shellCommands(lex *shell.Lex, script string, env map[string]string) [][]string {
	var out [][]string
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := lex.ProcessWords(line, mapEnv(env))
		if err != nil {
			words = strings.Fields(line)
		}
		var cur []string
		for _, w := range words {
			switch w {
			case "&&", "||", ";", "|", "&":
				if len(cur) > 0 {
					out = append(out, cur)
				}
				cur = nil
				continue
			}
			if strings.HasSuffix(w, ";") && len(w) > 1 {
				cur = append(cur, strings.TrimSuffix(w, ";"))
				out = append(out, cur)
				cur = nil
				continue
			}
			cur = append(cur, w)
		}
		if len(cur) > 0 {
			out = append(out, cur)
		}
		if len(out) > 64 {
			break
		}
	}
	return out
}

// execCommands reads an exec-form command; ["sh", "-c", "…"] runs a
// shell line.
func execCommands(lex *shell.Lex, words []string, env map[string]string) [][]string {
	for i := 0; i+1 < len(words); i++ {
		base := path.Base(words[i])
		if (base == "sh" || base == "bash" || base == "ash" || base == "dash" || base == "zsh") && strings.HasPrefix(words[i+1], "-") && strings.Contains(words[i+1], "c") && i+2 < len(words) {
			return shellCommands(lex, words[i+2], env)
		}
	}
	return [][]string{words}
}

// wrappers run the command that follows them.
var wrappers = map[string]int{
	"exec": 0, "env": 0, "nohup": 0, "npx": 0, "bunx": 0, "dumb-init": 0, "tini": 0, "time": 0,
	"gosu": 1, "su-exec": 1, "setpriv": 0, "uv": 0, "poetry": 0, "pipenv": 0, "pdm": 0, "rye": 0,
	"bundle": 0, "pnpx": 0, "stdbuf": 0,
}

// npmRunners run package.json scripts.
var npmRunners = map[string]bool{"npm": true, "yarn": true, "pnpm": true, "bun": true}

// wordsPort reads one simple command.
func wordsPort(lex *shell.Lex, words []string, pc portContext, depth int) portFind {
	env := pc.env
	assigned := false
	// Leading assignments: PORT=8000 node server.js.
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		assigned = true
		k, v, _ := strings.Cut(words[0], "=")
		if env == nil || env[k] != v {
			e := make(map[string]string, len(env)+1)
			for kk, vv := range env {
				e[kk] = vv
			}
			e[k] = v
			env = e
		}
		words = words[1:]
	}
	pc.env = env
	// Wrappers: exec, npx, poetry run, bundle exec, gosu user, tini --.
	for len(words) > 0 {
		base := path.Base(words[0])
		skip, ok := wrappers[base]
		if !ok {
			break
		}
		if 1+skip > len(words) {
			return portFind{}
		}
		words = words[1+skip:]
		for len(words) > 0 && (words[0] == "--" || words[0] == "run" || words[0] == "exec" || strings.HasPrefix(words[0], "-")) {
			words = words[1:]
		}
		for len(words) > 0 && base == "env" && strings.Contains(words[0], "=") {
			k, v, _ := strings.Cut(words[0], "=")
			e := map[string]string{k: v}
			for kk, vv := range pc.env {
				if kk != k {
					e[kk] = vv
				}
			}
			pc.env = e
			words = words[1:]
		}
	}
	if len(words) == 0 {
		return portFind{}
	}
	prog := path.Base(words[0])
	args := words[1:]
	// python -m uvicorn, python3 -m http.server, node_modules/.bin/next.
	if strings.HasPrefix(prog, "python") || prog == "py" {
		for i := 0; i < len(args); i++ {
			if args[i] == "-m" && i+1 < len(args) {
				prog, args = args[i+1], args[i+2:]
				break
			}
			if !strings.HasPrefix(args[i], "-") {
				// python app.py / python manage.py runserver.
				prog, args = path.Base(args[i]), args[i+1:]
				break
			}
		}
	}
	if prog == "php" && len(args) > 0 && path.Base(args[0]) == "artisan" {
		prog, args = "artisan", args[1:]
	}
	if prog == "node" && len(args) > 0 && strings.Contains(args[0], "node_modules/.bin/") {
		prog, args = path.Base(args[0]), args[1:]
	}
	// npm start, yarn serve, pnpm run preview: the script's command.
	if npmRunners[prog] && pc.script != nil && depth < maxScriptDepth {
		name := ""
		rest := args
		for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
			rest = rest[1:]
		}
		if len(rest) > 0 {
			name = rest[0]
			if name == "run" || name == "run-script" {
				name = ""
				if len(rest) > 1 {
					name = rest[1]
				}
			}
		}
		if name != "" {
			if s := pc.script(name); s != "" {
				// Arguments after "--" go to the script's command.
				extra := ""
				for i, a := range rest {
					if a == "--" {
						extra = " " + strings.Join(rest[i+1:], " ")
						break
					}
				}
				return findInCommands(lex, shellCommands(lex, s+extra, pc.env), pc, depth+1)
			}
		}
	}
	// A shell script the image copied: ./entrypoint.sh, /start.sh.
	if strings.HasSuffix(prog, ".sh") || (prog == "sh" || prog == "bash") && len(args) > 0 && strings.HasSuffix(args[0], ".sh") {
		script := words[0]
		if !strings.HasSuffix(prog, ".sh") {
			script = args[0]
		}
		if pc.file != nil && depth < maxScriptDepth {
			if data := pc.file(script); data != nil {
				return findInCommands(lex, shellCommands(lex, string(data), pc.env), pc, depth+1)
			}
		}
		return portFind{}
	}
	f := portFind{}
	if p, ok := explicitPort(prog, args); ok {
		f.port, f.source = p, PortFromCmd
	}
	f.server = serverOf(prog, args)
	if f.server == "runserver" && f.port == 0 {
		// manage.py runserver 8000
		for _, a := range args {
			if p, ok := parsePort(a); ok {
				f.port, f.source = p, PortFromCmd
			}
		}
	}
	if f.server == "http.server" && f.port == 0 {
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				break
			}
			if p, ok := parsePort(a); ok {
				f.port, f.source = p, PortFromCmd
				break
			}
		}
	}
	if f.port == 0 && assigned {
		// Variables set for this command alone: PORT=3000 node server.js.
		names := portEnvNames
		if f.server != "" {
			srv := servers[f.server]
			names = srv.env
			if srv.usesPORT {
				names = append(slices.Clone(names), "PORT")
			}
		}
		if p, ok := envPort(pc.env, names); ok {
			f.port, f.source = p, PortFromEnv
		}
	}
	return f
}

// serverOf names the server a command runs, "" when unknown.
func serverOf(prog string, args []string) string {
	first := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			first = a
			break
		}
	}
	if prog == "manage.py" && first == "runserver" {
		return "runserver"
	}
	if prog == "node" && strings.HasSuffix(first, ".output/server/index.mjs") {
		// The server Nuxt (Nitro) builds.
		return "nuxt"
	}
	if s, ok := subcommandServers[prog+" "+first]; ok && s != "" {
		return s
	}
	if prog == "gradio" {
		return "gradio"
	}
	if needsSubcommand[prog] {
		return ""
	}
	if _, ok := servers[prog]; ok {
		return prog
	}
	return ""
}

// explicitPort finds a port flag or a listening address among args.
func explicitPort(prog string, args []string) (int, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if m := bareAddr.FindStringSubmatch(a); m != nil {
				if p, ok := parsePort(m[1]); ok {
					return p, true
				}
			}
			continue
		}
		name := strings.ToLower(strings.TrimLeft(a, "-"))
		val, hasVal := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, a[len(a)-len(v):], true
		} else if len(name) > 1 && name[0] == 'p' && !strings.HasPrefix(a, "--") && isDigits(name[1:]) {
			// -p8080
			name, val, hasVal = "p", name[1:], true
		}
		if !portFlags[name] && !addrFlags[name] {
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				continue
			}
			val = args[i+1]
		}
		if portFlags[name] {
			if p, ok := parsePort(val); ok {
				return p, true
			}
			// docker-style -p 8080:80 is not a listening flag of a server.
			continue
		}
		if name == "s" && prog != "php" {
			continue
		}
		if m := hostPort.FindStringSubmatch(val); m != nil {
			if p, ok := parsePort(m[1]); ok {
				return p, true
			}
		}
		if (name == "l" || name == "listen") && prog != "nginx" {
			if p, ok := parsePort(val); ok {
				return p, true
			}
		}
	}
	return 0, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePort reads a TCP port number.
func parsePort(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if !isDigits(s) || len(s) > 5 {
		return 0, false
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, false
	}
	return p, true
}
