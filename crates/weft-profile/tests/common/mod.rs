//! Helpers for tests that build and run the Go programs under
//! `testdata/programs/profiles/` with each installed toolchain.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const TOOLCHAINS: [&str; 6] = ["1.22", "1.23", "1.24", "1.25", "1.26", "1.27"];

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The `go` binary of toolchain `ver`; fails the test if it is not installed.
pub fn go_bin(ver: &str) -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let p = Path::new(&home).join(format!(".cache/weft/go{ver}/bin/go"));
    assert!(
        p.exists(),
        "Go toolchain {ver} not found at {}; run `bash scripts/install-go-toolchains.sh` first",
        p.display()
    );
    p
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("weft-profile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds `./<pkg>` of the profiles module with toolchain `ver` into `out`.
pub fn build(ver: &str, pkg: &str, out: &Path, extra_env: &[(&str, &str)]) -> PathBuf {
    let go = go_bin(ver);
    let exe = out.join(format!("{pkg}-go{ver}"));
    let mut cmd = Command::new(&go);
    cmd.current_dir(repo_root().join("testdata/programs/profiles"))
        .args(["build", "-o"])
        .arg(&exe)
        .arg(format!("./{pkg}"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env_remove("GOEXPERIMENT");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run go build");
    assert!(
        o.status.success(),
        "go{ver} build ./{pkg} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    exe
}

/// A running program that printed `listening on 127.0.0.1:PORT`; killed on drop.
pub struct Running {
    pub child: Child,
    pub port: u16,
}

impl Running {
    pub fn start(exe: &Path, cwd: &Path, env: &[(&str, &str)]) -> Running {
        let mut cmd = Command::new(exe);
        cmd.current_dir(cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("GODEBUG")
            .env_remove("GOTRACEBACK");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start program");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("{} did not print its port within 30 s", exe.display());
            }
        };
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from {}: {line:?}", exe.display()));
        Running { child, port }
    }

    pub fn get(&self, path: &str) -> Vec<u8> {
        http_get(self.port, path)
    }

    /// Sends SIGQUIT and returns everything the program wrote to stderr.
    pub fn quit_and_collect_stderr(mut self) -> Vec<u8> {
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGQUIT) };
        assert_eq!(rc, 0, "kill(SIGQUIT) failed");
        let mut err = Vec::new();
        self.child
            .stderr
            .take()
            .expect("stderr")
            .read_to_end(&mut err)
            .expect("read stderr");
        let _ = self.child.wait();
        err
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET over a real loopback TCP connection, handling
/// `Content-Length` and chunked bodies. Panics on a non-200 answer.
pub fn http_get(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nAccept-Encoding: identity\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response header")
        + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "GET {path}: {}",
        head.lines().next().unwrap_or("")
    );
    let body = &raw[head_end..];
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_vec()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_str = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_str.split(';').next().unwrap().trim(), 16)
            .expect("chunk size");
        b = &b[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}
