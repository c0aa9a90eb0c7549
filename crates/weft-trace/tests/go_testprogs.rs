//! Differential test on real traces: Go's own trace test programs
//! (`internal/trace/testdata/testprog/*.go` of each installed toolchain,
//! 1.22 to 1.27) write a trace to stdout; `weft`'s dump of it must be
//! byte-identical to `go tool trace -d=parsed` (Go 1.27), and so must the
//! output and the failure of truncated copies. The same traces check that
//! `Stats` (what `weft trace stats` prints), fed by `for_each_event` and by
//! `next_event`, agrees with a count made here over the typed view.
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const TOOLCHAINS: [&str; 6] = ["1.22", "1.23", "1.24", "1.25", "1.26", "1.27"];

fn testprog_dir(v: &str) -> PathBuf {
    let root = goroot(v);
    let new = root.join("src/internal/trace/testdata/testprog");
    if new.is_dir() {
        new
    } else {
        root.join("src/internal/trace/v2/testdata/testprog")
    }
}

/// Runs a test program with toolchain `v`, returns its trace.
fn record(v: &str, prog: &Path, work: &Path) -> Vec<u8> {
    let out = Command::new(go_bin(v))
        .arg("run")
        .arg(prog)
        .current_dir(work)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("go run");
    assert!(
        out.status.success(),
        "go{v} run {} failed: {}",
        prog.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 16, "{} wrote no trace", prog.display());
    out.stdout
}

fn compare(label: &str, bytes: &[u8], file: &Path, problems: &mut Vec<String>) {
    fs::write(file, bytes).unwrap();
    let (want, go_err, go_ok) = reference_dump(file);
    let (got, err) = dump(bytes, 1 << 16);
    let threaded = dump_with(bytes, 1 << 20, true);
    if threaded != (got.clone(), err.clone()) {
        problems.push(format!(
            "{label}: with the decode thread: {} (error {:?} vs {:?})",
            first_diff(&threaded.0, &got),
            threaded.1.map(|e| e.to_string()),
            err.as_ref().map(|e| e.to_string())
        ));
    }
    // Switching to the consumer thread in the middle of a generation.
    let mixed = dump_mixed(&bytes[..], 1000);
    if mixed != (got.clone(), err.clone()) {
        problems.push(format!(
            "{label}: next_event then for_each_event_par: {} (error {:?} vs {:?})",
            first_diff(&mixed.0, &got),
            mixed.1.map(|e| e.to_string()),
            err.as_ref().map(|e| e.to_string())
        ));
    }
    // And with the consumer on another thread, from a stream or in place,
    // with the decode-ahead and without.
    for (whole, t) in [(false, false), (false, true), (true, false), (true, true)] {
        let par = dump_par(&bytes[..], whole, t);
        if par != (got.clone(), err.clone()) {
            problems.push(format!(
                "{}: for_each_event_par (in place {whole}, decode thread {t}): {} (error {:?} vs {:?})",
                label,
                first_diff(&par.0, &got),
                par.1.map(|e| e.to_string()),
                err.as_ref().map(|e| e.to_string())
            ));
        }
    }
    // And read in place from one buffer, with the thread and without.
    for t in [false, true] {
        let whole = dump_whole(bytes, t);
        if whole != (got.clone(), err.clone()) {
            problems.push(format!(
                "{}: read in place (decode thread {t}): {} (error {:?} vs {:?})",
                label,
                first_diff(&whole.0, &got),
                whole.1.map(|e| e.to_string()),
                err.as_ref().map(|e| e.to_string())
            ));
        }
    }
    if go_ok != err.is_none() {
        problems.push(format!(
            "{label}: go tool trace ok={go_ok} ({}) but weft error={:?}",
            go_err.trim(),
            err.map(|e| e.to_string())
        ));
    } else if got != want {
        problems.push(format!("{label}: {}", first_diff(&got, &want)));
    }
    if let Err(p) = check_stats(bytes) {
        problems.push(format!("{label}: stats: {p}"));
    }
}

// Stats through both reader loops, and the totals recounted from each
// event's typed state transition (the slow, obvious way).
fn check_stats(bytes: &[u8]) -> Result<(), String> {
    use weft_trace::stats::Stats;
    use weft_trace::{GoState, Reader, Transition};
    let print = |st: &mut Stats, r: &Reader<&[u8]>| {
        st.finish(r.decoder());
        let mut out = Vec::new();
        st.print(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let mut r = Reader::new(bytes);
    let mut fast = Stats::default();
    let fast_err = r
        .for_each_event(|ev| fast.add(ev))
        .err()
        .map(|e| e.to_string());
    let fast_out = print(&mut fast, &r);

    // The same with `Stats` on the consumer thread (as `weft trace stats`).
    let mut r = Reader::new(bytes);
    r.set_decode_thread(Some(0));
    let mut par = Stats::default();
    let par_err = r
        .for_each_event_par(|ev| par.add(ev))
        .err()
        .map(|e| e.to_string());
    let par_out = print(&mut par, &r);
    if (&par_out, &par_err) != (&fast_out, &fast_err) {
        return Err(format!(
            "for_each_event_par and for_each_event disagree:\n{par_out}{par_err:?}\nvs\n{fast_out}{fast_err:?}"
        ));
    }

    let mut r = Reader::new(bytes);
    let mut slow = Stats::default();
    // Reference totals: (created, ended, at start, max alive) and per
    // reason (count, ns blocked).
    let (mut created, mut ended, mut at_start, mut alive, mut max_alive) =
        (0u64, 0u64, 0u64, 0i64, 0i64);
    let mut blocked: BTreeMap<Vec<u8>, (u64, i64)> = BTreeMap::new();
    let mut since: BTreeMap<i64, (i64, Vec<u8>)> = BTreeMap::new();
    let slow_err = loop {
        match r.next_event() {
            Ok(Some(ev)) => {
                slow.add(&ev);
                let Some(st) = ev.state_transition() else {
                    continue;
                };
                let Transition::Goroutine { id, from, to } = st.transition else {
                    continue;
                };
                match (from, to) {
                    (GoState::Undetermined, _) => (at_start, alive) = (at_start + 1, alive + 1),
                    (GoState::NotExist, _) => (created, alive) = (created + 1, alive + 1),
                    (_, GoState::NotExist) => (ended, alive) = (ended + 1, alive - 1),
                    _ => {}
                }
                max_alive = max_alive.max(alive);
                if from == GoState::Running && to == GoState::Waiting {
                    since.insert(id, (ev.time(), st.reason.to_vec()));
                } else if from == GoState::Waiting {
                    if let Some((t0, reason)) = since.remove(&id) {
                        let e = blocked.entry(reason).or_default();
                        e.0 += 1;
                        e.1 += ev.time() - t0;
                    }
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    let slow_out = print(&mut slow, &r);
    if fast_out != slow_out || fast_err != slow_err {
        return Err(format!(
            "for_each_event and next_event disagree:\n{fast_out}{fast_err:?}\nvs\n{slow_out}{slow_err:?}"
        ));
    }
    let got = (
        fast.created,
        fast.ended,
        fast.at_start,
        fast.max_alive as i64,
    );
    let want = (created, ended, at_start, max_alive);
    if got != want {
        return Err(format!(
            "goroutines (created, ended, at start, max alive) {got:?}, recounted {want:?}"
        ));
    }
    let got: BTreeMap<Vec<u8>, (u64, i64)> = fast
        .block_reasons()
        .into_iter()
        .map(|(r, n, ns)| (r.to_vec(), (n, ns)))
        .collect();
    if got != blocked {
        return Err(format!("block reasons {got:?}, recounted {blocked:?}"));
    }
    Ok(())
}

#[test]
fn testprog_traces_dump_like_go_tool_trace() {
    let work = std::env::temp_dir().join(format!("weft-trace-testprogs-{}", std::process::id()));
    fs::create_dir_all(&work).unwrap();
    let file = work.join("t.trace");
    let mut problems = Vec::new();
    let mut checked = 0;
    for v in TOOLCHAINS {
        let dir = testprog_dir(v);
        // annotations: tasks, regions, logs; iter-pull: GoSwitch (1.23+);
        // cpu-profile: CPU samples merged in; stress (Go 1.27):
        // many generations and procs.
        let mut progs = vec!["annotations", "iter-pull", "cpu-profile"];
        if v == "1.27" {
            progs.push("stress");
        }
        for p in progs {
            let prog = dir.join(format!("{p}.go"));
            if !prog.is_file() {
                continue; // iter-pull appeared in Go 1.23
            }
            let bytes = record(v, &prog, &work);
            compare(&format!("go{v} {p}"), &bytes, &file, &mut problems);
            checked += 1;
            if p == "cpu-profile" && (v == "1.22" || v == "1.27") {
                // Truncated copies: same events printed before the same failure.
                for frac in [9, 60] {
                    let n = bytes.len() * frac / 100;
                    compare(
                        &format!("go{v} {p} cut at {n}"),
                        &bytes[..n],
                        &file,
                        &mut problems,
                    );
                }
            }
        }
    }
    let _ = fs::remove_dir_all(&work);
    eprintln!("checked {checked} testprog traces");
    assert!(checked >= 17, "too few programs found: {checked}");
    assert!(
        problems.is_empty(),
        "differences:\n{}",
        problems.join("\n\n")
    );
}
