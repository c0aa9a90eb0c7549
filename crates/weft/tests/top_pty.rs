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
    // The target's goroutines park shortly after it starts: take the dump
    // once they have (an earlier one shows them runnable at `go` wrappers).
    let start = Instant::now();
    let dump = loop {
        let dump = target.get("/debug/pprof/goroutine?debug=2");
        let text = String::from_utf8_lossy(&dump);
        if text.contains("main.parkedReceiver") && text.contains("chan receive") {
            break dump;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the target's goroutines never parked:\n{text}"
        );
        thread::sleep(Duration::from_millis(100));
    };
    std::fs::write(&file, dump).unwrap();
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

/// When its terminal goes away (ssh dropped, terminal window closed: the pty
/// master is closed), `weft top` must quit instead of polling the target
/// forever with nobody watching. Built on a bare openpty(3) so that no
/// duplicate of the master stays open.
#[test]
fn weft_top_exits_when_its_terminal_hangs_up() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let target = Target::start(&["-n", "200"]);
    let (mut master, mut slave) = (-1, -1);
    let mut size = libc::winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: out-pointers to two ints and a winsize that outlive the call.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &mut size,
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    // Close-on-exec, so children that other tests spawn meanwhile do not
    // inherit a copy of the terminal and keep it from hanging up.
    for fd in [master, slave] {
        // SAFETY: setting a flag on our own open fd.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.args(["top", &target.url]).env("TERM", "xterm-256color");
    // SAFETY: dup'ing the slave fd for the child's stdio; it stays open until
    // the parent closes it below.
    unsafe {
        cmd.stdin(Stdio::from_raw_fd_dup(slave))
            .stdout(Stdio::from_raw_fd_dup(slave))
            .stderr(Stdio::from_raw_fd_dup(slave))
            .pre_exec(|| {
                // A session of its own with the pty as controlling terminal,
                // as a login shell would have.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
    }
    let mut child = cmd.spawn().expect("starting weft top");
    // The command holds our copies of the slave's stdio dups: drop them with
    // it, and close the slave itself, so that only the child has the slave.
    drop(cmd);
    // SAFETY: our own fd, closed once.
    unsafe { libc::close(slave) };

    // Drain the screen for a while so it is really running and drawing.
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    while start.elapsed() < Duration::from_secs(60) && find(&seen, b"connected").is_none() {
        let mut fds = libc::pollfd {
            fd: master,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut fds, 1, 200) } > 0 {
            // SAFETY: reading into a buffer we own.
            let n = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n as usize]);
        }
    }
    assert!(
        find(&seen, b"connected").is_some(),
        "weft top never drew its connected header"
    );
    assert!(child.try_wait().unwrap().is_none(), "weft top exited early");

    // SAFETY: closing our master fd: the terminal hangs up.
    unsafe { libc::close(master) };
    let hung_up = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            eprintln!(
                "weft top exited {:?} after the hang-up: {status:?}",
                hung_up.elapsed()
            );
            break;
        }
        if hung_up.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weft top was still running 10 s after its terminal hung up");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// `Stdio` from a duplicate of `fd`, so each stdio stream owns its own.
trait FromRawFdDup {
    unsafe fn from_raw_fd_dup(fd: RawFd) -> Self;
}

impl FromRawFdDup for std::process::Stdio {
    unsafe fn from_raw_fd_dup(fd: RawFd) -> Self {
        use std::os::fd::FromRawFd;
        std::process::Stdio::from_raw_fd(libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0))
    }
}

/// With a URL source weft top also streams the execution trace: the header
/// says so (and what it costs), the trace pane is there, `w` saves the raw
/// trace into `--save-dir` as a file `weft trace dump` reads; with
/// `--no-trace` the header says the trace is off.
#[test]
fn weft_top_streams_the_trace_and_w_saves_it() {
    let target = Target::start(&["-n", "200"]);
    let dir = std::env::temp_dir().join(format!("weft-top-trace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = Session::start(&[&target.url, "--save-dir", dir.to_str().unwrap()]);
    s.wait_for(
        &[
            "trace: on (costs the target 1-2%)",
            "trace findings (",
            "wake flows",
            "w save trace",
        ],
        Duration::from_secs(60),
    );
    // The ring holds a whole generation after the first request or so;
    // until then `w` says why it cannot save. Press until it saves.
    let start = Instant::now();
    let saved = loop {
        s.type_keys(b"w");
        thread::sleep(Duration::from_millis(1000));
        let screen = s.screen();
        if let Some(line) = screen.lines().find(|l| l.contains("trace saved: ")) {
            break line.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "w never saved the trace; screen:\n{screen}"
        );
    };
    s.type_keys(b"q");
    assert!(s.wait_exit(Duration::from_secs(15)).success());
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{saved}: {files:?}");
    assert!(saved.contains(files[0].to_str().unwrap()), "{saved}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["trace", "dump"])
        .arg(&files[0])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "weft trace dump {}: {}",
        files[0].display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 1000);

    let mut s = Session::start(&[&target.url, "--no-trace"]);
    let screen = s.wait_for(&["trace: off", "connected"], Duration::from_secs(60));
    assert!(!screen.contains("trace findings"), "{screen}");
    s.type_keys(b"q");
    assert!(s.wait_exit(Duration::from_secs(15)).success());
}
