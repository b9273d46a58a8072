#!/usr/bin/env bash
# Runs every Go fuzz target of the module (each `func FuzzX` in a _test.go
# file) for FUZZTIME (default 30s) each, one after the other: `make fuzz`,
# and the end of `make stress`. A failure stops the run; the failing input
# is saved under the package's testdata/fuzz/FuzzX/ by go test, and becomes
# a regression case of the plain `go test` from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
count=0
while IFS= read -r file; do
	dir=./$(dirname "${file#./}")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "== fuzz $dir $target for $FUZZTIME"
		"$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$dir"
		count=$((count + 1))
	done
done < <(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata '^func Fuzz' . | sort)
echo "== $count fuzz targets ran for $FUZZTIME each"
