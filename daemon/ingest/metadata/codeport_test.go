package metadata_test

import (
	"context"
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
