"""Prints run.sh's markdown table from its results file: one line per
window, `MODE LOAD {json from /schedgap/window}`."""
import json
import os
import platform
import statistics
import sys

path, window, rounds, n, gover, commit = sys.argv[1:]
res = {}
for line in open(path):
    mode, load, js = line.split(" ", 2)
    r = json.loads(js)
    r["load"] = float(load)
    res.setdefault(mode, []).append(r)


def med(mode, key):
    return statistics.median(r[key] for r in res[mode])


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(
    f"Machine: {os.cpu_count()} CPUs, {cpu}, Linux {platform.release()}; target built with {gover}; "
    f"{n} parked goroutines; {rounds} rounds x {window} s windows per observer, alternated; weft {commit}"
)
print()
print(
    "| observer | max gap per window (ms) | median max gap (ms) | median p99 gap (ms) "
    "| median missed 1 ms ticks | median max gap vs (a) | 1-min load avg per window |"
)
print("|---|---|---|---|---|---|---|")
names = {
    "none": "(a) nothing",
    "weft": "(b) weft top, defaults (debug=0 every 1 s)",
    "debug2": "(c) curl debug=2 loop, 1 s sleep",
}
base = med("none", "max_gap_ms")
for m in ["none", "weft", "debug2"]:
    gaps = ", ".join("%.1f" % r["max_gap_ms"] for r in res[m])
    loads = ", ".join("%.1f" % r["load"] for r in res[m])
    print(
        f"| {names[m]} | {gaps} | {med(m, 'max_gap_ms'):.1f} | {med(m, 'p99_gap_ms'):.2f} "
        f"| {med(m, 'missed_ticks'):.0f} | {med(m, 'max_gap_ms') / base:.1f}x | {loads} |"
    )
print()
b, c = med("weft", "max_gap_ms"), med("debug2", "max_gap_ms")
print(f"(b)/(a) = {b / base:.1f}x (target: within 3x); (c)/(b) = {c / b:.1f}x (target: at least 10x)")
