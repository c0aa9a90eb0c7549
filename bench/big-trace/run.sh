#!/usr/bin/env bash
# Benchmark: `weft open` on a trace whose detail is bigger than the model's
# caps (issue 5, "traces larger than memory still open, streamed, indexed").
#
# One weft process with the caps forced small (WEFT_WEB_CAPS) and one with
# the default caps (the anchor for memory) are run alternately, RUNS times.
# In the small-caps process, an early window (before the resident model's
# detail, so decoded from the file) and a late window (resident: the anchor
# for latency) are asked for alternately:
#   cold: 10 different early windows (each decodes its generations), and
#   warm: the same early window 10 times (from the detail cache).
# Peak RSS (VmHWM) is read after loading and again after the queries.
#
#   bash bench/big-trace/run.sh                 # records bench/out/big-trace.trace once
#   TRACE=/path/to/file.trace RUNS=1 bash bench/big-trace/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out"
runs="${RUNS:-2}"
small="${CAPS:-max_spans=500000,max_spans_per_goroutine=20000,max_wakes=200000,detail_models=2,detail_max_spans=2000000,detail_bytes=50000000}"
mkdir -p "$out/bin"
say() { echo "big-trace: $*" >&2; }
command -v curl >/dev/null || { echo "needs curl" >&2; exit 1; }

# (a) the trace: ~150 MB of request goroutines over ~90 generations.
trace="${TRACE:-$out/big-trace.trace}"
if [ ! -s "$trace" ]; then
  go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
  say "building churn and recording $trace (90 s)"
  (cd "$root/crates/weft-web/tests/programs/churn" && GOTOOLCHAIN=local "$go" build -o "$out/bin/churn" .)
  "$out/bin/churn" -trace "$trace.tmp" -d 90s -rate 100000 >&2
  mv "$trace.tmp" "$trace"
fi
size=$(stat -c %s "$trace")

say "building weft (release)"
(cd "$root" && cargo build --release --quiet -p weft)
weft="${CARGO_TARGET_DIR:-$root/target}/release/weft"

hwm_mb() { awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
}
trap cleanup EXIT

# Starts weft open with the given WEFT_WEB_CAPS; sets $pid and $url.
start_weft() {
  local log="$out/big-trace-weft.log" st
  WEFT_WEB_CAPS="$1" "$weft" open --no-browser "$trace" 2>"$log" &
  pid=$!
  url=""
  for _ in $(seq 600); do
    url=$(grep -o 'http://[^ ]*' "$log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { say "weft printed no URL: $(cat "$log")"; return 1; }
  while :; do
    st=$(curl -s "${url}api/status" | grep -o '"state":"[a-z]*"' | head -1 || true)
    [ "$st" = '"state":"ready"' ] && break
    [ "$st" = '"state":"error"' ] && { say "weft failed: $(curl -s "${url}api/status")"; return 1; }
    kill -0 "$pid" 2>/dev/null || { say "weft exited: $(cat "$log")"; pid=""; return 1; }
    sleep 0.1
  done
}

# Seconds one viewport page of the timeline takes for [$1, $2).
page() {
  curl -s -o /dev/null -w '%{time_total}' "${url}api/timeline?start_ns=$1&end_ns=$2&row_limit=200"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

say "trace $trace: $size bytes; small caps: $small"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$runs"); do
  # Default caps (memory anchor).
  start_weft ""
  d_load=$(curl -s "${url}api/status" | grep -o '"load_secs":[0-9.]*' | cut -d: -f2 || true)
  d_rss=$(hwm_mb "$pid")
  d_sum=$(curl -s "${url}api/summary")
  d_first=$(echo "$d_sum" | grep -o '"start_ns":[0-9]*' | head -1 | cut -d: -f2 || true)
  d_last=$(echo "$d_sum" | grep -o '"end_ns":[0-9]*' | head -1 | cut -d: -f2 || true)
  d_res=$(echo "$d_sum" | grep -o '"resident_detail_start_ns":[0-9]*' | cut -d: -f2 || true)
  cleanup

  # Small caps.
  start_weft "$small"
  rss_loaded=$(hwm_mb "$pid")
  s_load=$(curl -s "${url}api/status" | grep -o '"load_secs":[0-9.]*' | cut -d: -f2 || true)
  for _ in $(seq 200); do
    curl -s -o /dev/null "${url}api/summary"
    curl -s "${url}api/status" | grep -q '"index":{[^}]*"resident_complete_ns"' && break
    sleep 0.1
  done
  sum=$(curl -s "${url}api/summary")
  first=$(echo "$sum" | grep -o '"start_ns":[0-9]*' | head -1 | cut -d: -f2 || true)
  last=$(echo "$sum" | grep -o '"end_ns":[0-9]*' | head -1 | cut -d: -f2 || true)
  resident=$(echo "$sum" | grep -o '"resident_detail_start_ns":[0-9]*' | cut -d: -f2 || true)
  [ -n "$resident" ] || { say "no index in the summary: $sum"; exit 1; }
  w=200000000
  cold=(); warm=(); late=()
  for i in $(seq 0 9); do
    s=$(( first + (resident - first - w) * i / 10 ))
    cold+=("$(page $s $((s + w)))")
    ls=$(( resident + (last - resident - w) * i / 10 ))
    late+=("$(page $ls $((ls + w)))")
  done
  hwm_cold=$(hwm_mb "$pid")
  s=$(( first + (resident - first) / 2 ))
  page $s $((s + w)) >/dev/null
  for i in $(seq 0 9); do
    warm+=("$(page $s $((s + w)))")
    ls=$(( resident + (last - resident - w) * i / 10 ))
    late+=("$(page $ls $((ls + w)))")
  done
  # 20 more cold windows: the peak must not grow with the number decoded.
  for i in $(seq 0 19); do
    s=$(( first + (resident - first - w) * (2 * i + 1) / 40 ))
    page $s $((s + w)) >/dev/null
  done
  st=$(curl -s "${url}api/status")
  rss_peak=$(hwm_mb "$pid")
  cleanup
  mc=$(printf '%s\n' "${cold[@]}" | median)
  mw=$(printf '%s\n' "${warm[@]}" | median)
  ml=$(printf '%s\n' "${late[@]}" | median)
  if [ -n "$d_res" ]; then d_from="resident detail from $(( (d_res - d_first) / 1000000 )) ms of $(( (d_last - d_first) / 1000000 )) ms"; else d_from="not indexed"; fi
  echo "run $run: default caps: loaded in ${d_load} s, peak RSS ${d_rss} MB; $d_from"
  echo "run $run: small caps: loaded in ${s_load} s, peak RSS ${rss_loaded} MB after load, ${hwm_cold} MB after 10 decodes, ${rss_peak} MB after 30;" \
       "resident detail from $(( (resident - first) / 1000000 )) ms of $(( (last - first) / 1000000 )) ms"
  echo "run $run: timeline page (200 rows, 200 ms window) median of 10: early cold $(awk -v x="$mc" 'BEGIN{printf "%.1f", x*1000}') ms," \
       "early warm $(awk -v x="$mw" 'BEGIN{printf "%.1f", x*1000}') ms, late (resident, anchor) $(awk -v x="$ml" 'BEGIN{printf "%.1f", x*1000}') ms;" \
       "cold/late $(awk -v a="$mc" -v b="$ml" 'BEGIN{printf "%.1f", a/b}')x, warm/late $(awk -v a="$mw" -v b="$ml" 'BEGIN{printf "%.2f", a/b}')x;" \
       "RSS small/default $(awk -v a="$rss_peak" -v b="$d_rss" 'BEGIN{printf "%.2f", a/b}')"
  echo "run $run: index: $(echo "$st" | grep -o '"index":{[^}]*}')"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
