#!/usr/bin/env bash
# Frame times of weft's web timeline while panning and zooming a capture of
# 100k goroutines, in headless Debian chromium (WebGL2 on SwiftShader: no GPU).
#   bench/web-frames/run.sh [SECONDS]     (default 10 per mode)
#   WEFT_BIN=path/to/weft (default target/release/weft), GOROUTINES=100000
#   WEFT_BIN_BEFORE=path/to/other/weft: measure both in alternating rounds
#   (ROUNDS, default 3) in this one run, for before/after figures.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export WEFT_BIN="${WEFT_BIN:-$repo/target/release/weft}"
[ -x "$WEFT_BIN" ] || { echo "weft binary missing at $WEFT_BIN: cargo build --release -p weft"; exit 1; }
[ -z "${WEFT_BIN_BEFORE:-}" ] || [ -x "$WEFT_BIN_BEFORE" ] || { echo "WEFT_BIN_BEFORE=$WEFT_BIN_BEFORE is not an executable"; exit 1; }
go="$(bash "$repo/scripts/go-toolchain.sh" 1.26 2>/dev/null || echo /usr/local/go/bin/go)"
[ -x "$go" ] || { echo "no Go toolchain: run scripts/install-go-toolchains.sh"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$here/gen" && GOTOOLCHAIN=local "$go" build -o "$work/gen" .)
"$work/gen" -out "$work/frames.trace" -g "${GOROUTINES:-100000}" >/dev/null
(cd "$repo/crates/weft-web/e2e" && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund >/dev/null; })
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); $(/usr/bin/chromium --version 2>/dev/null)"
node "$here/frames.mjs" "$work/frames.trace" "${1:-10}"
