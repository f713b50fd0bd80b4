#!/usr/bin/env bash
# benchmarks/peers/build.sh - build the peers whose toolchains are here and
# print where they are, one NAME=PATH per line (go, go_io, tokio, tokio_io);
# a peer that cannot be built is reported on stderr and left out. Used by
# benchmarks/run.sh, benchmarks/io/run.sh and benchmarks/report.py.
set -uo pipefail
cd "$(dirname "$0")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if command -v go >/dev/null 2>&1; then
  export GOCACHE=${GOCACHE:-$PWD/.gocache} GOFLAGS=-mod=mod
  if (cd go && go build -o weft-go-bench .) >"$log" 2>&1; then echo "go=$PWD/go/weft-go-bench"
  else echo "peers/build.sh: Go peer did not build; skipped:" >&2; cat "$log" >&2; fi
  if (cd go-io && go build -o weft-go-io .) >"$log" 2>&1; then echo "go_io=$PWD/go-io/weft-go-io"
  else echo "peers/build.sh: Go I/O peer did not build; skipped:" >&2; cat "$log" >&2; fi
else
  echo "peers/build.sh: no Go toolchain; Go peers skipped" >&2
fi
if command -v cargo >/dev/null 2>&1; then
  if (cd tokio && cargo build --release --offline -q) >"$log" 2>&1; then
    echo "tokio=$PWD/tokio/target/release/weft-tokio-bench"
    echo "tokio_io=$PWD/tokio/target/release/weft-tokio-io"
  else echo "peers/build.sh: Tokio peers did not build; skipped:" >&2; cat "$log" >&2; fi
else
  echo "peers/build.sh: no cargo; Tokio peers skipped" >&2
fi
