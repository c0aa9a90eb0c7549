//! Property test: mutated dumps and profiles (truncations, byte flips,
//! insertions of syntax fragments, spliced duplicates) never make a parser
//! panic or hang. Seeded with the hand-written fixtures and with real
//! debug=0/1/2 output of the `service` program built with Go 1.27.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;
use weft_model::SourceForm;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const FRAGMENTS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\n\n",
    b"goroutine ",
    b"goroutine 18446744073709551616 [",
    b"goroutine 1 gp=0x1 m=nil [",
    b"]:",
    b" labels:{",
    b" {\"",
    b"\\",
    b"\"",
    b"(",
    b")",
    b"[...]",
    b", ",
    b" minutes",
    b"\t",
    b":99999999999",
    b" pc=0x",
    b"created by ",
    b" in goroutine ",
    b"...additional frames elided...",
    b"[originating from goroutine 1]:",
    b"# labels: {",
    b"#\t0x",
    b" @ 0x",
    b"\xff\xfe",
    b"2024/01/02 15:04:05 ",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 => v.truncate(rng.below(v.len() + 1)),
            1 => {
                if !v.is_empty() {
                    let i = rng.below(v.len());
                    v[i] ^= 1 << rng.below(8);
                }
            }
            2 => {
                let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
                let i = rng.below(v.len() + 1);
                v.splice(i..i, f.iter().copied());
            }
            3 => {
                if !v.is_empty() {
                    let a = rng.below(v.len());
                    let b = (a + rng.below(256)).min(v.len());
                    let chunk = v[a..b].to_vec();
                    let i = rng.below(v.len() + 1);
                    v.splice(i..i, chunk);
                }
            }
            _ => {
                if !v.is_empty() {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
            }
        }
    }
    v
}

fn check(input: &[u8], syms: &weft_profile::Symbols) {
    let t = Instant::now();
    let _ = weft_profile::parse(input);
    let _ = weft_profile::parse_with_symbols(input, syms);
    for form in [SourceForm::Debug2, SourceForm::Debug1, SourceForm::Pprof] {
        let _ = weft_profile::parse_as(form, input);
    }
    // A hang guard, not a performance assertion.
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "parsing a {}-byte input took {:?}",
        input.len(),
        t.elapsed()
    );
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    // Real output from a real program.
    let tmp = TempDir::new("mutation");
    let exe = build("1.27", "service", &tmp.0, &[]);
    let run = Running::start(&exe, &tmp.0, &[]);
    for _ in 0..3 {
        run.get("/leak");
    }
    seeds.push(run.get("/debug/pprof/goroutine?debug=2"));
    seeds.push(run.get("/debug/pprof/goroutine?debug=1"));
    let gz = run.get("/debug/pprof/goroutine?debug=0");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .unwrap();
    seeds.push(gz);
    seeds.push(raw);
    seeds
}

#[test]
fn mutated_inputs_never_panic_or_hang() {
    let seeds = seeds();
    assert!(seeds.len() >= 14);
    for s in &seeds {
        weft_profile::parse(s).expect("every seed parses before mutation");
    }
    // Symbols from the real debug=0 seed, so debug=1 mutants exercise frame restoration.
    let pprof = seeds.iter().rev().find_map(|s| {
        weft_profile::parse(s)
            .ok()
            .filter(|s| s.form == SourceForm::Pprof)
    });
    let syms = weft_profile::Symbols::from_profile(&pprof.expect("a pprof seed"));
    assert!(!syms.is_empty());
    let mut rng = Rng(0x5EED_CAFE_F00D_1234);
    let mut n = 0;
    for seed in &seeds {
        for _ in 0..600 {
            check(&mutate(&mut rng, seed), &syms);
            n += 1;
        }
        // Every truncation point of small seeds.
        if seed.len() < 4096 {
            for cut in 0..seed.len() {
                check(&seed[..cut], &syms);
                n += 1;
            }
        }
    }
    assert!(n > 10_000);
}
