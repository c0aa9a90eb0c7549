#!/usr/bin/env bash
# The main job on a bundled default: builds weft, starts the example service
# testdata/programs/profiles/leaky-svc (an HTTP service with net/http/pprof
# whose /work handler strands two goroutines per request), sends it a little
# traffic in the background and opens `weft top` on it. Quit with q.
#
#   bash scripts/demo.sh            # terminal UI
#   bash scripts/demo.sh web        # the web UI, live (prints its URL; opens a browser if it can)
#   bash scripts/demo.sh snapshot   # one report instead (works without a terminal)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-top}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "demo: installing Go 1.27 if needed (cached in ~/.cache/weft)" >&2
bash scripts/install-go-toolchains.sh 1.27
go="$(bash scripts/go-toolchain.sh 1.27)"

echo "demo: building weft (cargo build --release)" >&2
cargo build --release -q -p weft
weft="${CARGO_TARGET_DIR:-target}/release/weft"

echo "demo: building and starting the example service" >&2
(cd testdata/programs/profiles && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" build -o "$work/leaky-svc" ./leaky-svc)
"$work/leaky-svc" -addr 127.0.0.1:0 > "$work/svc.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  addr="$(sed -n 's/^listening on //p' "$work/svc.log" | head -n1)"
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "${addr:-}" ] || { echo "demo: the example service did not start:" >&2; cat "$work/svc.log" >&2; exit 1; }
url="http://$addr"
echo "demo: service at $url; sending 5 requests a second to $url/work" >&2

# Traffic: each request strands two helper goroutines, so their group grows.
( while :; do curl -s -o /dev/null "$url/work" || true; sleep 0.2; done ) &
pids+=($!)

if [ "$mode" = web ]; then
  "$weft" watch "$url"
  exit $?
fi
if [ "$mode" = snapshot ]; then
  sleep 3
  "$weft" snapshot "$url" --polls 3
  exit $?
fi
"$weft" top "$url"
