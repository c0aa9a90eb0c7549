//! weft's eBPF mode against real Go programs (`testdata/programs/ebpf-lifecycle`
//! built by Go 1.22 to 1.27): the creations and exits the probes report
//! must be exactly what the program did (goids, parents, start functions),
//! and the probes must be gone afterwards: after a normal end, and after
//! the probing process is killed with SIGKILL mid-run.
//!
//! Needs root (CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE), as CI has, and a
//! weft built with clang; without them the tests fail and say why.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use weft_ebpf::{EventKind, ProbeSet, Session, Summary, Target};

/// One test at a time: the probe checks look at every loaded BPF program.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn require_privileges() {
    assert!(
        weft_ebpf::COMPILED_IN,
        "weft-ebpf was built without its BPF object: install clang (apt-get install -y clang) and rebuild"
    );
    if let Err(e) = weft_ebpf::preflight() {
        panic!("these tests need to load BPF programs (run them as root): {e}");
    }
}

/// The lifecycle test program built with Go 1.`minor`, optionally stripped.
fn build(minor: u32, stripped: bool) -> PathBuf {
    let flags: &[&str] = if stripped { &["-ldflags=-s -w"] } else { &[] };
    weft_testkit::build_go_with(
        &format!("1.{minor}"),
        "testdata/programs/ebpf-lifecycle",
        ".",
        flags,
    )
}

/// The started Go program, killed on drop.
struct Program {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Program {
    fn start(bin: &Path, workers: u32, children: u32) -> Program {
        let mut child = Command::new(bin)
            .args([
                "-workers",
                &workers.to_string(),
                "-children",
                &children.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the Go program");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "unexpected first line");
        Program {
            child,
            stdin,
            stdout,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Tells it to start its goroutines and returns what it says it did:
    /// created goid → (parent goid, start function), the exited goids, and
    /// the address of the channel its blocked workers wait on.
    fn run(&mut self) -> Report {
        self.stdin.write_all(b"go\n").unwrap();
        self.stdin.flush().unwrap();
        let mut r = Report::default();
        loop {
            let mut line = String::new();
            if self.stdout.read_line(&mut line).unwrap() == 0 {
                panic!("the Go program ended before DONE");
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["DONE"] => break,
                ["CREATED", g, p, func] => {
                    r.created
                        .insert(g.parse().unwrap(), (p.parse().unwrap(), func.to_string()));
                }
                ["EXITED", g] => {
                    r.exited.insert(g.parse().unwrap());
                }
                ["CHAN", addr] => {
                    r.chan = u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap();
                }
                ["WAKE", main, waiter] => r.wake = (main.parse().unwrap(), waiter.parse().unwrap()),
                _ => panic!("unexpected line {line:?}"),
            }
        }
        r
    }
}

/// What the program says it did.
#[derive(Default)]
struct Report {
    /// goid → (parent goid, start function).
    created: BTreeMap<u64, (u64, String)>,
    exited: BTreeSet<u64>,
    /// The channel its blocked workers wait on.
    chan: u64,
    /// (main's goid, main.waiter's goid): one of them readies the other.
    wake: (u64, u64),
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first byte of each probed instruction in the running target, and
/// in the file. A placed uprobe shows as 0xCC (INT3) in the process.
fn probe_bytes(pid: u32, target: &Target) -> Vec<(String, u8, u8)> {
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let exe = std::fs::File::open(format!("/proc/{pid}/exe")).unwrap();
    target
        .points
        .iter()
        .map(|p| {
            let (mut live, mut file) = ([0u8], [0u8]);
            mem.read_exact_at(&mut live, p.addr + target.bias).unwrap();
            exe.read_exact_at(&mut file, p.file_offset).unwrap();
            (format!("{} at {:#x}", p.function, p.addr), live[0], file[0])
        })
        .collect()
}

fn weft_programs_loaded() -> Vec<String> {
    aya::programs::loaded_programs()
        .filter_map(|p| p.ok())
        .filter_map(|p| p.name_as_str().map(str::to_string))
        .filter(|n| n.starts_with("weft_"))
        .collect()
}

/// Every probe point's byte is back to the file's, and no weft BPF program
/// is loaded. The kernel frees a program shortly after its last descriptor
/// closes (RCU), so this waits for that before asserting.
fn assert_no_probes(pid: u32, target: &Target, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline
        && (probe_bytes(pid, target).iter().any(|(_, l, f)| l != f)
            || !weft_programs_loaded().is_empty())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    for (what, live, file) in probe_bytes(pid, target) {
        assert_eq!(
            live, file,
            "{when}: {what} still has a probe (byte {live:#x})"
        );
    }
    let progs = weft_programs_loaded();
    assert!(
        progs.is_empty(),
        "{when}: BPF programs still loaded: {progs:?}"
    );
}

fn check_lifecycle(minor: u32, stripped: bool) {
    require_privileges();
    let _serial = serial();
    let bin = build(minor, stripped);
    let (workers, children) = (20u32, 6u32);
    let mut prog = Program::start(&bin, workers, children);
    let pid = prog.pid();
    let probed_target = Target::open(pid).unwrap();
    assert_no_probes(pid, &probed_target, "before attaching");

    let mut session = Session::open(pid).unwrap();
    session.attach(ProbeSet::Lifecycle).unwrap();
    session.attach(ProbeSet::ParkReady).unwrap();
    // The check above is not vacuous: attached probes show in the process.
    for (what, live, _) in probe_bytes(pid, &probed_target) {
        assert_eq!(live, 0xcc, "{what} should carry a uprobe now");
    }
    let Report {
        created,
        exited,
        chan,
        wake,
    } = prog.run();
    // The odd workers block for good on one channel: each must be seen
    // parking on it, in a channel receive.
    let blocked: BTreeSet<u64> = created
        .iter()
        .filter(|(g, (_, f))| f == "main.worker" && !exited.contains(g))
        .map(|(g, _)| *g)
        .collect();
    assert_eq!(blocked.len() as u32, workers / 2);
    let mut parked_on_chan = BTreeSet::new();
    // Workers, the spawner, its children and the waiter.
    assert_eq!(
        created.len() as u32,
        workers + 1 + children + 1,
        "{created:?}"
    );
    assert_eq!(exited.len() as u32, workers / 2 + 1 + children + 1);
    let mut wake_seen = false;

    // Poll until every expected event arrived (the machine may be loaded).
    let mut summary = Summary::default();
    let mut seen_created: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    let mut seen_exited = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && !(created.keys().all(|g| seen_created.contains_key(g))
            && exited.iter().all(|g| seen_exited.contains(g))
            && blocked.is_subset(&parked_on_chan)
            && wake_seen)
    {
        for ev in session.poll(Duration::from_millis(200)).unwrap() {
            let t = session.target();
            summary.add(&ev, |pc| t.function_name(pc));
            match ev.kind {
                EventKind::Create => {
                    let f = t.function_name(ev.pc).to_string();
                    assert!(
                        seen_created.insert(ev.goid, (ev.other, f)).is_none(),
                        "goroutine {} created twice",
                        ev.goid
                    );
                }
                EventKind::Exit => {
                    seen_exited.insert(ev.goid);
                }
                EventKind::Park => {
                    if blocked.contains(&ev.goid) && t.parked_channel(&ev) == Some(chan) {
                        assert_eq!(t.wait_reason(ev.aux), "chan receive");
                        parked_on_chan.insert(ev.goid);
                    }
                }
                EventKind::Ready => {
                    // The waker comes from g0.m.curg: check it on the
                    // one hand-off whose parties are known.
                    if (ev.goid, ev.other) == (wake.1, wake.0)
                        || (ev.goid, ev.other) == (wake.0, wake.1)
                    {
                        wake_seen = true;
                    }
                }
            }
        }
    }
    // Exactly what the program did, among its own goroutines (the runtime
    // may start helpers of its own, e.g. GC workers: those are not main.*).
    let ours: BTreeMap<u64, (u64, String)> = seen_created
        .iter()
        .filter(|(_, (_, f))| f.starts_with("main."))
        .map(|(g, v)| (*g, v.clone()))
        .collect();
    assert_eq!(
        ours, created,
        "creations seen by the probes vs. the program"
    );
    let ours_exited: BTreeSet<u64> = seen_exited
        .iter()
        .copied()
        .filter(|g| created.contains_key(g))
        .collect();
    assert_eq!(
        ours_exited, exited,
        "exits seen by the probes vs. the program"
    );
    assert_eq!(
        summary.created_by_function.get("main.worker"),
        Some(&(workers as u64))
    );
    assert_eq!(
        summary.created_by_function.get("main.child"),
        Some(&(children as u64))
    );
    let counts = session.counts().unwrap();
    assert_eq!(counts.dropped, 0);
    assert_eq!(counts.bad_reads, 0);
    assert!(counts.create >= created.len() as u64, "{counts:?}");
    assert_eq!(
        parked_on_chan, blocked,
        "workers seen parking on channel {chan:#x} vs. those blocked on it"
    );
    assert!(
        wake_seen,
        "no ready event between main (g{}) and main.waiter (g{})",
        wake.0, wake.1
    );

    drop(session);
    assert_no_probes(pid, &probed_target, "after the session was dropped");
}

#[test]
fn lifecycle_go1_22() {
    check_lifecycle(22, false);
}

#[test]
fn lifecycle_go1_23_stripped() {
    check_lifecycle(23, true);
}

#[test]
fn lifecycle_go1_24() {
    check_lifecycle(24, false);
}

#[test]
fn lifecycle_go1_25() {
    check_lifecycle(25, false);
}

#[test]
fn lifecycle_go1_26_stripped() {
    check_lifecycle(26, true);
}

#[test]
fn lifecycle_go1_27() {
    check_lifecycle(27, false);
}

/// A park/ready burst: while on, the blocking workers are seen parking;
/// once detached, its probes are gone while the process runs on.
#[test]
fn park_ready_burst_sees_blocking_workers() {
    require_privileges();
    let _serial = serial();
    let bin = build(27, false);
    let (workers, children) = (10u32, 2u32);
    let mut prog = Program::start(&bin, workers, children);
    let pid = prog.pid();
    let mut session = Session::open(pid).unwrap();
    session.attach(ProbeSet::ParkReady).unwrap();
    let created = prog.run().created;
    // The odd workers park on `forever` for good: each must be seen parking.
    let blocked: BTreeSet<u64> = created
        .iter()
        .filter(|(_, (_, f))| f == "main.worker")
        .map(|(g, _)| *g)
        .collect();
    let mut parked = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && parked.intersection(&blocked).count() < (workers / 2) as usize
    {
        for ev in session.poll(Duration::from_millis(200)).unwrap() {
            assert!(
                matches!(ev.kind, EventKind::Park | EventKind::Ready),
                "{ev:?}"
            );
            if ev.kind == EventKind::Park {
                parked.insert(ev.goid);
            }
        }
    }
    assert!(
        parked.intersection(&blocked).count() >= (workers / 2) as usize,
        "parked {parked:?}, workers {blocked:?}"
    );
    session.detach(ProbeSet::ParkReady).unwrap();
    let t = Target::open(pid).unwrap();
    for (what, live, file) in probe_bytes(pid, &t) {
        assert_eq!(live, file, "after detach: {what}");
    }
}

/// A child process (this test binary, re-run as a helper) probes the
/// program and is killed with SIGKILL while its probes are on: the kernel
/// must remove them.
#[test]
fn probes_are_removed_when_weft_is_killed() {
    require_privileges();
    let _serial = serial();
    let bin = build(22, false);
    let prog = Program::start(&bin, 4, 2);
    let pid = prog.pid();
    let target = Target::open(pid).unwrap();
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_probe_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WEFT_EBPF_HELPER_PID", pid.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut out = helper.stdout.take().unwrap();
    let helper = Kill(helper);
    // Wait for the helper to say its probes are on.
    let mut text = String::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text.contains("ATTACHED") {
        assert!(Instant::now() < deadline, "helper never attached: {text}");
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "helper ended before attaching: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let on = probe_bytes(pid, &target);
    assert!(
        on.iter().all(|(_, live, _)| *live == 0xcc),
        "every probe should be on while the helper runs: {on:?}"
    );
    unsafe { libc::kill(helper.0.id() as i32, libc::SIGKILL) };
    drop(helper);
    // The kernel releases the descriptors when the process is reaped.
    assert_no_probes(pid, &target, "after the probing process was killed");
    drop(prog);
}

/// Not a test on its own: `probes_are_removed_when_weft_is_killed` runs it
/// in a child process (it does nothing without WEFT_EBPF_HELPER_PID).
#[test]
fn helper_probe_until_killed() {
    let Ok(pid) = std::env::var("WEFT_EBPF_HELPER_PID") else {
        return;
    };
    let mut s = Session::open(pid.parse().unwrap()).unwrap();
    s.attach(ProbeSet::Lifecycle).unwrap();
    s.attach(ProbeSet::ParkReady).unwrap();
    println!("ATTACHED");
    std::io::stdout().flush().unwrap();
    loop {
        let _ = s.poll(Duration::from_millis(100)).unwrap();
    }
}
