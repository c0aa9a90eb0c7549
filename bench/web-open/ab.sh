#!/usr/bin/env bash
# Before/after for `weft open`: time until /api/status says "ready", the
# process's peak RSS (VmHWM) and CPU time, for two or more weft binaries
# (or one binary under different environments), run alternately on one
# trace so machine drift hits all sides alike.
#
#   bash bench/web-open/ab.sh TRACE NAME=BIN NAME=BIN ...
#   RUNS=5 bash bench/web-open/ab.sh /work/traces/web-open.trace \
#       old=/tmp/weft-old new=target/release/weft
#   # a side may carry environment settings before the binary:
#   ... thp=MIMALLOC_ALLOW_THP=1:target/release/weft
#
# Prints one line per run and per side the median ready time, peak RSS and
# CPU seconds, with the load average at start and end (the machine is
# shared: compare sides of one run, not runs of different days).
set -euo pipefail
trace="${1:?usage: ab.sh TRACE NAME=BIN [NAME=BIN ...]}"
shift
[ $# -ge 1 ] || { echo "ab.sh: give at least one NAME=BIN" >&2; exit 2; }
runs="${RUNS:-5}"
port="${PORT:-7811}"
command -v curl >/dev/null || { echo "ab.sh: needs curl" >&2; exit 1; }
out="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
}
trap 'cleanup; rm -rf "$out"' EXIT

now() { date +%s.%N; }

# One open: prints "SECONDS HWM_MB CPU_S".
open_once() {
  local spec="$1" envs bin t0 st hwm cpu
  bin="${spec##*:}"
  envs=""
  [ "$bin" != "$spec" ] && envs="${spec%:*}"
  t0=$(now)
  # shellcheck disable=SC2086
  env $envs "$bin" open --no-browser --listen "127.0.0.1:$port" "$trace" >"$out/log" 2>&1 &
  pid=$!
  while :; do
    st=$(curl -s -H "Host: 127.0.0.1:$port" "http://127.0.0.1:$port/api/status" 2>/dev/null |
      grep -o '"state":"[a-z]*"' || true)
    [ "$st" = '"state":"ready"' ] && break
    if [ "$st" = '"state":"error"' ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "ab.sh: $bin failed: $(tail -3 "$out/log")" >&2
      cleanup
      return 1
    fi
    sleep 0.02
  done
  local t1
  t1=$(now)
  hwm=$(awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  cpu=$(awk '{printf "%.2f", ($14+$15)/100}' "/proc/$pid/stat")
  cleanup
  awk -v a="$t0" -v b="$t1" -v h="$hwm" -v c="$cpu" 'BEGIN {printf "%.3f %s %s\n", b-a, h, c}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "trace: $trace ($(stat -c %s "$trace") bytes); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: RUNS=$runs bash bench/web-open/ab.sh $trace $*"
for i in $(seq "$runs"); do
  for side in "$@"; do
    name="${side%%=*}"
    r=$(open_once "${side#*=}")
    echo "run $i $name: ready $(echo "$r" | cut -d' ' -f1) s, peak RSS $(echo "$r" | cut -d' ' -f2) MB, CPU $(echo "$r" | cut -d' ' -f3) s"
    echo "$r" >>"$out/$name.txt"
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
for side in "$@"; do
  name="${side%%=*}"
  f="$out/$name.txt"
  echo "$name: median ready $(cut -d' ' -f1 "$f" | med) s (min $(cut -d' ' -f1 "$f" | sort -n | head -1)), peak RSS $(cut -d' ' -f2 "$f" | med) MB, CPU $(cut -d' ' -f3 "$f" | med) s"
done
