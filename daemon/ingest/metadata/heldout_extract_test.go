package metadata_test

import (
	"context"
	"slices"
	"testing"

	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
)

// TestPortInCode: the port written in the program the image runs is taken
// only when nothing else says and the code names exactly one.
func TestPortInCode(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		port   int
		source string
	}{
		{"node script with a PORT default", map[string]string{
			"Dockerfile":    "FROM node:20\nWORKDIR /srv\nCOPY . .\nCMD node src/server.js\n",
			"src/server.js": "const app = require('express')();\nconst port = process.env.PORT || 4100;\napp.listen(port);\n",
		}, 4100, metadata.PortFromCode},
		{"two ports in the code are ambiguous", map[string]string{
			"Dockerfile": "FROM node:20\nCOPY . .\nCMD [\"node\", \"index.js\"]\n",
			"index.js":   "require('http').createServer().listen(3000);\nrequire('net').createServer().listen(7000);\n",
		}, 0, ""},
		{"uvicorn.run with a port", map[string]string{
			"Dockerfile": "FROM python:3.12\nCOPY . .\nCMD [\"python\", \"-u\", \"main.py\"]\n",
			"main.py":    "import uvicorn\nfrom fastapi import FastAPI\napp = FastAPI()\nif __name__ == '__main__':\n    uvicorn.run(app, host='0.0.0.0', port=8765)\n",
		}, 8765, metadata.PortFromCode},
		{"an EXPOSE wins over the code", map[string]string{
			"Dockerfile": "FROM python:3.12\nCOPY . .\nEXPOSE 9000\nCMD [\"python\", \"main.py\"]\n",
			"main.py":    "app.run(port=5001)\n",
		}, 9000, metadata.PortFromExpose},
		{"rust bind with a literal address", map[string]string{
			"Dockerfile":  "FROM rust:1.80 AS b\nWORKDIR /s\nCOPY . .\nRUN cargo build --release\nFROM debian:bookworm-slim\nCOPY --from=b /s/target/release/app /app\nCMD [\"/app\"]\n",
			"Cargo.toml":  "[package]\nname = \"app\"\n",
			"src/main.rs": "#[tokio::main]\nasync fn main() {\n    let l = tokio::net::TcpListener::bind(\"0.0.0.0:3030\").await.unwrap();\n}\n",
		}, 3030, metadata.PortFromCode},
		{"a Go file of another package says nothing", map[string]string{
			"Dockerfile": "FROM golang:1.22 AS b\nCOPY . .\nRUN go build -o /srv .\nFROM scratch\nCOPY --from=b /srv /srv\nCMD [\"/srv\"]\n",
			"client.go":  "package client\n\nvar _ = http.ListenAndServe(\":9999\", nil)\n",
		}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := metadata.Extract(context.Background(), writeRepo(t, c.files), metadata.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Port != c.port || res.PortSource != c.source {
				t.Errorf("port %d (%s), want %d (%s)", res.Port, res.PortSource, c.port, c.source)
			}
		})
	}
}

// TestComposePortAndExpose: a compose port that the Dockerfile does not
// expose wins over a stale EXPOSE; a service that builds another stage
// than the final one (target: dev) is built at that stage, whose command
// and EXPOSE are what count.
func TestComposePortAndExpose(t *testing.T) {
	dockerfile := "FROM node:22 AS dev\nWORKDIR /app\nCOPY . .\nCMD [\"npx\", \"vite\", \"--host\"]\n\n" +
		"FROM node:22 AS build\nWORKDIR /app\nCOPY . .\nRUN npx vite build\n\n" +
		"FROM nginx:alpine\nCOPY --from=build /app/dist /usr/share/nginx/html\nEXPOSE 80\n"
	for _, c := range []struct {
		compose string
		port    int
		source  string
	}{
		{"services:\n  web:\n    build: .\n    ports: [\"8080:8080\"]\n", 8080, metadata.PortFromCompose},
		{"services:\n  web:\n    build:\n      context: .\n      target: dev\n    ports: [\"5173:5173\"]\n", 5173, metadata.PortFromCompose},
		{"services:\n  web:\n    build: .\n    ports: [\"8000:80\"]\n", 80, metadata.PortFromExpose},
	} {
		root := writeRepo(t, map[string]string{"Dockerfile": dockerfile, "compose.yaml": c.compose, "package.json": `{"name": "spa"}`, "index.html": "<p>hi</p>"})
		res, err := metadata.Extract(context.Background(), root, metadata.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Port != c.port || res.PortSource != c.source {
			t.Errorf("%q: port %d (%s), want %d (%s)", c.compose, res.Port, res.PortSource, c.port, c.source)
		}
	}
}

// TestDockerRunYieldsToAKnownServer: a README's docker run gives the port
// of a binary, not of a server whose default is known.
func TestDockerRunYieldsToAKnownServer(t *testing.T) {
	readme := "# api\n\n```\ndocker run -p 80:80 api\n```\n"
	for _, c := range []struct {
		cmd    string
		port   int
		source string
	}{
		{`CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]`, 8000, metadata.PortFromFramework},
		{`CMD ["/usr/local/bin/api"]`, 80, metadata.PortFromDockerRun},
	} {
		root := writeRepo(t, map[string]string{"README.md": readme, "Dockerfile": "FROM python:3.12\nCOPY . .\n" + c.cmd + "\n"})
		res, err := metadata.Extract(context.Background(), root, metadata.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Port != c.port || res.PortSource != c.source {
			t.Errorf("%s: port %d (%s), want %d (%s)", c.cmd, res.Port, res.PortSource, c.port, c.source)
		}
	}
}

// TestFrameworksOfCopiedFolders: the manifests of folders the Dockerfile
// copies from (a manifest by name, or a whole folder) give frameworks even
// outside the conventional app folders.
func TestFrameworksOfCopiedFolders(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"Dockerfile": "FROM node:20 AS ui\nCOPY webclient/package*.json /ui/\nRUN cd /ui && npm ci\n" +
			"FROM node:20\nWORKDIR /app\nCOPY ./svc-core/ /app/\nCOPY --from=ui /ui /ui\nEXPOSE 3000\nCMD [\"node\", \"index.js\"]\n",
		"webclient/package.json": `{"name": "webclient", "dependencies": {"vue": "3"}}`,
		"svc-core/package.json":  `{"name": "svc-core", "dependencies": {"koa": "2"}}`,
		"svc-core/index.js":      "new (require('koa'))().listen(3000);\n",
		"tools/package.json":     `{"name": "tools", "dependencies": {"express": "4"}}`,
	})
	res, err := metadata.Extract(context.Background(), root, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var fw []string
	for _, tg := range res.Tags {
		if tg.Key == "framework" {
			fw = append(fw, tg.Value)
		}
	}
	if !slices.Equal(fw, []string{"koa", "vue"}) {
		t.Errorf("frameworks %v, want koa and vue (not express of tools/, which no Dockerfile copies)", fw)
	}
}
