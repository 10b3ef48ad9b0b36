#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind: vet, unit and
# integration tests (real SQLite, the real server driven by the official
# Alibaba Cloud SDKs), the scenario files through `palisade check`, and one
# pass of every benchmark so that none rots (timings are not judged here).
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# The data-plane tests need nftables and iproute2 (real kernels, in network
# namespaces the tests create and remove). The console's tests drive a
# real browser (headless chromium). Install them from Debian's packages
# when missing.
need=()
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v chromium >/dev/null || need+=(chromium)
command -v etcd >/dev/null || need+=(etcd-server) # store/etcd's external-etcd conformance run
if ((${#need[@]})) && [ "$(id -u)" = 0 ]; then
	echo "== installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== gofmt, go mod tidy, go vet"
unformatted=$(gofmt -l apiclient bench cmd examples internal)
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files (run gofmt -w):"; echo "$unformatted"; exit 1
fi
if ! go mod tidy -diff; then
	echo "go.mod/go.sum are not tidy (run go mod tidy)"; exit 1
fi
go vet ./...

echo "== go test"
go test -count=1 -timeout 20m ./...

echo "== palisade check (scenario files)"
go build -o bin/palisade ./cmd/palisade
./bin/palisade check testdata/scenarios/*.yaml testdata/scenarios/check-only/*.yaml

if [ "$(id -u)" = 0 ]; then
	echo "== palisade lab play (scenario files with real packets, agents and nftables)"
	./bin/palisade lab play testdata/scenarios/*.yaml
else
	echo "== palisade lab play: skipped (needs root for network namespaces; the kernel tests skip too)"
fi

echo "== benchmarks, one pass each (smoke)"
go test -count=1 -short -run '^$' -bench . -benchtime 1x ./... > /dev/null
go run ./bench/api -quick > /dev/null
go run ./bench/load -quick > /dev/null
go run ./bench/fanout -quick > /dev/null
echo "benchmarks ran"
