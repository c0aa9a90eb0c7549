#!/usr/bin/env bash
# Server-side cost of the web UI's queries at 100k goroutines: opens a trace
# of testdata/programs/stress with 50 000 ping-pong pairs (100 000
# goroutines, ~1M round trips) in `weft open`, then times each API request
# the front makes (10 times each, median and max, measured by curl from
# request to last byte) with the stress trace's span count from /api/summary.
#
#   bash bench/web-open/viewport.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out"
mkdir -p "$out/bin"
say() { echo "viewport: $*" >&2; }
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0
trace="$out/web-viewport.trace"
if [ ! -s "$trace" ]; then
  say "recording $trace (100 000 goroutines)"
  (cd "$root/testdata/programs" && "$go" build -o "$out/bin/stress" ./stress)
  "$out/bin/stress" -trace "$trace.tmp" -pairs 50000 -rounds 1000000 >&2
  mv "$trace.tmp" "$trace"
fi
(cd "$root" && cargo build --release --quiet -p weft)
weft="${CARGO_TARGET_DIR:-$root/target}/release/weft"
log="$out/web-viewport.log"
"$weft" open --no-browser "$trace" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
url=""
while [ -z "$url" ]; do url=$(grep -o 'http://[^ ]*' "$log" | head -1 || true); sleep 0.05; done
until curl -s "${url}api/status" | grep -q '"state":"ready"'; do sleep 0.1; done
sum=$(curl -s "${url}api/summary")
spans=$(echo "$sum" | grep -o '"spans":[0-9]*' | cut -d: -f2)
start=$(echo "$sum" | grep -o '"start_ns":[0-9-]*' | cut -d: -f2)
end=$(echo "$sum" | grep -o '"end_ns":[0-9-]*' | cut -d: -f2)
rows=$(curl -s "${url}api/rows?limit=1" | grep -o '"total_rows":[0-9]*' | cut -d: -f2)
mid=$(( (start + end) / 2 ))
echo "Trace: $(awk -v s="$(stat -c %s "$trace")" 'BEGIN {printf "%.1f", s/1e6}') MB, $rows timeline rows, $spans spans in the model."
echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg). Command: bash bench/web-open/viewport.sh"
echo
echo "| request | bytes | median (ms) | max (ms) |"
echo "|---|---|---|---|"
time_req() { # label path
  local ts=() size=0
  for _ in $(seq 10); do
    read -r t s < <(curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "${url}$2")
    ts+=("$t"); size=$s
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk -v l="$1" -v b="$size" '{v[NR]=$1} END {printf "| %s | %d | %.1f | %.1f |\n", l, b, v[int((NR+1)/2)]*1000, v[NR]*1000}'
}
time_req "timeline, whole capture, 200 rows, 2000 px" "api/timeline?row_limit=200&res_ns=$(( (end - start) / 2000 ))"
time_req "timeline, 1 ms window, 200 rows at row 50000" "api/timeline?row_offset=50000&row_limit=200&start_ns=$mid&end_ns=$((mid + 1000000))&res_ns=500"
time_req "timeline, all groups collapsed" "api/timeline?collapsed=all&row_limit=200"
time_req "rows (layout), 200 rows" "api/rows?limit=200"
time_req "summary" "api/summary"
time_req "groups" "api/groups"
time_req "goroutines, longest wait first, 100" "api/goroutines?sort=wait&desc=1&limit=100"
time_req "goroutine inspector" "api/goroutine/$(curl -s "${url}api/goroutines?limit=1&offset=5000" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)"
time_req "flows" "api/flows"
echo
echo "weft open peak RSS: $(awk '/^VmHWM/ {printf "%.0f MB", $2/1024}' /proc/$pid/status)"
