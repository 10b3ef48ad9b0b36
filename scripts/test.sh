#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind: vet, unit and
# integration tests (real SQLite, the real server driven by the official
# Alibaba Cloud SDKs), the scenario files through `palisade check`, and one
# pass of every benchmark so that none rots (timings are not judged here).
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 20m ./...

echo "== palisade check (scenario files)"
go build -o bin/palisade ./cmd/palisade
./bin/palisade check testdata/scenarios/*.yaml

echo "== benchmarks, one pass each (smoke)"
go test -count=1 -run '^$' -bench . -benchtime 1x ./... > /dev/null
echo "benchmarks ran"
