package metadata

import (
	"bytes"
	"errors"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
)

// The fuzz tests feed hostile file contents to each parser: none may panic,
// errors must be *Error naming the file, and outputs must stay within their
// bounds whatever the input. `go test` runs the seeds; run one with
// `go test -fuzz=FuzzTagsFile ./daemon/ingest/metadata/` to search further.

func wantFileError(t *testing.T, err error, file string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.File != file || !IsPermanent(err) {
		t.Fatalf("error %v (%T) is not a permanent *Error naming %s", err, err, file)
	}
}

// checkTags adds values to a tag set as Extract does and checks that every
// kept tag is valid and the set bounded.
func checkTags(t *testing.T, src catalog.TagSource, key string, values []string) {
	t.Helper()
	s := newTagSet()
	for _, v := range values {
		s.add(src, key, v)
	}
	tags, _ := s.list()
	if len(tags) > catalog.MaxTagsPerRepo {
		t.Fatalf("%d tags over the bound", len(tags))
	}
	for _, tg := range tags {
		again, err := catalog.NewTag(tg.Key, tg.Value)
		if err != nil || again.Key != tg.Key || again.Value != tg.Value {
			t.Fatalf("tag %q is not valid: %v", tg, err)
		}
	}
}

func FuzzTagsFile(f *testing.F) {
	f.Add([]byte("name: x\ntags:\n  category: dashboard\n  topic: [a, b]\nport: 3000\n"))
	f.Add([]byte("tags:\n  - a:b\n  - c\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\ntags: *x\n"))
	f.Add([]byte("tags: {a: {b: c}}\nport: [1]\n"))
	f.Add([]byte("---\n- 1\n"))
	f.Add([]byte("name: \"\\xff\"\ntags:\n  \"\": \"\\u0000\"\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, _, err := parseTagsFile("tags.yaml", data)
		if err != nil {
			wantFileError(t, err, "tags.yaml")
			return
		}
		if tf.Port < 0 || tf.Port > 65535 {
			t.Fatalf("port %d", tf.Port)
		}
		if len(tf.Tags) > 4*maxListItems {
			t.Fatalf("%d tags read", len(tf.Tags))
		}
		s := newTagSet()
		for _, d := range tf.Tags {
			s.add(catalog.SourceAuthor, d.Key, d.Value)
		}
		tags, _ := s.list()
		for _, tg := range tags {
			if _, err := catalog.NewTag(tg.Key, tg.Value); err != nil {
				t.Fatalf("tag %q is not valid: %v", tg, err)
			}
		}
	})
}

func FuzzReadme(f *testing.F) {
	f.Add([]byte("---\ntitle: x\nsdk: docker\napp_port: 7860\ntags: [a, b]\nlicense: mit\n---\nbody\n"))
	f.Add([]byte("---\ntitle: [\n---\nbody"))
	f.Add([]byte("---\n"))
	f.Add([]byte("---\r\n...\r\n"))
	f.Add([]byte("# plain\n"))
	f.Add([]byte("title: x\nsdk: docker\n---\n<h1>T</h1>\n\n[![b](c)](d) Text & more.\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _ := parseReadme("README.md", data)
		c := parseReadmeCard([]byte(m.Body))
		if len([]rune(c.Description)) > descriptionTarget+descriptionTarget/10+1 {
			t.Fatalf("description of %d characters", len([]rune(c.Description)))
		}
		if m.AppPort < 0 || m.AppPort > 65535 {
			t.Fatalf("app_port %d", m.AppPort)
		}
		if len(m.Topics) > maxListItems {
			t.Fatalf("%d topics", len(m.Topics))
		}
		if !bytes.HasSuffix(data, []byte(m.Body)) {
			t.Fatalf("body %q is not the end of the file", m.Body)
		}
		checkTags(t, catalog.SourceAuthor, "topic", m.Topics)
		if len(licenseIDs(m.License)) > 4 {
			t.Fatalf("license ids of %q", m.License)
		}
	})
}

func FuzzPackageJSON(f *testing.F) {
	f.Add([]byte(`{"name":"a","keywords":["x","y"],"license":"(MIT OR Apache-2.0)","dependencies":{"next":"1","react":"1"}}`))
	f.Add([]byte(`{"keywords":"a, b","license":{"type":"ISC"},"licenses":[{"type":"MIT"}]}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"name": 1, "dependencies": []}`))
	f.Add([]byte("{\n\"a\": ,}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _ := parsePackageJSON("package.json", data)
		if len(m.Topics) > maxListItems || len(m.Licenses) > 20 || len(m.Frameworks) > len(npmFrameworks) {
			t.Fatalf("unbounded manifest %+v", m)
		}
		checkTags(t, catalog.SourceAuthor, "topic", m.Topics)
		checkTags(t, catalog.SourceAuthor, "license", m.Licenses)
	})
}

func FuzzGoMod(f *testing.F) {
	f.Add([]byte("module github.com/a/b\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.0.0\n)\n"))
	f.Add([]byte("module \"x\"\nrequire github.com/gofiber/fiber/v2 v2.0.0 // indirect\nreplace (\n)\n"))
	f.Add([]byte("require (\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, w := parseGoMod("go.mod", data)
		if len(w) != 0 || len(m.Frameworks) > len(goFrameworks) || len(m.Facts) > 2 {
			t.Fatalf("unbounded manifest %+v", m)
		}
		for k, v := range m.Facts {
			if len(v) > 256+len("…") {
				t.Fatalf("fact %s is %d bytes", k, len(v))
			}
		}
	})
}

func FuzzRequirements(f *testing.F) {
	f.Add([]byte("flask==2.0\n-r x.txt\nDjango>=4 # web\n"))
	f.Add([]byte("gradio[oauth]\nfastapi\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseRequirements(data)
		if len(m.Frameworks) > len(pythonFrameworks) {
			t.Fatalf("frameworks %v", m.Frameworks)
		}
	})
}

func FuzzPyproject(f *testing.F) {
	f.Add([]byte("[project]\nname = \"a\"\ndependencies = [\n  \"flask>=2\", # c\n  'django',\n]\n"))
	f.Add([]byte("[tool.poetry.dependencies]\nfastapi = \"*\"\n"))
	f.Add([]byte("[project]\ndependencies = [\"a\nlong = \"\"\"\n"))
	f.Add([]byte("[[[[\na = [[[[\"x\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parsePyproject(data)
		if len(m.Frameworks) > len(pythonFrameworks) || len(m.Topics) > maxListItems {
			t.Fatalf("unbounded manifest %+v", m)
		}
		checkTags(t, catalog.SourceAuthor, "topic", m.Topics)
		if n := len(scanTOML(data)); n > maxTOMLEntries {
			t.Fatalf("%d entries", n)
		}
	})
}

func FuzzCargo(f *testing.F) {
	f.Add([]byte("[package]\nname = \"a\"\nlicense = \"MIT OR Apache-2.0\"\nkeywords = [\"web\"]\n[dependencies]\naxum = { version = \"0.7\" }\n[dependencies.rocket]\n"))
	f.Add([]byte("[package]\ndescription = '''\nx\n'''\n"))
	f.Add([]byte("a = \"\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseCargo(data)
		if len(m.Frameworks) > len(cargoFrameworks) || len(m.Topics) > maxListItems {
			t.Fatalf("unbounded manifest %+v", m)
		}
		checkTags(t, catalog.SourceAuthor, "license", m.Licenses)
	})
}

func FuzzDockerfile(f *testing.F) {
	f.Add([]byte("FROM node:20 AS a\nEXPOSE 3000\nFROM a\nUSER x\nHEALTHCHECK CMD true\n"))
	f.Add([]byte("ARG B=alpine\nFROM $B\nENV A=1 B=2\nEXPOSE ${A}\n"))
	f.Add([]byte("# escape=`\nFROM a\nRUN x `\n  y\n"))
	f.Add([]byte("FROM a\nRUN <<EOF\nx\nEOF\n"))
	f.Add([]byte("RUN x\n"))
	f.Add([]byte("FROM a\nENV PORT=1\nCMD uvicorn x --port ${PORT:-2} && sh -c 'gunicorn -b :3'\n"))
	f.Add([]byte("FROM a\nENTRYPOINT [\"npm\", \"start\", \"--\", \"-p\", \"9\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, _, err := analyzeDockerfile("Dockerfile", data)
		if err != nil {
			wantFileError(t, err, "Dockerfile")
			return
		}
		info := facts.Info
		pc := portContext{env: facts.Env, script: func(string) string { return "npm start" }, file: func(string) []byte { return data }}
		if p := commandPort(facts.Entrypoint, facts.Cmd, pc); p.port < 0 || p.port > 65535 {
			t.Fatalf("command port %d", p.port)
		}
		if len(facts.Sources) > maxSources {
			t.Fatalf("%d sources", len(facts.Sources))
		}
		if info.Stages < 1 {
			t.Fatalf("parsed without a stage: %+v", info)
		}
		for _, p := range info.Expose {
			if p < 1 || p > 65535 {
				t.Fatalf("port %d", p)
			}
		}
		checkTags(t, catalog.SourceAuto, "runtime", []string{runtimeOf(info.BaseImage)})
	})
}
