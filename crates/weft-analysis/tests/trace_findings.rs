//! Trace findings against real Go programs with known concurrency bugs
//! (testdata/programs/bugs): each program is built with Go 1.27 and Go 1.22,
//! records an execution trace of itself, and the trace is read into the
//! model and analysed. Each bug must be found and attributed to the right
//! functions; the healthy programs must produce no deadlock or leak.
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use weft_analysis::trace::{analyze, Confidence, TraceConfig, TraceFinding};
use weft_testkit::GoProcess;
use weft_timeline::{Config, Model};

const TOOLCHAINS: &[&str] = &["1.27", "1.22"];

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| weft_testkit::scratch_dir("trace-findings"))
}

/// One bug or healthy program built with one toolchain (once per test binary).
fn program(version: &str, name: &str) -> PathBuf {
    weft_testkit::build_go(version, "testdata/programs/bugs", &format!("./{name}"))
}

/// Runs one program for `secs` with tracing on and returns the model and findings.
fn run(version: &str, program: &str) -> (Model, Vec<TraceFinding>) {
    // One program at a time: the bugs and the healthy loads are timing-based
    // and the machine is small.
    static RUNNING: Mutex<()> = Mutex::new(());
    let bin = self::program(version, program);
    let _guard = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let trace = scratch().join(format!("{program}-go{version}.trace"));
    let res = Command::new(&bin)
        .arg("-trace")
        .arg(&trace)
        .arg("-duration")
        .arg("2500ms")
        .output()
        .expect("run program");
    assert!(
        res.status.success(),
        "{program} (go{version}) failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let bytes = std::fs::read(&trace).unwrap();
    let model = Model::from_reader(&bytes[..], Config::default())
        .unwrap_or_else(|e| panic!("{program} (go{version}): trace does not decode: {e}"));
    let findings = analyze(&model, &TraceConfig::default());
    for f in &findings {
        eprintln!(
            "go{version} {program}: [{}] {:?}/{:?} {}",
            f.finding.kind, f.severity, f.confidence, f.finding.summary
        );
    }
    (model, findings)
}

fn of_kind<'a>(fs: &'a [TraceFinding], kind: &str) -> Vec<&'a TraceFinding> {
    fs.iter().filter(|f| f.finding.kind == kind).collect()
}

fn bug_findings(fs: &[TraceFinding]) -> Vec<&TraceFinding> {
    fs.iter()
        .filter(|f| {
            matches!(
                f.finding.kind.as_str(),
                "deadlock" | "partial-deadlock" | "leak"
            )
        })
        .collect()
}

/// The one finding of `kind` blocked in `where_`, with its entry and creator.
fn assert_attributed(
    fs: &[TraceFinding],
    kind: &str,
    where_: &str,
    entry: &str,
    created_in: &str,
) -> TraceFinding {
    let hits: Vec<&TraceFinding> = of_kind(fs, kind)
        .into_iter()
        .filter(|f| {
            f.evidence
                .iter()
                .any(|e| e.where_.as_ref().is_some_and(|w| w.func == where_))
        })
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "want one {kind} finding blocked in {where_}, got {:#?}",
        fs
    );
    let f = hits[0].clone();
    let e = &f.evidence[0];
    assert_eq!(e.entry, entry, "{f:#?}");
    assert_eq!(
        e.created_at.as_ref().map(|c| c.func.as_str()),
        Some(created_in),
        "{f:#?}"
    );
    assert!(
        e.where_.as_ref().unwrap().file.ends_with(".go") && e.where_.as_ref().unwrap().line > 0
    );
    for func in [where_, entry, created_in] {
        assert!(
            f.functions.iter().any(|x| x == func),
            "{func} not in {:?}",
            f.functions
        );
        assert!(
            f.finding.summary.contains(func) || func == created_in,
            "{func} not in summary {}",
            f.finding.summary
        );
    }
    assert!(!f.finding.goroutines.is_empty() && !f.finding.groups.is_empty());
    assert!(
        e.blocked_ns >= TraceConfig::default().min_blocked_ns || kind == "leak",
        "{f:#?}"
    );
    f
}

#[test]
fn lock_order_deadlock_is_found_in_a_busy_program() {
    for v in TOOLCHAINS {
        let (model, fs) = run(v, "lockorder");
        let f = assert_attributed(
            &fs,
            "partial-deadlock",
            "main.transfer",
            "main.teller",
            "main.startBank",
        );
        assert_eq!(f.finding.goroutines.len(), 2, "{f:#?}");
        assert_eq!(f.confidence, Confidence::High);
        assert!(
            f.finding.summary.contains("lock-order"),
            "{}",
            f.finding.summary
        );
        assert!(
            f.evidence[0]
                .stack
                .iter()
                .any(|s| s.ends_with("Mutex).Lock")),
            "{:?}",
            f.evidence[0].stack
        );
        assert_eq!(bug_findings(&fs).len(), 1, "go{v}: {fs:#?}");
        // The rest of the program kept running right up to the end.
        let ran_late = model
            .goroutines_raw()
            .filter(|g| model.str(g.entry) == "weft.test/bugs/internal/harness.busyConsumer")
            .filter_map(|g| g.last_ran_ns)
            .max()
            .unwrap();
        assert!(model.now_ns() - ran_late < 500_000_000);
    }
}

#[test]
fn fan_out_with_early_return_leaks_its_senders() {
    for v in TOOLCHAINS {
        let (_, fs) = run(v, "fanout");
        let f = assert_attributed(
            &fs,
            "leak",
            "main.search",
            "main.search",
            "main.firstResult",
        );
        assert!(f.evidence[0].count >= 50, "{f:#?}");
        assert_eq!(f.evidence[0].reason, "chan send");
        assert_eq!(bug_findings(&fs).len(), 1, "go{v}: {fs:#?}");
    }
}

#[test]
fn waitgroup_counted_too_high_is_a_partial_deadlock() {
    for v in TOOLCHAINS {
        let (_, fs) = run(v, "wgcount");
        let f = assert_attributed(
            &fs,
            "partial-deadlock",
            "main.runBatch",
            "main.batchJob",
            "main.main.func1",
        );
        assert_eq!(f.finding.goroutines.len(), 1);
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.evidence[0]
            .stack
            .iter()
            .any(|s| s == "sync.(*WaitGroup).Wait"));
        assert!(
            f.reasoning.contains("5 goroutines it started"),
            "{}",
            f.reasoning
        );
        assert_eq!(bug_findings(&fs).len(), 1, "go{v}: {fs:#?}");
    }
}

#[test]
fn lost_wakeups_are_partial_deadlocks() {
    for v in TOOLCHAINS {
        let (_, fs) = run(v, "lostwakeup");
        let chan = assert_attributed(
            &fs,
            "partial-deadlock",
            "main.awaitChan",
            "main.awaitChan",
            "main.main.func1",
        );
        assert_eq!(chan.evidence[0].reason, "chan receive");
        let cond = assert_attributed(
            &fs,
            "partial-deadlock",
            "main.awaitCond",
            "main.awaitCond",
            "main.main.func1",
        );
        assert!(cond.evidence[0]
            .stack
            .iter()
            .any(|s| s == "sync.(*Cond).Wait"));
        assert_eq!(bug_findings(&fs).len(), 2, "go{v}: {fs:#?}");
    }
}

/// Group id of the goroutines running `entry`.
fn group_of(model: &Model, entry: &str) -> u32 {
    model
        .goroutines_raw()
        .find(|g| model.str(g.entry) == entry)
        .unwrap_or_else(|| panic!("no goroutine runs {entry}"))
        .group
}

fn flow(model: &Model, from: &str, to: &str) -> u64 {
    let (a, b) = (group_of(model, from), group_of(model, to));
    model
        .flows_raw()
        .filter(|(f, t, _)| *f == a && *t == b)
        .map(|x| x.2.count)
        .sum()
}

#[test]
fn healthy_worker_pool_has_no_deadlock_or_leak() {
    for v in TOOLCHAINS {
        let (model, fs) = run(v, "workerpool");
        assert!(bug_findings(&fs).is_empty(), "go{v}: {fs:#?}");
        // The communication structure: the dispatcher wakes workers, workers wake the collector.
        assert!(
            flow(&model, "main.dispatch", "main.worker") > 100,
            "{:?}",
            model.wake_flows()
        );
        assert!(flow(&model, "main.worker", "main.collect") > 100);
        let workers = model.group(group_of(&model, "main.worker")).unwrap();
        assert_eq!(workers.live, 8);
        assert_eq!(workers.created_at.as_ref().unwrap().func, "main.startPool");
        assert!(of_kind(&fs, "contention").len() >= 1 && of_kind(&fs, "sched-latency").len() == 1);
    }
}

#[test]
fn healthy_pipeline_has_no_deadlock_or_leak() {
    for v in TOOLCHAINS {
        let (model, fs) = run(v, "pipeline");
        assert!(bug_findings(&fs).is_empty(), "go{v}: {fs:#?}");
        assert!(
            flow(&model, "main.generate", "main.square") > 100,
            "{:?}",
            model.wake_flows()
        );
        assert!(flow(&model, "main.square", "main.generate") > 100);
    }
}

#[test]
fn healthy_ticker_service_has_no_deadlock_or_leak() {
    for v in TOOLCHAINS {
        let (model, fs) = run(v, "ticker");
        assert!(bug_findings(&fs).is_empty(), "go{v}: {fs:#?}");
        // The service loop is woken by its timer (no goroutine) and by handlers.
        let svc = group_of(&model, "main.serviceLoop");
        assert!(model.group_raw(svc).unwrap().woken_by_runtime);
        let handlers = model.group(group_of(&model, "main.handle")).unwrap();
        assert!(handlers.created + handlers.exited > 100, "{handlers:?}");
    }
}

/// A whole-program deadlock cannot be traced from a real Go program (the
/// runtime aborts it before the trace is flushed), so this one is synthetic:
/// main waits to receive from a worker that waits to send elsewhere, then the
/// trace goes on for 2 s with nothing of the program running.
#[test]
fn whole_program_deadlock_from_a_synthetic_trace() {
    let no_m = "18446744073709551615";
    let text = format!(
        "Trace Go1.22
EventBatch gen=1 m=0 time=1000 size=0
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
GoCreate dt=10 new_g=5 new_stack=1 stack=2
GoBlock dt=10 reason_string=1 stack=3
GoStart dt=10 g=5 g_seq=1
GoBlock dt=10 reason_string=8 stack=5
ProcStop dt=10
ProcStart dt=31250000 p=0 p_seq=1
ProcStop dt=10
EventBatch gen=1 m={no_m} time=0 size=0
Frequency freq=15625000
EventBatch gen=1 m={no_m} time=0 size=0
Stacks
Stack id=1 nframes=1
\tpc=10 func=2 file=3 line=10
Stack id=2 nframes=1
\tpc=20 func=4 file=3 line=20
Stack id=3 nframes=2
\tpc=30 func=6 file=7 line=30
\tpc=31 func=4 file=3 line=21
Stack id=5 nframes=2
\tpc=50 func=9 file=7 line=50
\tpc=51 func=2 file=3 line=12
EventBatch gen=1 m={no_m} time=0 size=0
Strings
String id=1
\tdata=\"chan receive\"
String id=2
\tdata=\"main.worker\"
String id=3
\tdata=\"/src/app/main.go\"
String id=4
\tdata=\"main.main\"
String id=6
\tdata=\"runtime.chanrecv1\"
String id=7
\tdata=\"/go/src/runtime/chan.go\"
String id=8
\tdata=\"chan send\"
String id=9
\tdata=\"runtime.chansend1\"
"
    );
    let bytes = weft_timeline::synth::trace_from_text(&text).unwrap();
    let model = Model::from_reader(&bytes[..], Config::default()).unwrap();
    let fs = analyze(&model, &TraceConfig::default());
    let dl = of_kind(&fs, "deadlock");
    assert_eq!(dl.len(), 1, "{fs:#?}");
    let f = dl[0];
    let mut ids = f.finding.goroutines.clone();
    ids.sort();
    assert_eq!(ids, vec![1, 5]);
    assert!(
        f.finding
            .summary
            .starts_with("all 2 goroutines of the program are blocked"),
        "{}",
        f.finding.summary
    );
    for func in ["main.main", "main.worker"] {
        assert!(f.functions.iter().any(|x| x == func), "{:?}", f.functions);
    }
    assert!(of_kind(&fs, "partial-deadlock").is_empty());
    // Below the threshold it is not reported.
    let strict = TraceConfig {
        min_blocked_ns: 5_000_000_000,
        ..TraceConfig::default()
    };
    assert!(bug_findings(&analyze(&model, &strict)).is_empty());
}

/// The live path: the deadlock happened before tracing began, and the
/// trace comes from `/debug/pprof/trace` (goroutines restated with their
/// stacks, Go 1.23+).
#[test]
fn deadlock_from_before_a_live_capture_is_found() {
    let bin = program("1.27", "lockorder");
    let _guard = {
        static RUNNING: Mutex<()> = Mutex::new(());
        RUNNING.lock().unwrap_or_else(|e| e.into_inner())
    };
    let mut target = GoProcess::start(&bin, &["-http", "127.0.0.1:0"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (status, bytes) =
        weft_testkit::http_get(&target.addr, "/debug/pprof/trace?seconds=2").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    target.kill();
    let model = Model::from_reader(&bytes[..], Config::default()).unwrap();
    let fs = analyze(&model, &TraceConfig::default());
    // Blocked since the capture began, not since Go first restated them.
    for e in &f_evidence(&fs) {
        assert!(e.blocked_ns >= 1_900_000_000, "{e:#?}");
    }
    let f = assert_attributed_live(&fs);
    assert!(f.evidence.iter().all(|e| e.since_before_trace), "{f:#?}");
    assert!(f.finding.summary.contains("main.transfer"));
}

fn f_evidence(fs: &[TraceFinding]) -> Vec<weft_analysis::trace::Evidence> {
    of_kind(fs, "partial-deadlock")
        .iter()
        .flat_map(|f| f.evidence.clone())
        .collect()
}

fn assert_attributed_live(fs: &[TraceFinding]) -> TraceFinding {
    let hits = of_kind(fs, "partial-deadlock");
    assert_eq!(hits.len(), 1, "{fs:#?}");
    let f = hits[0].clone();
    assert_eq!(f.finding.goroutines.len(), 2, "{f:#?}");
    for e in &f.evidence {
        assert_eq!(e.where_.as_ref().unwrap().func, "main.transfer");
        assert_eq!(e.entry, "main.teller");
    }
    f
}
