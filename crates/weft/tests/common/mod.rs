//! Support for weft's trace tests: building the trace-recording Go
//! programs under `testdata/programs` with each toolchain and recording
//! their traces. Toolchains, scratch directories and time-limited child
//! processes come from `weft-testkit`.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[allow(unused_imports)] // each test binary uses its own subset
pub use weft_testkit::{
    go_binary, go_command, repo_root, run_with_limit, scratch_dir, Output, GO_VERSIONS,
    REFERENCE_GO,
};

/// The test programs built by one toolchain.
pub struct BuiltPrograms {
    pub version: String,
    /// Program name → executable.
    pub programs: Vec<(String, PathBuf)>,
    /// Programs this toolchain cannot build (their `//go:build go1.NN` is newer).
    pub skipped: Vec<String>,
}

/// Trace-recording programs under `testdata/programs` (those using its
/// `internal/tracefile`), each with the minimum Go minor version its
/// `//go:build go1.NN` line asks for. Programs marked
/// `weft-harness: skip` (the benchmark load) are left out.
pub fn program_names() -> Vec<(String, u32)> {
    let dir = repo_root().join("testdata/programs");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read testdata/programs") {
        let path = entry.expect("dir entry").path();
        let main = path.join("main.go");
        let Ok(source) = std::fs::read_to_string(&main) else {
            continue;
        };
        // Only programs of the shared module that record traces through
        // the common start-up belong here; other tests keep their own
        // programs (with their own go.mod) next to these.
        if path.join("go.mod").exists()
            || !source.contains("weft.test/programs/internal/tracefile")
            || source.contains("weft-harness: skip")
        {
            continue;
        }
        let min_minor = source
            .lines()
            .next()
            .and_then(|l| l.trim().strip_prefix("//go:build go1."))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(22);
        let name = path
            .file_name()
            .and_then(OsStr::to_str)
            .expect("utf-8 name")
            .to_string();
        names.push((name, min_minor));
    }
    names.sort();
    names
}

fn minor(version: &str) -> u32 {
    version
        .trim_start_matches("1.")
        .parse()
        .expect("Go version 1.NN")
}

/// Builds every test program with one toolchain, once per test binary;
/// later callers share the result (tests run on several threads).
pub fn build_programs(version: &str) -> Result<Arc<BuiltPrograms>, String> {
    static BUILT: OnceLock<
        Mutex<HashMap<String, Arc<OnceLock<Result<Arc<BuiltPrograms>, String>>>>>,
    > = OnceLock::new();
    let slot = {
        let mut map = BUILT.get_or_init(Default::default).lock().unwrap();
        map.entry(version.to_string()).or_default().clone()
    };
    slot.get_or_init(|| build_programs_now(version)).clone()
}

fn build_programs_now(version: &str) -> Result<Arc<BuiltPrograms>, String> {
    let go = go_binary(version)?;
    let out_dir = scratch_dir(&format!("go-programs-{version}"));
    let src = repo_root().join("testdata/programs");
    let mut programs = Vec::new();
    let mut skipped = Vec::new();
    let mut packages = Vec::new();
    for (name, min_minor) in program_names() {
        if minor(version) < min_minor {
            skipped.push(name);
        } else {
            packages.push(format!("./{name}"));
            programs.push((name.clone(), out_dir.join(&name)));
        }
    }
    // One `go build` for all programs: far cheaper than one per program.
    let mut cmd = go_command(&go);
    cmd.current_dir(&src)
        .arg("build")
        .arg("-o")
        .arg(format!("{}/", out_dir.display()))
        .args(&packages);
    let out = run_with_limit(&mut cmd, None, Duration::from_secs(300))?;
    if !out.status.success() {
        return Err(format!(
            "go {version} build of testdata/programs failed:\n{}",
            out.stderr_text()
        ));
    }
    Ok(Arc::new(BuiltPrograms {
        version: version.to_string(),
        programs,
        skipped,
    }))
}

/// Runs one built program in a fresh directory and returns the trace
/// files it wrote there (more than one for `restart`), sorted by name.
pub fn record_traces(
    built: &BuiltPrograms,
    name: &str,
    exe: &Path,
    runs_dir: &Path,
) -> Result<Vec<PathBuf>, String> {
    let dir = runs_dir.join(format!("{}-{name}", built.version));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.current_dir(&dir)
        .arg("-trace")
        .arg(dir.join(format!("{name}.trace")));
    let out = run_with_limit(&mut cmd, None, Duration::from_secs(60))?;
    if !out.status.success() {
        return Err(format!(
            "program {name} built by Go {} exited with {}:\n{}",
            built.version,
            out.status,
            out.stderr_text()
        ));
    }
    let mut traces: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension() == Some(OsStr::new("trace")))
        .collect();
    traces.sort();
    if traces.is_empty() {
        return Err(format!(
            "program {name} built by Go {} wrote no trace in {}",
            built.version,
            dir.display()
        ));
    }
    Ok(traces)
}
