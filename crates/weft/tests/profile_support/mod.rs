//! Shared by weft's profile tests: builds the Go services under
//! `testdata/programs/profiles/` with a pinned toolchain, runs them on
//! 127.0.0.1:0, and drives them with real HTTP traffic.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The Go toolchain the tests use: `WEFT_TEST_GO` (a version like 1.27),
/// default 1.27, the first with the goroutine-leak profile on by default.
pub fn go() -> PathBuf {
    let version = std::env::var("WEFT_TEST_GO").unwrap_or_else(|_| "1.27".into());
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/go-toolchain.sh"))
        .arg(&version)
        .output()
        .expect("running scripts/go-toolchain.sh");
    if !out.status.success() {
        panic!(
            "Go {version} is not installed ({}); run `bash scripts/install-go-toolchains.sh` first",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Builds `testdata/programs/profiles/<program>` once per test binary.
pub fn build(program: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = built.get(program) {
        return p.clone();
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("weft-profile-programs");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(program);
    let status = Command::new(go())
        .current_dir(repo_root().join("testdata/programs/profiles"))
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-o"])
        .arg(&out)
        .arg(format!("./{program}"))
        .status()
        .expect("running go build");
    assert!(status.success(), "go build ./{program} failed");
    built.insert(program.to_string(), out.clone());
    out
}

/// A running Go service, killed on drop.
pub struct Svc {
    child: Child,
    pub addr: String,
}

impl Svc {
    pub fn start(program: &str, args: &[&str]) -> Svc {
        let bin = build(program);
        let mut child = Command::new(&bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{program} printed {line:?}"))
            .to_string();
        Svc { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.1 keep-alive client (GET only, Content-Length bodies).
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
        let code: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
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
                    .map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size")
                    })?;
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
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
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
