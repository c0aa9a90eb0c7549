//! Test support: real HTTP against a real server, Go programs built from
//! `testdata/programs` with Go 1.27, and a decoder of the binary timeline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_web::Server;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Go 1.27 from the project's toolchain cache; fails (never skips) when missing.
pub fn go127() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let base = std::env::var("WEFT_GO_CACHE").unwrap_or(format!("{home}/.cache/weft"));
    let go = PathBuf::from(base).join("go1.27/bin/go");
    assert!(
        go.exists(),
        "Go 1.27 is not installed at {}: run scripts/install-go-toolchains.sh 1.27",
        go.display()
    );
    go
}

/// Builds the Go program in `dir` (relative to the repo) into `out`.
pub fn go_build(dir: &str, out: &Path) {
    let st = Command::new(go127())
        .args(["build", "-o"])
        .arg(out)
        .arg(".")
        .current_dir(repo().join(dir))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("run go build");
    assert!(st.success(), "go build in {dir} failed");
}

/// A child process killed on drop (also when a test fails).
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a program that prints `listening on HOST:PORT`; returns it and the base URL.
pub fn start_listening(bin: &Path, args: &[&str]) -> (Kill, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start program");
    let out = child.stdout.take().unwrap();
    let guard = Kill(child);
    let mut r = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).expect("read program output");
        assert!(n > 0, "the program exited before printing its address");
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            let a = a.trim().to_string();
            // Keep draining its stdout so it never blocks on a full pipe.
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut r, &mut std::io::sink());
            });
            return (guard, format!("http://{a}"));
        }
    }
}

/// A raw HTTP/1.1 GET with exactly these headers (Host included), for the
/// security tests; returns status and body.
pub fn raw_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn base(s: &Server) -> String {
    format!("http://127.0.0.1:{}", s.addr().port())
}

pub fn get_json(url: &str) -> Value {
    let r = ureq::get(url)
        .timeout(Duration::from_secs(60))
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = r.into_string().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}: {text}"))
}

pub fn get_bytes(url: &str) -> Vec<u8> {
    let r = ureq::get(url)
        .timeout(Duration::from_secs(60))
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(r.content_type(), "application/octet-stream");
    let mut b = Vec::new();
    r.into_reader().read_to_end(&mut b).unwrap();
    b
}

/// Polls `/api/status` until `state` is `ready` (panics on `error` or after
/// `limit`); returns the states seen, in order, deduplicated.
pub fn wait_ready(s: &Server, limit: Duration) -> Vec<String> {
    let t0 = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    loop {
        let st = get_json(&format!("{}/api/status", base(s)));
        let state = st["state"].as_str().unwrap_or("").to_string();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        match state.as_str() {
            "ready" => return seen,
            "error" => panic!("loading failed: {st}"),
            "loading" => {}
            other => panic!("unexpected state {other:?}: {st}"),
        }
        assert!(t0.elapsed() < limit, "not ready after {limit:?}: {st}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The binary timeline, decoded (docs/web-api.md, "Binary").
#[derive(Debug)]
pub struct Timeline {
    pub start_ns: i64,
    pub end_ns: i64,
    pub res_ns: i64,
    pub total_rows: u32,
    pub rows: Vec<TlRow>,
    pub strings: Vec<String>,
}

#[derive(Debug)]
pub struct TlRow {
    pub goroutine: i64,
    pub group: u32,
    pub index: u32,
    /// (start, end, state, reason)
    pub spans: Vec<(f32, f32, u8, u16)>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn i64_at(b: &[u8], o: usize) -> i64 {
    i64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
fn f32_at(b: &[u8], o: usize) -> f32 {
    f32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

/// Decodes and checks the layout's invariants: sizes add up exactly, spans
/// lie inside the range, are sorted and do not overlap, indices are valid.
pub fn decode_timeline(b: &[u8]) -> Timeline {
    assert!(
        b.len() >= 48,
        "timeline shorter than its header: {} bytes",
        b.len()
    );
    assert_eq!(&b[0..4], b"WFTL", "magic");
    assert_eq!(u16_at(b, 4), 1, "format version");
    let nrows = u32_at(b, 8) as usize;
    let nspans = u32_at(b, 12) as usize;
    let start_ns = i64_at(b, 16);
    let end_ns = i64_at(b, 24);
    let res_ns = i64_at(b, 32);
    let nstr = u32_at(b, 40) as usize;
    let total_rows = u32_at(b, 44);
    assert!(end_ns > start_ns && res_ns >= 1);
    let rows_at = 48;
    let spans_at = rows_at + nrows * 24;
    let strs_at = spans_at + nspans * 12;
    assert!(b.len() >= strs_at, "truncated: {} < {strs_at}", b.len());
    let mut strings = Vec::new();
    let mut o = strs_at;
    for _ in 0..nstr {
        let n = u16_at(b, o) as usize;
        strings.push(String::from_utf8(b[o + 2..o + 2 + n].to_vec()).expect("UTF-8 string"));
        o += 2 + n;
    }
    assert_eq!(o, b.len(), "bytes after the string table");
    assert_eq!(
        strings.first().map(|s| s.as_str()),
        Some(""),
        "string 0 is empty"
    );
    let width = (end_ns - start_ns) as f32;
    let mut rows = Vec::new();
    let mut next_first = 0usize;
    for r in 0..nrows {
        let ro = rows_at + r * 24;
        let first = u32_at(b, ro + 12) as usize;
        let count = u32_at(b, ro + 16) as usize;
        assert_eq!(first, next_first, "row {r}: spans not contiguous");
        next_first += count;
        assert!(first + count <= nspans);
        let mut spans = Vec::new();
        let mut last_end = f32::MIN;
        for k in first..first + count {
            let so = spans_at + k * 12;
            let (s, e, st, reason) = (
                f32_at(b, so),
                f32_at(b, so + 4),
                b[so + 8],
                u16_at(b, so + 10),
            );
            assert!(
                s >= 0.0 && e <= width * 1.0001 && s < e,
                "row {r}: span [{s}, {e}) outside [0, {width})"
            );
            assert!(s >= last_end, "row {r}: spans overlap or are unsorted");
            assert!(st <= 4, "state {st}");
            assert!((reason as usize) < nstr, "reason {reason} >= {nstr}");
            last_end = e;
            spans.push((s, e, st, reason));
        }
        rows.push(TlRow {
            goroutine: i64_at(b, ro),
            group: u32_at(b, ro + 8),
            index: u32_at(b, ro + 20),
            spans,
        });
    }
    assert_eq!(next_first, nspans, "span count");
    Timeline {
        start_ns,
        end_ns,
        res_ns,
        total_rows,
        rows,
        strings,
    }
}
