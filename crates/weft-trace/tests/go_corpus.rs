//! Go's own golden trace cases (`src/internal/trace/testdata/tests/*.test`
//! in the installed Go 1.27 toolchain): each must succeed or fail as the
//! case expects, with a matching error; and where `go tool trace -d=parsed`
//! can read the case, our dump must be byte-identical to it.
mod common;

use std::fs;

use common::*;
use weft_trace::raw;

struct Case {
    name: String,
    expect_ok: bool,
    pattern: Option<regex::Regex>,
    bytes: Vec<u8>,
}

fn load_cases(dir: &std::path::Path) -> Vec<Case> {
    let mut paths: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = fs::read_to_string(p).unwrap();
            let (_, files) = raw::parse_txtar(&text);
            assert_eq!(files.len(), 2, "{}: want expect+trace", p.display());
            assert_eq!(files[0].0, "expect");
            assert_eq!(files[1].0, "trace");
            let first = files[0].1.lines().next().unwrap_or("").to_string();
            let (expect_ok, pattern) = match first.split_once(' ') {
                None if first == "SUCCESS" => (true, None),
                Some(("FAILURE", q)) => {
                    let pat = raw::go_unquote(q).expect("quoted pattern");
                    let pat = String::from_utf8(pat).unwrap();
                    (false, Some(regex::Regex::new(&pat).expect("valid regexp")))
                }
                _ => panic!("{}: bad expectation {first:?}", p.display()),
            };
            let bytes =
                raw::text_to_binary(&files[1].1).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            Case {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                expect_ok,
                pattern,
                bytes,
            }
        })
        .collect()
}

#[test]
fn go_golden_cases_give_the_expected_outcome() {
    let dir = goroot("1.27").join("src/internal/trace/testdata/tests");
    let cases = load_cases(&dir);
    assert!(
        cases.len() >= 22,
        "expected at least 22 cases in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for c in &cases {
        // Feed in small pieces too: the outcome must not depend on chunking.
        for chunk in [usize::MAX, 7] {
            let (_, err) = dump(&c.bytes, chunk);
            let ok = match (&err, c.expect_ok) {
                (None, true) => true,
                (Some(e), false) => c.pattern.as_ref().unwrap().is_match(&e.to_string()),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{} (chunk {chunk}): expected {}, got {:?}",
                    c.name,
                    if c.expect_ok {
                        "success".to_string()
                    } else {
                        format!(
                            "failure matching {:?}",
                            c.pattern.as_ref().unwrap().as_str()
                        )
                    },
                    err.map(|e| e.to_string())
                ));
            }
        }
    }
    let bad: std::collections::BTreeSet<_> = failures
        .iter()
        .map(|f| f.split(" (chunk").next().unwrap().to_string())
        .collect();
    eprintln!(
        "Go corpus: {}/{} cases as expected",
        cases.len() - bad.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "corpus failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn go_golden_cases_dump_like_go_tool_trace() {
    let dir = goroot("1.27").join("src/internal/trace/testdata/tests");
    let tmp = tempdir();
    let mut problems = Vec::new();
    let mut cases = load_cases(&dir);
    // cmd/trace's own text trace, if this toolchain has it.
    let extra = goroot("1.27").join("src/cmd/trace/testdata/go122.test");
    if let Ok(text) = fs::read_to_string(&extra) {
        cases.push(Case {
            name: "cmd/trace/testdata/go122.test".into(),
            expect_ok: true,
            pattern: None,
            bytes: raw::text_to_binary(&text).expect("encode go122.test"),
        });
    }
    for c in &cases {
        let file = tmp.join("case.trace");
        fs::write(&file, &c.bytes).unwrap();
        let (want, go_err, go_ok) = reference_dump(&file);
        let (got, err) = dump(&c.bytes, usize::MAX);
        // The decode-ahead thread gives the same events and error.
        let threaded = dump_with(&c.bytes, 7, true);
        if threaded != (got.clone(), err.clone()) {
            problems.push(format!(
                "{}: with the decode thread: {} (error {:?} vs {:?})",
                c.name,
                first_diff(&threaded.0, &got),
                threaded.1.map(|e| e.to_string()),
                err.as_ref().map(|e| e.to_string())
            ));
        }
        // And with the consumer on another thread, from a stream or in place,
        // with the decode-ahead and without.
        for (whole, t) in [(false, false), (false, true), (true, false), (true, true)] {
            let par = dump_par(&c.bytes, whole, t);
            if par != (got.clone(), err.clone()) {
                problems.push(format!(
                    "{}: for_each_event_par (in place {whole}, decode thread {t}): {} (error {:?} vs {:?})",
                    c.name,
                    first_diff(&par.0, &got),
                    par.1.map(|e| e.to_string()),
                    err.as_ref().map(|e| e.to_string())
                ));
            }
        }
        // And through `for_each_event` (runs expanded in place), from the
        // start or after a few events read one at a time, fed whole or in
        // small pieces, with the decode-ahead and without.
        for (first, piece, t) in [
            (0, usize::MAX, false),
            (3, 7, false),
            (0, 5, true),
            (11, usize::MAX, true),
        ] {
            let each = dump_each(&c.bytes, first, piece, t);
            if each != (got.clone(), err.clone()) {
                problems.push(format!(
                    "{}: for_each_event (first {first}, pieces of {piece}, decode thread {t}): {} (error {:?} vs {:?})",
                    c.name,
                    first_diff(&each.0, &got),
                    each.1.map(|e| e.to_string()),
                    err.as_ref().map(|e| e.to_string())
                ));
            }
        }
        // And read in place from one buffer, with the thread and without.
        for t in [false, true] {
            let whole = dump_whole(&c.bytes, t);
            if whole != (got.clone(), err.clone()) {
                problems.push(format!(
                    "{}: read in place (decode thread {t}): {} (error {:?} vs {:?})",
                    c.name,
                    first_diff(&whole.0, &got),
                    whole.1.map(|e| e.to_string()),
                    err.as_ref().map(|e| e.to_string())
                ));
            }
        }
        if go_ok != err.is_none() {
            problems.push(format!(
                "{}: go tool trace ok={go_ok} ({}) but weft error={:?}",
                c.name,
                go_err.trim(),
                err.map(|e| e.to_string())
            ));
            continue;
        }
        if got != want {
            problems.push(format!("{}: {}", c.name, first_diff(&got, &want)));
        }
    }
    let _ = fs::remove_dir_all(&tmp);
    assert!(
        problems.is_empty(),
        "dump differs from go tool trace:\n{}",
        problems.join("\n\n")
    );
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("weft-trace-corpus-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d
}
