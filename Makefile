# appstore: build, test, demo. `make help` lists the targets.
#
# Variables (override on the command line, e.g. `make test GOTESTFLAGS='-run Store -v'`):
#   GO            the go command (default: go)
#   GOTESTFLAGS   extra flags for go test (e.g. -race, -run X, -v)
#   TEST_TIMEOUT  go test -timeout (default: 30m)
#   TEST_P        packages tested in parallel, go test -p (default: 2)
#   BENCHTIME     go test -benchtime for `make bench` (default: 1s)
#   SEARCH_BENCHTIME  -benchtime of the 100 000-app search benchmark, in samples per class
#                 (default: 2000x: percentiles need samples, not seconds)
#   FUZZTIME      go test -fuzztime of each fuzz target for `make fuzz` and `make stress` (default: 30s)

GO           ?= go
GOTESTFLAGS  ?=
TEST_TIMEOUT ?= 30m
TEST_P       ?= 2
BENCHTIME    ?= 1s
SEARCH_BENCHTIME ?= 2000x
FUZZTIME     ?= 30s

.DEFAULT_GOAL := build
.PHONY: build test deps demo bench stress fuzz vet clean help

## build: bin/appstore (CLI + TUI) and bin/appstored (daemon)
build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/appstore ./cmd/appstored

## deps: install (as root) and start what the tests need: Docker, Redis, PostgreSQL, Git, tmux, Chromium
deps:
	bash scripts/test-deps.sh

## test: deps, then every test (real PostgreSQL, Redis, Docker, Git)
test: deps
	$(GO) test ./... -count=1 -timeout $(TEST_TIMEOUT) -p $(TEST_P) $(GOTESTFLAGS)

## demo: build, run appstored on the embedded PostgreSQL (data in .demo/), register examples/
demo: build
	bash scripts/demo.sh

## bench: deps, then every benchmark (no tests), each for BENCHTIME; the search benchmark for SEARCH_BENCHTIME
bench: deps
	$(GO) test ./... -run '^$$' -bench . -skip '^BenchmarkSearch$$' -benchtime $(BENCHTIME) -count=1 -timeout $(TEST_TIMEOUT) -p 1 $(GOTESTFLAGS)
	$(GO) test ./daemon/api -run '^$$' -bench '^BenchmarkSearch$$' -benchtime $(SEARCH_BENCHTIME) -count=1 -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS)

## stress: deps, then every test with the `stress` build tag (the long forms: docs/reliability.md), then every fuzz target for FUZZTIME
stress: deps
	$(GO) test -tags stress ./... -count=1 -timeout 60m -p 1 $(GOTESTFLAGS)
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

## fuzz: every fuzz target (func Fuzz… in *_test.go) for FUZZTIME each
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

## vet: go vet
vet:
	$(GO) vet ./...

## clean: remove build output (keeps .demo/, the demo's data)
clean:
	rm -rf bin coverage* *.out

## help: this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
