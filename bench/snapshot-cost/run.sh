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
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
(cd "$ROOT" && cargo build --release -q -p weft)
WEFT="${CARGO_TARGET_DIR:-$ROOT/target}/release/weft"
. "$ROOT/bench/snapshot-cost/target.sh"
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
