#!/usr/bin/env bash
# Do the model's queries answer the same at an older commit and in the
# working tree? Runs the model_dump example of weft-timeline built at both
# (the working tree's example on both sides) over traces, with the default
# configuration, with tight caps and window, and with small total caps
# (eviction by the span cap), and compares the outputs line by line.
#
#   bash bench/timeline/same.sh OLD_REV [TRACE...]
#
# Without TRACE: a short stress trace (recorded here) and the traces the
# weft-timeline tests record are not at hand, so pass more as needed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
old_rev="${1:?usage: same.sh OLD_REV [TRACE...]}"
shift
out="$root/bench/out/timeline-same"
mkdir -p "$out"
go="$(bash "$root/scripts/go-toolchain.sh" 1.27)"
export GOTOOLCHAIN=local CGO_ENABLED=0
traces=("$@")
if [ ${#traces[@]} -eq 0 ]; then
  small="$out/stress-small.trace"
  if [ ! -s "$small" ]; then
    (cd "$root/testdata/programs" && "$go" build -o "$out/stress" ./stress)
    "$out/stress" -trace "$small.tmp" -pairs 50 -rounds 200000 >&2
    mv "$small.tmp" "$small"
  fi
  traces=("$small")
fi

old_src="$out/old-src"
rm -rf "$old_src" && mkdir -p "$old_src"
git -C "$root" archive "$old_rev" crates/weft-trace crates/weft-timeline crates/weft-model Cargo.toml | tar -x -C "$old_src"
mkdir -p "$old_src/crates/weft-timeline/examples"
cp "$root/crates/weft-timeline/examples/model_dump.rs" "$old_src/crates/weft-timeline/examples/"
python3 - "$old_src/crates/weft-timeline/Cargo.toml" "$root/crates/weft-timeline/Cargo.toml" <<'EOF2'
import sys
old, new = sys.argv[1], sys.argv[2]
dev = open(new).read().split('[dev-dependencies]', 1)[1]
s = open(old).read().split('[dev-dependencies]', 1)[0]
open(old, 'w').write(s.rstrip() + '\n\n[dev-dependencies]' + dev)
EOF2
cp "$root/Cargo.lock" "$old_src/" 2>/dev/null || true
python3 - "$old_src/Cargo.toml" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'members = \[.*?\]', 'members = ["crates/weft-trace", "crates/weft-timeline"]', s, flags=re.S)
open(p, 'w').write(s)
EOF
echo "same.sh: building model_dump at $old_rev and in the working tree" >&2
(cd "$old_src" && CARGO_TARGET_DIR="$out/old-target" cargo build --release --quiet -p weft-timeline --example model_dump)
(cd "$root" && cargo build --release --quiet -p weft-timeline --example model_dump)
old="$out/old-target/release/examples/model_dump"
new="${CARGO_TARGET_DIR:-$root/target}/release/examples/model_dump"
fail=0
for t in "${traces[@]}"; do
  for mode in default tight capped; do
    "$old" "$t" "$mode" >"$out/old.json"
    "$new" "$t" "$mode" >"$out/new.json"
    if cmp -s "$out/old.json" "$out/new.json"; then
      echo "same: $t ($mode): $(wc -l <"$out/new.json") answers identical"
    else
      echo "DIFFERENT: $t ($mode):"
      diff <(cut -c1-300 "$out/old.json") <(cut -c1-300 "$out/new.json") | head -20
      fail=1
    fi
  done
done
exit $fail
