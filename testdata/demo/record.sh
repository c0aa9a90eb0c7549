#!/usr/bin/env bash
# Re-records the bundled demo capture (testdata/demo/demo.trace) from the
# demo program next to this script, with Go 1.27 (GOTOOLCHAIN=local).
# Usage: testdata/demo/record.sh [DURATION]   (default 8s; keep the file < 3 MB)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
go="$("$root/scripts/go-toolchain.sh" 1.27)" || {
  echo "Go 1.27 is missing: run scripts/install-go-toolchains.sh 1.27" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$here/program" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" build -o "$tmp/demo" .)
"$tmp/demo" -trace "$tmp/demo.trace" -duration "${1:-8s}"
mv "$tmp/demo.trace" "$here/demo.trace"
ls -l "$here/demo.trace"
