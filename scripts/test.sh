#!/usr/bin/env bash
# The project's test command: make sure the Go toolchains the tests build
# programs with are installed (fast when cached), run every Rust test (they
# build and run real Go programs), then the web UI's browser tests against
# the release binary those tests built.
#
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "test.sh: Go toolchains (scripts/install-go-toolchains.sh)" >&2
bash scripts/install-go-toolchains.sh
echo "test.sh: cargo test --workspace --release" >&2
cargo test --workspace --release
echo "test.sh: browser tests (crates/weft-web/e2e/run.sh: headless chromium + playwright-core)" >&2
cargo build --release -q -p weft
WEFT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/weft" bash crates/weft-web/e2e/run.sh
