#!/usr/bin/env bash
# fuzz.sh — run every Go fuzz target of the module for a while each
# (`make fuzz`; FUZZTIME, default 30s per target). `make test` runs only
# their seed corpora (f.Add and testdata/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-30s}"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($t)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg"
	done
done
