#!/usr/bin/env bash
# Benchmark: `weft trace stats` against golang.org/x/exp/trace (Go's own
# streaming reader) reading every event of one large real trace.
#
#   bash bench/trace/run.sh            # 5 alternating runs each
#   RUNS=3 bash bench/trace/run.sh
#   WEFT=path/to/weft bash bench/trace/run.sh            # that binary, no build
#   BASE_WEFT=path/to/old/weft bash bench/trace/run.sh   # also an older weft, alternating
#
# (a) records a >= 60 MB trace of testdata/programs/stress with Go 1.27
#     (cached in bench/out/, delete it to record anew), (b) builds the
#     x/exp reader and a release weft, (c) runs both alternately, measuring
#     wall time and peak RSS with /usr/bin/time, (d) prints a markdown table.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out"
runs="${RUNS:-5}"
mkdir -p "$out/bin"
say() { echo "run.sh: $*" >&2; }

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0

# (a) the trace
trace="$out/stress.trace"
min_bytes=$((60 * 1000 * 1000))
if [ ! -s "$trace" ] || [ "$(stat -c %s "$trace")" -lt "$min_bytes" ]; then
  say "building stress and recording $trace"
  (cd "$root/testdata/programs" && "$go" build -o "$out/bin/stress" ./stress)
  "$out/bin/stress" -trace "$trace.tmp" -pairs 200 -rounds 2000000 >&2
  mv "$trace.tmp" "$trace"
fi
size=$(stat -c %s "$trace")

# (b) the two readers
say "building the x/exp/trace reader"
(cd "$root/bench/trace/expreader" && "$go" build -o "$out/bin/expreader" .)
if [ -n "${WEFT:-}" ]; then
  weft="$WEFT"
else
  say "building weft (release)"
  (cd "$root" && cargo build --release --quiet -p weft)
  weft="${CARGO_TARGET_DIR:-$root/target}/release/weft"
fi
base="${BASE_WEFT:-}"

# (c) alternate the two so drift on a shared machine hits both alike
measure() { # name cmd... ; appends "wall_s peak_kb cpu_s" to $out/<name>.runs
  local name=$1; shift
  if /usr/bin/time -f "%e %M %U %S" -o "$out/$name.time" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"; then
    awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$out/$name.time" >>"$out/$name.runs"
  else
    say "$name failed: $(head -c 300 "$out/$name.stderr")"
    return 1
  fi
}
rm -f "$out/anchor.runs" "$out/weft.runs" "$out/base.runs"
load_before=$(cut -d' ' -f1-3 /proc/loadavg) # a shared machine skews both readers; say so
weft_ok=1
for i in $(seq "$runs"); do
  say "run $i/$runs"
  measure anchor "$out/bin/expreader" "$trace"
  if [ $weft_ok = 1 ]; then measure weft "$weft" trace stats "$trace" || weft_ok=0; fi
  if [ -n "$base" ]; then measure base "$base" trace stats "$trace"; fi
done

# (d) the table: medians of wall time and of peak RSS
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
stat_of() { # file column
  awk -v c="$2" '{print $c}' "$1" | median
}
mb=$(awk -v s="$size" 'BEGIN {printf "%.1f", s/1e6}')
a_wall=$(stat_of "$out/anchor.runs" 1); a_rss=$(stat_of "$out/anchor.runs" 2)
events=$(awk '/^events:/ {print $2}' "$out/anchor.stdout")
echo
echo "Trace: $mb MB, $events events (testdata/programs/stress, $("$go" env GOVERSION), 200 pairs, 2M round trips)."
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after."
echo "Command: RUNS=$runs bash bench/trace/run.sh (weft at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "a tree without git")); medians of $runs alternating runs."
echo
echo "| reader | wall (s), median | wall (s), best | CPU (s), median | MB/s (median wall) | MB per CPU-s | peak RSS (MB) |"
echo "|---|---|---|---|---|---|---|"
best() { awk '{print $1}' "$1" | sort -n | head -1; }
row() { awk -v n="$1" -v w="$2" -v b="$3" -v r="$4" -v c="$5" -v s="$size" 'BEGIN {printf "| %s | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f |\n", n, w, b, c, s/1e6/w, s/1e6/c, r/1024}'; }
a_cpu=$(stat_of "$out/anchor.runs" 3)
row "golang.org/x/exp/trace ReadEvent loop (anchor)" "$a_wall" "$(best "$out/anchor.runs")" "$a_rss" "$a_cpu"
if [ $weft_ok = 1 ] && [ -s "$out/weft.runs" ]; then
  w_wall=$(stat_of "$out/weft.runs" 1); w_rss=$(stat_of "$out/weft.runs" 2); w_cpu=$(stat_of "$out/weft.runs" 3)
  row "weft trace stats" "$w_wall" "$(best "$out/weft.runs")" "$w_rss" "$w_cpu"
  # Both readers may use more than one thread (weft decodes ahead on a
  # second one, Go's runtime collects garbage on others), so the CPU ratio
  # compares total work and the wall ratio speed. On a loaded machine the
  # CPU ratio is the steadier.
  awk -v aw="$a_wall" -v ww="$w_wall" -v ar="$a_rss" -v wr="$w_rss" -v ac="$a_cpu" -v wc="$w_cpu" 'BEGIN {
    printf "\nweft is %.1fx the anchor'"'"'s speed by wall time, %.1fx by CPU time, and uses %.2fx its peak RSS.\n", aw/ww, ac/wc, wr/ar }'
  if [ -n "$base" ] && [ -s "$out/base.runs" ]; then
    b_wall=$(stat_of "$out/base.runs" 1); b_rss=$(stat_of "$out/base.runs" 2); b_cpu=$(stat_of "$out/base.runs" 3)
    row "weft trace stats, BASE_WEFT" "$b_wall" "$(best "$out/base.runs")" "$b_rss" "$b_cpu"
    awk -v aw="$a_wall" -v bw="$b_wall" -v ar="$a_rss" -v br="$b_rss" -v ac="$a_cpu" -v bc="$b_cpu" 'BEGIN {
      printf "BASE_WEFT is %.1fx the anchor'"'"'s speed by wall time, %.1fx by CPU time, and uses %.2fx its peak RSS.\n", aw/bw, ac/bc, br/ar }'
  fi
else
  echo "| weft trace stats | failed: $(head -c 200 "$out/weft.stderr" | tr '\n' ' ') | | | |"
fi
