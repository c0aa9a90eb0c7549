#!/usr/bin/env bash
# One thread vs two: the `tracecat stats` example of weft-trace (Reader +
# Stats, the weft binary's allocator, input read into a reserved buffer) in
# three ways, alternating, on the stress trace of run.sh:
#   one:   everything on one thread (TRACECAT_SERIAL=1 TRACECAT_ONE_THREAD=1);
#   ahead: decoding on a second thread, Stats with the ordering (TRACECAT_SERIAL=1);
#   par:   decoding and Stats on a second thread, ordering alone on the
#          first (for_each_event_par, what `weft trace stats` runs).
# Prints medians of wall and CPU (user + sys) time, the ordering thread's
# own CPU time (what the wall time would be with a second core all to
# ourselves) and peak RSS, with the load average.
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
  main=$(awk '/main thread CPU/ {print $4}' "$out/$name.err")
  awk -v m="${main:-0}" '{printf "%s %.2f %s %s\n", $1, $2+$3, $4, m}' "$out/$name.t" >>"$out/$name.runs"
}
rm -f "$out"/*.runs
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  measure one TRACECAT_SERIAL=1 TRACECAT_ONE_THREAD=1
  measure ahead TRACECAT_SERIAL=1
  measure par X=1
done
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }
echo "Load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; medians of $runs alternating runs."
echo
echo "| tracecat stats | wall (s) | CPU (s) | ordering thread CPU (s) | peak RSS (MB) |"
echo "|---|---|---|---|---|"
for n in one ahead par; do
  case $n in
    one) label="one thread" ;;
    ahead) label="decode thread" ;;
    par) label="decode + Stats thread (for_each_event_par)" ;;
  esac
  printf "| %s | %s | %s | %s | %.0f |\n" "$label" \
    "$(col "$out/$n.runs" 1)" "$(col "$out/$n.runs" 2)" "$(col "$out/$n.runs" 4)" "$(echo "$(col "$out/$n.runs" 3) / 1024" | bc -l)"
done
