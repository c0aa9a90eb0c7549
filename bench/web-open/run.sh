#!/usr/bin/env bash
# Benchmark: opening an ~80 MB execution trace in a web UI.
#   weft open --no-browser FILE        (time until /api/status says "ready")
#   go tool trace -http=127.0.0.1:0 FILE   (time until its first page serves)
# measured alternately in one run, with each process's peak RSS (VmHWM read
# from /proc just before it is stopped).
#
#   bash bench/web-open/run.sh           # 3 alternating runs each
#   RUNS=1 bash bench/web-open/run.sh
#   WEFT=path/to/weft bash bench/web-open/run.sh   # that binary, no build
#
# The trace is recorded once from testdata/programs/stress with Go 1.27 and
# cached in bench/out/web-open.trace (delete it to record anew). After
# "ready", one round of the UI's first requests (summary, groups, first
# timeline page) is timed too: that is what "interactive" costs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out"
runs="${RUNS:-3}"
mkdir -p "$out/bin"
say() { echo "web-open: $*" >&2; }
command -v curl >/dev/null || { echo "needs curl" >&2; exit 1; }
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0

# (a) the trace: ~80 MB of channel ping-pong (≈35 bytes per round trip)
trace="$out/web-open.trace"
min_bytes=$((75 * 1000 * 1000))
if [ ! -s "$trace" ] || [ "$(stat -c %s "$trace")" -lt "$min_bytes" ]; then
  say "building stress and recording $trace"
  (cd "$root/testdata/programs" && "$go" build -o "$out/bin/stress" ./stress)
  "$out/bin/stress" -trace "$trace.tmp" -pairs 200 -rounds 2400000 >&2
  mv "$trace.tmp" "$trace"
fi
size=$(stat -c %s "$trace")

# (b) the two programs: Go's trace tool built directly (so its RSS is its
# own, not the go command's), and a release weft.
say "building go tool trace ($("$go" env GOVERSION))"
"$go" build -o "$out/bin/gotooltrace" cmd/trace
if [ -n "${WEFT:-}" ]; then
  weft="$WEFT" # a given binary, no build
else
  say "building weft (release)"
  (cd "$root" && cargo build --release --quiet -p weft)
  weft="${CARGO_TARGET_DIR:-$root/target}/release/weft"
fi

now() { date +%s.%N; }
hwm_mb() { awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
}
trap cleanup EXIT

# weft: start, read the URL it prints, poll /api/status until ready.
run_weft() {
  local log="$out/web-open-weft.log" t0 t1 url st t2 t3 rss
  t0=$(now)
  "$weft" open --no-browser "$trace" 2>"$log" &
  pid=$!
  url=""
  for _ in $(seq 600); do
    url=$(grep -o 'http://[^ ]*' "$log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { say "weft printed no URL: $(cat "$log")"; cleanup; return 1; }
  while :; do
    st=$(curl -s "${url}api/status" | grep -o '"state":"[a-z]*"' || true)
    [ "$st" = '"state":"ready"' ] && break
    [ "$st" = '"state":"error"' ] && { say "weft failed: $(curl -s "${url}api/status")"; cleanup; return 1; }
    kill -0 "$pid" 2>/dev/null || { say "weft exited: $(cat "$log")"; pid=""; return 1; }
    sleep 0.02
  done
  t1=$(now)
  t2=$(now)
  curl -s -o /dev/null "${url}api/summary"
  curl -s -o /dev/null "${url}api/groups"
  curl -s -o /dev/null "${url}api/timeline?row_limit=200"
  t3=$(now)
  rss=$(hwm_mb "$pid")
  cleanup
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v r="$rss" 'BEGIN {printf "%.3f %s %.1f\n", b-a, r, (d-c)*1000}' >>"$out/web-open-weft.runs"
}

# go tool trace: start, read "listening on URL", poll it until it answers 200.
run_go() {
  local log="$out/web-open-go.log" t0 t1 url code rss
  t0=$(now)
  # BROWSER=true: its browser opener finds nothing to do, quietly.
  BROWSER=true "$out/bin/gotooltrace" -http=127.0.0.1:0 "$trace" >"$log" 2>&1 &
  pid=$!
  url=""
  while [ -z "$url" ]; do
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
    kill -0 "$pid" 2>/dev/null || { say "go tool trace exited: $(tail -5 "$log")"; pid=""; return 1; }
    [ -n "$url" ] || sleep 0.05
  done
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url/" || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || { say "go tool trace exited: $(tail -5 "$log")"; pid=""; return 1; }
    sleep 0.05
  done
  t1=$(now)
  rss=$(hwm_mb "$pid")
  cleanup
  awk -v a="$t0" -v b="$t1" -v r="$rss" 'BEGIN {printf "%.3f %s\n", b-a, r}' >>"$out/web-open-go.runs"
}

rm -f "$out/web-open-weft.runs" "$out/web-open-go.runs"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  say "run $i/$runs: weft open"
  run_weft
  say "run $i/$runs: go tool trace"
  run_go
done

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }
w_t=$(col "$out/web-open-weft.runs" 1); w_r=$(col "$out/web-open-weft.runs" 2); w_i=$(col "$out/web-open-weft.runs" 3)
g_t=$(col "$out/web-open-go.runs" 1); g_r=$(col "$out/web-open-go.runs" 2)
echo
echo "Trace: $(awk -v s="$size" 'BEGIN {printf "%.1f", s/1e6}') MB (testdata/programs/stress -pairs 200 -rounds 2400000, $("$go" env GOVERSION))."
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), Linux $(uname -r); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after."
echo "Command: RUNS=$runs bash bench/web-open/run.sh (weft at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "a tree without git")); medians of $runs alternating runs."
echo
echo "| program | time to ready / first page (s) | peak RSS (MB) | first UI requests after ready (ms) |"
echo "|---|---|---|---|"
printf "| weft open --no-browser | %.2f | %s | %.0f |\n" "$w_t" "$w_r" "$w_i"
printf "| go tool trace -http (anchor) | %.2f | %s | - |\n" "$g_t" "$g_r"
awk -v a="$g_t" -v b="$w_t" -v ra="$g_r" -v rb="$w_r" 'BEGIN {printf "\nweft is %.1fx faster to ready and uses %.1fx less peak memory.\n", a/b, ra/rb}'
echo "Per run (s, MB[, ms]): weft: $(tr '\n' ';' <"$out/web-open-weft.runs") go: $(tr '\n' ';' <"$out/web-open-go.runs")"
