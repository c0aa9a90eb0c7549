//! Hostile-input tests that run under `cargo test`:
//! - Go's own fuzz seeds for its trace reader (`testdata/fuzz/FuzzReader`
//!   of the installed Go 1.27) must give the same output and the same
//!   success/failure as `go tool trace -d=parsed`;
//! - thousands of random mutations (bit flips, byte overwrites, cuts,
//!   splices, repeated chunks) of those seeds and of Go's golden corpus
//!   traces must never panic, hang or balloon memory, whatever the chunking.
//!
//! Scale the mutation count with WEFT_FUZZ_ITERS (default 20000).
mod common;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use weft_trace::{raw, Decoder, Status};

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = goroot("1.27").join("src/internal/trace/testdata/fuzz/FuzzReader");
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        let text = fs::read_to_string(&p).unwrap();
        let lit = text
            .lines()
            .nth(1)
            .and_then(|l| l.trim().strip_prefix("[]byte("))
            .and_then(|l| l.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{}: not a go fuzz v1 []byte seed", p.display()));
        let bytes = raw::go_unquote(lit).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        out.push((p.file_name().unwrap().to_string_lossy().into_owned(), bytes));
    }
    out.sort();
    assert!(!out.is_empty(), "no fuzz seeds in {}", dir.display());
    out
}

fn corpus_traces() -> Vec<Vec<u8>> {
    let dir = goroot("1.27").join("src/internal/trace/testdata/tests");
    let mut v = Vec::new();
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "test") {
            let (_, files) = raw::parse_txtar(&fs::read_to_string(&p).unwrap());
            v.push(raw::text_to_binary(&files[1].1).unwrap());
        }
    }
    v
}

#[test]
fn go_fuzz_seeds_match_go_tool_trace() {
    let tmp = std::env::temp_dir().join(format!("weft-trace-seeds-{}", std::process::id()));
    fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join("seed.trace");
    let mut problems = Vec::new();
    for (name, bytes) in seeds() {
        let (got, err) = dump(&bytes, usize::MAX);
        if bytes.starts_with(b"go 1.11")
            || bytes.starts_with(b"go 1.19")
            || bytes.starts_with(b"go 1.21")
        {
            // Pre-1.22 (v1) traces are not supported: a clean error is required.
            let e = err.expect("v1 trace must be refused");
            assert!(e.message.contains("not supported"), "{name}: {e}");
            continue;
        }
        fs::write(&file, &bytes).unwrap();
        let (want, go_err, go_ok) = reference_dump(&file);
        if go_ok != err.is_none() {
            problems.push(format!(
                "{name}: go ok={go_ok} ({}) weft={:?}",
                go_err.trim(),
                err
            ));
        } else if got != want {
            problems.push(format!("{name}: {}", first_diff(&got, &want)));
        }
    }
    let _ = fs::remove_dir_all(&tmp);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, src: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut b = src.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = b.len();
        match rng.below(8) {
            0 if n > 0 => {
                let i = 16.min(n - 1) + rng.below(n.saturating_sub(16));
                b[i.min(n - 1)] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                b[i] = [0, 1, 0x7f, 0x80, 0xff, 52, 49][rng.below(7)];
            }
            2 => b.truncate(rng.below(n + 1)),
            3 if n > 1 => {
                let (i, j) = (rng.below(n), rng.below(n));
                let (lo, hi) = (i.min(j), i.max(j).min(lo_cap(i.min(j), n)));
                let chunk = b[lo..hi].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, chunk);
            }
            4 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                if o.len() > 16 {
                    let i = 16 + rng.below(o.len() - 16);
                    let j = (i + rng.below(512)).min(o.len());
                    let at = rng.below(b.len() + 1);
                    b.splice(at..at, o[i..j].iter().copied());
                }
            }
            5 if n > 0 => {
                let i = rng.below(n);
                let len = rng.below(12).min(n - i);
                b.drain(i..i + len);
            }
            6 => {
                // A maximal varint somewhere.
                let at = rng.below(n + 1);
                b.splice(
                    at..at,
                    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                );
            }
            _ if n > 0 => {
                let i = rng.below(n);
                b[i] = rng.next() as u8;
            }
            _ => {}
        }
    }
    b
}

fn lo_cap(lo: usize, n: usize) -> usize {
    (lo + 4096).min(n)
}

/// Decodes fully; returns the number of steps taken.
fn run(bytes: &[u8], chunk: usize) -> usize {
    // Chunk 64: the whole input given at once, read in place.
    let mut d = if chunk == 64 {
        Decoder::with_input(std::sync::Arc::new(bytes.to_vec()))
    } else {
        Decoder::new()
    };
    // Odd chunk sizes and 64 also run the decode-ahead thread on every generation.
    if chunk % 2 == 1 || chunk == 64 {
        d.set_decode_thread(Some(0));
    }
    let mut fed = 0;
    let mut steps = 0usize;
    let limit = 64 * bytes.len() + 1000;
    loop {
        steps += 1;
        assert!(
            steps < limit,
            "decoder did not terminate ({steps} steps on {} bytes)",
            bytes.len()
        );
        match d.advance() {
            Ok(Status::Event) => {
                // Exercise the typed accessors and the printer too.
                let ev = d.event();
                let _ = ev.state_transition();
                let _ = ev.range();
                let _ = ev.task();
                let _ = ev.stack().map(|s| s.frames().count());
                let mut sink = Vec::new();
                ev.write_go(&mut sink).unwrap();
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
            Ok(Status::End) | Err(_) => break,
        }
        // Nothing beyond the input (plus slack) is ever buffered.
        assert!(d.buffered_bytes() <= 2 * bytes.len() + (2 << 20));
    }
    steps
}

#[test]
fn mutated_traces_never_panic_or_hang() {
    let iters: usize = std::env::var("WEFT_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut inputs: Vec<Vec<u8>> = seeds().into_iter().map(|s| s.1).collect();
    inputs.extend(corpus_traces());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for it in 0..iters {
        let src = &inputs[rng.below(inputs.len())];
        let m = mutate(&mut rng, src, &inputs);
        let chunk = [usize::MAX, 1, 3, 64, 4096][rng.below(5)];
        let r = catch_unwind(AssertUnwindSafe(|| run(&m, chunk)));
        if r.is_err() {
            let path = std::env::temp_dir().join(format!("weft-trace-crash-{it}.trace"));
            fs::write(&path, &m).unwrap();
            panic!(
                "iteration {it}: decoder panicked (chunk {chunk}); input saved to {}",
                path.display()
            );
        }
    }
}

#[test]
fn mutated_traces_same_with_the_consumer_thread() {
    // `for_each_event_par` (events handed to another thread in batches,
    // generation bytes shared) gives the same events and error as the
    // one-thread decoder on hostile input, never hangs or panics.
    let iters: usize = std::env::var("WEFT_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(|n: usize| n / 10)
        .unwrap_or(2_000);
    let mut inputs: Vec<Vec<u8>> = seeds().into_iter().map(|s| s.1).collect();
    inputs.extend(corpus_traces());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for it in 0..iters {
        let src = &inputs[rng.below(inputs.len())];
        let m = mutate(&mut rng, src, &inputs);
        let (whole, t) = (rng.below(2) == 1, rng.below(2) == 1);
        let want = dump(&m, usize::MAX);
        let got = catch_unwind(AssertUnwindSafe(|| dump_par(&m, whole, t)));
        let same = matches!(&got, Ok(g) if g.0 == want.0
            && g.1.as_ref().map(|e| e.to_string()) == want.1.as_ref().map(|e| e.to_string()));
        // `for_each_event` too (runs expanded in place on this thread).
        let (first, piece) = (it % 4, [usize::MAX, 3, 64, 1 << 12][it / 4 % 4]);
        let each = catch_unwind(AssertUnwindSafe(|| dump_each(&m, first, piece, t)));
        let each_same = matches!(&each, Ok(g) if g.0 == want.0
            && g.1.as_ref().map(|e| e.to_string()) == want.1.as_ref().map(|e| e.to_string()));
        if !each_same {
            let path = std::env::temp_dir().join(format!("weft-trace-each-{it}.trace"));
            fs::write(&path, &m).unwrap();
            panic!(
                "iteration {it}: for_each_event (first {first}, pieces of {piece}, decode thread {t}) differs; input saved to {}",
                path.display()
            );
        }
        if !same {
            let path = std::env::temp_dir().join(format!("weft-trace-par-{it}.trace"));
            fs::write(&path, &m).unwrap();
            let why = match got {
                Err(_) => "panicked".to_string(),
                Ok(g) => format!(
                    "{} (error {:?} vs {:?})",
                    first_diff(&g.0, &want.0),
                    g.1.map(|e| e.to_string()),
                    want.1.map(|e| e.to_string())
                ),
            };
            panic!(
                "iteration {it}: for_each_event_par (in place {whole}, decode thread {t}) differs: {why}; input saved to {}",
                path.display()
            );
        }
    }
}
