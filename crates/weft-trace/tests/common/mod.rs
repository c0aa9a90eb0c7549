//! Helpers shared by the integration tests: finding the installed Go
//! toolchains, and decoding a whole trace into the `-d=parsed` text.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

use weft_trace::{Decoder, Status};

/// Path of the cached `go` binary for `1.NN`; panics (fails the test) with
/// the fix when it is missing.
pub fn go_bin(version: &str) -> PathBuf {
    let cache = std::env::var_os("WEFT_GO_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/weft")
        });
    let go = cache.join(format!("go{version}/bin/go"));
    assert!(
        go.is_file(),
        "Go {version} is not installed at {}; run scripts/install-go-toolchains.sh {version}",
        go.display()
    );
    go
}

/// GOROOT of a toolchain.
pub fn goroot(version: &str) -> PathBuf {
    let out = Command::new(go_bin(version))
        .args(["env", "GOROOT"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go env GOROOT");
    assert!(out.status.success(), "go env GOROOT failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Decodes `bytes` (fed in `chunk`-sized pieces) into Go's `-d=parsed`
/// text; returns the text and the error, if decoding stopped on one.
pub fn dump(bytes: &[u8], chunk: usize) -> (Vec<u8>, Option<weft_trace::Error>) {
    dump_with(bytes, chunk, false)
}

/// As [`dump`], with the whole input given at once (`Decoder::with_input`).
pub fn dump_whole(bytes: &[u8], decode_thread: bool) -> (Vec<u8>, Option<weft_trace::Error>) {
    let mut d = Decoder::with_input(std::sync::Arc::new(bytes.to_vec()));
    if decode_thread {
        d.set_decode_thread(Some(0));
    }
    let mut out = Vec::new();
    loop {
        match d.advance() {
            Ok(Status::Event) => {
                d.event().write_go(&mut out).unwrap();
                out.push(b'\n');
            }
            Ok(Status::NeedData) => d.finish(),
            Ok(Status::End) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// As [`dump`], through `Reader::for_each_event_par` (events printed on
/// the consumer thread): from a stream read in 1 MiB pieces, or with the
/// whole input given at once; with `decode_thread`, every generation is
/// also decoded ahead on that thread.
pub fn dump_par(
    bytes: &[u8],
    whole: bool,
    decode_thread: bool,
) -> (Vec<u8>, Option<weft_trace::Error>) {
    let mut out = Vec::new();
    let write = |ev: &weft_trace::EventRef<'_>| {
        ev.write_go(&mut out).unwrap();
        out.push(b'\n');
    };
    let err = if whole {
        let mut r = weft_trace::Reader::from_input(std::sync::Arc::new(bytes.to_vec()));
        if decode_thread {
            r.set_decode_thread(Some(0));
        }
        r.for_each_event_par(write).err()
    } else {
        let mut r = weft_trace::Reader::new(bytes);
        if decode_thread {
            r.set_decode_thread(Some(0));
        }
        r.for_each_event_par(write).err()
    };
    (out, err)
}

/// As [`dump`], through `Reader::for_each_event` (runs of events expanded
/// in place) after the first `first` events read one at a time; the input
/// arrives `piece` bytes per read; with `decode_thread`, every generation
/// is decoded ahead on the helper thread.
pub fn dump_each(
    bytes: &[u8],
    first: usize,
    piece: usize,
    decode_thread: bool,
) -> (Vec<u8>, Option<weft_trace::Error>) {
    struct Pieces<'a>(&'a [u8], usize);
    impl std::io::Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut out = Vec::new();
    let mut r = weft_trace::Reader::new(Pieces(bytes, piece.max(1)));
    if decode_thread {
        r.set_decode_thread(Some(0));
    }
    if let Some(end) = dump_first(&mut r, first, &mut out) {
        return (out, end);
    }
    let err = r.for_each_event(|ev| write_line(&mut out, ev)).err();
    (out, err)
}

/// Writes the next `first` events of `r` one at a time (`next_event`) to
/// `out`; `Some` with the outcome if the trace ended or failed before.
fn dump_first<R: std::io::Read>(
    r: &mut weft_trace::Reader<R>,
    first: usize,
    out: &mut Vec<u8>,
) -> Option<Option<weft_trace::Error>> {
    for _ in 0..first {
        match r.next_event() {
            Ok(Some(ev)) => write_line(out, &ev),
            Ok(None) => return Some(None),
            Err(e) => return Some(Some(e)),
        }
    }
    None
}

// One event as `go tool trace -d=parsed` prints it, and a newline.
fn write_line(out: &mut Vec<u8>, ev: &weft_trace::EventRef<'_>) {
    ev.write_go(&mut *out).unwrap();
    out.push(b'\n');
}

/// As [`dump_par`] (in place, decode-ahead on), but the first `first`
/// events are read one at a time before `for_each_event_par` takes over
/// in the middle of a generation the helper thread is decoding.
pub fn dump_mixed(bytes: &[u8], first: usize) -> (Vec<u8>, Option<weft_trace::Error>) {
    let mut out = Vec::new();
    let mut r = weft_trace::Reader::from_input(std::sync::Arc::new(bytes.to_vec()));
    r.set_decode_thread(Some(0));
    if let Some(end) = dump_first(&mut r, first, &mut out) {
        return (out, end);
    }
    let err = r.for_each_event_par(|ev| write_line(&mut out, ev)).err();
    (out, err)
}

/// As [`dump`]; with `decode_thread`, every generation is decoded on the
/// decoder's helper thread.
pub fn dump_with(
    bytes: &[u8],
    chunk: usize,
    decode_thread: bool,
) -> (Vec<u8>, Option<weft_trace::Error>) {
    let mut d = Decoder::new();
    if decode_thread {
        d.set_decode_thread(Some(0));
    }
    let mut out = Vec::new();
    let mut fed = 0;
    loop {
        match d.advance() {
            Ok(Status::Event) => {
                d.event().write_go(&mut out).unwrap();
                out.push(b'\n');
            }
            Ok(Status::NeedData) => {
                if fed >= bytes.len() {
                    d.finish();
                } else {
                    let n = chunk.min(bytes.len() - fed);
                    d.feed(&bytes[fed..fed + n]);
                    fed += n;
                }
            }
            Ok(Status::End) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Runs `go tool trace -d=parsed` (Go 1.27) on a file: (stdout, stderr, success).
pub fn reference_dump(file: &Path) -> (Vec<u8>, String, bool) {
    let out = Command::new(go_bin("1.27"))
        .args(["tool", "trace", "-d=parsed"])
        .arg(file)
        .env("GOTOOLCHAIN", "local")
        .env("TZ", "UTC")
        .output()
        .expect("run go tool trace");
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

/// First differing line of two dumps, for failure messages.
pub fn first_diff(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let (al, bl): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (al.get(i), bl.get(i));
        if x != y {
            let lo = i.saturating_sub(3);
            let ctx: Vec<_> = al[lo..i].iter().map(|l| format!("    {l}")).collect();
            return format!(
                "first difference at line {}:\n{}\n  weft: {:?}\n  go:   {:?}",
                i + 1,
                ctx.join("\n"),
                x,
                y
            );
        }
    }
    "identical".into()
}
