//! Differential test of `weft trace dump` against Go's own reader.
//!
//! Every program under `testdata/programs` is built with each supported Go
//! toolchain (1.22–1.27), run to record a real execution trace, and read
//! twice: by `go tool trace -d=parsed` from Go 1.27 (the reference) and by
//! `weft trace dump`. The two outputs must be byte-identical and both
//! readers must agree on success or failure. Damaged copies of real traces
//! must make weft fail cleanly, with a byte offset and without a panic.
//!
//! On a mismatch the test prints where the outputs first differ and keeps
//! both outputs and the trace under `$WEFT_TRACE_DIFF_DIR` (default: a
//! `trace-diffs` directory in Cargo's target tmp dir).
//!
//! A missing toolchain fails the test; run `scripts/install-go-toolchains.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::{
    build_programs, go_binary, go_command, record_traces, run_with_limit, scratch_dir, Output,
    REFERENCE_GO,
};

/// Longest a single reader may take on one of the test traces; far above
/// normal (≈1 s), so only a hang trips it.
const READ_LIMIT: Duration = Duration::from_secs(120);

/// The reference reader: the command that runs Go 1.27's `go tool trace`.
/// Going through `go tool` costs over a second per call on a loaded
/// machine (the cached toolchains are Python wrappers, and `go tool`
/// re-checks its build cache), so resolve the cached `trace` executable
/// once with `go tool -n trace`, after one real call has built it.
fn reference_trace_tool() -> Result<Vec<PathBuf>, String> {
    static TOOL: OnceLock<Result<Vec<PathBuf>, String>> = OnceLock::new();
    TOOL.get_or_init(|| {
        let go = go_binary(REFERENCE_GO)?;
        let limit = Duration::from_secs(300);
        // Builds the tool into the build cache if needed; `-h` exits non-zero.
        run_with_limit(go_command(&go).args(["tool", "trace", "-h"]), None, limit)?;
        let out = run_with_limit(go_command(&go).args(["tool", "-n", "trace"]), None, limit)?;
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let exe = PathBuf::from(&printed);
        Ok(
            if out.status.success() && !printed.contains(char::is_whitespace) && exe.is_file() {
                vec![exe]
            } else {
                vec![go, "tool".into(), "trace".into()]
            },
        )
    })
    .clone()
}

fn go_dump(trace: &Path) -> Result<Output, String> {
    let tool = reference_trace_tool()?;
    let mut cmd = go_command(&tool[0]);
    cmd.args(&tool[1..]).arg("-d=parsed").arg(trace);
    run_with_limit(&mut cmd, None, READ_LIMIT)
}

fn weft_dump(trace: &Path) -> Result<Output, String> {
    run_with_limit(
        Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["trace", "dump"])
            .arg(trace),
        None,
        READ_LIMIT,
    )
}

fn weft_dump_stdin(bytes: &[u8]) -> Result<Output, String> {
    run_with_limit(
        Command::new(env!("CARGO_BIN_EXE_weft")).args(["trace", "dump", "-"]),
        Some(bytes),
        READ_LIMIT,
    )
}

fn diff_dir() -> PathBuf {
    std::env::var_os("WEFT_TRACE_DIFF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("trace-diffs"))
}

/// Keeps the evidence of one mismatch and returns where it went.
fn save_mismatch(label: &str, trace: &Path, go: &Output, weft: &Output) -> PathBuf {
    let dir = diff_dir().join(label.replace(['/', ' '], "_"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::copy(trace, dir.join("input.trace"));
    let _ = std::fs::write(dir.join("go.stdout"), &go.stdout);
    let _ = std::fs::write(dir.join("go.stderr"), &go.stderr);
    let _ = std::fs::write(dir.join("weft.stdout"), &weft.stdout);
    let _ = std::fs::write(dir.join("weft.stderr"), &weft.stderr);
    dir
}

/// Where two outputs first differ, with a few lines of context from each.
fn diff_excerpt(expected: &[u8], actual: &[u8]) -> String {
    let exp: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    let act: Vec<&[u8]> = actual.split(|&b| b == b'\n').collect();
    let first = exp
        .iter()
        .zip(&act)
        .position(|(a, b)| a != b)
        .unwrap_or(exp.len().min(act.len()));
    let show = |lines: &[&[u8]], who: &str| {
        let mut s = String::new();
        let from = first.saturating_sub(3);
        for (i, line) in lines.iter().enumerate().skip(from).take(first - from + 4) {
            let mark = if i == first { ">" } else { " " };
            s += &format!(
                "  {mark}{who} {:>7}: {}\n",
                i + 1,
                String::from_utf8_lossy(line)
            );
        }
        if first >= lines.len() {
            s += &format!("   {who}   (ends after {} lines)\n", lines.len());
        }
        s
    };
    format!(
        "first difference at line {} (go: {} lines, weft: {} lines)\n{}{}",
        first + 1,
        exp.len(),
        act.len(),
        show(&exp, "go  "),
        show(&act, "weft")
    )
}

/// Compares the two readers on one trace; `None` when they agree.
fn compare(label: &str, trace: &Path, go: &Output, weft: &Output) -> Option<String> {
    let problem = if weft.stderr_text().contains("panicked") {
        Some(format!("weft panicked:\n{}", weft.stderr_text()))
    } else if go.status.success() != weft.status.success() {
        Some(format!(
            "exit status differs: go {} / weft {}\n  go stderr:   {}\n  weft stderr: {}",
            go.status,
            weft.status,
            go.stderr_text().trim(),
            weft.stderr_text().trim()
        ))
    } else if go.status.success() && go.stdout != weft.stdout {
        Some(diff_excerpt(&go.stdout, &weft.stdout))
    } else {
        None
    };
    problem.map(|p| {
        let kept = save_mismatch(label, trace, go, weft);
        format!(
            "{label}: {p}\n  outputs and trace kept in {}",
            kept.display()
        )
    })
}

/// The whole matrix row for one toolchain: every program, every trace.
fn check_toolchain(version: &str) {
    let mut failures = Vec::new();
    let built = build_programs(version).unwrap_or_else(|e| panic!("{e}"));
    // Fail early and clearly if the reference reader itself is missing.
    reference_trace_tool().unwrap_or_else(|e| panic!("{e}"));
    let runs = scratch_dir(&format!("trace-runs-{version}"));
    let started = std::time::Instant::now();
    let (mut go_time, mut weft_time) = (Duration::ZERO, Duration::ZERO);
    let mut compared = 0;
    for (name, exe) in &built.programs {
        let traces = match record_traces(&built, name, exe, &runs) {
            Ok(t) => t,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        for trace in traces {
            let stem = trace.file_stem().unwrap().to_string_lossy().into_owned();
            let label = format!("go{version}-{stem}");
            let (go, weft) = match (go_dump(&trace), weft_dump(&trace)) {
                (Ok(g), Ok(w)) => (g, w),
                (Err(e), _) | (_, Err(e)) => {
                    failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            compared += 1;
            go_time += go.elapsed;
            weft_time += weft.elapsed;
            // Go's reader must accept what Go's runtime wrote; otherwise the
            // program, not weft, is at fault.
            if !go.status.success() {
                failures.push(format!(
                    "{label}: go tool trace rejected the trace: {}",
                    go.stderr_text().trim()
                ));
            }
            failures.extend(compare(&label, &trace, &go, &weft));
        }
    }
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&runs);
    }
    eprintln!(
        "go{version}: {compared} traces compared, {} failing, skipped programs {:?}; \
         {:.1?} in all, go tool trace {go_time:.1?}, weft {weft_time:.1?}",
        failures.len(),
        built.skipped,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "Go {version}: {} of {compared} traces differ from `go tool trace -d=parsed`:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

macro_rules! toolchain_tests {
    ($($test:ident => $version:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            check_toolchain($version);
        }
    )*};
}

toolchain_tests! {
    traces_from_go1_22_match_go_tool_trace => "1.22",
    traces_from_go1_23_match_go_tool_trace => "1.23",
    traces_from_go1_24_match_go_tool_trace => "1.24",
    traces_from_go1_25_match_go_tool_trace => "1.25",
    traces_from_go1_26_match_go_tool_trace => "1.26",
    traces_from_go1_27_match_go_tool_trace => "1.27",
}

/// A freshly recorded trace of one program, built by one toolchain.
fn real_trace(version: &str, program: &str) -> PathBuf {
    let built = build_programs(version).unwrap_or_else(|e| panic!("{e}"));
    let (name, exe) = built
        .programs
        .iter()
        .find(|(n, _)| n == program)
        .unwrap_or_else(|| panic!("no program {program} built by Go {version}"));
    let runs = scratch_dir(&format!("trace-single-{version}-{program}"));
    record_traces(&built, name, exe, &runs)
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0)
}

#[test]
fn dump_reads_stdin_when_file_is_dash() {
    let trace = real_trace(REFERENCE_GO, "mutex");
    let bytes = std::fs::read(&trace).unwrap();
    let go = go_dump(&trace).unwrap_or_else(|e| panic!("{e}"));
    let weft = weft_dump_stdin(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        go.status.success(),
        "go tool trace rejected {}: {}",
        trace.display(),
        go.stderr_text()
    );
    if let Some(problem) = compare("stdin-go1.27-mutex", &trace, &go, &weft) {
        panic!("`weft trace dump -` with the trace on stdin: {problem}");
    }
}

/// Does `text` mention a byte offset, i.e. "offset" followed by a number?
fn mentions_offset(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices("offset").any(|(i, _)| {
        lower[i + "offset".len()..]
            .trim_start_matches(|c: char| !c.is_ascii_digit() && c != '\n')
            .starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Damaged copies of real traces: truncations at fixed and pseudo-random
/// points and overwritten bytes. Where Go's reader rejects a copy, weft
/// must exit non-zero with a byte offset in its message and no panic;
/// where Go accepts it, weft must print the same events.
fn check_damaged_copies(version: &str, program: &str) {
    let trace = real_trace(version, program);
    let good = std::fs::read(&trace).unwrap();
    let len = good.len();
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    let mut cuts = vec![0, 10, 17, 100, len / 2, len - 7, len - 1];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    cuts.extend((0..6).map(|_| 16 + next() % (len - 16)));
    for cut in cuts {
        variants.push((format!("truncated-at-{cut}"), good[..cut].to_vec()));
    }
    let mut header = good.clone();
    header[3..7].copy_from_slice(b"9.99");
    variants.push(("bad-header".into(), header));
    for _ in 0..6 {
        let at = 16 + next() % (len - 32);
        let mut bad = good.clone();
        bad[at..at + 8].fill(0xff);
        variants.push((format!("ff-at-{at}"), bad));
    }

    let dir = scratch_dir(&format!("damaged-{version}-{program}"));
    let mut failures = Vec::new();
    let mut rejected_by_go = 0;
    for (what, bytes) in &variants {
        let path = dir.join(format!("{what}.trace"));
        std::fs::write(&path, bytes).unwrap();
        let label = format!("go{version}-{program}-{what}");
        let (go, weft) = match (go_dump(&path), weft_dump(&path)) {
            (Ok(g), Ok(w)) => (g, w),
            (Err(e), _) | (_, Err(e)) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        if let Some(problem) = compare(&label, &path, &go, &weft) {
            failures.push(problem);
            continue;
        }
        if !go.status.success() {
            rejected_by_go += 1;
            if !mentions_offset(&weft.stderr_text()) {
                failures.push(format!(
                    "{label}: weft's error does not name a byte offset (\"offset N\"): {}",
                    weft.stderr_text().trim()
                ));
            }
        }
    }
    assert!(
        rejected_by_go >= 3,
        "only {rejected_by_go} damaged copies were rejected by Go; the test lost its teeth"
    );
    assert!(
        failures.is_empty(),
        "{} of {} damaged copies of a Go {version} `{program}` trace were mishandled:\n\n{}",
        failures.len(),
        variants.len(),
        failures.join("\n\n")
    );
}

#[test]
fn damaged_go1_27_trace_fails_cleanly_with_offset() {
    check_damaged_copies("1.27", "tcpecho");
}

#[test]
fn damaged_go1_22_trace_fails_cleanly_with_offset() {
    check_damaged_copies("1.22", "tcpecho");
}

#[test]
fn offset_detection_in_messages() {
    assert!(mentions_offset("truncated batch at byte offset 1234"));
    assert!(mentions_offset("Offset: 0x10 bad"));
    assert!(!mentions_offset("offset unknown"));
    assert!(!mentions_offset("bad trace at 1234"));
}

#[test]
fn diff_excerpt_points_at_first_difference() {
    let go = b"a\nb\nc\nd\ne\n";
    let weft = b"a\nb\nX\nd\ne\n";
    let text = diff_excerpt(go, weft);
    assert!(text.starts_with("first difference at line 3 "), "{text}");
    assert!(text.contains(">go         3: c"), "{text}");
    assert!(text.contains(">weft       3: X"), "{text}");
    // One output a prefix of the other: the difference is where it ends.
    let text = diff_excerpt(b"a\nb", b"a\nb\nc");
    assert!(text.starts_with("first difference at line 3 "), "{text}");
    assert!(text.contains("go     (ends after 2 lines)"), "{text}");
}
