//! Parses real dumps and profiles of the Go programs in
//! `testdata/programs/profiles/`, built with every toolchain 1.22–1.27 and
//! fetched over HTTP on loopback, and asserts the exact goroutine groups the
//! programs create. Fails (does not skip) when a toolchain is missing.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use weft_model::{Record, Snapshot, SourceForm, StateClass};

/// One group the `service` program creates (see its `const` block).
struct Group {
    func: &'static str,
    count: u64,
    /// Status in debug=2 dumps and inferred from debug=0 (which has every frame).
    status: &'static str,
    /// Status inferred from debug=1, whose runtime frames are hidden.
    d1_status: &'static str,
    class: StateClass,
    creator: &'static str,
}

const fn g(
    func: &'static str,
    count: u64,
    status: &'static str,
    d1_status: &'static str,
    class: StateClass,
    creator: &'static str,
) -> Group {
    Group {
        func,
        count,
        status,
        d1_status,
        class,
        creator,
    }
}

use StateClass::Blocked;

/// Everything but the leaky handler's goroutines, whose count varies by run.
const SERVICE: &[Group] = &[
    g(
        "main.(*pool).worker",
        7,
        "chan receive",
        "waiting",
        Blocked,
        "main.newPool",
    ),
    g(
        "main.sendForever",
        3,
        "chan send",
        "waiting",
        Blocked,
        "main.main",
    ),
    g(
        "main.selectLoop",
        4,
        "select",
        "waiting",
        Blocked,
        "main.main",
    ),
    g(
        "main.blockForever",
        2,
        "select (no cases)",
        "waiting",
        Blocked,
        "main.main",
    ),
    g(
        "main.waitGroupWaiter",
        5,
        "sync.WaitGroup.Wait",
        "sync.WaitGroup.Wait",
        Blocked,
        "main.main",
    ),
    g(
        "main.locker",
        6,
        "sync.Mutex.Lock",
        "sync.Mutex.Lock",
        Blocked,
        "main.main",
    ),
    g(
        "main.condWaiter",
        2,
        "sync.Cond.Wait",
        "sync.Cond.Wait",
        Blocked,
        "main.main",
    ),
    g("main.sleeper", 3, "sleep", "sleep", Blocked, "main.main"),
    g(
        "main.labelledWorker",
        4,
        "chan receive",
        "waiting",
        Blocked,
        "main.startLabelled.func1",
    ),
    g(
        "main.genericWait[...]",
        2,
        "chan receive",
        "waiting",
        Blocked,
        "main.main",
    ),
    g(
        "main.startClosures.func1",
        3,
        "chan receive",
        "waiting",
        Blocked,
        "main.startClosures",
    ),
    g(
        "main.lockedWaiter",
        1,
        "chan receive",
        "waiting",
        Blocked,
        "main.main",
    ),
    g(
        "main.connReader",
        2,
        "IO wait",
        "IO wait",
        Blocked,
        "main.serveConns",
    ),
];

const LEAKY: &str = "main.leakyHandler.func1";

/// The first frame in package main: what the program's author would call the goroutine.
fn main_func(r: &Record) -> Option<&str> {
    r.stack
        .iter()
        .map(|f| f.func.as_str())
        .find(|f| f.starts_with("main."))
}

fn count_by_func(s: &Snapshot, func: &str) -> u64 {
    s.records
        .iter()
        .filter(|r| main_func(r) == Some(func))
        .map(|r| r.count)
        .sum()
}

/// Asserts every group's exact count, status, class and (where the form has it) creator.
fn check_groups(s: &Snapshot, ver: &str, what: &str, leaks: u64) {
    check_groups_sym(s, ver, what, leaks, false)
}

/// `symbolized`: a debug=1 snapshot whose hidden runtime frames were restored.
fn check_groups_sym(s: &Snapshot, ver: &str, what: &str, leaks: u64, symbolized: bool) {
    let d1 = s.form == SourceForm::Debug1 && !symbolized;
    let mut all: Vec<(&str, u64, &str, &str)> = SERVICE
        .iter()
        .map(|g| {
            let status = match (g.status, s.form, minor(ver)) {
                // Before Go 1.24 the runtime reported WaitGroup waits as plain semaphore waits.
                ("sync.WaitGroup.Wait", SourceForm::Debug2, m) if m < 24 => "semacquire",
                _ if d1 => g.d1_status,
                (st, _, _) => st,
            };
            (g.func, g.count, status, g.creator)
        })
        .collect();
    all.push((
        LEAKY,
        leaks,
        if d1 { "waiting" } else { "chan receive" },
        "main.leakyHandler",
    ));
    for (func, count, status, creator) in all {
        let recs: Vec<&Record> = s
            .records
            .iter()
            .filter(|r| main_func(r) == Some(func))
            .collect();
        let total: u64 = recs.iter().map(|r| r.count).sum();
        assert_eq!(total, count, "{what}: goroutines in {func}");
        for r in &recs {
            assert_eq!(r.status, status, "{what}: status of {func}");
            assert_eq!(r.class, Blocked, "{what}: class of {func}");
            assert!(SERVICE.iter().all(|g| g.class == Blocked));
            assert_eq!(
                r.status_inferred,
                s.form != SourceForm::Debug2,
                "{what}: status_inferred of {func}"
            );
            if s.form == SourceForm::Debug2 {
                assert_eq!(r.count, 1);
                assert_eq!(r.ids.len(), 1);
                let cb = r
                    .created_by
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: {func} has no creator"));
                assert_eq!(cb.func, creator, "{what}: creator of {func}");
                assert!(
                    cb.file.ends_with("service/main.go") && cb.line > 0,
                    "{what}: creator location {cb:?}"
                );
                assert!(
                    r.creator_id.is_some(),
                    "{what}: creator goroutine id of {func}"
                );
                assert_eq!(
                    r.locked_to_thread,
                    func == "main.lockedWaiter",
                    "{what}: locked_to_thread of {func}"
                );
                let top_main = r.stack.iter().find(|f| f.func == func).unwrap();
                assert!(
                    top_main.file.ends_with("service/main.go") && top_main.line > 0,
                    "{what}: {top_main:?}"
                );
            }
        }
    }
}

/// Stack (function names, runtime frames at the top and `runtime.goexit`
/// dropped) -> goroutine count, for the parked stacks that pass through package main.
fn stacks(s: &Snapshot) -> BTreeMap<Vec<String>, u64> {
    let mut m = BTreeMap::new();
    for r in &s.records {
        let funcs: Vec<String> = r
            .stack
            .iter()
            .map(|f| f.func.clone())
            .skip_while(|f| f.starts_with("runtime.") || f.starts_with("internal/runtime/"))
            // Tracebacks hide runtime frames (runtime.main, runtime.goexit) that profiles keep.
            .filter(|f| !f.starts_with("runtime."))
            .collect();
        // The accept loop (main.main -> net/http.Serve) moves while it serves
        // the test's own requests between fetches; everything else is parked.
        if funcs.iter().any(|f| f.starts_with("main."))
            && !funcs.iter().any(|f| f.starts_with("net/http."))
        {
            *m.entry(funcs).or_insert(0) += r.count;
        }
    }
    m
}

fn assert_same_stacks(a: &Snapshot, b: &Snapshot, what: &str) {
    let (sa, sb) = (stacks(a), stacks(b));
    let only_a: Vec<_> = sa.iter().filter(|(k, v)| sb.get(*k) != Some(v)).collect();
    let only_b: Vec<_> = sb.iter().filter(|(k, v)| sa.get(*k) != Some(v)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "{what}: differ\nleft only: {only_a:?}\nright only: {only_b:?}"
    );
}

fn fetch(run: &Running, path: &str) -> Snapshot {
    let body = run.get(path);
    weft_profile::parse(&body).unwrap_or_else(|e| {
        panic!(
            "parse {path}: {e}\n{}",
            String::from_utf8_lossy(&body[..body.len().min(2000)])
        )
    })
}

/// Makes `n` requests to /leak and waits until all stranded goroutines are parked.
fn leak(run: &Running, n: u64) -> Snapshot {
    for _ in 0..n {
        assert_eq!(run.get("/leak"), b"ok\n");
    }
    for _ in 0..200 {
        let s = fetch(run, "/debug/pprof/goroutine?debug=2");
        let parked: u64 = s
            .records
            .iter()
            .filter(|r| main_func(r) == Some(LEAKY) && r.status == "chan receive")
            .count() as u64;
        if parked == n {
            return s;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the {n} leaked goroutines never all parked");
}

fn labelled(s: &Snapshot) -> Vec<&Record> {
    s.records
        .iter()
        .filter(|r| main_func(r) == Some("main.labelledWorker"))
        .collect()
}

fn expected_labels() -> BTreeMap<String, String> {
    [("note", "a b"), ("worker", "labelled")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn minor(ver: &str) -> u32 {
    ver.trim_start_matches("1.").parse().unwrap()
}

fn check_leak_profile(run: &Running, ver: &str, leaks: u64) {
    for q in ["debug=1", "debug=0"] {
        let s = fetch(run, &format!("/debug/pprof/goroutineleak?{q}"));
        assert_eq!(s.form, SourceForm::LeakProfile, "go{ver} goroutineleak?{q}");
        assert!(s.records.iter().all(|r| r.leaked));
        assert_eq!(
            count_by_func(&s, LEAKY),
            leaks,
            "go{ver} goroutineleak?{q}: leaked handler goroutines"
        );
        assert_eq!(
            count_by_func(&s, "main.blockForever"),
            2,
            "go{ver} goroutineleak?{q}: select{{}} goroutines"
        );
        assert_eq!(
            s.total(),
            leaks + 2,
            "go{ver} goroutineleak?{q}: nothing else is provably leaked"
        );
    }
    let s = fetch(run, "/debug/pprof/goroutineleak?debug=2");
    assert_eq!(s.form, SourceForm::Debug2);
    let leaked: Vec<&Record> = s.records.iter().filter(|r| r.leaked).collect();
    assert_eq!(
        leaked.len() as u64,
        leaks + 2,
        "go{ver} goroutineleak?debug=2: records marked (leaked)"
    );
    for r in leaked {
        let f = main_func(r).unwrap();
        match f {
            LEAKY => assert_eq!(r.status, "chan receive"),
            "main.blockForever" => assert_eq!(r.status, "select (no cases)"),
            other => panic!("go{ver}: unexpected leaked goroutine in {other}"),
        }
    }
}

fn service(ver: &str) {
    let tmp = TempDir::new(&format!("service-{ver}"));
    let exe = build(ver, "service", &tmp.0, &[]);

    // Run A: default settings, every form of the goroutine profile.
    {
        let run = Running::start(&exe, &tmp.0, &[]);
        let d2_first = leak(&run, 50);
        check_groups(&d2_first, ver, &format!("go{ver} debug=2"), 50);
        let d1_raw = run.get("/debug/pprof/goroutine?debug=1");
        let d1 = weft_profile::parse(&d1_raw).expect("parse debug=1");
        let d0 = fetch(&run, "/debug/pprof/goroutine?debug=0");
        let d2 = fetch(&run, "/debug/pprof/goroutine?debug=2");
        assert_eq!(
            (d1.form, d0.form, d2.form),
            (SourceForm::Debug1, SourceForm::Pprof, SourceForm::Debug2)
        );
        check_groups(&d1, ver, &format!("go{ver} debug=1"), 50);
        check_groups(&d0, ver, &format!("go{ver} debug=0"), 50);
        check_groups(&d2, ver, &format!("go{ver} debug=2"), 50);
        // With symbols from debug=0, debug=1 regains its hidden runtime frames and exact states.
        let syms = weft_profile::Symbols::from_profile(&d0);
        let d1s =
            weft_profile::parse_with_symbols(&d1_raw, &syms).expect("parse debug=1 with symbols");
        check_groups_sym(&d1s, ver, &format!("go{ver} debug=1 + symbols"), 50, true);
        assert_same_stacks(
            &d1s,
            &d0,
            &format!("go{ver}: symbolized debug=1 vs debug=0"),
        );
        // The three forms agree stack by stack.
        assert_eq!(
            stacks(&d1),
            stacks(&d0),
            "go{ver}: debug=1 vs debug=0 stacks"
        );
        assert_eq!(
            stacks(&d2),
            stacks(&d0),
            "go{ver}: debug=2 vs debug=0 stacks"
        );
        for s in [&d1, &d0] {
            let l = labelled(s);
            assert!(
                !l.is_empty() && l.iter().all(|r| r.labels == expected_labels()),
                "go{ver} {:?}: labels",
                s.form
            );
        }
        // The goroutine serving the profile is the running one.
        assert!(
            d0.records
                .iter()
                .any(|r| r.status == "running" && r.class == StateClass::Running),
            "go{ver}: running in debug=0"
        );
        assert!(
            d2.records.iter().any(|r| r.status == "running"),
            "go{ver}: running in debug=2"
        );
        if minor(ver) >= 27 {
            check_leak_profile(&run, ver, 50);
        }
    }

    // Run B: GOTRACEBACK=crash adds `gp= m= mp=` headers, `fp= sp= pc=`
    // and runtime goroutines; tracebackancestors adds `[originating from
    // goroutine N]` blocks; tracebacklabels (Go 1.27) prints labels in headers.
    let env = [
        ("GOTRACEBACK", "crash"),
        ("GODEBUG", "tracebackancestors=3,tracebacklabels=1"),
    ];
    let run = Running::start(&exe, &tmp.0, &env);
    let d2 = leak(&run, 5);
    check_groups(&d2, ver, &format!("go{ver} debug=2 GOTRACEBACK=crash"), 5);
    for r in d2.records.iter().filter(|r| main_func(r) == Some(LEAKY)) {
        // Ancestor frames must not leak into the goroutine's own stack.
        let funcs: Vec<&str> = r.stack.iter().map(|f| f.func.as_str()).collect();
        assert_eq!(
            funcs.iter().filter(|f| f.starts_with("main.")).count(),
            1,
            "go{ver}: {funcs:?}"
        );
        assert_eq!(r.created_by.as_ref().unwrap().func, "main.leakyHandler");
    }
    if minor(ver) >= 26 {
        // Go 1.26 prints ` labels:{"k": "v"}` inside the brackets, 1.27 ` {k: v}` after them.
        assert!(
            labelled(&d2).iter().all(|r| r.labels == expected_labels()),
            "go{ver}: labels in debug=2 headers"
        );
    }
    let stderr = run.quit_and_collect_stderr();
    let text = String::from_utf8_lossy(&stderr);
    assert!(
        text.starts_with("SIGQUIT: quit"),
        "go{ver}: {}",
        &text[..text.len().min(200)]
    );
    assert!(
        text.contains("\nrax "),
        "go{ver}: register dump expected in SIGQUIT output"
    );
    let q =
        weft_profile::parse(&stderr).unwrap_or_else(|e| panic!("go{ver}: SIGQUIT traceback: {e}"));
    assert_eq!(q.form, SourceForm::Debug2);
    check_groups(&q, ver, &format!("go{ver} SIGQUIT traceback"), 5);
    // GOTRACEBACK=crash: `fp= sp= pc=` on every frame that is not inlined (the innermost never is),
    // and the runtime's own goroutines are shown.
    assert!(
        q.records
            .iter()
            .filter_map(|r| r.stack.first())
            .all(|f| f.pc.is_some()),
        "go{ver}: pc= on innermost frames"
    );
    assert!(
        q.records.iter().any(|r| r.class == StateClass::Idle),
        "go{ver}: runtime goroutines are shown and idle"
    );
}

#[test]
fn service_go1_22() {
    service("1.22");
}
#[test]
fn service_go1_23() {
    service("1.23");
}
#[test]
fn service_go1_24() {
    service("1.24");
}
#[test]
fn service_go1_25() {
    service("1.25");
}
#[test]
fn service_go1_26() {
    service("1.26");
}
#[test]
fn service_go1_27() {
    service("1.27");
}

/// Go 1.26 serves the leak profile only when built with the experiment.
#[test]
fn leak_profile_go1_26_experiment() {
    let tmp = TempDir::new("leak-1.26");
    let exe = build(
        "1.26",
        "service",
        &tmp.0,
        &[("GOEXPERIMENT", "goroutineleakprofile")],
    );
    let run = Running::start(&exe, &tmp.0, &[]);
    leak(&run, 20);
    check_leak_profile(&run, "1.26", 20);
}

// ---- fatal tracebacks from the `crash` program ----

fn crash_output(
    exe: &std::path::Path,
    cwd: &std::path::Path,
    mode: &str,
    traceback: &str,
) -> Vec<u8> {
    let o = std::process::Command::new(exe)
        .arg(mode)
        .current_dir(cwd)
        .env("GOTRACEBACK", traceback)
        .env_remove("GODEBUG")
        .output()
        .expect("run crash");
    assert!(!o.status.success(), "crash {mode} exited successfully");
    o.stderr
}

fn check_crash(ver: &str, mode: &str, s: &Snapshot) {
    let what = format!("go{ver} crash {mode}");
    let stuck: Vec<&Record> = s
        .records
        .iter()
        .filter(|r| main_func(r) == Some("main.stuck"))
        .collect();
    assert_eq!(stuck.len(), 4, "{what}: main.stuck goroutines");
    let mutexed: Vec<&Record> = s
        .records
        .iter()
        .filter(|r| main_func(r) == Some("main.mutexed"))
        .collect();
    assert_eq!(mutexed.len(), 2, "{what}: main.mutexed goroutines");
    for r in stuck.iter().chain(&mutexed) {
        assert_eq!(r.created_by.as_ref().unwrap().func, "main.park", "{what}");
        assert_eq!(r.creator_id, Some(1), "{what}");
    }
    assert!(stuck.iter().all(|r| r.status == "chan receive"), "{what}");
    assert!(
        mutexed.iter().all(|r| r.status == "sync.Mutex.Lock"),
        "{what}"
    );
    let main = s
        .records
        .iter()
        .find(|r| r.ids == [1])
        .unwrap_or_else(|| panic!("{what}: no goroutine 1"));
    assert!(
        main.created_by.is_none(),
        "{what}: the main goroutine has no creator"
    );
    match mode {
        "deadlock" => assert_eq!(main.status, "chan receive", "{what}"),
        _ => assert_eq!(main.status, "running", "{what}"),
    }
    if mode == "nil" {
        assert!(
            main.stack.iter().any(|f| f.func == "main.explode"),
            "{what}"
        );
        assert!(
            main.stack.iter().any(|f| f.func == "panic"),
            "{what}: panic frame"
        );
        let explode = main
            .stack
            .iter()
            .find(|f| f.func == "main.explode")
            .unwrap();
        assert!(explode.pc.is_some(), "{what}: pc= with GOTRACEBACK=crash");
    }
}

#[test]
fn crash_tracebacks_all_toolchains() {
    let tmp = TempDir::new("crash");
    for ver in TOOLCHAINS {
        let exe = build(ver, "crash", &tmp.0, &[]);
        for (mode, tb, banner) in [
            (
                "deadlock",
                "single",
                "fatal error: all goroutines are asleep - deadlock!",
            ),
            ("panic", "all", "panic: boom: 6 goroutines parked"),
            ("nil", "crash", "[signal SIGSEGV: segmentation violation"),
        ] {
            let out = crash_output(&exe, &tmp.0, mode, tb);
            let text = String::from_utf8_lossy(&out);
            assert!(text.contains(banner), "go{ver} crash {mode}: {text}");
            let s =
                weft_profile::parse(&out).unwrap_or_else(|e| panic!("go{ver} crash {mode}: {e}"));
            check_crash(ver, mode, &s);
        }
    }
}
