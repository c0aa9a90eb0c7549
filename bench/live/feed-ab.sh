#!/usr/bin/env bash
# The live model fed on one thread (decode and apply on the stream's
# thread) against two (LiveFeed: digest | apply), alternating, against the
# same busy target: trace MB/s received and ingested, weft's CPU, and the
# delay of the target's "weft-mark" events into the model.
#
#   ROUNDS=3 SECS=40 bash bench/live/feed-ab.sh
#
# Target: testdata/programs/live -pairs 2 -marks 100 (Go 1.27,
# GOMAXPROCS=1, one fresh target per run). Raw output in bench/out/live/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out/live"
rounds="${ROUNDS:-3}"
secs="${SECS:-40}"
mkdir -p "$out"
say() { echo "feed-ab.sh: $*" >&2; }
go27="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0
(cd "$root/testdata/programs/live" && "$go27" build -o "$out/live27" .)
(cd "$root/bench/live/driver" && cargo build --release --quiet)
drv="${CARGO_TARGET_DIR:-$root/bench/live/driver/target}/release/live-trace-bench"

pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
say "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for feed in single pipelined; do
    log="$out/feed-target.log"
    GOMAXPROCS=1 "$out/live27" -pairs 2 -marks 100 >"$log" 2>&1 &
    pid=$!
    addr=
    for _ in $(seq 50); do
      addr=$(sed -n 's/listening on //p' "$log" 2>/dev/null || true)
      [ -n "$addr" ] && break
      sleep 0.1
    done
    [ -n "$addr" ] || { say "target did not start: $(cat "$log")"; exit 1; }
    WEFT_LIVE_FEED=$feed "$drv" live "http://$addr" "$secs" "$secs" >"$out/feed-$feed-$r.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    echo "round $r $feed: $(grep -E '^live:' "$out/feed-$feed-$r.txt" | sed 's/^live: //') | $(grep -E '^delay' "$out/feed-$feed-$r.txt")"
  done
done
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
