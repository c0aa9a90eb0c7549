//! Polling resilience against real endpoints: a real Go service killed and
//! restarted, and tiny HTTP servers on loopback that answer 404/500, answer
//! too slowly, or send too much.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft_model::SourceForm;
use weft_source::{
    fetch_once, PollEvent, PollOptions, Poller, ProfileForm, SourceError, SourceSpec,
};
use weft_testkit::GoProcess;

// ---- a real Go service ----

/// The leaky service of `testdata/programs/profiles`, on 127.0.0.1.
struct Svc;

impl Svc {
    fn start(args: &[&str]) -> GoProcess {
        let go = weft_testkit::default_go_version();
        let bin = weft_testkit::build_go(&go, "testdata/programs/profiles", "./leaky-svc");
        GoProcess::start(&bin, args)
    }
}

/// Next event other than `Notice`, within `secs`.
fn next_event(p: &Poller, secs: u64) -> PollEvent {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match p.events().recv_timeout(left) {
            Ok(PollEvent::Notice { .. }) => continue,
            Ok(ev) => return ev,
            Err(e) => panic!("no poll event within {secs}s: {e}"),
        }
    }
}

fn fast_opts() -> PollOptions {
    PollOptions {
        interval: Duration::from_millis(200),
        timeout: Duration::from_secs(2),
        max_backoff: Duration::from_secs(1),
        leak_profile: false,
        ..PollOptions::default()
    }
}

/// State of the (single) record whose innermost non-runtime frame is `func`.
fn state_at(s: &weft_model::Snapshot, func: &str) -> String {
    let recs: Vec<_> = s
        .records
        .iter()
        .filter(|r| {
            r.stack
                .iter()
                .find(|f| !f.func.starts_with("runtime.") && !f.func.starts_with("internal/"))
                .is_some_and(|f| f.func == func)
        })
        .collect();
    assert_eq!(recs.len(), 1, "records at {func}: {recs:#?}");
    recs[0].status.clone()
}

#[test]
fn polling_gives_exact_states_by_default_and_with_debug1() {
    let svc = Svc::start(&[]);
    let url = format!("http://{}", svc.addr);
    let mut client = TcpStream::connect(&svc.addr).unwrap();
    write!(client, "GET /work HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 256];
    let _ = client.read(&mut buf).unwrap();

    // The default form keeps the runtime frames: channel waits are named.
    assert_eq!(PollOptions::default().form, ProfileForm::Debug0);
    // The helpers wait on `<-ctx.Done()` (a receive) until the handler has
    // returned and its context is cancelled; only then do they block in the
    // send. The client can read the answer before that, so wait for it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let snap = loop {
        let snap = fetch_once(&SourceSpec::Url(url.clone()), &fast_opts()).unwrap();
        if state_at(&snap, "main.fetchSlow") == "chan send" || Instant::now() > deadline {
            break snap;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(snap.form, SourceForm::Pprof);
    assert_eq!(state_at(&snap, "main.fetchSlow"), "chan send");
    assert_eq!(state_at(&snap, "main.poolWorker"), "chan receive");
    assert!(
        snap.records.iter().all(|r| r.status != "waiting"),
        "{snap:#?}"
    );

    // debug=1 on request: one-shot and polled, states restored from debug=0 symbols.
    let d1 = PollOptions {
        form: ProfileForm::Debug1,
        ..fast_opts()
    };
    let snap = fetch_once(&SourceSpec::Url(url.clone()), &d1).unwrap();
    assert_eq!(snap.form, SourceForm::Debug1);
    assert_eq!(state_at(&snap, "main.fetchSlow"), "chan send");
    assert_eq!(state_at(&snap, "main.poolWorker"), "chan receive");

    let poller = Poller::spawn(SourceSpec::Url(url), d1);
    let mut forms = Vec::new();
    while forms.len() < 3 {
        if let PollEvent::Snapshot(s) = next_event(&poller, 10) {
            assert_eq!(state_at(&s, "main.fetchSlow"), "chan send", "{:?}", s.form);
            assert_eq!(state_at(&s, "main.poolWorker"), "chan receive");
            forms.push(s.form);
        }
    }
    // The first poll learns symbols from debug=0; later ones are debug=1.
    assert_eq!(
        forms,
        [SourceForm::Pprof, SourceForm::Debug1, SourceForm::Debug1]
    );
    poller.stop();
}

#[test]
fn a_killed_and_restarted_target_is_reported_as_a_restart() {
    let mut svc = Svc::start(&[]);
    let port = svc.addr.rsplit(':').next().unwrap().to_string();
    let poller = Poller::spawn(SourceSpec::Url(format!("http://{}", svc.addr)), fast_opts());
    assert!(matches!(
        next_event(&poller, 10),
        PollEvent::Connected { .. }
    ));
    match next_event(&poller, 10) {
        PollEvent::Snapshot(s) => {
            assert_eq!(s.form, SourceForm::Pprof);
            assert!(s.total() >= 6, "{}", s.total());
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }

    svc.kill();
    // Snapshots already in flight may still arrive; then the target is gone.
    let gone = loop {
        match next_event(&poller, 10) {
            PollEvent::Snapshot(_) => continue,
            ev => break ev,
        }
    };
    match gone {
        PollEvent::Disconnected { message, retry_in } => {
            assert!(message.contains("cannot reach"), "{message}");
            assert!(message.contains("is the program running"), "{message}");
            assert!(retry_in >= Duration::from_millis(200));
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }

    let _svc2 = Svc::start(&["-addr", &format!("127.0.0.1:{port}")]);
    let mut saw_restart = false;
    loop {
        match next_event(&poller, 15) {
            PollEvent::Disconnected { .. } => continue,
            PollEvent::TargetRestarted { message } => {
                assert!(message.contains("new baseline"), "{message}");
                saw_restart = true;
            }
            PollEvent::Connected { .. } => {
                assert!(saw_restart, "Connected came before TargetRestarted");
            }
            PollEvent::Snapshot(s) => {
                assert!(saw_restart);
                assert!(s.total() >= 6);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    poller.stop();
}

// ---- tiny HTTP servers ----

/// Serves each connection with `answer(path, stream)` on its own thread;
/// counts requests per path (without the query).
struct TinyServer {
    addr: String,
    hits: Arc<Mutex<HashMap<String, u64>>>,
}

impl TinyServer {
    fn start(answer: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> TinyServer {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap().to_string();
        let hits: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let answer = Arc::new(answer);
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in ln.incoming() {
                let Ok(mut conn) = conn else { return };
                let (answer, h) = (answer.clone(), h.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    loop {
                        let mut first = String::new();
                        if reader.read_line(&mut first).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            let mut l = String::new();
                            if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                                break;
                            }
                        }
                        let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                        let path = target.split('?').next().unwrap().to_string();
                        *h.lock().unwrap().entry(path).or_default() += 1;
                        answer(&target, &mut conn);
                    }
                });
            }
        });
        TinyServer { addr, hits }
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn respond(conn: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

const PROFILE: &str = "goroutine profile: total 3\n\
2 @ 0x1 0x2\n#\t0x1\tmain.worker+0x1\t/src/app/main.go:20\n\n\
1 @ 0x3 0x4\n#\t0x3\tmain.main+0x1\t/src/app/main.go:10\n\n";

#[test]
fn a_server_without_pprof_gets_a_status_error_that_says_what_to_do() {
    let s404 = TinyServer::start(|_, c| respond(c, "404 Not Found", "404 page not found\n"));
    let e = fetch_once(&SourceSpec::Url(s404.url()), &fast_opts()).unwrap_err();
    assert!(matches!(e, SourceError::Status { code: 404, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("/debug/pprof/goroutine?debug=0 answered HTTP 404"),
        "{msg}"
    );
    assert!(msg.contains("import _ \"net/http/pprof\""), "{msg}");
    assert!(!e.is_disconnect());

    let s500 =
        TinyServer::start(|_, c| respond(c, "500 Internal Server Error", "profile failed: boom\n"));
    let msg = fetch_once(&SourceSpec::Url(s500.url()), &fast_opts())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("answered HTTP 500; it said \"profile failed: boom\""),
        "{msg}"
    );

    // A 200 that is not a profile (some other web app on the port).
    let html = TinyServer::start(|_, c| respond(c, "200 OK", "<html><body>hello</body></html>"));
    let e = fetch_once(&SourceSpec::Url(html.url()), &fast_opts()).unwrap_err();
    assert!(matches!(e, SourceError::Parse { .. }), "{e:?}");
    assert!(
        e.to_string().contains("cannot read http://")
            && e.to_string().contains("not a goroutine dump or profile"),
        "{e}"
    );

    // The poller reports these as errors (the target is there), backing off.
    let poller = Poller::spawn(SourceSpec::Url(s404.url()), fast_opts());
    let mut waits = Vec::new();
    for _ in 0..3 {
        match next_event(&poller, 10) {
            PollEvent::Error { message, retry_in } => {
                assert!(message.contains("404"));
                waits.push(retry_in);
            }
            other => panic!("expected Error, got {other:?}"),
        }
    }
    assert!(waits[0] < waits[1] && waits[1] < waits[2], "{waits:?}");
    poller.stop();
}

#[test]
fn a_slow_target_times_out() {
    // Never answers.
    let silent = TinyServer::start(|_, _| std::thread::sleep(Duration::from_secs(5)));
    let opts = PollOptions {
        timeout: Duration::from_millis(300),
        ..fast_opts()
    };
    let e = fetch_once(&SourceSpec::Url(silent.url()), &opts).unwrap_err();
    assert!(matches!(e, SourceError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("did not answer within 0.3s"), "{e}");

    // Answers the headers, then trickles the body.
    let trickle = TinyServer::start(|_, c| {
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\ngoroutine profile: total 1\n"
        );
        for _ in 0..50 {
            if c.write_all(b"#").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let e = fetch_once(&SourceSpec::Url(trickle.url()), &opts).unwrap_err();
    assert!(matches!(e, SourceError::Timeout { .. }), "{e:?}");
}

#[test]
fn a_huge_answer_is_cut_at_the_cap() {
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let huge = TinyServer::start(move |_, c| {
        let total: u64 = 200 << 20;
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\ngoroutine profile: total 1\n"
        );
        let chunk = vec![b'#'; 64 << 10];
        let mut sent = 0;
        while sent < total {
            if c.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len() as u64;
            w.store(sent, Ordering::Relaxed);
        }
    });
    let opts = PollOptions {
        max_body_bytes: 1 << 20,
        timeout: Duration::from_secs(10),
        ..fast_opts()
    };
    let e = fetch_once(&SourceSpec::Url(huge.url()), &opts).unwrap_err();
    assert!(
        matches!(e, SourceError::TooLarge { limit: 1048576, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("stopped reading there"), "{e}");
    // weft hung up instead of swallowing 200 MiB.
    std::thread::sleep(Duration::from_millis(300));
    let sent = written.load(Ordering::Relaxed);
    assert!(sent < 100 << 20, "the server managed to send {sent} bytes");
}

#[test]
fn connection_refused_is_a_disconnect() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = fetch_once(
        &SourceSpec::Url(format!("http://127.0.0.1:{port}")),
        &fast_opts(),
    )
    .unwrap_err();
    assert!(e.is_disconnect(), "{e:?}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[test]
fn requests_are_rate_bounded_and_a_missing_leak_profile_is_asked_for_once() {
    let server = TinyServer::start(|target, c| {
        if target.starts_with("/debug/pprof/goroutine?") {
            respond(c, "200 OK", PROFILE)
        } else {
            respond(c, "404 Not Found", "404 page not found\n")
        }
    });
    let opts = PollOptions {
        // Asking for no interval at all still gets the floor.
        interval: Duration::ZERO,
        min_interval: Duration::from_millis(200),
        leak_profile: true,
        leak_interval: Duration::ZERO,
        ..fast_opts()
    };
    let poller = Poller::spawn(SourceSpec::Url(server.url()), opts);
    let start = Instant::now();
    let mut snaps = 0;
    let mut notices = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        match poller.events().recv_timeout(Duration::from_millis(100)) {
            Ok(PollEvent::Snapshot(s)) => {
                assert_eq!(s.total(), 3);
                snaps += 1;
            }
            Ok(PollEvent::Notice { message }) => {
                assert!(message.contains("goroutineleak"), "{message}");
                notices += 1;
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    poller.stop();
    let polls = server.hits("/debug/pprof/goroutine");
    // At most one request per 200 ms (plus the first, immediate one).
    let bound = elapsed.as_millis() as u64 / 200 + 2;
    assert!(polls >= 2 && polls <= bound, "{polls} polls in {elapsed:?}");
    assert!(snaps >= 2);
    assert_eq!(
        server.hits("/debug/pprof/goroutineleak"),
        1,
        "a 404 leak profile must not be asked for again"
    );
    assert_eq!(notices, 1);
}

#[test]
fn detail_dumps_are_guarded_by_count_and_rate() {
    let svc = Svc::start(&[]);
    let opts = PollOptions {
        max_goroutines_for_detail: 3,
        ..fast_opts()
    };
    let poller = Poller::spawn(SourceSpec::Url(format!("http://{}", svc.addr)), opts);
    loop {
        if let PollEvent::Snapshot(_) = next_event(&poller, 10) {
            break;
        }
    }
    poller.request_detail(false);
    let refused = loop {
        match next_event(&poller, 10) {
            PollEvent::DetailRefused { reason } => break reason,
            PollEvent::Snapshot(_) | PollEvent::Connected { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(
        refused.contains("(limit 3)") && refused.contains("--force"),
        "{refused}"
    );

    poller.request_detail(true);
    let detail = loop {
        match next_event(&poller, 10) {
            PollEvent::Detail(s) => break s,
            PollEvent::Snapshot(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(detail.form, SourceForm::Debug2);
    assert!(detail.records.iter().all(|r| r.ids.len() == 1));

    poller.request_detail(true);
    let again = loop {
        match next_event(&poller, 10) {
            PollEvent::DetailRefused { reason } => break reason,
            PollEvent::Snapshot(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(again.contains("the next one is allowed in"), "{again}");
    poller.stop();
}

#[test]
fn files_are_read_once_and_bad_files_say_where() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let good = dir.join(format!("weft-source-{}-good.txt", std::process::id()));
    std::fs::write(&good, PROFILE).unwrap();
    let poller = Poller::spawn(SourceSpec::File(good.clone()), fast_opts());
    match next_event(&poller, 5) {
        PollEvent::Connected { .. } => {}
        other => panic!("{other:?}"),
    }
    match next_event(&poller, 5) {
        PollEvent::Snapshot(s) => assert_eq!(s.total(), 3),
        other => panic!("{other:?}"),
    }
    assert!(
        poller
            .events()
            .recv_timeout(Duration::from_millis(600))
            .is_err(),
        "a file is read once"
    );
    poller.stop();

    let bad = dir.join(format!("weft-source-{}-bad.txt", std::process::id()));
    std::fs::write(&bad, "hello\nworld\n").unwrap();
    let e = fetch_once(&SourceSpec::File(bad.clone()), &fast_opts()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&bad.display().to_string()) && msg.contains("byte 0"),
        "{msg}"
    );

    let mut big = std::fs::File::create(&bad).unwrap();
    big.write_all(&vec![b'x'; 4096]).unwrap();
    let small = PollOptions {
        max_body_bytes: 1000,
        ..fast_opts()
    };
    let e = fetch_once(&SourceSpec::File(bad.clone()), &small).unwrap_err();
    assert!(
        matches!(e, SourceError::TooLarge { limit: 1000, .. }),
        "{e:?}"
    );
    let _ = std::fs::remove_file(&good);
    let _ = std::fs::remove_file(&bad);
}
