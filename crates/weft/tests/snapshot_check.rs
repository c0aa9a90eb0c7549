//! `weft snapshot` and `weft check` against real Go services built from
//! `testdata/programs/profiles/` (leaky-svc, healthy-svc), driven with real
//! HTTP traffic on loopback.

mod profile_support;

use profile_support::{drive, start, wait_until, weft, weft_stdin, Client, SteadyLoad};
use serde_json::Value;

fn snapshot_json(args: &[&str]) -> Value {
    let (code, out, err) = weft(args);
    assert_eq!(code, 0, "weft {args:?} failed: {err}");
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("weft {args:?} printed bad JSON ({e}):\n{out}"))
}

fn group_at<'a>(doc: &'a Value, func: &str) -> &'a Value {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["where"]["func"] == func)
        .unwrap_or_else(|| panic!("no group at {func} in {doc:#}"))
}

fn count_at(doc: &Value, func: &str) -> u64 {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["where"]["func"] == func)
        .map(|g| g["count"].as_u64().unwrap())
        .sum()
}

/// Line number of the first line of `file` (under testdata/programs/profiles) containing `needle`.
fn line_of(file: &str, needle: &str) -> u64 {
    let path = profile_support::repo_root()
        .join("testdata/programs/profiles")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

fn go_minor() -> u32 {
    let v = std::env::var("WEFT_TEST_GO").unwrap_or_else(|_| "1.27".into());
    v.trim_start_matches("1.").parse().unwrap()
}

/// Waits until the service shows `n` stranded helpers.
fn wait_stranded(url: &str, n: u64) {
    let ok = wait_until(10, || {
        count_at(
            &snapshot_json(&["snapshot", url, "--json"]),
            "main.fetchSlow",
        ) == n
    });
    assert!(
        ok,
        "leaky-svc never showed {n} stranded main.fetchSlow goroutines"
    );
}

#[test]
fn snapshot_json_has_exact_groups_states_and_creators() {
    let svc = start("leaky-svc", &["-helpers", "3"]);
    let url = svc.url();
    drive(&svc.addr, "/work", 1, 20);
    wait_stranded(&url, 60);

    // By default the leak profile is not read (its GC cycle stalls big
    // targets), nor above the goroutine limit even when asked for.
    for args in [
        &["--json"][..],
        &["--json", "--leak-profile", "--detail-limit", "5"][..],
    ] {
        let doc = snapshot_json(&[&["snapshot", url.as_str()][..], args].concat());
        assert_eq!(group_at(&doc, "main.fetchSlow")["leaked"], 0, "{args:?}");
        assert!(doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] != "runtime-leak"));
    }

    // Concurrent form (debug=0 by default), plus the leak profile when the runtime serves it.
    let doc = snapshot_json(&["snapshot", &url, "--json", "--leak-profile"]);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["source"], url.as_str());
    assert_eq!(doc["form"], "pprof");
    assert_eq!(doc["polls"], 1);
    let taken = doc["taken_at"].as_str().unwrap();
    assert!(
        taken.len() == 24 && taken.ends_with('Z') && &taken[10..11] == "T",
        "{taken}"
    );
    let total = doc["total"].as_u64().unwrap();
    let by_state: u64 = doc["by_state"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_state, total);
    let sum: u64 = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, total);

    let leak = group_at(&doc, "main.fetchSlow");
    assert_eq!(leak["count"], 60);
    assert_eq!(leak["class"], "blocked");
    // Without --detail the state is still exact (debug=0 keeps the runtime
    // frames debug=1 hides; plain debug=1 could only say `waiting`).
    assert_eq!(leak["state"], "chan send");
    assert_eq!(group_at(&doc, "main.poolWorker")["state"], "chan receive");
    assert_eq!(leak["delta"], 0);
    assert!(leak["where"]["file"]
        .as_str()
        .unwrap()
        .ends_with("leaky-svc/main.go"));
    assert_eq!(
        leak["where"]["line"],
        line_of("leaky-svc/main.go", "res <- i * i")
    );
    assert_eq!(group_at(&doc, "main.poolWorker")["count"], 4);
    assert_eq!(group_at(&doc, "main.refresher")["count"], 1);
    if go_minor() >= 27 {
        // Go 1.27 serves /debug/pprof/goroutineleak: the runtime proves the leak.
        assert_eq!(leak["leaked"], 60);
        assert_eq!(leak["leak_suspect"], true);
        assert!(leak["why"][0]
            .as_str()
            .unwrap()
            .contains("reports 60 of these goroutines as leaked"));
        let f = doc["findings"].as_array().unwrap();
        let rl: Vec<&Value> = f.iter().filter(|f| f["kind"] == "runtime-leak").collect();
        assert_eq!(rl.len(), 1, "{f:#?}");
        assert_eq!(rl[0]["groups"][0], leak["key"]);
        assert!(rl[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("60 goroutines at main.fetchSlow (leaky-svc/main.go:"));
        assert_eq!(group_at(&doc, "main.poolWorker")["leaked"], 0);
    }

    // Full dump (debug=2): exact runtime states, creators and ids.
    let detail = snapshot_json(&["snapshot", &url, "--json", "--detail"]);
    assert_eq!(detail["form"], "debug2");
    let leak2 = group_at(&detail, "main.fetchSlow");
    assert_eq!(leak2["count"], 60);
    assert_eq!(leak2["state"], "chan send");
    assert_eq!(leak2["created_by"]["func"], "main.workHandler");
    assert_eq!(
        leak2["created_by"]["line"],
        line_of("leaky-svc/main.go", "go fetchSlow(")
    );
    assert_eq!(leak2["ids"].as_array().unwrap().len(), 60);
    // The same code path has the same key in both forms (runtime frames left out).
    assert_eq!(leak2["key"], leak["key"]);
    let pool = group_at(&detail, "main.poolWorker");
    assert_eq!(
        (pool["count"].as_u64(), pool["state"].as_str()),
        (Some(4), Some("chan receive"))
    );
    assert_eq!(pool["created_by"]["func"], "main.main");
    let refresher = group_at(&detail, "main.refresher");
    assert_eq!(refresher["state"], "chan receive");
    assert_eq!(refresher["created_by"]["func"], "main.main");

    // A saved dump, from a file and from stdin, reads the same.
    let (code, dump) = Client::new(&svc.addr)
        .get("/debug/pprof/goroutine?debug=2")
        .unwrap();
    assert_eq!(code, 200);
    let file = tempfile_path::TempPath::new("dump.txt");
    std::fs::write(&file.0, &dump).unwrap();
    let from_file = snapshot_json(&["snapshot", file.s(), "--json"]);
    assert_eq!(from_file["source"], file.s());
    assert_eq!(from_file["form"], "debug2");
    assert_eq!(group_at(&from_file, "main.fetchSlow")["count"], 60);
    assert_eq!(group_at(&from_file, "main.fetchSlow")["key"], leak["key"]);
    let (code, out, err) = weft_stdin(&["snapshot", "-", "--json"], &dump);
    assert_eq!(code, 0, "{err}");
    let from_stdin: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(from_stdin["source"], "-");
    assert_eq!(
        group_at(&from_stdin, "main.fetchSlow")["state"],
        "chan send"
    );
    let (code, _, err) = weft_stdin(&["snapshot", "-"], b"this is not a dump\n");
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read standard input: byte 0: not a goroutine dump or profile"),
        "{err}"
    );

    // The table form names the same things.
    let (code, table, _) = weft(&["snapshot", &url]);
    assert_eq!(code, 0);
    assert!(
        table.contains("main.fetchSlow (leaky-svc/main.go:"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with("60 ") && l.contains("main.fetchSlow")),
        "{table}"
    );
}

#[test]
fn snapshot_polls_compute_deltas_while_traffic_strands_goroutines() {
    let svc = start("leaky-svc", &["-helpers", "1"]);
    let url = svc.url();
    let load = SteadyLoad::start(&svc.addr, "/work", 2);
    let doc = snapshot_json(&[
        "snapshot",
        &url,
        "--json",
        "--polls",
        "6",
        "--poll-interval",
        "300ms",
    ]);
    let served = load.stop();
    assert!(served > 20, "only {served} requests were served");
    assert_eq!(doc["polls"], 6);
    let leak = group_at(&doc, "main.fetchSlow");
    let delta = leak["delta"].as_i64().unwrap();
    assert!(delta > 10, "delta {delta}: {leak:#}");
    assert!(leak["rate_per_min"].as_f64().unwrap() > 0.0);
    // Steady growth over 6 polls that never shrank: the `leak` rule fires.
    assert_eq!(leak["leak_suspect"], true, "{leak:#}");
    assert!(
        leak["why"][0].as_str().unwrap().starts_with("grew from "),
        "{leak:#}"
    );
    assert!(doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "leak" && f["groups"][0] == leak["key"]));
    assert_eq!(group_at(&doc, "main.poolWorker")["delta"], 0);
    assert_eq!(group_at(&doc, "main.poolWorker")["leak_suspect"], false);
}

fn save_baseline(url: &str) -> tempfile_path::TempPath {
    let (code, out, err) = weft(&["snapshot", url, "--json"]);
    assert_eq!(code, 0, "{err}");
    let p = tempfile_path::TempPath::new("baseline.json");
    std::fs::write(&p.0, out).unwrap();
    p
}

/// A file path in the test's temp dir, removed on drop.
mod tempfile_path {
    pub struct TempPath(pub std::path::PathBuf);
    impl TempPath {
        pub fn new(name: &str) -> TempPath {
            use std::sync::atomic::{AtomicU64, Ordering};
            static N: AtomicU64 = AtomicU64::new(0);
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
            TempPath(dir.join(format!(
                "{}-{}-{name}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            )))
        }
        pub fn s(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn check_fails_on_the_planted_leak_naming_the_group() {
    let svc = start("leaky-svc", &["-helpers", "2"]);
    let url = svc.url();
    drive(&svc.addr, "/work", 1, 5);
    wait_stranded(&url, 10);
    let base = save_baseline(&url);

    drive(&svc.addr, "/work", 4, 25);
    wait_stranded(&url, 210);
    let (code, out, err) = weft(&["check", "--baseline", base.s(), &url]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.starts_with("weft check: FAIL: 1 group grew beyond tolerance"),
        "{out}"
    );
    let line = format!(
        "main.fetchSlow (leaky-svc/main.go:{}): 10 -> 210 (+200, allowed +10)",
        line_of("leaky-svc/main.go", "res <- i * i")
    );
    assert!(out.contains(&line), "expected {line:?} in:\n{out}");

    // The same verdict from a saved debug=2 dump against the debug=0 baseline:
    // group keys do not depend on the form.
    let (_, dump) = Client::new(&svc.addr)
        .get("/debug/pprof/goroutine?debug=2")
        .unwrap();
    let file = tempfile_path::TempPath::new("dump.txt");
    std::fs::write(&file.0, &dump).unwrap();
    let (code, out2, _) = weft(&["check", "--baseline", base.s(), file.s()]);
    assert_eq!(code, 1, "{out2}");
    assert!(out2.contains(&line), "expected {line:?} in:\n{out2}");
    assert!(
        out2.contains("blocked in chan send, created by main.workHandler (leaky-svc/main.go:"),
        "{out2}"
    );

    // Ignoring it by name (goleak-style) passes; so does an ignore file with a prefix.
    let (code, out, _) = weft(&[
        "check",
        "--baseline",
        base.s(),
        &url,
        "--ignore",
        "main.fetchSlow",
        "--samples",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    let ign = tempfile_path::TempPath::new("ignore.txt");
    std::fs::write(&ign.0, "# known\nmain.fetch*\n").unwrap();
    let (code, out, _) = weft(&[
        "check",
        "--baseline",
        base.s(),
        &url,
        "--ignore-file",
        ign.s(),
        "--samples",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    // A tolerance above the growth passes too.
    let (code, out, _) = weft(&[
        "check",
        "--baseline",
        base.s(),
        &url,
        "--tolerance",
        "250",
        "--samples",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn check_passes_on_the_leaky_binary_with_the_leak_switched_off() {
    let svc = start("leaky-svc", &["-leak=false", "-helpers", "3"]);
    let url = svc.url();
    drive(&svc.addr, "/work", 1, 5);
    let base = save_baseline(&url);
    let load = SteadyLoad::start(&svc.addr, "/work", 4);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let (code, out, err) = weft(&["check", "--baseline", base.s(), &url]);
    let served = load.stop();
    assert!(served > 50, "only {served} requests were served");
    eprintln!("{served} requests\n{out}");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.starts_with("weft check: ok:"), "{out}");
}

#[test]
fn check_passes_on_the_healthy_service_under_steady_traffic() {
    let svc = start("healthy-svc", &[]);
    let url = svc.url();
    // Baseline taken idle, check taken under traffic: connections, in-flight
    // handlers and helpers come and go; none is stranded.
    let base = save_baseline(&url);
    let load = SteadyLoad::start(&svc.addr, "/work", 4);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let (code, out, err) = weft(&["check", "--baseline", base.s(), &url]);
    let (code2, out2, _) = weft(&[
        "check",
        "--baseline",
        base.s(),
        &url,
        "--samples",
        "5",
        "--interval",
        "200ms",
    ]);
    let served = load.stop();
    assert!(served > 50, "only {served} requests were served");
    eprintln!("{served} requests\n{out}{out2}");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(code2, 0, "stdout:\n{out2}");
}

#[test]
fn check_errors_exit_2_with_a_reason() {
    let bad = tempfile_path::TempPath::new("bad.json");
    std::fs::write(&bad.0, "{ not json").unwrap();
    let (code, _, err) = weft(&["check", "--baseline", bad.s(), "http://127.0.0.1:1"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a weft snapshot JSON"), "{err}");

    let good = tempfile_path::TempPath::new("good.json");
    std::fs::write(&good.0, r#"{"schema_version":1,"source":"x","taken_at":"1970-01-01T00:00:00.000Z","form":"debug1","polls":1,"total":0,"by_state":{},"by_class":{},"groups":[],"findings":[]}"#).unwrap();
    // Nothing listens on port 1.
    let (code, _, err) = weft(&[
        "check",
        "--baseline",
        good.s(),
        "http://127.0.0.1:1",
        "--samples",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach http://127.0.0.1:1"), "{err}");

    let (code, _, err) = weft(&["snapshot", "pid:999999999"]);
    assert_eq!(code, 2);
    assert!(err.contains("pid 999999999"), "{err}");
}
