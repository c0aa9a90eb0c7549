//! Shared by weft's profile tests: builds the Go services under
//! `testdata/programs/profiles/` with a pinned toolchain, runs them on
//! 127.0.0.1:0, and drives them with real HTTP traffic.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[allow(unused_imports)] // each test binary uses its own subset
pub use weft_testkit::{repo_root, Client, GoProcess};

/// The Go toolchain the tests use: `WEFT_TEST_GO` (a version like 1.27),
/// default 1.27, the first with the goroutine-leak profile on by default.
pub fn go_version() -> String {
    weft_testkit::default_go_version()
}

/// Builds `testdata/programs/profiles/<program>` once per test binary.
pub fn build(program: &str) -> PathBuf {
    weft_testkit::build_go(
        &go_version(),
        "testdata/programs/profiles",
        &format!("./{program}"),
    )
}

/// Starts `testdata/programs/profiles/<program>` with `args`.
pub fn start(program: &str, args: &[&str]) -> GoProcess {
    GoProcess::start(&build(program), args)
}

/// Sends `n` requests to `path` from each of `clients` keep-alive clients.
pub fn drive(addr: &str, path: &str, clients: usize, n: usize) {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, path) = (addr.to_string(), path.to_string());
            std::thread::spawn(move || {
                let mut c = Client::new(&addr);
                for _ in 0..n {
                    let (code, _) = c.get(&path).expect("request failed");
                    assert_eq!(code, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Steady traffic from `clients` keep-alive clients until stopped (bounded
/// to 60 s in any case).
pub struct SteadyLoad {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl SteadyLoad {
    pub fn start(addr: &str, path: &str, clients: usize) -> SteadyLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|_| {
                let (addr, path) = (addr.to_string(), path.to_string());
                let (stop, done) = (stop.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut c = Client::new(&addr);
                    let until = Instant::now() + Duration::from_secs(60);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        if let Ok((200, _)) = c.get(&path) {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        // A steady rate, not a flood: about 200 requests/s per client.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            })
            .collect();
        SteadyLoad {
            stop,
            done,
            threads,
        }
    }

    /// Stops the clients; returns how many requests succeeded.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.done.load(Ordering::Relaxed)
    }
}

impl Drop for SteadyLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Runs the weft binary; returns (exit code, stdout, stderr).
pub fn weft(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .expect("running weft");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
pub fn wait_until(secs: u64, cond: impl FnMut() -> bool) -> bool {
    weft_testkit::wait_until(Duration::from_secs(secs), cond)
}

/// Runs the weft binary with `input` on stdin; returns (exit code, stdout, stderr).
pub fn weft_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running weft");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
