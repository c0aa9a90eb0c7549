# Sourced by this directory's scripts: builds bench/schedgap with Go
# $GO_VERSION, starts it with $N parked goroutines and waits until they are
# all parked. Sets TMP (scratch, removed on exit), PID (the target, killed on
# exit) and URL (its pprof base).
N=${N:-100000}
GO_VERSION=${GO_VERSION:-1.27}
TMP=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

go=$("$ROOT/scripts/go-toolchain.sh" "$GO_VERSION")
(cd "$ROOT/bench/schedgap" && GOTOOLCHAIN=local "$go" build -o "$TMP/target" .)
"$TMP/target" -n "$N" > "$TMP/out" 2>&1 &
PID=$!
for _ in $(seq 600); do grep -q '^pprof: ' "$TMP/out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^pprof: //p' "$TMP/out" | head -1)
[ -n "$URL" ] || { echo "target did not start" >&2; cat "$TMP/out" >&2; exit 1; }
for _ in $(seq 600); do
  total=$(curl -s "$URL/debug/pprof/goroutine?debug=1" | head -1 | sed 's/.*total //')
  [ "${total:-0}" -ge "$N" ] && break; sleep 0.2
done
