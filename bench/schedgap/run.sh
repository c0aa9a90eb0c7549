#!/usr/bin/env bash
# Scheduling-gap benchmark: how much does watching a program with 100k
# parked goroutines hurt it?
#
# One target (this directory's Go program: 100k parked goroutines, pprof on
# loopback, a 1 ms ticker that records how late it wakes) is measured in
# windows of WINDOW seconds while it is observed by
#   (a) nothing,
#   (b) `weft top` at its default settings, running for real in a tmux
#       pseudo-terminal (160x45),
#   (c) a plain debug=2 poller: curl of /debug/pprof/goroutine?debug=2, then
#       a sleep of INTERVAL (weft's default poll interval) — the way
#       debug=2-polling TUIs watch a program.
# The three are alternated over ROUNDS rounds (the order rotates each round)
# to spread machine noise evenly. Prints a markdown table.
#
# usage: bench/schedgap/run.sh [WINDOW_SECONDS=20] [ROUNDS=3]
# env:   N=100000 goroutines, GO_VERSION=1.27, INTERVAL=1 (seconds),
#        CARGO_TARGET_DIR (where the release weft is built)
set -euo pipefail

WINDOW=${1:-20}
ROUNDS=${2:-3}
N=${N:-100000}
GO_VERSION=${GO_VERSION:-1.27}
INTERVAL=${INTERVAL:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
TMUX_SOCKET="weft-schedgap-$$"
TARGET_PID=""
OBSERVER_PID=""

command -v tmux >/dev/null || { echo "run.sh needs tmux (apt-get install tmux) to give weft top a terminal" >&2; exit 1; }
command -v curl >/dev/null || { echo "run.sh needs curl" >&2; exit 1; }

# A generous timeout: while a debug=2 dump stops its world, the target
# cannot answer either.
window() { curl -s --max-time 120 "$URL/schedgap/window"; }

start_observer() {
    case "$1" in
    none) ;;
    weft)
        tmux -L "$TMUX_SOCKET" -f /dev/null new-session -d -s weft -x 160 -y 45 "$WEFT top $URL"
        ;;
    debug2)
        (trap 'exit 0' TERM
        while :; do
            curl -s -o /dev/null --max-time 60 "$URL/debug/pprof/goroutine?debug=2" || true
            sleep "$INTERVAL"
        done) 2>/dev/null &
        OBSERVER_PID=$!
        ;;
    esac
}

stop_observer() {
    tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
    if [ -n "$OBSERVER_PID" ]; then
        pkill -P "$OBSERVER_PID" 2>/dev/null || true
        kill "$OBSERVER_PID" 2>/dev/null || true
        wait "$OBSERVER_PID" 2>/dev/null || true
        OBSERVER_PID=""
    fi
}

cleanup() {
    stop_observer || true
    [ -n "$TARGET_PID" ] && kill "$TARGET_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

go=$("$ROOT/scripts/go-toolchain.sh" "$GO_VERSION")
echo "building schedgap with $("$go" version | cut -d' ' -f3)..." >&2
(cd "$ROOT/bench/schedgap" && GOTOOLCHAIN=local "$go" build -o "$TMP/schedgap" .)
echo "building weft (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p weft)
WEFT="${CARGO_TARGET_DIR:-$ROOT/target}/release/weft"

"$TMP/schedgap" -n "$N" >"$TMP/target.out" 2>"$TMP/target.err" &
TARGET_PID=$!
for _ in $(seq 100); do
    URL=$(sed -n 's/^pprof: //p' "$TMP/target.out")
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { echo "schedgap did not start: $(cat "$TMP/target.err")" >&2; exit 1; }
echo "target: $URL, $N goroutines" >&2

sleep 3        # let the target settle after parking its goroutines
window >/dev/null
modes=(none weft debug2)
for round in $(seq "$ROUNDS"); do
    for i in 0 1 2; do
        mode=${modes[$(((i + round - 1) % 3))]}
        window >/dev/null # start a fresh window
        start_observer "$mode"
        sleep "$WINDOW"
        stats=$(window)
        if [ "$mode" = weft ]; then
            # Make sure weft top really ran. On an overloaded machine its
            # polls can time out; it is still watching at its defaults, so the
            # window counts, and the note says so.
            pane=$(tmux -L "$TMUX_SOCKET" capture-pane -p -t weft 2>/dev/null || true)
            grep -q "weft top" <<<"$pane" || { echo "weft top is not running; its screen:" >&2; echo "$pane" >&2; exit 1; }
            grep -q "● connected" <<<"$pane" || echo "note: weft top was not connected at the end of the window: $(grep -o '● [a-z ,0-9]*' <<<"$pane" | head -1)" >&2
        fi
        stop_observer
        load=$(cut -d' ' -f1 /proc/loadavg)
        echo "round $round $mode load $load $stats" >&2
        echo "$mode $load $stats" >>"$TMP/results"
        sleep 2 # let anything in flight finish before the next window
    done
done

python3 "$ROOT/bench/schedgap/table.py" "$TMP/results" "$WINDOW" "$ROUNDS" "$N" "$("$go" version | cut -d' ' -f3)" "${WEFT_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
