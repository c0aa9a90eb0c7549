#!/usr/bin/env bash
# Benchmark of the live trace source (weft-source::trace_stream) feeding
# the trace model (weft-timeline).
#
#   bash bench/live/run.sh                    # defaults below
#   RUNS=3 LIVE_SECS=60 LONG_SECS=600 bash bench/live/run.sh
#   SKIP_INGEST=1 ...                         # keep bench/out/live/ingest.txt
#   LONG_PAIRS=4 LONG_GOMAXPROCS=0 ...        # a higher trace rate for (4)
#
# (1) ingest: a >= 60 MB trace of testdata/programs/stress (Go 1.27, cached
#     in bench/out/live/) decoded through the live path (read_trace: chunks
#     fed to a fresh Decoder), decode only vs decode + model ingest,
#     alternated RUNS times in one process: MB/s of wall time and MB per
#     CPU-second (one thread).
# (2) live rate: testdata/programs/live -pairs 2 (the stress ping-pong load,
#     served over pprof, GOMAXPROCS=1 so it leaves a core) streamed for
#     LIVE_SECS: trace MB/s received and ingested, weft's CPU share.
# (3) delay: the same target emits a "weft-mark" user log every 100 ms with
#     its wall clock; weft notes the wall clock when the event reaches the
#     model. Once against the busy target (2), once against a quiet one
#     (marks only), once against a quiet Go 1.22 target (no end-of-generation
#     marker in that format).
# (4) memory: the busy target streamed for LONG_SECS, RSS printed every 30 s.
#
# Prints a markdown table at the end; raw output in bench/out/live/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out/live"
runs="${RUNS:-5}"
live_secs="${LIVE_SECS:-60}"
long_secs="${LONG_SECS:-600}"
mkdir -p "$out"
say() { echo "run.sh: $*" >&2; }
go27="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
go22="$(bash "$root/scripts/go-toolchain.sh" 1.22)"
export GOTOOLCHAIN=local CGO_ENABLED=0

trace="$out/stress.trace"
if [ ! -s "$trace" ] || [ "$(stat -c %s "$trace")" -lt 60000000 ]; then
  say "recording $trace"
  (cd "$root/testdata/programs" && "$go27" build -o "$out/stress" ./stress)
  "$out/stress" -trace "$trace.tmp" -pairs 200 -rounds 2000000 >&2
  mv "$trace.tmp" "$trace"
fi
say "building the live target (Go 1.27 and 1.22) and the driver (release)"
(cd "$root/testdata/programs/live" && "$go27" build -o "$out/live27" . && "$go22" build -o "$out/live22" .)
(cd "$root/bench/live/driver" && cargo build --release --quiet)
drv="${CARGO_TARGET_DIR:-$root/bench/live/driver/target}/release/live-trace-bench"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_target() { # bin args... ; sets addr
  local log="$out/target.$RANDOM.log"
  "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do
    addr=$(sed -n 's/listening on //p' "$log" 2>/dev/null || true)
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  say "target did not start: $(cat "$log")"; exit 1
}
stop_targets() { cleanup; pids=(); sleep 0.5; }

if [ -z "${SKIP_INGEST:-}" ]; then
  say "(1) ingest, $runs runs"
  "$drv" ingest "$trace" "$runs" | tee "$out/ingest.txt"
fi

say "(2,3) busy target for ${live_secs}s"
GOMAXPROCS=1 start_target "$out/live27" -pairs 2 -marks 100
"$drv" live "http://$addr" "$live_secs" 30 | tee "$out/busy.txt"
stop_targets

say "(3) quiet Go 1.27 target for 30s"
start_target "$out/live27" -marks 100
"$drv" live "http://$addr" 30 30 | tee "$out/quiet27.txt"
stop_targets
say "(3) quiet Go 1.22 target for 30s"
start_target "$out/live22" -marks 100
"$drv" live "http://$addr" 30 30 | tee "$out/quiet22.txt"
stop_targets

# LONG_PAIRS / LONG_GOMAXPROCS raise the trace rate of the long run (0:
# GOMAXPROCS unset); 2026-11-22 ran LONG_PAIRS=4 LONG_GOMAXPROCS=0.
long_pairs="${LONG_PAIRS:-2}"
long_procs="${LONG_GOMAXPROCS:-1}"
say "(4) busy target (-pairs $long_pairs, GOMAXPROCS=$long_procs) for ${long_secs}s (RSS over time)"
if [ "$long_procs" = 0 ]; then
  start_target "$out/live27" -pairs "$long_pairs" -marks 100
else
  GOMAXPROCS="$long_procs" start_target "$out/live27" -pairs "$long_pairs" -marks 100
fi
"$drv" live "http://$addr" "$long_secs" 30 | tee "$out/long.txt"
stop_targets

g() { grep -o "$2" "$out/$1" | head -1; }
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); go $("$go27" env GOVERSION)"
echo
echo "| measure | figure |"
echo "|---|---|"
echo "| ingest, decode only ($(g ingest.txt '[0-9.]* MB trace')) | $(g ingest.txt 'decode only [0-9]* MB/s wall, [0-9]* MB per CPU-second' | sed 's/decode only //') |"
echo "| ingest, decode + model | $(g ingest.txt 'model ingest [0-9]* MB/s wall, [0-9]* MB per CPU-second' | sed 's/model ingest //') |"
echo "| live, busy target (${live_secs}s) | $(grep '^live:' "$out/busy.txt" | sed 's/^live: //') |"
echo "| delay event→model, busy Go 1.27 | $(grep '^delay' "$out/busy.txt" | sed 's/^delay event->model: //') |"
echo "| delay event→model, quiet Go 1.27 | $(grep '^delay' "$out/quiet27.txt" | sed 's/^delay event->model: //') |"
echo "| delay event→model, quiet Go 1.22 | $(grep '^delay' "$out/quiet22.txt" | sed 's/^delay event->model: //') |"
echo "| memory after ${long_secs}s busy | $(grep '^memory' "$out/long.txt" | sed 's/^memory at end: //'); $(grep '^live:' "$out/long.txt" | sed 's/^live: //') |"
