#!/usr/bin/env bash
# What does one fetch of each concurrent goroutine-profile form cost the
# TARGET, at N parked goroutines? (weft polls debug=0 by default, debug=1 on
# request.)
#
# Target: bench/schedgap (N parked goroutines in a few stacks, pprof on
# loopback, a 1 ms ticker goroutine that records how late it wakes).
# Measured in one run, alternating debug=0 and debug=1 (order swapped every
# round), ROUNDS times each; for every fetch:
#   wall      curl's total time for the request (ms)
#   cpu       CPU time all the target's threads used during the request
#             (ms, utime+stime from /proc/PID/stat, 10 ms ticks)
#   max gap   the target's largest ticker gap in a window around the fetch
#             (/schedgap/window before and after; the 1 ms ticker is late by
#             this much at worst: stop-the-world pauses show up here)
#   bytes     size of the answer
# Prints medians as a markdown table, with debug=0/debug=1 ratios.
#
# usage: bench/snapshot-cost/forms.sh [ROUNDS=5]
# env:   N=100000, GO_VERSION=1.27
set -euo pipefail
ROUNDS=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/snapshot-cost/target.sh"
sleep 2

# utime+stime of the whole process in ns (clock ticks: 10 ms resolution;
# /proc/PID/schedstat would be finer but reads 0 on kernels without schedstats).
TICK_NS=$((1000000000 / $(getconf CLK_TCK)))
cpu_ns() { awk -v t="$TICK_NS" '{sub(/^.*\) /, ""); printf "%.0f", ($12 + $13) * t}' /proc/"$PID"/stat; }
one() { # form -> "wall_ms cpu_ms gap_ms bytes"
  curl -s -o /dev/null "$URL/schedgap/window"
  local c0 c1 w gap
  c0=$(cpu_ns)
  w=$(curl -sf -o "$TMP/body" -w '%{time_total}' "$URL/debug/pprof/goroutine?debug=$1")
  c1=$(cpu_ns)
  gap=$(curl -s "$URL/schedgap/window" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_gap_ms"])')
  echo "$w $c0 $c1 $gap $(stat -c %s "$TMP/body")" |
    awk '{printf "%.2f %.2f %.2f %d\n", $1*1000, ($3-$2)/1e6, $4, $5}'
}
one 0 > /dev/null; one 1 > /dev/null   # warm up
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then order="0 1"; else order="1 0"; fi
  for f in $order; do echo "$f $(one "$f")" >> "$TMP/res"; done
done

python3 - "$TMP/res" "$N" "$ROUNDS" "$("$go" version | cut -d' ' -f3)" <<'PY'
import statistics, sys, os, platform
path, n, rounds, gover = sys.argv[1:]
rows = {"0": [], "1": []}
for line in open(path):
    f, *vals = line.split()
    rows[f].append([float(v) for v in vals])
def med(f, i):
    return statistics.median(r[i] for r in rows[f])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Machine: {os.cpu_count()} CPUs, {cpu}, Linux {platform.release()}, load avg {os.getloadavg()[0]:.1f}; "
      f"target bench/schedgap built with {gover}, {n} parked goroutines; {rounds} fetches of each form, alternated")
print()
print("| per fetch (median) | debug=0 | debug=1 | debug=0 / debug=1 |")
print("|---|---|---|---|")
for i, name in enumerate(["wall time (ms)", "target CPU, all threads (ms)", "target max ticker gap (ms)", "answer size (bytes)"]):
    a, b = med("0", i), med("1", i)
    fmt = "{:.0f}" if i == 3 else "{:.1f}"
    print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {a/b:.2f} |" if b else f"| {name} | {a} | {b} | - |")
print()
for f in ("0", "1"):
    print(f"debug={f} max gaps per fetch (ms): " + ", ".join(f"{r[2]:.1f}" for r in rows[f]))
PY
