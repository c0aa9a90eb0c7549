//! weft-attach against real Go programs: `testdata/programs/attach` built by
//! each toolchain 1.22–1.27, plain and stripped (`-ldflags=-s -w`), started
//! here; the snapshot read from memory must match the program's own
//! `debug=2` dump. Needs root (or CAP_SYS_PTRACE), as CI has.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use weft_attach::{AttachError, AttachOptions, Attacher, Layout};
use weft_model::{Record, Snapshot};

fn go(minor: u32) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let p = PathBuf::from(home).join(format!(".cache/weft/go1.{minor}/bin/go"));
    assert!(
        p.exists(),
        "Go 1.{minor} toolchain missing at {}: run scripts/install-go-toolchains.sh",
        p.display()
    );
    p
}

fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Remove what earlier runs left behind (their process is gone).
        if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("weft-attach-tests-") {
                    if !Path::new(&format!("/proc/{pid}")).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let d = std::env::temp_dir().join(format!("weft-attach-tests-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fn program_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/programs")
        .join(name)
}

/// Builds the attach test program with Go 1.`minor`.
fn build(minor: u32, stripped: bool) -> PathBuf {
    build_with(minor, stripped, false, false)
}

/// Same, optionally as a position-independent executable (loaded at a
/// random base, so every address needs the load bias).
fn build_with(minor: u32, stripped: bool, pie: bool, arm64: bool) -> PathBuf {
    build_program_for("attach", minor, stripped, pie, arm64)
}

/// Builds `testdata/programs/<name>` with Go 1.`minor`.
fn build_program(name: &str, minor: u32, stripped: bool, pie: bool) -> PathBuf {
    build_program_for(name, minor, stripped, pie, false)
}

/// As [`build_program`], for arm64 (`GOARCH=arm64`) if `arm64`.
fn build_program_for(name: &str, minor: u32, stripped: bool, pie: bool, arm64: bool) -> PathBuf {
    let out = work_dir().join(format!(
        "{name}-go1.{minor}{}{}{}",
        if stripped { "-stripped" } else { "" },
        if pie { "-pie" } else { "" },
        if arm64 { "-arm64" } else { "" }
    ));
    let mut cmd = Command::new(go(minor));
    cmd.current_dir(program_dir(name))
        .env("GOTOOLCHAIN", "local")
        .env("GOARCH", if arm64 { "arm64" } else { "amd64" })
        .arg("build")
        .arg("-o")
        .arg(&out);
    if stripped {
        cmd.arg("-ldflags=-s -w");
    }
    if pie {
        cmd.arg("-buildmode=pie");
    }
    let res = cmd.arg(".").output().expect("running go build");
    assert!(
        res.status.success(),
        "go 1.{minor} build failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// A started target, killed on drop.
struct Target {
    child: Child,
    port: u16,
}

/// Runs arm64 programs on this amd64 machine (Debian's qemu-user-static).
const QEMU_ARM64: &str = "/usr/bin/qemu-aarch64-static";

impl Target {
    /// Starts `bin`; an arm64 one under qemu-user, whose process weft then
    /// reads as it would a native one.
    fn start(bin: &Path, arm64: bool) -> Target {
        let mut cmd = if arm64 {
            assert!(
                Path::new(QEMU_ARM64).exists(),
                "{QEMU_ARM64} is missing: apt-get install qemu-user-static (.ci/run installs it)"
            );
            let mut c = Command::new(QEMU_ARM64);
            c.arg(bin);
            c
        } else {
            Command::new(bin)
        };
        // Go 1.26+ prints pprof labels in its dump with this setting.
        let mut child = cmd
            .env("GODEBUG", "tracebacklabels=1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting target");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("target printed {line:?}, expected PORT n"));
        Target { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn get(&self, path: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("HTTP response without header end");
        assert!(
            buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200"),
            "{}",
            String::from_utf8_lossy(&buf[..split])
        );
        buf[split + 4..].to_vec()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn by_status(s: &Snapshot) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in &s.records {
        *m.entry(r.status.clone()).or_insert(0) += r.count;
    }
    m
}

fn show(r: &Record) -> String {
    let mut s = format!("goroutine {:?} [{}]\n", r.ids, r.status);
    for f in &r.stack {
        s += &format!("  {} {}:{}\n", f.func, f.file, f.line);
    }
    if let Some(c) = &r.created_by {
        s += &format!(
            "  created by {} in {:?} {}:{}\n",
            c.func, r.creator_id, c.file, c.line
        );
    }
    s
}

fn records_of<'a>(s: &'a Snapshot, top_func: &str) -> Vec<&'a Record> {
    s.records
        .iter()
        .filter(|r| {
            r.stack.first().is_some_and(|f| f.func == top_func)
                || r.stack.iter().any(|f| f.func == top_func)
        })
        .collect()
}

/// The whole check for one binary.
fn check(minor: u32, stripped: bool) {
    check_with(minor, stripped, false, false)
}

fn check_with(minor: u32, stripped: bool, pie: bool, arm64: bool) {
    let bin = build_with(minor, stripped, pie, arm64);
    let target = Target::start(&bin, arm64);
    // main prints the port and then parks in `select {}`: reading memory
    // right after the port line can catch it still in the write syscall, so
    // wait until the program's own dump shows main parked.
    let settled = Instant::now();
    loop {
        let dump = weft_profile::parse(&target.get("/debug/pprof/goroutine?debug=2"))
            .expect("parsing the target's dump");
        let main_parked = dump
            .records
            .iter()
            .any(|r| r.ids == [1] && r.status == "select (no cases)");
        if main_parked {
            break;
        }
        assert!(
            settled.elapsed() < Duration::from_secs(20),
            "target's main goroutine never parked in select {{}}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let what = format!(
        "go1.{minor}{}{}{}",
        if stripped { " stripped" } else { "" },
        if pie { " pie" } else { "" },
        if arm64 { " arm64 (qemu-user)" } else { "" }
    );
    let mut a = Attacher::new(target.pid()).unwrap_or_else(|e| panic!("{what}: attach: {e}"));
    assert!(
        a.go_version().starts_with(&format!("go1.{minor}")),
        "{what}: version {}",
        a.go_version()
    );
    assert_eq!(a.layout_from_dwarf(), !stripped, "{what}");
    if !stripped {
        // The built-in table for stripped binaries must agree with DWARF.
        assert_eq!(
            Some(a.layout()),
            Layout::for_version(minor).as_ref(),
            "{what}: fallback layout table differs from DWARF"
        );
    }
    // The HTTP goroutine that just served the dump can still be in its
    // write/close syscall for a moment after the answer arrived: sample
    // until only the program's own syscall goroutine is in one (the checks
    // below stay exact).
    let mut tries = 0;
    let ours = loop {
        let ours = a
            .snapshot(&AttachOptions::default())
            .unwrap_or_else(|e| panic!("{what}: snapshot: {e}"));
        tries += 1;
        if by_status(&ours).get("syscall").copied() == Some(1) || tries >= 40 {
            break ours;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ours.form, weft_model::SourceForm::Memory);
    let dump = weft_profile::parse(&target.get("/debug/pprof/goroutine?debug=2"))
        .expect("parsing the target's dump");

    // Same goroutines: every goroutine of the dump except the one serving
    // the dump itself (running), and nothing more.
    let ours_by_id: HashMap<u64, &Record> = ours.records.iter().map(|r| (r.ids[0], r)).collect();
    // (and the goroutines it started after our sample).
    let serving: Vec<u64> = dump
        .records
        .iter()
        .filter(|r| r.status == "running")
        .map(|r| r.ids[0])
        .collect();
    let dump_parked: Vec<&Record> = dump
        .records
        .iter()
        .filter(|r| r.status != "running" && !r.creator_id.is_some_and(|c| serving.contains(&c)))
        .collect();
    let extra: String = dump_parked
        .iter()
        .filter(|d| !ours_by_id.contains_key(&d.ids[0]))
        .map(|r| show(r))
        .collect();
    assert_eq!(
        ours.records.len(),
        dump_parked.len(),
        "{what}: goroutine count; in the dump only:\n{extra}"
    );
    for d in &dump_parked {
        let o = ours_by_id.get(&d.ids[0]).unwrap_or_else(|| {
            panic!(
                "{what}: goroutine {:?} of the dump is missing:\n{}",
                d.ids,
                show(d)
            )
        });
        if d.stack.iter().any(|f| f.func == "net/http.(*Server).Serve") {
            // The accept loop wakes up for our own HTTP request in between.
            continue;
        }
        let key = |r: &Record| {
            r.stack
                .iter()
                .map(|f| (f.func.clone(), f.file.clone(), f.line))
                .collect::<Vec<_>>()
        };
        assert_eq!(o.status, d.status, "{what}: status of {:?}", d.ids);
        assert_eq!(o.class, d.class, "{what}: class of {:?}", d.ids);
        assert_eq!(
            key(o),
            key(d),
            "{what}: stack of goroutine {:?}\nours:\n{}dump:\n{}",
            d.ids,
            show(o),
            show(d)
        );
        assert_eq!(
            o.created_by.as_ref().map(|f| (&f.func, &f.file, f.line)),
            d.created_by.as_ref().map(|f| (&f.func, &f.file, f.line)),
            "{what}: created by of {:?}",
            d.ids
        );
        assert_eq!(o.creator_id, d.creator_id, "{what}: creator of {:?}", d.ids);
        assert_eq!(
            o.locked_to_thread, d.locked_to_thread,
            "{what}: locked to thread, {:?}",
            d.ids
        );
        if minor >= 26 {
            assert_eq!(o.labels, d.labels, "{what}: labels of {:?}", d.ids);
        }
    }

    let counts = by_status(&ours);
    for (status, n) in [
        ("chan receive", 6),
        ("chan send", 4),
        ("select", 3),
        ("sync.Mutex.Lock", 2),
        ("sleep", 3),
        (
            if minor < 24 {
                "semacquire"
            } else {
                "sync.WaitGroup.Wait"
            },
            2,
        ),
        ("select (no cases)", 1),
        ("syscall", 1),
    ] {
        assert_eq!(
            counts.get(status).copied(),
            Some(n),
            "{what}: goroutines in {status:?}: {counts:?}"
        );
    }

    // pprof labels: read from Go 1.24 on (a slice); 1.22–1.23 keep a map.
    let lab = records_of(&ours, "main.labelled");
    assert_eq!(lab.len(), 1, "{what}");
    let want: BTreeMap<String, String> = if minor >= 24 {
        [("id", "7"), ("worker", "labelled")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    } else {
        BTreeMap::new()
    };
    assert_eq!(lab[0].labels, want, "{what}");

    let pinned = records_of(&ours, "main.pinned");
    assert!(
        pinned.len() == 1 && pinned[0].locked_to_thread,
        "{what}: pinned goroutine {pinned:?}"
    );
    assert_eq!(
        ours.records.iter().filter(|r| r.locked_to_thread).count(),
        1,
        "{what}"
    );

    // Channel identity: one addr per channel, with its cap/len.
    let recv = records_of(&ours, "main.receiver");
    assert_eq!(recv.len(), 5, "{what}");
    let r0 = &recv[0].wait_on;
    assert_eq!(r0.len(), 1, "{what}: receiver waits on {r0:?}");
    assert_eq!(
        (
            r0[0].kind.as_str(),
            r0[0].direction.as_str(),
            r0[0].cap,
            r0[0].len,
            r0[0].closed
        ),
        ("chan", "recv", Some(0), Some(0), Some(false)),
        "{what}"
    );
    assert!(
        recv.iter().all(|r| r.wait_on == *r0),
        "{what}: receivers on one channel must share one addr"
    );
    let send = records_of(&ours, "main.sender");
    assert_eq!(send.len(), 4, "{what}");
    let s0 = &send[0].wait_on;
    assert_eq!(s0.len(), 1, "{what}");
    assert_eq!(
        (s0[0].direction.as_str(), s0[0].cap, s0[0].len),
        ("send", Some(3), Some(3)),
        "{what}"
    );
    assert!(send.iter().all(|r| r.wait_on == *s0), "{what}");
    assert_ne!(s0[0].addr, r0[0].addr, "{what}");
    let sel = records_of(&ours, "main.selector");
    assert_eq!(sel.len(), 3, "{what}");
    let mut w: Vec<_> = sel[0]
        .wait_on
        .iter()
        .map(|w| (w.direction.clone(), w.cap, w.len))
        .collect();
    w.sort();
    assert_eq!(
        w,
        vec![
            ("select".to_string(), Some(0), Some(0)),
            ("select".to_string(), Some(2), Some(0))
        ],
        "{what}"
    );
    assert!(sel.iter().all(|r| r.wait_on == sel[0].wait_on), "{what}");
    assert!(
        records_of(&ours, "main.locker")
            .iter()
            .all(|r| r.wait_on.is_empty()),
        "{what}"
    );

    // A second sample reuses the stacks of goroutines that did not move;
    // they must come out the same as read fresh.
    let reuse = AttachOptions {
        reuse_stacks: true,
        ..Default::default()
    };
    a.snapshot(&reuse).unwrap();
    let again = a.snapshot(&reuse).unwrap();
    assert!(
        a.last_stats().stacks_reused >= 19,
        "{what}: {:?}",
        a.last_stats()
    );
    for r in &ours.records {
        if r.stack.iter().any(|f| f.func.starts_with("main.")) {
            let r2 = again
                .records
                .iter()
                .find(|x| x.ids == r.ids)
                .unwrap_or_else(|| panic!("{what}: {:?} gone", r.ids));
            assert_eq!(
                (&r2.status, &r2.stack, &r2.wait_on),
                (&r.status, &r.stack, &r.wait_on),
                "{what}"
            );
        }
    }

    // Repeated samples reuse the parsed binary; a stopped sample sees the
    // same table and the target keeps running afterwards.
    let stopped = a
        .snapshot(&AttachOptions {
            stop_target: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_status(&stopped).get("chan receive"), Some(&6), "{what}");
    assert!(
        !target.get("/debug/pprof/goroutine?debug=1").is_empty(),
        "{what}: target must still serve after a stopped sample"
    );
    let st = a.last_stats();
    assert_eq!((st.invalid, st.torn_stacks), (0, 0), "{what}: {st:?}");
}

macro_rules! per_toolchain {
    ($($name:ident: $minor:expr, $stripped:expr;)*) => {$(
        #[test]
        fn $name() {
            check($minor, $stripped);
        }
    )*};
}

per_toolchain! {
    go1_22_plain: 22, false;
    go1_22_stripped: 22, true;
    go1_23_plain: 23, false;
    go1_23_stripped: 23, true;
    go1_24_plain: 24, false;
    go1_24_stripped: 24, true;
    go1_25_plain: 25, false;
    go1_25_stripped: 25, true;
    go1_26_plain: 26, false;
    go1_26_stripped: 26, true;
    go1_27_plain: 27, false;
    go1_27_stripped: 27, true;
}

#[test]
fn go1_22_pie() {
    check_with(22, false, true, false);
}

#[test]
fn go1_27_pie_stripped() {
    check_with(27, true, true, false);
}

// arm64 programs run under qemu-user on this amd64 machine: the same
// checks against the program's own dump exercise arm64's unwinding (the
// link register saved at the bottom of each frame), its pclntab and the
// layout tables for stripped binaries.
#[test]
fn go1_22_arm64() {
    check_with(22, false, false, true);
}

#[test]
fn go1_25_arm64_stripped() {
    check_with(25, true, false, true);
}

// (No arm64 PIE: it needs arm64's dynamic loader, which Debian's amd64
// machines lack; the load bias is the same code on both architectures.)
#[test]
fn go1_27_arm64_stripped() {
    check_with(27, true, false, true);
}

/// Kills and reaps a child on drop, also when a test fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a target that is driven line by line (GOMAXPROCS=1): the child
/// (killed on drop), its stdout as lines, and its stdin.
fn start_driven(
    bin: &std::path::Path,
) -> (
    Reaped,
    BufReader<std::process::ChildStdout>,
    std::process::ChildStdin,
) {
    let mut child = Reaped(
        Command::new(bin)
            .env("GOMAXPROCS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting target"),
    );
    let lines = BufReader::new(child.0.stdout.take().unwrap());
    let stdin = child.0.stdin.take().unwrap();
    (child, lines, stdin)
}

/// A kept stack must never outlive a run of its goroutine. The target
/// (`testdata/programs/attach-reuse`, GOMAXPROCS=1) parks one goroutine at
/// the same pc and sp, usually on the same sudog, under alternating
/// callers; after each wake every sample must show the new caller, while
/// goroutines that did not run keep being reused.
fn reuse_follows_a_goroutine_that_ran(minor: u32, stripped: bool) {
    let what = format!("go1.{minor}{}", if stripped { " stripped" } else { "" });
    let bin = build_program("attach-reuse", minor, stripped, false);
    let (child, mut lines, mut stdin) = start_driven(&bin);
    let opts = AttachOptions::default();
    assert!(opts.reuse_stacks, "reuse is the default");
    let mut attacher = None;
    let mut max_reused = 0;
    for round in 0..12 {
        let (said, via) = if round % 2 == 0 {
            ("A", "main.viaA")
        } else {
            ("B", "main.viaB")
        };
        // It printed this after waking, so it has run since the last park.
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), said, "{what}: round {round}");
        // Attached once the program runs (a stripped binary's allgs is
        // found by its contents).
        let a = attacher.get_or_insert_with(|| {
            Attacher::new(child.0.id()).unwrap_or_else(|e| panic!("{what}: {e}"))
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut parked_samples = 0;
        while parked_samples < 3 {
            let snap = a.snapshot(&opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let looping = snap.records.iter().find(|r| {
                r.created_by.as_ref().is_some_and(|f| f.func == "main.main")
                    && r.stack.iter().all(|f| f.func != "main.idle")
            });
            match looping {
                Some(r) if r.status == "chan receive" => {
                    let funcs: Vec<&str> = r.stack.iter().map(|f| f.func.as_str()).collect();
                    assert_eq!(
                        funcs,
                        ["main.park", via, "main.loop"],
                        "{what}: round {round}, parked sample {parked_samples}: {:?}",
                        a.last_stats()
                    );
                    if parked_samples > 0 {
                        max_reused = max_reused.max(a.last_stats().stacks_reused);
                    }
                    parked_samples += 1;
                }
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "{what}: round {round}: the goroutine never parked again"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        writeln!(stdin, "wake").unwrap();
    }
    // The four idle goroutines and the parked one, unchanged between two
    // samples, were not read again.
    assert!(
        max_reused >= 5,
        "{what}: at most {max_reused} stacks reused"
    );
}

#[test]
fn reuse_follows_a_goroutine_that_ran_go1_22() {
    reuse_follows_a_goroutine_that_ran(22, false);
}

#[test]
fn reuse_follows_a_goroutine_that_ran_go1_24_stripped() {
    reuse_follows_a_goroutine_that_ran(24, true);
}

/// A coroutine switch (iter.Pull) parks a goroutine without touching the
/// fields that prove it has not run, so such goroutines are always read
/// afresh: the coroutine here yields from two functions in turn, at the
/// same pc and sp, and every sample must show the current one.
#[test]
fn coroutines_are_never_reused_go1_24() {
    let what = "go1.24 attach-coro";
    let bin = build_program("attach-coro", 24, false, false);
    let (child, mut lines, mut stdin) = start_driven(&bin);
    let opts = AttachOptions::default();
    let mut attacher = None;
    for round in 0..8 {
        let (said, via, not) = if round % 2 == 0 {
            ("A", "main.yieldA", "main.yieldB")
        } else {
            ("B", "main.yieldB", "main.yieldA")
        };
        // Printed once next() returned: the coroutine is parked in `via`.
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), said, "{what}: round {round}");
        let a = attacher.get_or_insert_with(|| {
            Attacher::new(child.0.id()).unwrap_or_else(|e| panic!("{what}: {e}"))
        });
        for sample in 0..3 {
            let snap = a.snapshot(&opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let coro = snap
                .records
                .iter()
                .find(|r| r.stack.iter().any(|f| f.func == "main.seq"))
                .unwrap_or_else(|| panic!("{what}: round {round}: no coroutine in {snap:?}"));
            let funcs: Vec<&str> = coro.stack.iter().map(|f| f.func.as_str()).collect();
            assert!(
                funcs.contains(&via) && !funcs.contains(&not),
                "{what}: round {round}, sample {sample}: {funcs:?} [{}]",
                coro.status
            );
        }
        writeln!(stdin, "next").unwrap();
    }
}

#[test]
fn missing_process_is_a_clear_error() {
    let err = Attacher::new(999_999_999).err().expect("no such pid");
    assert!(matches!(err, AttachError::NoProcess { .. }), "{err:?}");
    assert!(err.to_string().contains("no such process"), "{err}");
}

#[test]
fn non_go_process_is_a_clear_error() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let err = Attacher::new(child.id()).err();
    let _ = child.kill();
    let _ = child.wait();
    let err = err.expect("sleep is not a Go program");
    assert!(matches!(err, AttachError::NotGo { .. }), "{err:?}");
    assert!(err.to_string().contains("not a Go program"), "{err}");
}

/// An unprivileged user reading a root-owned Go process gets the fix.
#[test]
fn permission_error_names_the_fix() {
    // cargo test builds the examples next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/attach");
    assert!(
        example.exists(),
        "{} missing (cargo test builds examples)",
        example.display()
    );
    // Run a copy from our scratch dir: the build tree may not be reachable
    // for an unprivileged user (e.g. under /root).
    let copy = work_dir().join("attach-example");
    std::fs::copy(&example, &copy).unwrap();
    for dir in [work_dir(), copy.as_path()] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let example = copy;
    let bin = build(27, true);
    let target = Target::start(&bin, false);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&example)
        .arg(target.pid().to_string())
        .output()
        .expect("running setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "an unprivileged user must not read root's process: {err}"
    );
    assert!(
        err.contains("sudo") && (err.contains("not allowed") || err.contains("Permission")),
        "{err}"
    );
}

/// The binary parsers on corrupted Go executables: errors, never panics.
#[test]
fn corrupted_binaries_never_panic() {
    let good = std::fs::read(build(27, true)).unwrap();
    let (version, nfunc) = weft_attach::check_binary(&good).expect("the intact binary parses");
    assert!(
        version.starts_with("go1.27") && nfunc > 1000,
        "{version} {nfunc}"
    );
    // Corrupt bytes in the pclntab header and tables, and elsewhere.
    let magic = 0xFFFF_FFF1u32.to_le_bytes();
    let pcln = good
        .windows(8)
        .position(|w| w[..4] == magic && w[4] == 0 && w[5] == 0 && w[7] == 8)
        .expect("pclntab in file");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut errors = 0;
    for round in 0..40 {
        let mut bad = good.clone();
        let hits = 1 + rnd() % 16;
        for _ in 0..hits {
            let at = if round % 3 == 0 {
                rnd() as usize % bad.len()
            } else {
                pcln + (rnd() as usize % 0x20000)
            } % bad.len();
            bad[at] = rnd() as u8;
        }
        if weft_attach::check_binary(&bad).is_err() {
            errors += 1;
        }
    }
    for len in [0, 10, 64, 4096, good.len() / 2] {
        assert!(
            weft_attach::check_binary(&good[..len]).is_err(),
            "truncated to {len} bytes must be an error"
        );
    }
    eprintln!("{errors} of 40 corrupted binaries were rejected, the rest parsed");
}
