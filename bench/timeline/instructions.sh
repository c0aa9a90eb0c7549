#!/usr/bin/env bash
# Instructions per event of steady ingest, by function, counted by
# cachegrind: deterministic where timing is not (a shared VM), and the
# only instruction count on hosts whose perf has no hardware counters.
#
#   bash bench/timeline/instructions.sh [TRACE]
#
# Runs ingest_bench once under `valgrind --tool=cachegrind --cache-sim=no`
# in steady mode with SKIP_DECODE=1. Everything the process executes is
# counted: the untimed counting pass and fill as well as the timed part,
# so the decoder appears twice (weft_trace:: and ingest_bench::main lines)
# and the model's figure covers all its events, the filling ones included.
# Takes about two minutes on the 66.5 MB stress trace.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
trace="${1:-$root/bench/out/timeline/stress.trace}"
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind" >&2; exit 1; }
(cd "$root" && cargo build --release --quiet -p weft-timeline --example ingest_bench)
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/ingest_bench"
cg="$(mktemp)"
trap 'rm -f "$cg"' EXIT
summary="$(STEADY=1 SKIP_DECODE=1 valgrind --tool=cachegrind --cache-sim=no \
  --cachegrind-out-file="$cg" "$bin" "$trace" 1 2>/dev/null | grep -E '^trace')"
echo "$summary"
events="$(echo "$summary" | grep -o '[0-9]* events' | cut -d' ' -f1)"
python3 - "$cg" "$events" <<'PY'
import collections, sys
by_fn = collections.Counter()
fn = None
for line in open(sys.argv[1]):
    if line.startswith('fn='):
        fn = line[3:].strip()
    elif fn and line[:1].isdigit():
        parts = line.split()
        if len(parts) >= 2:
            by_fn[fn] += int(parts[1])
events = int(sys.argv[2])
total = sum(by_fn.values())
decoder = sum(c for f, c in by_fn.items() if f.startswith(('weft_trace', 'ingest_bench')))
print(f"instructions per event: all {total / events:.1f}, decoder (two passes) "
      f"{decoder / events:.1f}, the rest (model, allocator, kernel entry) "
      f"{(total - decoder) / events:.1f}")
for f, c in by_fn.most_common(15):
    print(f"{c / events:8.1f}  {f[:110]}")
PY
