#!/usr/bin/env bash
# Side-by-side snapshot cost of weft-attach at two revisions against one
# running target with N parked goroutines (bench/schedgap), alternating in
# one run so machine load hits both alike. Needs root (or CAP_SYS_PTRACE).
#
# usage: bench/attach/compare.sh BEFORE_REV [N] [SNAPSHOTS]
#
# Modes: "default" runs each revision's default options; "reuse" asks for
# reuse_stacks, which revisions since 2026-11-23 use by default (their
# attach_bench ignores the word), so for them both rows are the default.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rev=${1:?usage: compare.sh BEFORE_REV [N] [SNAPSHOTS]}
n=${2:-100000}
snaps=${3:-6}
GOV="${GOV:-1.27}"
GO="${GO:-$("$root/scripts/go-toolchain.sh" "$GOV")}"
base=${CARGO_TARGET_DIR:-$root/target}/compare-attach
work=$(mktemp -d)
target=
trap '[ -n "$target" ] && kill $target 2>/dev/null; rm -rf "$work"' EXIT

mkdir -p "$work/before"
git -C "$root" archive "$rev" Cargo.toml Cargo.lock crates | tar -x -C "$work/before"
(cd "$work/before" && CARGO_TARGET_DIR="$base/before" cargo build --quiet --release -p weft-attach --example attach_bench)
(cd "$root" && CARGO_TARGET_DIR="$base/after" cargo build --quiet --release -p weft-attach --example attach_bench)
(cd "$root/bench/schedgap" && GOTOOLCHAIN=local "$GO" build -o "$work/schedgap" .)

"$work/schedgap" -n "$n" > "$work/out" 2>&1 &
target=$!
for _ in $(seq 1 300); do grep -q '^pprof: ' "$work/out" 2>/dev/null && break; sleep 0.1; done
grep -q '^pprof: ' "$work/out" || { echo "schedgap did not start: $(cat "$work/out")" >&2; exit 1; }
sleep 2

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) CPUs, $(uname -sr), target $("$GO" version | cut -d' ' -f3) with $n parked goroutines"
echo "before = $rev ($(git -C "$root" log -1 --format=%h "$rev")), after = working tree ($(git -C "$root" log -1 --format=%h HEAD))"
for i in 1 2 3; do
  for which in before after; do
    for mode in "" reuse; do
      printf '%-6s %-7s pass %s: ' "$which" "${mode:-default}" "$i"
      "$base/$which/release/examples/attach_bench" "$target" time "$snaps" $mode
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
