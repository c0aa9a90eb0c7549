//! Test support: builds and runs `bench/schedgap` (a real Go program with
//! net/http/pprof on loopback) and fetches its endpoints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The Go version the tests build with.
const GO_VERSION: &str = "1.26";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Path of the `go` binary; fails the test (never skips) when missing.
pub fn go() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/go-toolchain.sh"))
        .arg(GO_VERSION)
        .output()
        .expect("running scripts/go-toolchain.sh");
    assert!(
        out.status.success(),
        "Go {GO_VERSION} is needed for this test and is not installed: run scripts/install-go-toolchains.sh ({})",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Builds `bench/schedgap` once per test binary.
pub fn schedgap_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("weft-tui-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("schedgap");
        let st = Command::new(go())
            .args(["build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(repo_root().join("bench/schedgap"))
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .status()
            .expect("running go build");
        assert!(st.success(), "go build of bench/schedgap failed");
        bin
    })
}

/// A running `schedgap`, killed on drop.
pub struct Target {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Target {
    /// Starts schedgap with `args` (e.g. `-n 2000 -leak 50`) and waits for
    /// its pprof address.
    pub fn start(args: &[&str]) -> Target {
        let mut child = Command::new(schedgap_binary())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting schedgap");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("pprof: ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let target = Target { child, url };
        target.wait_parked();
        target
    }

    /// The target prints its URL before its goroutines have all parked;
    /// tests that count them wait until none is still runnable at its `go`
    /// wrapper.
    fn wait_parked(&self) {
        let start = std::time::Instant::now();
        loop {
            let dump = self.get("/debug/pprof/goroutine?debug=2");
            if !String::from_utf8_lossy(&dump).contains("[runnable]:\nmain.park") {
                return;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the target's goroutines never parked"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn get(&self, path: &str) -> Vec<u8> {
        http_get(&self.url, path)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.0 GET (no chunking to undo), body only.
pub fn http_get(base: &str, path: &str) -> Vec<u8> {
    let host = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP header end");
    let head = String::from_utf8_lossy(&resp[..split]);
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "GET {path}: {head}"
    );
    resp[split + 4..].to_vec()
}
