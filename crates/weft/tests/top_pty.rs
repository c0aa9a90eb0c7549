//! `weft top` for real: the binary runs in a pseudo-terminal against a real
//! Go program serving net/http/pprof on loopback; the screen is read back
//! through a terminal emulator (vt100), keys are typed into the terminal,
//! and after `q` the terminal must be back in its normal mode.

#[path = "../../weft-tui/tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use support::Target;

const ROWS: u16 = 45;
const COLS: u16 = 150;

/// A `weft top` process in a pty, with everything it printed.
struct Session {
    master: Box<dyn MasterPty + Send>,
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Session {
    fn start(args: &[&str]) -> Session {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("opening a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_weft"));
        cmd.arg("top");
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).expect("starting weft top");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Session {
            master: pair.master,
            child,
            writer,
            output,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.output.lock().unwrap().clone()
    }

    /// The screen as a terminal would show it now.
    fn screen(&self) -> String {
        let mut p = vt100::Parser::new(ROWS, COLS, 0);
        p.process(&self.bytes());
        p.screen().contents()
    }

    /// Waits until the screen contains every one of `needles`.
    fn wait_for(&self, needles: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "screen never showed {needles:?}; it shows:\n{s}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.writer.write_all(keys).unwrap();
        self.writer.flush().unwrap();
    }

    fn fd(&self) -> RawFd {
        self.master.as_raw_fd().expect("pty master fd")
    }

    fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "weft top did not exit within {timeout:?}; screen:\n{}",
                    self.screen()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

/// The terminal's line discipline flags (canonical mode, echo).
fn local_flags(fd: RawFd) -> libc::tcflag_t {
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // On Linux the master side reports the terminal's (slave's) settings.
    let rc = unsafe { libc::tcgetattr(fd, &mut t) };
    assert_eq!(rc, 0, "tcgetattr: {}", std::io::Error::last_os_error());
    t.c_lflag
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn weft_top_runs_in_a_terminal_and_restores_it_on_quit() {
    let target = Target::start(&["-n", "3000"]);
    let mut s = Session::start(&[&target.url]);
    let cooked = libc::ICANON | libc::ECHO;

    let screen = s.wait_for(
        &["main.parkedReceiver", "connected", "1200"],
        Duration::from_secs(60),
    );
    assert!(screen.contains("main.parkedWaiter"), "{screen}");
    // Full-screen mode: raw input while the UI runs.
    assert_eq!(
        local_flags(s.fd()) & cooked,
        0,
        "terminal should be in raw mode while weft top runs"
    );

    // Keys work through the real terminal: search, then details for the
    // selected group (3000 goroutines is under the debug=2 limit).
    s.type_keys(b"/parkedWaiter\r");
    s.wait_for(
        &["300 goroutine(s)", "sync.(*WaitGroup).Wait"],
        Duration::from_secs(20),
    );
    s.type_keys(b"d");
    s.wait_for(
        &["details: 300 goroutine(s) in the last debug=2 dump"],
        Duration::from_secs(30),
    );

    s.type_keys(b"q");
    let status = s.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");

    // The terminal is back: cooked mode, main screen, cursor shown.
    assert_eq!(
        local_flags(s.fd()) & cooked,
        cooked,
        "terminal left in raw mode"
    );
    let out = s.bytes();
    let entered = find(&out, b"\x1b[?1049h").expect("entered the alternate screen");
    let left = find(&out[entered..], b"\x1b[?1049l").expect("left the alternate screen") + entered;
    assert!(
        find(&out[left..], b"\x1b[?25h").is_some()
            || find(&out[..left], b"\x1b[?25h").is_some_and(|i| i > entered)
    );
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let target = Target::start(&["-n", "200"]);
    let mut s = Session::start(&[&target.url]);
    s.wait_for(
        &["main.parkedSelector", "connected"],
        Duration::from_secs(60),
    );
    s.type_keys(&[0x03]);
    let status = s.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
    let cooked = libc::ICANON | libc::ECHO;
    assert_eq!(
        local_flags(s.fd()) & cooked,
        cooked,
        "terminal left in raw mode"
    );
    assert!(find(&s.bytes(), b"\x1b[?1049l").is_some());
}

#[test]
fn weft_top_shows_a_dump_file_statically() {
    let target = Target::start(&["-n", "100"]);
    let dir = std::env::temp_dir().join(format!("weft-top-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dump.txt");
    std::fs::write(&file, target.get("/debug/pprof/goroutine?debug=2")).unwrap();
    drop(target);
    let mut s = Session::start(&[file.to_str().unwrap()]);
    let screen = s.wait_for(
        &["main.parkedReceiver", "file (static)"],
        Duration::from_secs(30),
    );
    assert!(screen.contains("chan receive"), "{screen}");
    assert!(!screen.contains("DISCONNECTED"), "{screen}");
    s.type_keys(b"q");
    assert!(s.wait_exit(Duration::from_secs(15)).success());
}

#[test]
fn weft_top_reads_a_process_by_pid() {
    let target = Target::start(&["-n", "500"]);
    let pid = target.child.id();
    let mut s = Session::start(&[&format!("pid:{pid}")]);
    // Memory reading sees each goroutine's own state, unlike debug=1.
    let screen = s.wait_for(
        &["main.parkedReceiver", "chan receive", "(memory)"],
        Duration::from_secs(60),
    );
    assert!(screen.contains("connected"), "{screen}");
    s.type_keys(b"q");
    assert!(s.wait_exit(Duration::from_secs(15)).success());
}

#[test]
fn sigterm_quits_and_restores_the_terminal() {
    let target = Target::start(&["-n", "200"]);
    let mut s = Session::start(&[&target.url]);
    s.wait_for(
        &["main.parkedSelector", "connected"],
        Duration::from_secs(60),
    );
    let pid = s.child.process_id().expect("child pid") as libc::pid_t;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(s.wait_exit(Duration::from_secs(15)).success());
    let cooked = libc::ICANON | libc::ECHO;
    assert_eq!(
        local_flags(s.fd()) & cooked,
        cooked,
        "terminal left in raw mode"
    );
    assert!(find(&s.bytes(), b"\x1b[?1049l").is_some());
}

#[test]
fn bad_sources_and_missing_terminals_are_clear_errors() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .arg("top")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["/no/such/dump.txt"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/no/such/dump.txt"), "{err}");

    let out = run(&["--interval", "0", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interval"));

    // Piped output: no full-screen UI, and it says what to use instead.
    let out = run(&["http://127.0.0.1:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("needs a terminal") && err.contains("weft snapshot"),
        "{err}"
    );
}
