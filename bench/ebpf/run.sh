#!/usr/bin/env bash
# Overhead of each eBPF probe set on channel-heavy Go programs, measured side
# by side in one run: chanbench's throughput in alternating windows,
# unprobed / lifecycle set (goroutine create+exit) / park-ready set.
# Needs root and clang. Usage: bench/ebpf/run.sh [WINDOW_SECS] [ROUNDS] [GO_MINOR]
set -euo pipefail
cd "$(dirname "$0")/../.."
window="${1:-3}"
rounds="${2:-4}"
minor="${3:-26}"
go="$(scripts/go-toolchain.sh "1.$minor")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
(cd bench/ebpf/chanbench && GOTOOLCHAIN=local "$go" build -o "$out/chanbench" .)
cargo build --release -p weft-ebpf --example probe_bench >&2
bench="${CARGO_TARGET_DIR:-target}/release/examples/probe_bench"
echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); Go 1.$minor"
for mode in pingpong spawn; do
  echo
  "$bench" "$out/chanbench" "$mode" "$window" "$rounds"
done
