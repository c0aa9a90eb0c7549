//! Differential test on real traces: Go's own trace test programs
//! (`internal/trace/testdata/testprog/*.go` of each installed toolchain,
//! 1.22 to 1.27) write a trace to stdout; `weft`'s dump of it must be
//! byte-identical to `go tool trace -d=parsed` (Go 1.27), and so must the
//! output and the failure of truncated copies.
mod common;

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
    if go_ok != err.is_none() {
        problems.push(format!(
            "{label}: go tool trace ok={go_ok} ({}) but weft error={:?}",
            go_err.trim(),
            err.map(|e| e.to_string())
        ));
    } else if got != want {
        problems.push(format!("{label}: {}", first_diff(&got, &want)));
    }
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
