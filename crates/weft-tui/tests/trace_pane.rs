//! The live trace in `weft top`, against real Go programs served with
//! net/http/pprof: the trace pane shows a lock-order deadlock's finding and
//! the group-to-group wake flows on ratatui's test backend; `w` and
//! `--save-on-finding` save files `go tool trace` reads; goroutines that
//! exit between two trace requests leave the model; goroutines parked
//! before the trace get a wait reason.
//!
//! Needs Go 1.27 (`bash scripts/install-go-toolchains.sh`); fails otherwise.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::{backend::TestBackend, Terminal};
use weft_source::trace_stream::TraceSink;
use weft_source::{read_trace, TraceSourceError, TraceSpec, TraceStreamOptions};
use weft_timeline::Config;
use weft_trace::{Decoder, EventRef};
use weft_tui::trace::{LiveModelSink, TraceFeed, TraceFeedOptions, TraceStatus};
use weft_tui::{ui, Change, Feed, TopState};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn go() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/go-toolchain.sh"))
        .arg("1.27")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Go 1.27 is not installed ({}); run `bash scripts/install-go-toolchains.sh` first",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Builds `./pkg` of the Go module in `dir` once per test binary.
fn build(dir: &str, pkg: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{dir}/{pkg}");
    if let Some(p) = built.get(&key) {
        return p.clone();
    }
    let name = pkg.trim_start_matches("./").replace('/', "-");
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("weft-tui-trace-{name}"));
    let out = Command::new(go())
        .current_dir(repo_root().join(dir))
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(pkg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go1.27 build {key} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    built.insert(key, bin.clone());
    bin
}

/// A Go program printing `listening on HOST:PORT`, killed on drop.
struct Target {
    child: Child,
    addr: String,
}

impl Target {
    fn start(bin: &Path, args: &[&str]) -> Target {
        let mut child = Command::new(bin)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut addr = None;
        for _ in 0..20 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(a) = line.trim().strip_prefix("listening on ") {
                addr = Some(a.to_string());
                break;
            }
        }
        let addr = addr.unwrap_or_else(|| {
            let _ = child.kill();
            panic!("{} printed no address", bin.display())
        });
        // Keep draining stdout so the program never blocks on it.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        Target { child, addr }
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.0 200"), "{path}: {body}");
        body
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("trace-pane-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn screen(state: &TopState, w: u16, h: u16) -> (String, Terminal<TestBackend>) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| ui::draw(f, state)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..h {
        for x in 0..w {
            text.push_str(buf[(x, y)].symbol());
        }
        text.push('\n');
    }
    (text, term)
}

/// lockorder: two tellers lock two accounts in opposite orders while a
/// producer/consumer load runs on. The trace pane must show the
/// partial-deadlock (highlighted, with `main.transfer`) and the load's
/// wake flows; `w` saves a file `go tool trace` reads, and
/// `--save-on-finding` saves one on its own when the deadlock appears.
#[test]
fn trace_pane_shows_a_lock_order_deadlock_and_flows_and_saves() {
    let bin = build("testdata/programs/bugs", "./lockorder");
    let t = Target::start(&bin, &["-http", "127.0.0.1:0"]);
    let save_dir = tempdir("w");
    let auto_dir = tempdir("auto");
    let mut feed = TraceFeed::spawn(
        &t.url(),
        TraceFeedOptions {
            stream: TraceStreamOptions {
                request: Duration::from_secs(3),
                quiet_request: Duration::from_secs(1),
                backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(1),
                ..TraceStreamOptions::default()
            },
            save_dir: save_dir.clone(),
            save_on_finding: Some(auto_dir.clone()),
            ..TraceFeedOptions::default()
        },
    );
    let mut state = TopState::new(t.url());
    let mut auto_saved = None;
    // Poll (under load the first analysis can take a while) until the
    // deadlock and a flow are both there.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        while let Some(f) = feed.try_next() {
            if let Feed::TraceSaved(r) = &f {
                auto_saved = Some(r.clone());
            }
            state.apply(f);
        }
        let dl = state
            .trace
            .findings
            .iter()
            .any(|f| f.kind.ends_with("deadlock"));
        if dl && !state.trace.flows.is_empty() && auto_saved.is_some() {
            break;
        }
        assert!(
            Instant::now() < until,
            "no deadlock finding, flow and automatic save within 60 s: status {:?}, view {:#?}, saved {auto_saved:?}",
            state.trace_status,
            state.trace
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(state.trace_status, TraceStatus::On);
    let (text, term) = screen(&state, 200, 50);
    eprintln!("{text}");
    assert!(text.contains("trace: on (costs the target 1-2%)"), "{text}");
    assert!(text.contains("partial-deadlock: "), "{text}");
    assert!(text.contains("main.transfer"), "{text}");
    assert!(text.contains("wake flows"), "{text}");
    assert!(text.contains("w save trace"), "{text}");
    // The first flow's row: "rate p50 p99  from → to".
    let fl = &state.trace.flows[0];
    let row = format!("{} → ", fl.from);
    assert!(text.contains(&row), "flow {fl:?} not on screen:\n{text}");
    assert!(fl.rate_per_s > 0.0 && fl.p99_ns >= fl.p50_ns, "{fl:?}");
    // The deadlock is highlighted.
    let buf = term.backend().buffer();
    let (mut hit, w) = (None, buf.area.width as usize);
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find("partial-deadlock: ") {
            let x = line[..col].chars().count();
            hit = Some((x as u16, i as u16));
            break;
        }
    }
    let (x, y) = hit.unwrap();
    assert!(w > x as usize);
    assert_eq!(
        buf[(x, y)].style().fg,
        ui::SEVERE_STYLE.fg,
        "not highlighted"
    );

    // --save-on-finding saved when the deadlock appeared.
    let msg = auto_saved.unwrap().expect("automatic save failed");
    assert!(
        msg.contains("on partial-deadlock") || msg.contains("on deadlock"),
        "{msg}"
    );
    let files: Vec<PathBuf> = std::fs::read_dir(&auto_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].to_string_lossy().ends_with("deadlock.trace"),
        "{files:?}"
    );
    weft_testkit::assert_go_tool_trace_parses(&files[0]);

    // `w` saves the ring and the screen says where.
    let change = state.on_key(KeyEvent::from(KeyCode::Char('w')));
    assert_eq!(change, Change::SaveTrace);
    state.apply(feed.save());
    let saved = state.trace_saved.clone().unwrap().expect("w failed");
    let (text, _) = screen(&state, 200, 50);
    assert!(text.contains("trace saved: "), "{text}");
    let path = PathBuf::from(saved.split(" (").next().unwrap());
    assert!(path.starts_with(&save_dir), "{saved}");
    weft_testkit::assert_go_tool_trace_parses(&path);
    feed.join();
}

/// `LiveModelSink` behind a lock, so the test can look at the model.
#[derive(Clone)]
struct Shared(Arc<Mutex<LiveModelSink>>);

impl TraceSink for Shared {
    fn stream_started(&mut self, stream: u64) {
        self.0.lock().unwrap().stream_started(stream)
    }
    fn event(&mut self, stream: u64, ev: &EventRef<'_>) {
        self.0.lock().unwrap().event(stream, ev)
    }
    fn caught_up(&mut self, stream: u64) {
        self.0.lock().unwrap().caught_up(stream)
    }
    fn stream_ended(&mut self, stream: u64, dec: &Decoder, err: Option<&TraceSourceError>) {
        self.0.lock().unwrap().stream_ended(stream, dec, err)
    }
}

/// Live members of the group running `main.burstWorker`.
fn burst_live(sink: &LiveModelSink) -> u64 {
    sink.model()
        .groups(false)
        .iter()
        .filter(|g| g.entry.ends_with("burstWorker"))
        .map(|g| g.live)
        .sum()
}

/// Two trace requests fed into one model as the live stream does: 300
/// goroutines parked before the first request (so it only restates them)
/// exit between the two. After the second request's first generation the
/// model must count them gone, and while parked they must show a wait
/// reason read from their stack, not "".
#[test]
fn goroutines_exiting_between_requests_leave_the_model() {
    let bin = build("testdata/programs/live", ".");
    let t = Target::start(&bin, &[]);
    t.get("/burst?n=300");
    // Let them park before tracing starts.
    std::thread::sleep(Duration::from_millis(500));
    let (tx, _views) = mpsc::channel();
    let sink = Shared(Arc::new(Mutex::new(LiveModelSink::new(
        Config::default(),
        tx,
    ))));
    let spec = TraceSpec::Snapshot(format!("{}/debug/pprof/trace?seconds=1", t.url()));
    let mut s = sink.clone();
    read_trace(&spec, Duration::from_secs(30), 1 << 30, &mut s, None).unwrap();
    {
        let m = sink.0.lock().unwrap();
        assert_eq!(
            burst_live(&m),
            300,
            "all 300 parked after the first request"
        );
        // One guard for all reads: the model sits behind the feed's lock.
        let model = m.model();
        let g = model
            .groups(false)
            .into_iter()
            .find(|g| g.entry.ends_with("burstWorker"))
            .unwrap();
        let b = &g.by_stack[0];
        assert!(b.count >= 1);
        // Restated with a stack, no reason: the reason comes from the stack.
        assert_eq!(b.reason, "chan receive", "{b:?}");
        let some = model
            .goroutines_raw()
            .find(|r| model.group_raw(r.group).is_some_and(|_| r.group == g.id))
            .unwrap()
            .id;
        let info = model.goroutine(some).unwrap();
        assert!(info.since_before_trace);
        assert_eq!(info.reason, "chan receive");
    }
    // They exit while nothing traces.
    t.get("/release");
    std::thread::sleep(Duration::from_millis(500));
    read_trace(&spec, Duration::from_secs(30), 1 << 30, &mut s, None).unwrap();
    let m = sink.0.lock().unwrap();
    assert_eq!(
        burst_live(&m),
        0,
        "goroutines that exited between the requests are still alive in the model"
    );
    assert!(
        m.ended_between_requests() >= 300,
        "{}",
        m.ended_between_requests()
    );
    let v = m.view();
    assert_eq!(v.streams, 2);
}
