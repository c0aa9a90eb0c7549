#!/usr/bin/env bash
# One thread vs the decode thread: the `tracecat stats` example of
# weft-trace (Reader + Stats, the weft binary's allocator, input read into a
# reserved buffer) with TRACECAT_ONE_THREAD=1 and without, alternating, on
# the stress trace of run.sh. Prints medians of wall and CPU (user + sys)
# time and peak RSS, with the load average.
#
#   RUNS=5 bash bench/trace/threads.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${RUNS:-5}"
out="$root/bench/out/threads"
mkdir -p "$out"
trace="$root/bench/out/stress.trace"
[ -s "$trace" ] || { echo "no $trace: run bench/trace/run.sh first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
(cd "$root" && cargo build --release --quiet -p weft-trace --example tracecat)
cat="${CARGO_TARGET_DIR:-$root/target}/release/examples/tracecat"

measure() { # name env...
  local name=$1; shift
  env "$@" /usr/bin/time -f "%e %U %S %M" -o "$out/$name.t" "$cat" stats "$trace" >/dev/null 2>"$out/$name.err"
  awk '{printf "%s %.2f %s\n", $1, $2+$3, $4}' "$out/$name.t" >>"$out/$name.runs"
}
rm -f "$out"/*.runs
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  measure one TRACECAT_ONE_THREAD=1
  measure two X=1
done
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }
echo "Load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; medians of $runs alternating runs."
echo
echo "| tracecat stats | wall (s) | CPU (s) | peak RSS (MB) |"
echo "|---|---|---|---|"
for n in one two; do
  printf "| %s | %s | %s | %.0f |\n" "$([ $n = one ] && echo "one thread" || echo "decode thread")" \
    "$(col "$out/$n.runs" 1)" "$(col "$out/$n.runs" 2)" "$(echo "$(col "$out/$n.runs" 3) / 1024" | bc -l)"
done
