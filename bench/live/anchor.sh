#!/usr/bin/env bash
# The live path against Go's own trace reader, side by side.
#
#   bash bench/live/anchor.sh            ROUNDS=3 SECS=75 by default
#
# Each round runs, one after the other:
# - live: the busy target (`GOMAXPROCS=1 testdata/programs/live -pairs 2
#   -marks 100`, Go 1.27) streamed for SECS by the live driver (the HTTP
#   stream, the spooled raw-trace ring, the decoder and the model on two
#   threads, as `weft watch`); its MB of trace per CPU-second of the whole
#   weft process (all threads);
# - anchor: golang.org/x/exp/trace (bench/trace/expreader) reading every
#   event of the stress trace (bench/out/timeline/stress.trace, the same
#   ping-pong load), no model; MB per CPU-second of its process.
#
# The issue's target (>= 100 MB/s into the model on one core) came with Go's
# reader at 58 MB/s on the machine it was set on (../shared/field-notes.md),
# so it is 1.72x that reader; this prints the ratio per round.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out/live"
rounds="${ROUNDS:-3}"
secs="${SECS:-75}"
trace="$root/bench/out/timeline/stress.trace"
[ -s "$trace" ] || { echo "anchor.sh: no stress trace at $trace (bash bench/timeline/run.sh records one)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "anchor.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$out" "$root/bench/out/bin"
(cd "$root/testdata/programs/live" && "$go" build -o "$out/live27" .)
(cd "$root/bench/trace/expreader" && "$go" build -o "$root/bench/out/bin/expreader" .)
(cd "$root/bench/live/driver" && cargo build --release --quiet)
drv="${CARGO_TARGET_DIR:-$root/bench/live/driver/target}/release/live-trace-bench"
mb=$(awk -v b="$(stat -c %s "$trace")" 'BEGIN { printf "%.1f", b / 1e6 }')

tp=""
trap '[ -n "$tp" ] && kill "$tp" 2>/dev/null || true' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=()
for ((r = 1; r <= rounds; r++)); do
  log="$out/anchor-target.log"
  GOMAXPROCS=1 "$out/live27" -pairs 2 -marks 100 >"$log" 2>&1 &
  tp=$!
  addr=""
  for _ in $(seq 50); do
    addr=$(sed -n 's/listening on //p' "$log" 2>/dev/null || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "anchor.sh: the target did not start: $(cat "$log")" >&2; exit 1; }
  live="$("$drv" live "http://$addr" "$secs" 30 | grep '^live:')"
  kill "$tp"; wait "$tp" 2>/dev/null || true; tp=""
  l=$(echo "$live" | grep -o '([0-9.]* MB per CPU-second' | grep -o '[0-9.]*' | head -1)
  /usr/bin/time -f "%e %U %S" -o "$out/anchor.time" "$root/bench/out/bin/expreader" "$trace" >/dev/null
  read -r wall user sys <"$out/anchor.time"
  a=$(awk -v mb="$mb" -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", mb / (u + s) }')
  ratio=$(awk -v l="$l" -v a="$a" 'BEGIN { printf "%.2f", l / a }')
  ratios+=("$ratio")
  echo "round $r: $live"
  echo "round $r: anchor $a MB per CPU-second ($user s user + $sys s sys, $wall s wall for $mb MB); live / anchor = ${ratio}x"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  for (i = 1; i <= NR; i++) if (v[i] >= 1.72) n++
  printf "live / anchor: median %.2fx over %d rounds (min %.2f, max %.2f); %d of %d at least 1.72x, the issue target as a ratio\n", m, NR, v[1], v[NR], n, NR }'
