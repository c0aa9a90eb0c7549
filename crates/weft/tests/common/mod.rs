//! Support shared by weft's integration tests: finding the cached Go
//! toolchains, building the Go programs under `testdata/programs`, and
//! running child processes with a time limit so a hang fails the test
//! instead of stalling it.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The Go versions weft is tested against, oldest first.
pub const GO_VERSIONS: [&str; 6] = ["1.22", "1.23", "1.24", "1.25", "1.26", "1.27"];

/// The version whose `go tool trace` is the reference reader.
pub const REFERENCE_GO: &str = "1.27";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The `go` binary of one cached toolchain, as installed by
/// `scripts/install-go-toolchains.sh`. A missing toolchain is an error
/// (never a skip) that says how to install it.
pub fn go_binary(version: &str) -> Result<PathBuf, String> {
    let cache = match std::env::var_os("WEFT_GO_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/weft"),
    };
    let go = cache.join(format!("go{version}/bin/go"));
    if go.is_file() {
        Ok(go)
    } else {
        Err(format!(
            "Go {version} is not installed at {}: run `bash scripts/install-go-toolchains.sh` \
             (or `bash scripts/install-go-toolchains.sh {version}`) and re-run the tests",
            go.display()
        ))
    }
}

/// A command for one toolchain with an environment that makes builds
/// reproducible here: that exact toolchain, no cgo, no workspace files.
pub fn go_command(go: &Path) -> Command {
    let mut cmd = Command::new(go);
    cmd.env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=mod");
    cmd
}

/// A scratch directory under Cargo's per-target temp dir, emptied first.
/// The process id keeps two concurrent test runs apart.
pub fn scratch_dir(name: &str) -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(remove_stale_scratch_dirs);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Scratch directories of earlier test runs whose process has exited
/// (their name ends in `-<pid>`) are removed, so they do not pile up.
fn remove_stale_scratch_dirs() {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What a finished child process left behind.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Output {
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `cmd` to completion, feeding it `stdin`, and kills it if it runs
/// longer than `limit`. Errors say which command failed to start or hung.
pub fn run_with_limit(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    limit: Duration,
) -> Result<Output, String> {
    let description = format!("{:?}", cmd);
    let describe = || description.clone();
    let started = Instant::now();
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", describe()))?;
    // Readers and the writer run on their own threads so a full pipe
    // can never deadlock us against the child.
    let feeder = stdin.map(|bytes| {
        let bytes = bytes.to_vec();
        let mut pipe = child.stdin.take().expect("piped stdin");
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = pipe.write_all(&bytes); // the child may exit early; not our error
        })
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {limit:?}; killed",
                    describe()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for {}: {e}", describe())),
        }
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    })
}

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
