//! The web API over real HTTP against the real server: the bundled demo
//! capture and a trace recorded at test time from a testdata program (Go
//! 1.27), every endpoint, the binary timeline layout, bad input, and the
//! Host/Origin/token guard.
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::Value;
use weft_web::{Options, Server, Source};

fn demo() -> Server {
    Server::start(
        Source::Bytes {
            name: "demo".into(),
            data: weft_web::DEMO_TRACE,
        },
        Options::default(),
    )
    .expect("start server")
}

#[test]
fn demo_capture_serves_every_endpoint_with_real_data() {
    let s = demo();
    let b = base(&s);
    let seen = wait_ready(&s, Duration::from_secs(60));
    assert_eq!(seen.last().unwrap(), "ready");

    let st = get_json(&format!("{b}/api/status"));
    assert_eq!(st["mode"], "demo");
    assert_eq!(st["progress"]["done_bytes"], st["progress"]["total_bytes"]);
    assert!(st["model_version"].as_u64().unwrap() > 0);

    // Summary: the demo's goroutines and its time range.
    let sum = get_json(&format!("{b}/api/summary"));
    let (t0, t1) = (
        sum["time"]["start_ns"].as_i64().unwrap(),
        sum["time"]["end_ns"].as_i64().unwrap(),
    );
    assert!(t1 - t0 > 5_000_000_000, "the demo covers ~8 s: {sum}");
    assert!(sum["live"].as_u64().unwrap() > 100, "{sum}");
    assert!(sum["series"].as_array().unwrap().len() > 10);
    assert!(sum["blocked_by_reason"]["chan send"].as_u64().unwrap() > 100);

    // Groups: by creation site, with states split by reason.
    let groups = get_json(&format!("{b}/api/groups"));
    let groups = groups.as_array().unwrap();
    let by_name = |n: &str| -> Vec<&Value> { groups.iter().filter(|g| g["name"] == n).collect() };
    let replica = by_name("main.askReplica");
    assert_eq!(replica.len(), 1, "{groups:?}");
    assert_eq!(replica[0]["creation_site"]["func"], "main.lookupPrice");
    assert!(
        replica[0]["states"]["blocked"]["chan send"]
            .as_u64()
            .unwrap()
            > 100
    );
    assert_eq!(by_name("main.worker")[0]["live"], 8);
    assert_eq!(
        by_name("main.teller").len(),
        2,
        "two go statements start tellers"
    );
    let worker_id = by_name("main.worker")[0]["id"].as_u64().unwrap();

    // Group detail with members.
    let g = get_json(&format!("{b}/api/group/{worker_id}?limit=3"));
    assert_eq!(g["members"]["total"], 8);
    assert_eq!(g["members"]["rows"].as_array().unwrap().len(), 3);
    assert!(
        !g["flows_in"].as_array().unwrap().is_empty(),
        "the dispatcher wakes workers"
    );

    // Flows: the dispatcher wakes the workers, with rates and latencies.
    let flows = get_json(&format!("{b}/api/flows"));
    let f = flows
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["from"] == "main.dispatcher" && f["to"] == "main.worker")
        .expect("dispatcher -> worker flow");
    assert!(f["count"].as_u64().unwrap() > 100 && f["rate_per_s"].as_f64().unwrap() > 1.0);
    assert!(f["latency_p99_ns"].as_u64().unwrap() >= f["latency_p50_ns"].as_u64().unwrap());

    // Goroutine table: filter, sort, page.
    let t = get_json(&format!(
        "{b}/api/goroutines?q=askReplica&state=waiting&reason=chan%20send&sort=wait&desc=1&limit=5"
    ));
    assert!(t["total"].as_u64().unwrap() > 100);
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let waits: Vec<i64> = rows
        .iter()
        .map(|r| r["wait_ns"].as_i64().unwrap())
        .collect();
    assert!(
        waits.windows(2).all(|w| w[0] >= w[1]),
        "sorted by wait, longest first: {waits:?}"
    );
    assert!(rows
        .iter()
        .all(|r| r["entry"] == "main.askReplica" && r["state"] == "waiting"));
    let min_wait = get_json(&format!(
        "{b}/api/goroutines?min_wait_ns=5000000000&limit=10000"
    ));
    assert!(min_wait["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["wait_ns"].as_i64().unwrap() >= 5_000_000_000));

    // Inspector: stack, creator, history, wakes.
    let id = rows[0]["id"].as_i64().unwrap();
    let gi = get_json(&format!("{b}/api/goroutine/{id}"));
    assert_eq!(gi["entry"], "main.askReplica");
    let stack: Vec<&str> = gi["stack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["func"].as_str().unwrap())
        .collect();
    assert!(stack.contains(&"main.askReplica"), "{stack:?}");
    assert!(gi["creator"].as_i64().is_some());
    assert!(!gi["history"].as_array().unwrap().is_empty());
    let w = get_json(&format!(
        "{b}/api/goroutine/{}",
        by_name("main.dispatcher")[0]["id"]
    ));
    let _ = w; // the dispatcher's own record is reachable through its group
    let members = get_json(&format!("{b}/api/group/{worker_id}"));
    let wid = members["members"]["rows"][0]["id"].as_i64().unwrap();
    let wi = get_json(&format!("{b}/api/goroutine/{wid}"));
    assert!(
        !wi["woken_by"].as_array().unwrap().is_empty(),
        "workers are woken: {wi}"
    );

    // Findings: the demo's lock-order deadlock and its leak.
    let fs = get_json(&format!("{b}/api/findings"));
    let kinds: BTreeSet<&str> = fs
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("partial-deadlock") && kinds.contains("leak"),
        "{kinds:?}"
    );
    let leak = fs
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "leak")
        .unwrap();
    assert_eq!(leak["groups"][0], replica[0]["id"]);

    // Bands, wakes, procs.
    let bands = get_json(&format!("{b}/api/bands?start_ns={t0}&end_ns={}", t1 + 1));
    assert!(bands["stw"].is_array() && bands["gc"].is_array() && bands["regions"].is_array());
    let wakes = get_json(&format!(
        "{b}/api/wakes?start_ns={t0}&end_ns={}&group={worker_id}&limit=50",
        t1 + 1
    ));
    let wakes = wakes.as_array().unwrap();
    assert!(!wakes.is_empty() && wakes.len() <= 50);
    assert!(wakes.iter().all(|w| {
        let t = w["time_ns"].as_i64().unwrap();
        t >= t0 && t <= t1
    }));
    let procs = get_json(&format!("{b}/api/procs"));
    assert!(procs["gomaxprocs"].as_u64().unwrap() >= 1);

    // Rows and the binary timeline agree.
    let rl = get_json(&format!("{b}/api/rows?offset=0&limit=40"));
    let total_rows = rl["total_rows"].as_u64().unwrap();
    assert!(total_rows > 100);
    let tl = decode_timeline(&get_bytes(&format!(
        "{b}/api/timeline?start_ns={t0}&end_ns={}&res_ns=1000000&row_offset=0&row_limit=40",
        t1 + 1
    )));
    assert_eq!(tl.rows.len(), 40);
    assert_eq!(tl.total_rows as u64, total_rows);
    assert_eq!((tl.start_ns, tl.end_ns, tl.res_ns), (t0, t1 + 1, 1_000_000));
    for (i, r) in tl.rows.iter().enumerate() {
        assert_eq!(r.index as usize, i);
        assert_eq!(r.goroutine, rl["rows"][i]["goroutine"].as_i64().unwrap());
        assert_eq!(r.group as u64, rl["rows"][i]["group"].as_u64().unwrap());
    }
    let spans: usize = tl.rows.iter().map(|r| r.spans.len()).sum();
    assert!(spans > 40, "real spans: {spans}");
    assert!(
        tl.strings.iter().any(|s| s == "chan receive"),
        "{:?}",
        tl.strings
    );
    // Merging: no span shorter than the resolution between two others.
    let coarse = decode_timeline(&get_bytes(&format!(
        "{b}/api/timeline?start_ns={t0}&end_ns={}&res_ns=100000000&row_limit=40",
        t1 + 1
    )));
    let coarse_spans: usize = coarse.rows.iter().map(|r| r.spans.len()).sum();
    assert!(
        coarse_spans < spans,
        "coarser resolution merges spans: {coarse_spans} vs {spans}"
    );
    assert!(
        coarse.rows.iter().all(|r| r.spans.len() <= 82),
        "at most ~range/res spans a row"
    );
    // A zoomed window: spans clipped to it.
    let mid = t0 + (t1 - t0) / 2;
    let zoom = decode_timeline(&get_bytes(&format!(
        "{b}/api/timeline?start_ns={mid}&end_ns={}&res_ns=1000&row_limit=20",
        mid + 2_000_000
    )));
    assert_eq!(zoom.start_ns, mid);
    // Collapsed groups: one row each, goroutine -1.
    let col = decode_timeline(&get_bytes(&format!(
        "{b}/api/timeline?collapsed=all&row_limit=1000"
    )));
    let col_rows = get_json(&format!("{b}/api/rows?collapsed=all&limit=1000"));
    assert_eq!(
        col.rows.len() as u64,
        col_rows["total_rows"].as_u64().unwrap()
    );
    assert!(col.rows.iter().all(|r| r.goroutine == -1));
    assert!(col.rows.iter().any(|r| !r.spans.is_empty()));
    // Filter by group.
    let only = decode_timeline(&get_bytes(&format!(
        "{b}/api/timeline?group={worker_id}&row_limit=100"
    )));
    assert_eq!(only.rows.len(), 8);
    assert!(only.rows.iter().all(|r| r.group as u64 == worker_id));

    // The embedded UI is served.
    let (code, body) = raw_get(
        s.addr(),
        "/",
        &[("Host", &format!("127.0.0.1:{}", s.addr().port()))],
    );
    assert_eq!(code, 200);
    assert!(
        body.to_ascii_lowercase().contains("<html") || body.contains("<!doctype"),
        "{body}"
    );
}

#[test]
fn bad_requests_get_clear_errors() {
    let s = demo();
    wait_ready(&s, Duration::from_secs(60));
    let host = format!("127.0.0.1:{}", s.addr().port());
    let h = [("Host", host.as_str())];
    let cases = [
        ("/api/goroutines?sort=bogus", 400, "sort"),
        ("/api/goroutines?state=sleeping", 400, "state"),
        ("/api/goroutines?limit=x", 400, "limit"),
        ("/api/goroutine/abc", 400, "abc"),
        ("/api/goroutine/987654321", 404, "987654321"),
        ("/api/group/4000000", 404, "4000000"),
        ("/api/timeline?start_ns=10&end_ns=5", 400, "end_ns"),
        ("/api/timeline?res_ns=fast", 400, "res_ns"),
        ("/api/wakes?goroutine=1,x", 400, "goroutine"),
        ("/api/nothing", 404, "/api/nothing"),
    ];
    for (path, code, word) in cases {
        let (c, body) = raw_get(s.addr(), path, &h);
        assert_eq!(c, code, "{path}: {body}");
        let v: Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body}"));
        let e = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: no error field: {body}"));
        assert!(e.contains(word), "{path}: {e:?} should name {word:?}");
    }
}

#[test]
fn host_and_origin_are_checked() {
    let s = demo();
    let port = s.addr().port();
    let ok_host = format!("127.0.0.1:{port}");
    let localhost = format!("localhost:{port}");
    let (c, _) = raw_get(s.addr(), "/api/status", &[("Host", &ok_host)]);
    assert_eq!(c, 200);
    let (c, _) = raw_get(s.addr(), "/api/status", &[("Host", &localhost)]);
    assert_eq!(c, 200);
    let (c, body) = raw_get(s.addr(), "/api/status", &[("Host", "attacker.example:80")]);
    assert_eq!(c, 403);
    assert!(body.contains("attacker.example"), "{body}");
    let (c, _) = raw_get(
        s.addr(),
        "/api/status",
        &[("Host", &format!("127.0.0.1:{}", port.wrapping_add(1)))],
    );
    assert_eq!(c, 403, "wrong port");
    let (c, _) = raw_get(s.addr(), "/api/status", &[]);
    assert_eq!(c, 403, "no Host at all");
    let (c, body) = raw_get(
        s.addr(),
        "/api/status",
        &[("Host", &ok_host), ("Origin", "http://attacker.example")],
    );
    assert_eq!(c, 403);
    assert!(body.contains("Origin"), "{body}");
    let (c, _) = raw_get(
        s.addr(),
        "/",
        &[
            ("Host", &ok_host),
            ("Origin", &format!("http://{localhost}")),
        ],
    );
    assert_eq!(c, 403, "an Origin must match the Host it came with");
    let (c, _) = raw_get(
        s.addr(),
        "/api/status",
        &[("Host", &ok_host), ("Origin", &format!("http://{ok_host}"))],
    );
    assert_eq!(c, 200);
    // The WebSocket upgrade goes through the same guard.
    let (c, _) = raw_get(
        s.addr(),
        "/api/live",
        &[
            ("Host", &ok_host),
            ("Origin", "http://attacker.example"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
    );
    assert_eq!(c, 403);
}

#[test]
fn a_token_is_required_off_loopback() {
    // Listening on every interface makes a token.
    let all = Server::start(
        Source::Bytes {
            name: "demo".into(),
            data: weft_web::DEMO_TRACE,
        },
        Options {
            listen: "0.0.0.0:0".parse().unwrap(),
            force_token: false,
        },
    )
    .unwrap();
    let token = all.token().expect("a token off loopback").to_string();
    assert_eq!(token.len(), 32);
    assert!(
        all.url().ends_with(&format!("?token={token}")),
        "{}",
        all.url()
    );
    let host = format!("127.0.0.1:{}", all.addr().port());
    let addr: std::net::SocketAddr = host.parse().unwrap();
    let (c, body) = raw_get(addr, "/api/status", &[("Host", &host)]);
    assert_eq!(c, 401, "{body}");
    assert!(body.contains("token"), "{body}");
    let (c, _) = raw_get(addr, "/api/status?token=0123", &[("Host", &host)]);
    assert_eq!(c, 401, "wrong token");
    let (c, _) = raw_get(
        addr,
        "/api/status",
        &[
            ("Host", &host),
            ("Authorization", &format!("Bearer {token}")),
        ],
    );
    assert_eq!(c, 200);
    let (c, _) = raw_get(
        addr,
        "/api/status",
        &[("Host", &host), ("Cookie", &format!("weft_token={token}"))],
    );
    assert_eq!(c, 200);
    // ?token= once sets the cookie.
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    write!(
        sock,
        "GET /?token={token} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    sock.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains(&format!("set-cookie: weft_token={token}")),
        "{resp}"
    );
    // Any host name with our port is allowed there (the token guards it),
    // but not without the token.
    let other = format!("myhost.lan:{}", all.addr().port());
    let (c, _) = raw_get(addr, "/api/status", &[("Host", &other)]);
    assert_eq!(c, 401);
}

/// A trace recorded now from testdata/programs/bugs/lockorder (Go 1.27),
/// read through a FIFO so the server is seen `loading` for certain before
/// the bytes arrive, then `ready`.
#[test]
fn recorded_trace_goes_from_loading_to_ready() {
    let dir = tempdir();
    let bin = dir.join("lockorder");
    go_build("testdata/programs/bugs/lockorder", &bin);
    let trace = dir.join("lock.trace");
    let st = std::process::Command::new(&bin)
        .arg("-trace")
        .arg(&trace)
        .args(["-duration", "2s"])
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&trace).unwrap();
    assert!(bytes.len() > 1000);

    let fifo = dir.join("fifo.trace");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let s = Server::start(Source::File(fifo.clone()), Options::default()).unwrap();
    let b = base(&s);
    std::thread::sleep(Duration::from_millis(300));
    let st = get_json(&format!("{b}/api/status"));
    assert_eq!(st["state"], "loading", "{st}");
    assert_eq!(st["mode"], "file");
    // Data endpoints wait for the model.
    let (c, body) = raw_get(
        s.addr(),
        "/api/summary",
        &[("Host", &format!("127.0.0.1:{}", s.addr().port()))],
    );
    assert_eq!(c, 503, "{body}");
    assert!(body.contains("loading"), "{body}");
    let writer = std::thread::spawn(move || std::fs::write(&fifo, &bytes).unwrap());
    let seen = wait_ready(&s, Duration::from_secs(60));
    writer.join().unwrap();
    assert_eq!(seen.last().unwrap(), "ready");
    let st = get_json(&format!("{b}/api/status"));
    assert!(
        st["progress"]["done_bytes"].as_u64().unwrap() > 1000,
        "{st}"
    );
    assert!(st["events"].as_u64().unwrap() > 100, "{st}");

    let groups = get_json(&format!("{b}/api/groups"));
    let tellers: Vec<&Value> = groups
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == "main.teller")
        .collect();
    assert_eq!(
        tellers.len(),
        2,
        "two go statements start tellers: {groups}"
    );
    assert_eq!(tellers[0]["creation_site"]["func"], "main.startBank");
    let tl = decode_timeline(&get_bytes(&format!("{b}/api/timeline?row_limit=500")));
    assert!(tl.rows.iter().any(|r| r.spans.len() > 1));

    // The same file opened directly (not a FIFO) also loads.
    let s2 = Server::start(Source::File(trace.clone()), Options::default()).unwrap();
    wait_ready(&s2, Duration::from_secs(60));
    let st2 = get_json(&format!("{}/api/status", base(&s2)));
    assert_eq!(
        st2["progress"]["total_bytes"],
        st2["progress"]["done_bytes"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_trace_is_an_error_with_its_offset() {
    let dir = tempdir();
    let f = dir.join("bad.trace");
    let mut bytes = weft_web::DEMO_TRACE[..4096].to_vec();
    bytes.extend_from_slice(&[0xff; 64]);
    std::fs::write(&f, &bytes).unwrap();
    let s = Server::start(Source::File(f), Options::default()).unwrap();
    let b = base(&s);
    let t0 = std::time::Instant::now();
    let st = loop {
        let st = get_json(&format!("{b}/api/status"));
        if st["state"] != "loading" {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "still loading: {st}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(st["state"], "error", "{st}");
    let e = st["error"].as_str().unwrap();
    assert!(e.contains("bad.trace"), "{e}");
    assert!(
        e.contains("offset") || e.contains("byte"),
        "the error says where: {e}"
    );
    let (c, body) = raw_get(
        s.addr(),
        "/api/groups",
        &[("Host", &format!("127.0.0.1:{}", s.addr().port()))],
    );
    assert_eq!(c, 503);
    assert!(body.contains("loading failed"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "weft-web-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
