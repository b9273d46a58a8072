package metadata_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
)

func ExampleExtract() {
	// A checkout of a small Go service, as the clone step leaves it.
	root, err := os.MkdirTemp("", "checkout-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	files := map[string]string{
		"tags.yaml":  "description: Short links for the team\ntags:\n  category: tools\n",
		"go.mod":     "module example.org/shorty\n\ngo 1.22\n\nrequire github.com/go-chi/chi/v5 v5.0.12\n",
		"main.go":    "package main\n\nfunc main() {}\n",
		"Dockerfile": "FROM golang:1.22 AS build\nCOPY . .\nRUN go build -o /shorty .\n\nFROM gcr.io/distroless/static\nCOPY --from=build /shorty /\nEXPOSE 8000\nUSER nonroot\nCMD [\"/shorty\"]\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}

	res, err := metadata.Extract(context.Background(), root, metadata.Options{})
	if err != nil {
		fmt.Println("ingestion fails:", err, "permanent:", metadata.IsPermanent(err))
		return
	}
	fmt.Println("dockerfile:", res.DockerfilePath, "context:", res.ContextPath)
	fmt.Println("port:", res.Port, "from", res.PortSource)
	fmt.Println("description:", res.Description)
	for _, t := range res.Tags {
		fmt.Println(t.String(), t.Source)
	}
	// Output:
	// dockerfile: Dockerfile context: .
	// port: 8000 from expose
	// description: Short links for the team
	// category:tools author
	// framework:chi auto
	// lang:go auto
	// runtime:static auto
}
