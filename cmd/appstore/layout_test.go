package main

import (
	"slices"
	"strings"
	"testing"
)

// The layout rules of docs/architecture.md ("Layout"), checked on the
// packages' imports (go list, not test files: tests of the daemon may drive
// it with the real client).
const module = "github.com/appstore-dev/appstore"

// TestDaemonDoesNotImportClient: the server owns its wire schema (apitype);
// no package under daemon/ imports the client, so an endpoint is never
// added by editing the client first.
func TestDaemonDoesNotImportClient(t *testing.T) {
	imports := goListImports(t, module+"/daemon/...")
	if len(imports) < 10 {
		t.Fatalf("go list found %d daemon packages; the check would prove nothing", len(imports))
	}
	for pkg, imps := range imports {
		if bad := clientImports(imps); len(bad) > 0 {
			t.Errorf("%s imports %s: take the wire types from %s/apitype instead", pkg, strings.Join(bad, ", "), module)
		}
	}
}

// TestClientImportsAreDetected makes sure the check above fails for a
// package that does import the client (the CLI does, as it should).
func TestClientImportsAreDetected(t *testing.T) {
	imports := goListImports(t, module+"/cli")
	if bad := clientImports(imports[module+"/cli"]); !slices.Contains(bad, module+"/client") {
		t.Errorf("clientImports(imports of cli) = %v, want the client named", bad)
	}
}

func clientImports(imports []string) []string {
	var bad []string
	for _, imp := range imports {
		if imp == module+"/client" || strings.HasPrefix(imp, module+"/client/") {
			bad = append(bad, imp)
		}
	}
	return bad
}

// TestWireSchemaImportsOnlyTheDomain: apitype imports the standard library
// and catalog, nothing else, so that the client and the daemon can both
// depend on it.
func TestWireSchemaImportsOnlyTheDomain(t *testing.T) {
	imports := goListImports(t, module+"/apitype")
	imps, ok := imports[module+"/apitype"]
	if !ok {
		t.Fatalf("go list did not report %s/apitype", module)
	}
	for _, imp := range imps {
		if isStdlib(imp) || imp == module+"/catalog" {
			continue
		}
		t.Errorf("apitype imports %s; it may import only the standard library and catalog", imp)
	}
}

// TestDomainIsPure: catalog imports the standard library, golang.org/x/text
// and internal/textutil only: no database, no network, no daemon.
func TestDomainIsPure(t *testing.T) {
	imports := goListImports(t, module+"/catalog")
	for _, imp := range imports[module+"/catalog"] {
		if isStdlib(imp) || strings.HasPrefix(imp, "golang.org/x/text/") || imp == module+"/internal/textutil" {
			continue
		}
		t.Errorf("catalog imports %s; the domain stays pure (see its package comment)", imp)
	}
}

// TestEventStreamDoesNotLinkTheAPI: the event hub and its WebSocket handler
// answer errors through daemon/api/respond, not daemon/api, so they do not
// link the Docker client and the queue that the API's handlers need.
func TestEventStreamDoesNotLinkTheAPI(t *testing.T) {
	deps := goListDeps(t, module+"/daemon/events")
	for _, d := range deps {
		switch {
		case d == module+"/daemon/api",
			strings.HasPrefix(d, "github.com/docker/docker"),
			strings.HasPrefix(d, "github.com/hibiken/asynq"):
			t.Errorf("daemon/events depends on %s (find the chain with: go mod why %s)", d, d)
		}
	}
	if !slices.Contains(deps, module+"/daemon/api/respond") {
		t.Errorf("daemon/events does not link daemon/api/respond: the check above proves nothing")
	}
}

func isStdlib(importPath string) bool {
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

// goListImports returns the direct (non-test) imports of each package that
// pattern matches.
func goListImports(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	out := goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pattern)
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			imports[f[0]] = f[1:]
		}
	}
	return imports
}
