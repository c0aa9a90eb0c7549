#!/usr/bin/env bash
# Benchmark: trace -> model ingest throughput (weft-timeline) vs the trace
# decoder alone, on one large real trace, alternated in one process, cold
# (a first pass into an empty model) and steady (at the caps); then
# the whole-file load on one thread vs two (decoder thread + model thread).
#
#   bash bench/timeline/run.sh          # 5 runs
#   RUNS=3 bash bench/timeline/run.sh
#
# Records a >= 60 MB trace of testdata/programs/stress with Go 1.27 (cached
# in bench/out/timeline/; delete it to record anew), builds the example in
# release mode and runs it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out/timeline"
runs="${RUNS:-5}"
mkdir -p "$out"
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0
trace="$out/stress.trace"
if [ ! -s "$trace" ] || [ "$(stat -c %s "$trace")" -lt 60000000 ]; then
  echo "run.sh: recording $trace" >&2
  (cd "$root/testdata/programs" && "$go" build -o "$out/stress" ./stress)
  "$out/stress" -trace "$trace.tmp" -pairs 200 -rounds 2000000 >&2
  mv "$trace.tmp" "$trace"
fi
(cd "$root" && cargo build --release --quiet -p weft-timeline --example ingest_bench --example load_bench)
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/ingest_bench"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "trace: $trace ($(stat -c %s "$trace") bytes), go $("$go" env GOVERSION)"
# Cold: the whole trace into an empty model. Steady: the model at its caps,
# evicting as a long `weft watch` does (see ingest_bench.rs).
"$bin" "$trace" "$runs"
STEADY=1 "$bin" "$trace" "$runs"
# Steady again, fed at 20 MB/s of trace in wall time as a live stream is
# (CPU time still measured): freed memory sits idle between bursts.
STEADY=1 PACE_MBPS=20 "$bin" "$trace" "$runs"
# Loading the file as weft open does: one thread vs decoder + model threads.
"${bin%/*}/load_bench" "$trace" "$runs"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
