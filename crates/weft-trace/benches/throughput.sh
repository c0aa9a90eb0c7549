#!/usr/bin/env bash
# Side-by-side decoder throughput: weft-trace vs Go's own reader, on one trace.
#
#   bash crates/weft-trace/benches/throughput.sh [TRACE]   (RUNS=3 by default)
#
# Without TRACE, records ~65 MB from testdata/programs/stress with Go 1.27.
# Runs, alternating so machine noise hits both alike:
#   read:  tracecat count (decode + order every event, touch its stack)
#          vs golang.org/x/exp/trace reading every event (bench/trace/expreader)
#   dump:  tracecat dump > /dev/null  vs  go tool trace -d=parsed > /dev/null
# and prints medians of wall time, CPU (user+sys) time and peak RSS as a
# markdown table. CPU time is the fairer figure on a shared machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
runs="${RUNS:-3}"
work="${TMPDIR:-/tmp}/weft-trace-bench"
mkdir -p "$work"
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

trace="${1:-}"
if [ -z "$trace" ]; then
  trace="$work/stress.trace"
  if [ ! -s "$trace" ]; then
    (cd "$root/testdata/programs" && "$go" build -o "$work/stress" ./stress)
    "$work/stress" -trace "$trace" -pairs 200 >&2
  fi
fi
(cd "$root/bench/trace/expreader" && "$go" build -o "$work/expreader" .)
(cd "$root" && cargo build --release --quiet -p weft-trace --example tracecat)
tracecat="${CARGO_TARGET_DIR:-$root/target}/release/examples/tracecat"
size=$(stat -c %s "$trace")

measure() { # name cmd... (stdout discarded)
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.t" "$@" >/dev/null 2>"$work/$name.err" \
    || { echo "$name failed: $(tail -c 300 "$work/$name.err")" >&2; exit 1; }
  awk '{printf "%s %.2f %s\n", $1, $2+$3, $4}' "$work/$name.t" >>"$work/$name.runs"
}
rm -f "$work"/*.runs
for i in $(seq "$runs"); do
  echo "run $i/$runs" >&2
  measure go_read "$work/expreader" "$trace"
  measure weft_read "$tracecat" count "$trace"
  measure go_dump "$go" tool trace -d=parsed "$trace"
  measure weft_dump "$tracecat" dump "$trace"
done
med() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1.runs" | med; }
row() {
  local n=$1 w c m
  w=$(col "$n" 1); c=$(col "$n" 2); m=$(col "$n" 3)
  printf "| %s | %s | %s | %.0f | %.0f |\n" "$2" "$w" "$c" "$(echo "$size / $c / 1000000" | bc -l)" "$(echo "$m / 1024" | bc -l)"
}
echo
echo "Trace: $(basename "$trace"), $size bytes; $runs runs each, medians; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| reader | wall s | CPU s | MB/s (CPU) | peak RSS MB |"
echo "|---|---|---|---|---|"
row go_read "Go x/exp/trace, every event"
row weft_read "weft-trace, every event"
row go_dump "go tool trace -d=parsed > /dev/null"
row weft_dump "weft-trace dump > /dev/null"
gr=$(col go_read 2); wr=$(col weft_read 2); gd=$(col go_dump 2); wd=$(col weft_dump 2)
printf "\nCPU-time ratio: read %.1fx, dump %.1fx (Go / weft)\n" "$(echo "$gr / $wr" | bc -l)" "$(echo "$gd / $wd" | bc -l)"
