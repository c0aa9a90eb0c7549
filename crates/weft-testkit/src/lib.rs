/*!
Test support shared by weft's integration tests (a dev-dependency only).

weft is tested against real Go programs, so most integration tests need the
same few things: the cached Go toolchains that
`scripts/install-go-toolchains.sh` installs, a program under
`testdata/programs` built with one of them, that program running on
loopback until the test ends, a plain HTTP GET, a child process that cannot
hang the test, and a way to wait for a condition instead of sleeping.

```no_run
use weft_testkit::{build_go, GoProcess, http_get, wait_until};
use std::time::Duration;

let bin = build_go("1.27", "testdata/programs/profiles", "./leaky-svc");
let svc = GoProcess::start(&bin, &[]);
let (status, body) = http_get(&svc.addr, "/debug/pprof/goroutine?debug=1").unwrap();
assert_eq!(status, 200);
assert!(wait_until(Duration::from_secs(15), || !body.is_empty()));
```

A missing toolchain is a failure that says how to install it, never a skip.
*/

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The Go versions weft is tested against, oldest first.
pub const GO_VERSIONS: [&str; 6] = ["1.22", "1.23", "1.24", "1.25", "1.26", "1.27"];

/// The version whose `go tool trace -d=parsed` is the reference reader.
pub const REFERENCE_GO: &str = "1.27";

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The `go` binary of one cached toolchain (`WEFT_GO_CACHE`, default
/// `~/.cache/weft`). The error says how to install a missing one.
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

/// [`go_binary`], failing the test when the toolchain is missing.
pub fn go(version: &str) -> PathBuf {
    go_binary(version).unwrap_or_else(|e| panic!("{e}"))
}

/// The toolchain a test uses by default: `WEFT_TEST_GO` (a version such as
/// `1.27`), else 1.27, the first with the goroutine-leak profile on.
pub fn default_go_version() -> String {
    std::env::var("WEFT_TEST_GO").unwrap_or_else(|_| REFERENCE_GO.to_string())
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

/// Where test scratch lives: `<cargo target dir>/weft-test-scratch`, found
/// from the running test binary (`<target>/<profile>/deps/<test>`), so it
/// works for every crate and is removed by `cargo clean`.
fn scratch_root() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "deps"))
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    target.join("weft-test-scratch")
}

/// A fresh scratch directory for this test process: emptied first; the
/// process id keeps concurrent test runs apart. Directories left by test
/// processes that have exited are removed on first use.
pub fn scratch_dir(name: &str) -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(remove_stale_scratch_dirs);
    let dir = scratch_root().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn remove_stale_scratch_dirs() {
    let Ok(entries) = std::fs::read_dir(scratch_root()) else {
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

/// Builds package `pkg` (e.g. `./leaky-svc` or `.`) of the Go module in
/// `dir` (relative to the repository root) with Go `version`, once per test
/// process; returns the executable.
pub fn build_go(version: &str, dir: &str, pkg: &str) -> PathBuf {
    build_go_with(version, dir, pkg, &[])
}

/// [`build_go`] with extra `go build` flags (e.g. `-ldflags=-s -w` for a
/// stripped binary, `-buildmode=pie`).
pub fn build_go_with(version: &str, dir: &str, pkg: &str, flags: &[&str]) -> PathBuf {
    type Key = (String, String, String, Vec<String>);
    static BUILT: OnceLock<Mutex<HashMap<Key, PathBuf>>> = OnceLock::new();
    let key = (
        version.to_string(),
        dir.to_string(),
        pkg.to_string(),
        flags.iter().map(|f| f.to_string()).collect(),
    );
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(bin) = built.get(&key) {
        return bin.clone();
    }
    let name = format!("{dir}/{pkg}/{}", flags.join(" "))
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>();
    let out_dir = scratch_root().join(format!("go-bins-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("create build dir");
    let bin = out_dir.join(format!("{name}-go{version}"));
    let out = go_command(&go(version))
        .current_dir(repo_root().join(dir))
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(&bin)
        .arg(pkg)
        .output()
        .expect("running go build");
    assert!(
        out.status.success(),
        "go{version} build {flags:?} {pkg} in {dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    built.insert(key, bin.clone());
    bin
}

/// Asserts that Go 1.27's `go tool trace -d=parsed` (the reference reader)
/// reads `file` without error and prints events.
pub fn assert_go_tool_trace_parses(file: &Path) {
    let out = go_command(&go(REFERENCE_GO))
        .args(["tool", "trace", "-d=parsed"])
        .arg(file)
        .output()
        .expect("running go tool trace");
    assert!(
        out.status.success(),
        "go{REFERENCE_GO} tool trace -d=parsed {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.len() > 100,
        "go tool trace printed almost nothing"
    );
}

/// A Go program of the project running on loopback, killed when dropped.
///
/// The project's servers print `listening on ADDR` as their first line of
/// standard output once they accept connections.
pub struct GoProcess {
    child: Child,
    /// `host:port` the program listens on.
    pub addr: String,
}

impl GoProcess {
    /// Starts `bin` with `args` and waits (up to 60 s) for its
    /// `listening on ADDR` line.
    pub fn start(bin: &Path, args: &[&str]) -> GoProcess {
        let mut child = Command::new(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        // Read the line on a thread so a program that never prints cannot
        // hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the program never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} printed no `listening on` line within 60 s",
                    bin.display()
                );
            }
        };
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} printed {line:?}, not `listening on ADDR`",
                bin.display()
            );
        };
        GoProcess {
            addr: addr.to_string(),
            child,
        }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the program and reaps it (idempotent).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GoProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; says whether
/// it held. Tests wait for what a program reaches "soon" with this, then
/// assert, instead of sleeping a fixed time.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One GET over a fresh HTTP/1.0 connection (30 s read timeout); returns the
/// status code and body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad_data("no end of the HTTP header"))?;
    let status = status_code(&String::from_utf8_lossy(&resp[..split]));
    Ok((status, resp[split + 4..].to_vec()))
}

fn status_code(status_line: &str) -> u16 {
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn bad_data(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// A minimal HTTP/1.1 keep-alive client (GET only; Content-Length and
/// chunked bodies), for tests that send steady traffic.
pub struct Client {
    addr: String,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_string(),
            conn: None,
        }
    }

    /// GETs `path`; returns the status code and body.
    pub fn get(&mut self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        match self.try_get(path) {
            Ok(r) => Ok(r),
            Err(_) => {
                // A kept-alive connection may have been closed; retry once fresh.
                self.conn = None;
                self.try_get(path)
            }
        }
    }

    fn try_get(&mut self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut().unwrap();
        write!(
            conn.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.addr
        )?;
        let mut status_line = String::new();
        if conn.read_line(&mut status_line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        let code = status_code(&status_line);
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            let mut h = String::new();
            conn.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("transfer-encoding")
                    && v.trim().eq_ignore_ascii_case("chunked")
                {
                    chunked = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                conn.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad_data("bad chunk size"))?;
                let mut chunk = vec![0; n + 2]; // data + CRLF
                conn.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len, 0);
            conn.read_exact(&mut body)?;
        }
        Ok((code, body))
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
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
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
    let description = format!("{cmd:?}");
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
        .map_err(|e| format!("cannot start {description}: {e}"))?;
    // Readers and the writer run on their own threads so a full pipe can
    // never deadlock us against the child.
    let feeder = stdin.map(|bytes| {
        let bytes = bytes.to_vec();
        let mut pipe = child.stdin.take().expect("piped stdin");
        std::thread::spawn(move || {
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
                    "{description} did not finish within {limit:?}; killed"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for {description}: {e}")),
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
