//! `weft snapshot URL --json` WITHOUT `--detail` names what each goroutine
//! waits on (`chan receive`, `chan send`, `select`, `sync.Mutex.Lock`, ...),
//! not just `waiting`, on the oldest and newest supported Go (1.22, 1.27).
//!
//! The concurrent `debug=1` text hides the runtime frames that say this, so
//! these assertions fail if weft polls plain `debug=1`; the default form
//! (`debug=0`) keeps them, and `--form debug1` restores them from symbols.

mod profile_support;

use profile_support::{drive, weft, GoProcess};
use serde_json::Value;

const VERSIONS: [&str; 2] = ["1.22", "1.27"];

/// Builds `testdata/programs/profiles/<program>` with Go `version` and starts it.
fn start_svc(program: &str, version: &str) -> GoProcess {
    let bin = weft_testkit::build_go(
        version,
        "testdata/programs/profiles",
        &format!("./{program}"),
    );
    GoProcess::start(&bin, &[])
}

fn snapshot(url: &str, extra: &[&str]) -> Value {
    let args = [&["snapshot", url, "--json"][..], extra].concat();
    let (code, out, err) = weft(&args);
    assert_eq!(code, 0, "weft {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{out}"))
}

/// Goroutines per state among the groups whose `where` function starts with `func`.
fn states_at(doc: &Value, func: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["where"]["func"].as_str().unwrap_or("").starts_with(func))
        .map(|g| {
            (
                g["state"].as_str().unwrap().to_string(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Expected (where-function prefix, state, count) of a service's groups.
type Want<'a> = &'a [(&'a str, &'a str, u64)];

fn mismatches(doc: &Value, want: Want) -> Vec<String> {
    let mut bad = Vec::new();
    for &(func, state, count) in want {
        let got = states_at(doc, func);
        if got != vec![(state.to_string(), count)] {
            bad.push(format!("{func}: want {count} in {state:?}, got {got:?}"));
        }
    }
    if !doc["by_state"]["waiting"].is_null() {
        bad.push(format!(
            "{} goroutines only known as `waiting`",
            doc["by_state"]["waiting"]
        ));
    }
    bad
}

/// Checks both concurrent forms, the default (which must be debug=0) and
/// `--form debug1` (debug=1 with symbols). A goroutine woken by a ticker can
/// be caught running, so a form gets up to 5 snapshots to match.
fn check_forms(url: &str, what: &str, want: Want) {
    for (form, extra, wire) in [
        ("default", &[][..], "pprof"),
        ("--form debug1", &["--form", "debug1"][..], "debug1"),
    ] {
        let mut bad = Vec::new();
        for _ in 0..5 {
            let doc = snapshot(url, extra);
            assert_eq!(doc["form"], wire, "{what} {form}");
            bad = mismatches(&doc, want);
            if bad.is_empty() {
                break;
            }
        }
        assert!(bad.is_empty(), "{what} {form}:\n{}", bad.join("\n"));
    }
}

#[test]
fn service_states_without_detail() {
    for ver in VERSIONS {
        let svc = start_svc("service", ver);
        check_forms(
            &svc.url(),
            &format!("go{ver} service"),
            &[
                ("main.(*pool).worker", "chan receive", 7),
                ("main.sendForever", "chan send", 3),
                ("main.selectLoop", "select", 4),
                ("main.blockForever", "select (no cases)", 2),
                ("main.waitGroupWaiter", "sync.WaitGroup.Wait", 5),
                ("main.locker", "sync.Mutex.Lock", 6),
                ("main.condWaiter", "sync.Cond.Wait", 2),
                ("main.labelledWorker", "chan receive", 4),
                ("main.genericWait", "chan receive", 2),
                ("main.startClosures.func1", "chan receive", 3),
                ("main.lockedWaiter", "chan receive", 1),
                ("main.connReader", "IO wait", 2),
                ("main.sleeper", "sleep", 3),
            ],
        );
    }
}

#[test]
fn leaky_and_healthy_svc_states_without_detail() {
    for ver in VERSIONS {
        let leaky = start_svc("leaky-svc", ver);
        drive(&leaky.addr, "/work", 1, 5);
        // Each request strands 2 helpers; wait for all 10 to park.
        let ok = profile_support::wait_until(10, || {
            states_at(&snapshot(&leaky.url(), &[]), "main.fetchSlow")
                == vec![("chan send".to_string(), 10)]
        });
        assert!(
            ok,
            "go{ver}: leaky-svc never showed 10 helpers in chan send"
        );
        check_forms(
            &leaky.url(),
            &format!("go{ver} leaky-svc"),
            &[
                ("main.fetchSlow", "chan send", 10),
                ("main.poolWorker", "chan receive", 4),
                ("main.refresher", "chan receive", 1),
            ],
        );

        let healthy = start_svc("healthy-svc", ver);
        check_forms(
            &healthy.url(),
            &format!("go{ver} healthy-svc"),
            &[
                ("main.worker", "chan receive", 8),
                ("main.janitor", "select", 1),
            ],
        );
    }
}
