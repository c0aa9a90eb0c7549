#!/usr/bin/env bash
# Benchmark of weft-attach (reading a Go process's goroutines by PID):
#  1. snapshot time against a target with N parked goroutines (default
#     100k), with and without reusing unchanged stacks;
#  2. the target's largest scheduling gap (a 1 ms ticker inside the target,
#     bench/schedgap) while unobserved, while sampled at 10 Hz, and while
#     sampled at 10 Hz with stop_target, all in one run, alternating.
# Prints a markdown table with the machine's facts. Needs root (or
# CAP_SYS_PTRACE) to read the target's memory.
#
#   bash bench/attach/run.sh            # N=100000, GO=Go 1.27, 5 s phases
#   N=20000 SECS=3 GOV=1.24 bash bench/attach/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${N:-100000}"
SECS="${SECS:-5}"
GOV="${GOV:-1.27}"
GO="${GO:-$("$root/scripts/go-toolchain.sh" "$GOV")}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
out="$root/bench/out/attach"
mkdir -p "$out"

echo "building (release) ..." >&2
(cd "$root" && cargo build --quiet --release -p weft-attach --example attach_bench)
bench="$CARGO_TARGET_DIR/release/examples/attach_bench"
(cd "$root/bench/schedgap" && GOTOOLCHAIN=local "$GO" build -o "$out/schedgap" .)

"$out/schedgap" -n "$N" > "$out/schedgap.out" 2>&1 &
target=$!
trap 'kill $target 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q '^pprof: ' "$out/schedgap.out" 2>/dev/null && break
  sleep 0.1
done
base="$(sed -n 's/^pprof: //p' "$out/schedgap.out" | head -1)"
[ -n "$base" ] || { echo "schedgap did not start: $(cat "$out/schedgap.out")" >&2; exit 1; }
window() { curl -s "$base/schedgap/window"; }
field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
sleep 2
window > /dev/null

declare -A gap p99 missed
run_phase() { # name, command...
  local name="$1"; shift
  "$@" > "$out/$name.txt"
  local w; w="$(window)"
  gap[$name]="$(echo "$w" | field max_gap_ms)"
  p99[$name]="$(echo "$w" | field p99_gap_ms)"
  missed[$name]="$(echo "$w" | field missed_ticks)"
}
echo "phases of ${SECS}s: unobserved, sampled 10 Hz, unobserved, sampled 10 Hz with stop ..." >&2
run_phase idle1 sleep "$SECS"
run_phase sampled "$bench" "$target" sample 10 "$SECS"
run_phase idle2 sleep "$SECS"
run_phase stopped "$bench" "$target" sample 10 "$SECS" stop

echo "timing snapshots ..." >&2
"$bench" "$target" time 11 > "$out/time_fresh.txt"
"$bench" "$target" time 11 reuse > "$out/time_reuse.txt"
kv() { sed -E "s/.*[ ^]?$2=([^ ]+).*/\1/" "$out/$1.txt"; }

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cat <<EOF2

### weft-attach: snapshot of a ${N}-goroutine process by PID, and its cost to the target

Command: \`bash bench/attach/run.sh\` (N=$N, SECS=$SECS, target built with $("$GO" version | cut -d' ' -f3)).
Machine: $(nproc) CPUs ($cpu), Linux $(uname -r), load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: wall times are inflated by other load; CPU time is the steadier figure).

| snapshot (release build) | wall, median | wall, min | CPU (user+sys), median | bytes read | goroutines |
|---|---|---|---|---|---|
| first (cold: parse binary + full read) | $(kv time_fresh first_ms) ms (+ $(kv time_fresh open_ms) ms opening the binary) | | | | |
| repeated, default options (every stack re-read) | $(kv time_fresh warm_median_ms) ms | $(kv time_fresh warm_min_ms) ms | $(kv time_fresh warm_cpu_median_ms) ms | $(kv time_fresh bytes) | $(kv time_fresh goroutines) |
| repeated, \`reuse_stacks\` (unchanged parked stacks not re-read) | $(kv time_reuse warm_median_ms) ms | $(kv time_reuse warm_min_ms) ms | $(kv time_reuse warm_cpu_median_ms) ms | $(kv time_reuse bytes) | $(kv time_reuse goroutines) |

| target's 1 ms ticker, ${SECS}s each, in this order | max gap | p99 gap | missed ticks | samples taken |
|---|---|---|---|---|
| unobserved | ${gap[idle1]} ms | ${p99[idle1]} ms | ${missed[idle1]} | |
| sampled at 10 Hz (default: no stop) | ${gap[sampled]} ms | ${p99[sampled]} ms | ${missed[sampled]} | $(kv sampled samples) (mean $(kv sampled mean_ms) ms each) |
| unobserved again | ${gap[idle2]} ms | ${p99[idle2]} ms | ${missed[idle2]} | |
| sampled at 10 Hz with stop_target (SIGSTOP/SIGCONT) | ${gap[stopped]} ms | ${p99[stopped]} ms | ${missed[stopped]} | $(kv stopped samples) (mean $(kv stopped mean_ms) ms each) |
EOF2
