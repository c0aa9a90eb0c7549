#!/usr/bin/env bash
# Before/after for trace -> model ingest: the ingest_bench example of
# weft-timeline built at an older commit and in the working tree, run
# alternately on one trace in one go.
#
#   bash bench/timeline/ab.sh OLD_REV          # e.g. ab.sh 1a70305
#   RUNS=3 bash bench/timeline/ab.sh OLD_REV   # runs per side (default 3)
#   bash bench/timeline/ab.sh /path/to/checkout # old side from a directory
#
# ingest_bench times decode-only and decode+model per second of its own
# thread's CPU time; each side prints its summary line. Both sides run the
# working tree's ingest_bench.rs (same harness and allocator), so only the
# library code differs. Each run is a fresh process per side and mode:
# `cold` (the whole trace into an empty model) and `steady` (the model at
# its caps, evicting; see ingest_bench.rs). MODES="cold" runs one of them.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
old_rev="${1:?usage: ab.sh OLD_REV}"
runs="${RUNS:-3}"
out="$root/bench/out/timeline-ab"
mkdir -p "$out"
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0
trace="$root/bench/out/timeline/stress.trace"
if [ ! -s "$trace" ] || [ "$(stat -c %s "$trace")" -lt 60000000 ]; then
  echo "ab.sh: recording $trace" >&2
  mkdir -p "$(dirname "$trace")"
  (cd "$root/testdata/programs" && "$go" build -o "$out/stress" ./stress)
  "$out/stress" -trace "$trace.tmp" -pairs 200 -rounds 2000000 >&2
  mv "$trace.tmp" "$trace"
fi

# The old side: weft-trace and weft-timeline alone, in a two-member workspace.
old_src="$out/old-src"
rm -rf "$old_src" && mkdir -p "$old_src"
if [ -d "$old_rev" ]; then
  mkdir -p "$old_src/crates"
  cp -r "$old_rev/crates/weft-trace" "$old_rev/crates/weft-timeline" "$old_src/crates/"
  [ -d "$old_rev/crates/weft-model" ] && cp -r "$old_rev/crates/weft-model" "$old_src/crates/"
  cp "$old_rev/Cargo.toml" "$old_src/"
else
  git -C "$root" archive "$old_rev" crates/weft-trace crates/weft-timeline Cargo.toml | tar -x -C "$old_src"
  # weft-timeline depends on weft-model from 9dc2d9c on.
  if git -C "$root" cat-file -e "$old_rev:crates/weft-model" 2>/dev/null; then
    git -C "$root" archive "$old_rev" crates/weft-model | tar -x -C "$old_src"
  fi
fi
# Same harness on both sides: the working tree's example and dev-dependencies.
rm -rf "$old_src/crates/weft-timeline/examples"
mkdir -p "$old_src/crates/weft-timeline/examples"
cp "$root/crates/weft-timeline/examples/ingest_bench.rs" "$old_src/crates/weft-timeline/examples/"
python3 - "$old_src/crates/weft-timeline/Cargo.toml" "$root/crates/weft-timeline/Cargo.toml" <<'EOF2'
import sys
old, new = sys.argv[1], sys.argv[2]
dev = open(new).read().split('[dev-dependencies]', 1)[1]
s = open(old).read().split('[dev-dependencies]', 1)[0]
open(old, 'w').write(s.rstrip() + '\n\n[dev-dependencies]' + dev)
EOF2
cp "$root/Cargo.lock" "$old_src/" 2>/dev/null || true
python3 - "$old_src/Cargo.toml" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'members = \[.*?\]', 'members = ["crates/weft-trace", "crates/weft-timeline"]', s, flags=re.S)
open(p, 'w').write(s)
EOF
echo "ab.sh: building ingest_bench at $old_rev and in the working tree (release)" >&2
(cd "$old_src" && CARGO_TARGET_DIR="$out/old-target" cargo build --release --quiet -p weft-timeline --example ingest_bench)
(cd "$root" && cargo build --release --quiet -p weft-timeline --example ingest_bench)
old="$out/old-target/release/examples/ingest_bench"
new="${CARGO_TARGET_DIR:-$root/target}/release/examples/ingest_bench"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "trace: $trace ($(stat -c %s "$trace") bytes), go $("$go" env GOVERSION)"
echo "command: RUNS=$runs bash bench/timeline/ab.sh $old_rev (new = working tree at $(git -C "$root" rev-parse --short HEAD))"
rm -f "$out"/*.log
modes="${MODES:-cold steady}"
for i in $(seq "$runs"); do
  echo "ab.sh: run $i/$runs" >&2
  for mode in $modes; do
    steady=0
    [ "$mode" = steady ] && steady=1
    # Alternate which side goes first.
    sides="old new"
    [ $((i % 2)) -eq 0 ] && sides="new old"
    for side in $sides; do
      bin="$old"
      [ "$side" = new ] && bin="$new"
      STEADY=$steady "$bin" "$trace" 1 | grep '^run' | sed "s/^run 0/$side/" | tee -a "$out/$side-$mode.log"
    done
  done
done
# Medians of the CPU times (per side and mode); MB is the part timed.
med() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
for mode in $modes; do
  for side in old new; do
    log="$out/$side-$mode.log"
    mb=$(grep -o '≈[0-9.]* MB timed' "$log" | head -1 | tr -d '≈' | awk '{print $1}')
    d=$(awk '{print $3}' "$log" | tr -d s | med)
    m=$(awk '{for (i = 1; i <= NF; i++) if ($i == "decode+model") print $(i+1)}' "$log" | tr -d s | med)
    awk -v n="$side" -v mode="$mode" -v d="$d" -v m="$m" -v mb="$mb" 'BEGIN {
      printf "%s %s (%.1f MB timed): median CPU s: decode %.3f (%.0f MB/s), decode+model %.3f (%.0f MB/s)\n", n, mode, mb, d, mb/d, m, mb/m }'
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
