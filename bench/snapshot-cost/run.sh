#!/usr/bin/env bash
# What does one `weft snapshot` / `weft check` cost next to the bare HTTP
# fetch of the same profile, on a target with N parked goroutines?
#
# Target: bench/schedgap (N parked goroutines in a few stacks, pprof on
# loopback). Measured in one run, alternating, ROUNDS times each:
#   anchor   curl of /debug/pprof/goroutine?debug=1 to /dev/null
#   snapshot weft snapshot URL --json   (fetch + parse + group + report)
#   check    weft check --baseline B URL --samples 1
# Prints the median wall time of each and the ratios to the anchor, as a
# markdown table. Times are wall clock from bash's EPOCHREALTIME.
#
# usage: bench/snapshot-cost/run.sh [ROUNDS=10]
# env:   N=100000, GO_VERSION=1.27, CARGO_TARGET_DIR (release weft is built there)
set -euo pipefail
ROUNDS=${1:-10}
N=${N:-100000}
GO_VERSION=${GO_VERSION:-1.27}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

go=$("$ROOT/scripts/go-toolchain.sh" "$GO_VERSION")
(cd "$ROOT/bench/schedgap" && GOTOOLCHAIN=local "$go" build -o "$TMP/target" .)
(cd "$ROOT" && cargo build --release -q -p weft)
WEFT="${CARGO_TARGET_DIR:-$ROOT/target}/release/weft"

"$TMP/target" -n "$N" > "$TMP/out" 2>&1 &
PID=$!
for _ in $(seq 600); do grep -q '^pprof: ' "$TMP/out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^pprof: //p' "$TMP/out" | head -1)
[ -n "$URL" ] || { echo "target did not start" >&2; cat "$TMP/out" >&2; exit 1; }
# Wait until the goroutines are parked.
for _ in $(seq 600); do
  total=$(curl -s "$URL/debug/pprof/goroutine?debug=1" | head -1 | sed 's/.*total //')
  [ "${total:-0}" -ge "$N" ] && break; sleep 0.2
done
"$WEFT" snapshot "$URL" --json > "$TMP/base.json"

now() { echo "${EPOCHREALTIME/./}"; }   # microseconds
declare -a A S C
for r in $(seq "$ROUNDS"); do
  t0=$(now); curl -sf -o /dev/null "$URL/debug/pprof/goroutine?debug=1"; t1=$(now)
  "$WEFT" snapshot "$URL" --json > /dev/null; t2=$(now)
  "$WEFT" check --baseline "$TMP/base.json" "$URL" --samples 1 > /dev/null; t3=$(now)
  A+=($((t1 - t0))); S+=($((t2 - t1))); C+=($((t3 - t2)))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
ma=$(median "${A[@]}"); ms=$(median "${S[@]}"); mc=$(median "${C[@]}")
echo "| what ($N goroutines, $ROUNDS rounds, Go $GO_VERSION) | median ms | vs curl |"
echo "|---|---|---|"
awk -v a="$ma" -v s="$ms" -v c="$mc" 'BEGIN {
  printf "| curl debug=1 (anchor) | %.1f | 1.00 |\n", a/1000
  printf "| weft snapshot --json | %.1f | %.2f |\n", s/1000, s/a
  printf "| weft check --samples 1 | %.1f | %.2f |\n", c/1000, c/a
}'
