#!/usr/bin/env bash
# Browser tests of weft's web UI: headless Debian chromium driven by
# playwright-core, against the real weft binary.
#   WEFT_BIN   the weft binary (default: <repo>/target/release/weft)
# Prints a final line "N passed, N failed" and exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")"
export WEFT_BIN="${WEFT_BIN:-../../../target/release/weft}"
[ -x /usr/bin/chromium ] || { echo "e2e: /usr/bin/chromium is missing: apt-get install -y chromium"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$WEFT_BIN" ] || { echo "e2e: weft binary not found at $WEFT_BIN (cargo build --release -p weft, or set WEFT_BIN)"; echo "0 passed, 1 failed"; exit 1; }
export WEFT_BIN="$(cd "$(dirname "$WEFT_BIN")" && pwd)/$(basename "$WEFT_BIN")"
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >/dev/null || { echo "e2e: npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p out
# One file at a time: the machine is small and each file runs weft and chromium.
node --test --test-concurrency=1 --test-reporter=tap tests/ 2>&1 | tee out/tap.txt
status=${PIPESTATUS[0]}
pass=$(grep -E '^# pass ' out/tap.txt | tail -1 | awk '{print $3}')
fail=$(grep -E '^# fail ' out/tap.txt | tail -1 | awk '{print $3}')
pass=${pass:-0}; fail=${fail:-0}
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "${pass} passed, ${fail} failed"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
