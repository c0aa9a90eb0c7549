#!/usr/bin/env bash
# Before/after: the trace engine at an older commit vs the working tree,
# with Go's own reader as the anchor, all on one trace in one run.
#
#   bash bench/trace/ab.sh OLD_REV            # e.g. ab.sh 1a70305
#   RUNS=5 bash bench/trace/ab.sh OLD_REV
#
# Each side runs the `tracecat stats` example of weft-trace (the same
# Reader + Stats loop `weft trace stats` runs: every event decoded, ordered
# and summarised) so the comparison does not need the whole binary of the
# old commit to build. The three readers alternate so machine drift hits
# them alike; the table has medians of wall time and of CPU time (user +
# sys: on a shared machine the fairer figure) and peak RSS.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
old_rev="${1:?usage: ab.sh OLD_REV}"
runs="${RUNS:-3}"
out="$root/bench/out/ab"
mkdir -p "$out/bin"
say() { echo "ab.sh: $*" >&2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0

trace="$root/bench/out/stress.trace"
if [ ! -s "$trace" ] || [ "$(stat -c %s "$trace")" -lt 60000000 ]; then
  say "recording $trace"
  (cd "$root/testdata/programs" && "$go" build -o "$out/bin/stress" ./stress)
  "$out/bin/stress" -trace "$trace.tmp" -pairs 200 -rounds 2000000 >&2
  mv "$trace.tmp" "$trace"
fi
size=$(stat -c %s "$trace")

say "building the x/exp/trace reader"
(cd "$root/bench/trace/expreader" && "$go" build -o "$out/bin/expreader" .)

# The old engine: its weft-trace crate alone, in a one-member workspace.
old_src="$out/old-src"
rm -rf "$old_src" && mkdir -p "$old_src"
git -C "$root" archive "$old_rev" crates/weft-trace Cargo.toml | tar -x -C "$old_src"
cp "$root/Cargo.lock" "$old_src/" 2>/dev/null || true
python3 - "$old_src/Cargo.toml" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'members = \[.*?\]', 'members = ["crates/weft-trace"]', s, flags=re.S)
open(p, 'w').write(s)
EOF
say "building tracecat at $old_rev and in the working tree (release)"
(cd "$old_src" && CARGO_TARGET_DIR="$out/old-target" cargo build --release --quiet -p weft-trace --example tracecat)
cp "$out/old-target/release/examples/tracecat" "$out/bin/tracecat-old"
(cd "$root" && cargo build --release --quiet -p weft-trace --example tracecat)
cp "${CARGO_TARGET_DIR:-$root/target}/release/examples/tracecat" "$out/bin/tracecat-new"

measure() { # name cmd...
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$out/$name.t" "$@" >/dev/null 2>"$out/$name.err" \
    || { say "$name failed: $(tail -c 300 "$out/$name.err")"; exit 1; }
  awk '{printf "%s %.2f %s\n", $1, $2+$3, $4}' "$out/$name.t" >>"$out/$name.runs"
}
rm -f "$out"/*.runs
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  say "run $i/$runs"
  measure anchor "$out/bin/expreader" "$trace"
  measure old "$out/bin/tracecat-old" stats "$trace"
  measure new "$out/bin/tracecat-new" stats "$trace"
done
med() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$out/$1.runs" | med; }
row() {
  local w c m
  w=$(col "$1" 1); c=$(col "$1" 2); m=$(col "$1" 3)
  awk -v n="$2" -v w="$w" -v c="$c" -v m="$m" -v s="$size" -v aw="$(col anchor 1)" -v ac="$(col anchor 2)" \
    'BEGIN {printf "| %s | %.2f | %.2f | %.0f | %.0f | %.1fx | %.1fx |\n", n, w, c, s/1e6/c, m/1024, aw/w, ac/c}'
}
echo
echo "Trace: $(awk -v s="$size" 'BEGIN {printf "%.1f", s/1e6}') MB (testdata/programs/stress, $("$go" env GOVERSION))."
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after."
echo "Command: RUNS=$runs bash bench/trace/ab.sh $old_rev (new = working tree at $(git -C "$root" rev-parse --short HEAD)); medians of $runs alternating runs."
echo
echo "| reader | wall s | CPU s | MB per CPU-s | peak RSS MB | vs anchor, wall | vs anchor, CPU |"
echo "|---|---|---|---|---|---|---|"
row anchor "golang.org/x/exp/trace ReadEvent loop (anchor)"
row old "weft-trace stats at $old_rev"
row new "weft-trace stats, working tree"
