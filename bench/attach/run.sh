#!/usr/bin/env bash
# Benchmark of weft-attach (reading a Go process's goroutines by PID), in one
# run against one target with N parked goroutines (bench/schedgap):
#  1. snapshot time: repeated snapshots with the default options (unchanged
#     parked goroutines' stacks reused) and with every stack re-read,
#     alternating; wall median, wall min, CPU median;
#  2. the target's largest scheduling gap (its own 1 ms ticker) while
#     unobserved, while sampled at weft's default rate (1 Hz, weft top's
#     poll interval), sampled at 10 Hz, and sampled at 10 Hz with the reads
#     split over 2 threads, ROUNDS rounds with the order rotating, plus one
#     window sampled at 10 Hz with stop_target.
#     Samplers open the target and take their first (full) sample before
#     the window starts, so a window measures steady sampling.
# Prints a markdown table with the machine's facts. Needs root (or
# CAP_SYS_PTRACE) to read the target's memory.
#
#   bash bench/attach/run.sh            # N=100000, Go 1.27, 5 s windows, 3 rounds
#   N=20000 SECS=3 ROUNDS=2 GOV=1.24 bash bench/attach/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${N:-100000}"
SECS="${SECS:-5}"
ROUNDS="${ROUNDS:-3}"
GOV="${GOV:-1.27}"
GO="${GO:-$("$root/scripts/go-toolchain.sh" "$GOV")}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
out="$root/bench/out/attach"
mkdir -p "$out"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

echo "building (release) ..." >&2
(cd "$root" && cargo build --quiet --release -p weft-attach --example attach_bench)
bench="$CARGO_TARGET_DIR/release/examples/attach_bench"
(cd "$root/bench/schedgap" && GOTOOLCHAIN=local "$GO" build -o "$out/schedgap" .)

target=
sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -n "$target" ] && kill "$target" 2>/dev/null || true
  rm -f "$out/ctl"
}
trap cleanup EXIT
"$out/schedgap" -n "$N" > "$out/schedgap.out" 2>&1 &
target=$!
for _ in $(seq 1 300); do
  grep -q '^pprof: ' "$out/schedgap.out" 2>/dev/null && break
  sleep 0.1
done
base="$(sed -n 's/^pprof: //p' "$out/schedgap.out" | head -1)"
[ -n "$base" ] || { echo "schedgap did not start: $(cat "$out/schedgap.out")" >&2; exit 1; }
window() { curl -s "$base/schedgap/window"; }
field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
ms() { field "$1" | xargs printf '%.1f'; }
kv() { sed -E "s/.*(^| )$2=([^ ]+).*/\2/" "$out/$1.txt"; }
sleep 2

echo "timing snapshots (default / every stack re-read, alternating) ..." >&2
for pass in 1 2; do
  "$bench" "$target" time 11 > "$out/time_default_$pass.txt"
  "$bench" "$target" time 11 noreuse > "$out/time_noreuse_$pass.txt"
  "$bench" "$target" time 11 threads=2 > "$out/time_t2_$pass.txt"
done

rm -f "$out/ctl"
mkfifo "$out/ctl"
exec 3<> "$out/ctl"
# One window: name, then "idle" or the sampler's HZ [stop].
run_window() {
  local name="$1" kind="$2"; shift 2
  if [ "$kind" = idle ]; then
    window > /dev/null
    sleep "$SECS"
    echo "samples=0" > "$out/$name.txt"
  else
    local hz="$kind"
    [ "$kind" = 10t2 ] && { hz=10; set -- "$@" threads=2; }
    "$bench" "$target" sample "$hz" "$SECS" "$@" gated <&3 > "$out/$name.txt" 2> "$out/$name.err" &
    sampler=$!
    for _ in $(seq 1 600); do
      grep -q '^ready' "$out/$name.err" 2>/dev/null && break
      kill -0 "$sampler" 2>/dev/null || break
      sleep 0.1
    done
    grep -q '^ready' "$out/$name.err" || { echo "sampler failed: $(cat "$out/$name.err")" >&2; exit 1; }
    window > /dev/null
    echo go >&3
    wait "$sampler"
    sampler=
  fi
  window > "$out/$name.window"
}
kinds=(idle 1 10 10t2)
echo "windows of ${SECS}s: unobserved / 1 Hz / 10 Hz / 10 Hz on 2 threads, $ROUNDS rounds, rotating ..." >&2
for r in $(seq 1 "$ROUNDS"); do
  for j in 0 1 2 3; do
    k="${kinds[$(( (j + r - 1) % 4 ))]}"
    echo "  round $r: $k" >&2
    run_window "w_${k}_$r" "$k"
  done
done
run_window w_stop 10 stop
exec 3>&-

row() { # label, kind
  local gaps="" p99s="" missed="" samples="" means="" cpus=""
  for r in $(seq 1 "$ROUNDS"); do
    local w="$out/w_$2_$r.window"
    gaps+="$(ms max_gap_ms < "$w") / "
    p99s+="$(ms p99_gap_ms < "$w") / "
    missed+="$(field missed_ticks < "$w") / "
    if [ "$2" != idle ]; then
      samples+="$(kv "w_$2_$r" samples) / "
      means+="$(kv "w_$2_$r" mean_ms) / "
      cpus+="$(kv "w_$2_$r" mean_cpu_ms) / "
    fi
  done
  echo "| $1 | ${gaps% / } | ${p99s% / } | ${missed% / } | ${samples% / } | ${means% / } | ${cpus% / } |"
}
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cat <<EOF2

### weft-attach: snapshot of a ${N}-goroutine process by PID, and its cost to the target

Command: \`bash bench/attach/run.sh\` (N=$N, SECS=$SECS, ROUNDS=$ROUNDS, target built with $("$GO" version | cut -d' ' -f3)), commit $(git -C "$root" log -1 --format=%h).
Machine: $(nproc) CPUs ($cpu), Linux $(uname -r); load average at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: wall times are inflated by other load; CPU time is the steadier figure).

| repeated snapshot (release build, 10 after a first), pass 1 / pass 2 | wall median | wall min | CPU (user+sys) median | bytes copied | goroutines |
|---|---|---|---|---|---|
| default options (unchanged parked goroutines' stacks reused) | $(kv time_default_1 warm_median_ms) / $(kv time_default_2 warm_median_ms) ms | $(kv time_default_1 warm_min_ms) / $(kv time_default_2 warm_min_ms) ms | $(kv time_default_1 warm_cpu_median_ms) / $(kv time_default_2 warm_cpu_median_ms) ms | $(kv time_default_1 bytes) | $(kv time_default_1 goroutines) |
| default options, reads split over 2 threads (\`read_threads: 2\`) | $(kv time_t2_1 warm_median_ms) / $(kv time_t2_2 warm_median_ms) ms | $(kv time_t2_1 warm_min_ms) / $(kv time_t2_2 warm_min_ms) ms | $(kv time_t2_1 warm_cpu_median_ms) / $(kv time_t2_2 warm_cpu_median_ms) ms | $(kv time_t2_1 bytes) | $(kv time_t2_1 goroutines) |
| every stack re-read (\`reuse_stacks: false\`) | $(kv time_noreuse_1 warm_median_ms) / $(kv time_noreuse_2 warm_median_ms) ms | $(kv time_noreuse_1 warm_min_ms) / $(kv time_noreuse_2 warm_min_ms) ms | $(kv time_noreuse_1 warm_cpu_median_ms) / $(kv time_noreuse_2 warm_cpu_median_ms) ms | $(kv time_noreuse_1 bytes) | $(kv time_noreuse_1 goroutines) |
| first snapshot (cold: every stack read, symbols resolved) | $(kv time_default_1 first_ms) / $(kv time_default_2 first_ms) ms (+ $(kv time_default_1 open_ms) ms opening the binary) | | | | |

The target's 1 ms ticker, ${SECS} s windows, rounds 1 / 2 / ... (the order of the four kinds rotates each round):

| target observed by | max gap (ms) | p99 gap (ms) | missed ticks | samples taken in the window | wall per sample (ms, mean) | CPU per sample (ms, mean) |
|---|---|---|---|---|---|---|
$(row "nothing" idle)
$(row "weft-attach at 1 Hz (weft's default rate)" 1)
$(row "weft-attach at 10 Hz" 10)
$(row "weft-attach at 10 Hz, reads on 2 threads" 10t2)
| weft-attach at 10 Hz with stop_target (SIGSTOP/SIGCONT), once | $(ms max_gap_ms < "$out/w_stop.window") | $(ms p99_gap_ms < "$out/w_stop.window") | $(field missed_ticks < "$out/w_stop.window") | $(kv w_stop samples) | $(kv w_stop mean_ms) | $(kv w_stop mean_cpu_ms) |
EOF2
