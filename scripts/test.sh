#!/usr/bin/env bash
# The project's test command: make sure the Go toolchains the tests build
# programs with are installed (fast when cached), then run every test.
#
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "test.sh: Go toolchains (scripts/install-go-toolchains.sh)" >&2
bash scripts/install-go-toolchains.sh
echo "test.sh: cargo test --workspace --release" >&2
exec cargo test --workspace --release
