#!/usr/bin/env bash
# Side-by-side timing of weft-profile parse + weft-analysis group at two
# revisions, on the same debug=2 dump, alternating in one run so machine
# load hits both alike. Only the ratio between the two columns means
# anything on a shared machine.
#
# usage: bench/profile-parse/compare.sh BEFORE_REV [N] [ROUNDS]
#   BEFORE_REV  git revision to compare the working tree against
#   DUMP=path   use this dump instead of producing one from goprog/ (N goroutines)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rev=${1:?usage: compare.sh BEFORE_REV [N] [ROUNDS]}
n=${2:-100000}
rounds=${3:-5}
ver=${GO_VERSION:-1.27}
go="$HOME/.cache/weft/go$ver/bin/go"
base=${CARGO_TARGET_DIR:-$root/target}/compare-profile-parse
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

# The "before" tree: crates and this bench at BEFORE_REV, built on its own.
mkdir -p "$work/before"
git -C "$root" archive "$rev" Cargo.toml crates bench/profile-parse | tar -x -C "$work/before"
CARGO_TARGET_DIR="$base/before" cargo build --release --quiet --manifest-path "$work/before/bench/profile-parse/Cargo.toml"
CARGO_TARGET_DIR="$base/after" cargo build --release --quiet --manifest-path "$here/Cargo.toml"

dump=${DUMP:-}
if [ -z "$dump" ]; then
  [ -x "$go" ] || { echo "Go $ver missing: run scripts/install-go-toolchains.sh" >&2; exit 1; }
  (cd "$here/goprog" && GOTOOLCHAIN=local "$go" build -o "$work/target" .)
  "$work/target" -n "$n" > "$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
  addr=$(sed -n 's/^listening on //p' "$work/out")
  [ -n "$addr" ] || { echo "target did not start" >&2; cat "$work/out" >&2; exit 1; }
  curl -sf -o "$work/debug2" "http://$addr/debug/pprof/goroutine?debug=2"
  kill $pid; wait $pid 2>/dev/null || true; pid=
  dump="$work/debug2"
fi

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores, $(uname -sr), $(rustc --version)"
echo "dump: $(stat -c %s "$dump") bytes; before = $rev ($(git -C "$root" log -1 --format=%h "$rev")), after = working tree ($(git -C "$root" log -1 --format=%h HEAD))"
for i in 1 2 3; do
  echo "--- before, pass $i"; "$base/before/release/profile-parse-bench" "$rounds" "$dump" | grep -E "thread|group"
  echo "--- after, pass $i";  "$base/after/release/profile-parse-bench" "$rounds" "$dump" | grep -E "thread|group"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
