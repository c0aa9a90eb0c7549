//! `weft probes pid:N` end to end, on real Go programs: a clear error with
//! the fix when run without privileges, a clean stop on SIGINT with every
//! probe removed, and the rate guard removing a set that fires too often.
//! Needs root and a weft built with clang (CI has both).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Builds a Go program (a directory relative to the repository root) with Go 1.26.
fn build(dir: &str) -> PathBuf {
    weft_testkit::build_go("1.26", dir, ".")
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a Go program that prints READY first and waits on stdin.
fn start(bin: &Path, args: &[&str]) -> Kill {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the Go program");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "READY");
    Kill(child)
}

fn require_privileges() {
    if let Err(e) = weft_ebpf::preflight() {
        panic!("these tests need to load BPF programs (run them as root, with clang installed at build time): {e}");
    }
}

/// (live byte, file byte) at every probe point of `pid`.
fn probe_bytes(pid: u32) -> Vec<(u8, u8)> {
    let t = weft_ebpf::Target::open(pid).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let exe = std::fs::File::open(format!("/proc/{pid}/exe")).unwrap();
    t.points
        .iter()
        .map(|p| {
            let (mut a, mut b) = ([0u8], [0u8]);
            mem.read_exact_at(&mut a, p.addr + t.bias).unwrap();
            exe.read_exact_at(&mut b, p.file_offset).unwrap();
            (a[0], b[0])
        })
        .collect()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `weft probes pid:N ARGS` (output piped) and waits until every
/// probe is placed in the target.
fn probing(pid: u32, args: &[&str]) -> Kill {
    let weft = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("probes")
        .arg(format!("pid:{pid}"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let weft = Kill(weft);
    wait_for("every probe to be placed", || {
        probe_bytes(pid).iter().all(|&(live, _)| live == 0xcc)
    });
    weft
}

#[test]
fn without_privileges_the_error_names_the_fix() {
    // Drop to nobody with no capabilities, as an unprivileged user runs it.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            env!("CARGO_BIN_EXE_weft"),
            "probes",
            "pid:1",
        ])
        .output()
        .expect("setpriv (util-linux) is needed for this test");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    if weft_ebpf::COMPILED_IN {
        assert!(
            err.contains("CAP_BPF") && err.contains("CAP_PERFMON"),
            "{err}"
        );
        assert!(
            err.contains("sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep"),
            "{err}"
        );
        // With the BPF capabilities but not CAP_SYS_PTRACE, another
        // user's process cannot be read: that error names its fix too.
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=+bpf,+perfmon",
                "--ambient-caps=+bpf,+perfmon",
                "--",
                env!("CARGO_BIN_EXE_weft"),
                "probes",
                "pid:1",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "stderr: {err}");
        assert!(
            err.contains("cannot read /proc/1/exe") && err.contains("CAP_SYS_PTRACE"),
            "{err}"
        );
        assert!(err.contains("sudo setcap"), "{err}");
    } else {
        assert!(err.contains("install clang"), "{err}");
    }
}

#[test]
fn sigint_stops_cleanly_and_removes_every_probe() {
    require_privileges();
    let bin = build("testdata/programs/ebpf-lifecycle");
    let target = start(&bin, &["-workers", "4", "-children", "2"]);
    let pid = target.0.id();
    let mut weft = probing(pid, &["--duration", "5m", "--park-ready", "10s"]);
    unsafe { libc::kill(weft.0.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = weft.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "weft did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    weft.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{status}: {out}");
    assert!(out.contains("(interrupted); probes removed"), "{out}");
    // Descriptors close as weft exits; the kernel may take a moment.
    wait_for("every probe to be removed after SIGINT", || {
        probe_bytes(pid).iter().all(|&(live, file)| live == file)
    });
}

#[test]
fn rate_guard_removes_a_set_that_fires_too_often() {
    require_privileges();
    // Starts a goroutine per operation: creation/exit probes fire constantly.
    let bin = build("bench/ebpf/chanbench");
    let target = start(&bin, &["-mode", "spawn", "-pairs", "1"]);
    let pid = target.0.id();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "probes",
            &format!("pid:{pid}"),
            "--duration",
            "60s",
            "--max-rate",
            "500",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("creation/exit probes fired") && stderr.contains("removed them"),
        "{stderr}"
    );
    assert!(
        stdout.contains("every probe set was removed for its rate"),
        "{stdout}"
    );
    // Descriptors close as weft exits; the kernel may take a moment.
    wait_for("every probe to be removed after the rate guard", || {
        probe_bytes(pid).iter().all(|&(live, file)| live == file)
    });
}

#[test]
fn json_output_lists_what_the_program_says_it_did() {
    require_privileges();
    let bin = build("testdata/programs/ebpf-lifecycle");
    let mut target = start(&bin, &["-workers", "6", "-children", "3"]);
    let pid = target.0.id();
    let mut weft = probing(pid, &["--duration", "60s", "--park-ready", "10s", "--json"]);
    // Let the program act, and read what it says it did.
    use std::io::Write as _;
    target.0.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let mut said = Vec::new();
    let mut r = BufReader::new(target.0.stdout.as_mut().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "the program stopped early"
        );
        if line.trim() == "DONE" {
            break;
        }
        said.push(line.trim().to_string());
    }
    // Give the last events a moment to reach weft, then stop it.
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(weft.0.id() as i32, libc::SIGINT) };
    let mut out = String::new();
    weft.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = weft.0.wait().unwrap();
    assert!(status.success(), "{status}: {out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["pid"], pid);
    assert_eq!(doc["probes_removed"], true);

    // Every creation the program reports, with its parent and function.
    let created: Vec<(u64, u64, String)> = doc["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["goid"].as_u64().unwrap(),
                c["parent"].as_u64().unwrap(),
                c["function"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected_created = 0;
    for l in &said {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f.first() {
            Some(&"CREATED") => {
                expected_created += 1;
                let want = (
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].to_string(),
                );
                assert!(created.contains(&want), "{want:?} missing from {created:?}");
            }
            Some(&"EXITED") => {
                let id: u64 = f[1].parse().unwrap();
                assert!(
                    doc["exited"].as_array().unwrap().iter().any(|x| x == id),
                    "exit of g{id} missing: {}",
                    doc["exited"]
                );
            }
            Some(&"WAKE") => {
                // The hand-off over an unbuffered channel: whichever of the
                // two got there first is woken by the other.
                let (a, b): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                assert!(
                    doc["wakes"].as_array().unwrap().iter().any(|w| {
                        (w["waker"] == a && w["woken"] == b) || (w["waker"] == b && w["woken"] == a)
                    }),
                    "no wake between g{a} and g{b}: {}",
                    doc["wakes"]
                );
            }
            Some(&"CHAN") => {
                let addr = u64::from_str_radix(f[1].trim_start_matches("0x"), 16).unwrap();
                assert!(
                    doc["channels"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c["addr"] == addr),
                    "parks on chan {addr:#x} missing: {}",
                    doc["channels"]
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        expected_created,
        6 + 1 + 3 + 1,
        "the program's own report: {said:?}"
    );
    // Nothing invented: the program's own goroutines are exactly those (the
    // runtime may start helpers of its own meanwhile).
    let ours = created.iter().filter(|c| c.2.starts_with("main.")).count();
    assert_eq!(ours, expected_created, "{created:?}");
}
