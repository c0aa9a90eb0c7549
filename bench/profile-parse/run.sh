#!/usr/bin/env bash
# Produces real goroutine dumps of a Go program with N parked goroutines
# (default 100000) and times weft-profile parsing them (plus weft-analysis
# grouping) in a release build. Also times how long the target itself took
# to produce each dump over HTTP, measured in the same run, as the anchor.
#
# Anchor, timed in the same run on the same dump: panicparse (a widely
# used Go dump parser; fetched through the Go module proxy) parsing and
# aggregating it.
#
# usage: bench/profile-parse/run.sh [N] [ROUNDS] [ANCHOR_ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-100000}
rounds=${2:-10}
anchor_rounds=${3:-3}
ver=${GO_VERSION:-1.27}
go="$HOME/.cache/weft/go$ver/bin/go"
[ -x "$go" ] || { echo "Go $ver missing: run scripts/install-go-toolchains.sh" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/../../target/bench-profile-parse}
work=$(mktemp -d)
# KEEP_DUMPS=dir keeps the dumps for profiling.
trap 'kill $pid 2>/dev/null || true; [ -n "${KEEP_DUMPS:-}" ] && cp "$work"/debug? "$KEEP_DUMPS"/; rm -rf "$work"' EXIT

(cd "$here/goprog" && GOTOOLCHAIN=local "$go" build -o "$work/target" .)
(cd "$here/anchor" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" build -o "$work/anchor" .)
"$work/target" -n "$n" > "$work/out" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$addr" ] || { echo "target did not start" >&2; cat "$work/out" >&2; exit 1; }

for d in 2 1 0; do
  t0=$(date +%s.%N)
  curl -sf -o "$work/debug$d" "http://$addr/debug/pprof/goroutine?debug=$d"
  t1=$(date +%s.%N)
  printf 'fetch debug=%s (target formats it): %.0f ms, %s bytes\n' "$d" "$(echo "($t1-$t0)*1000" | bc)" "$(stat -c %s "$work/debug$d")"
done
kill $pid; wait $pid 2>/dev/null || true
# Let the kernel finish reclaiming the target's ~1 GB before timing: parses
# measured right after its exit ran ≈40% slower than a few seconds later.
sleep "${SETTLE_SECS:-15}"

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores, $(uname -sr), go$ver, $(rustc --version)"
"$CARGO_TARGET_DIR/release/profile-parse-bench" "$rounds" "$work/debug2" "$work/debug1" "$work/debug0"
echo "anchor:"
"$work/anchor" "$anchor_rounds" "$work/debug2"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
