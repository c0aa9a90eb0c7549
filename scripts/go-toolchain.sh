#!/usr/bin/env bash
# Prints the path of the cached `go` binary for one version (see install-go-toolchains.sh).
set -euo pipefail
v="${1:?usage: go-toolchain.sh 1.NN}"
go="${WEFT_GO_CACHE:-$HOME/.cache/weft}/go$v/bin/go"
[ -x "$go" ] || { echo "Go $v is not installed; run scripts/install-go-toolchains.sh $v" >&2; exit 1; }
echo "$go"
