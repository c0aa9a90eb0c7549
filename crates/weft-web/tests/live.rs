//! `weft watch` mode against a running Go program (testdata/programs/live,
//! Go 1.27): the live trace stream feeds the model, and a goroutine group
//! the test starts in the target appears in `/api/groups` and is announced
//! over the `/api/live` WebSocket.
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use weft_web::{Options, Server, Source};

#[test]
fn live_mode_shows_a_new_group_appear() {
    let dir = std::env::temp_dir().join(format!("weft-web-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("live");
    go_build("testdata/programs/live", &bin);
    let (_target, url) = start_listening(&bin, &["-addr", "127.0.0.1:0"]);

    let s = Server::start(Source::Live(url.clone()), Options::default()).unwrap();
    let b = base(&s);
    wait_ready(&s, Duration::from_secs(60));
    let st = get_json(&format!("{b}/api/status"));
    assert_eq!(st["mode"], "live");
    assert!(st["collecting"][0]
        .as_str()
        .unwrap()
        .contains("/debug/pprof/trace"));

    // Collect WebSocket updates from now on.
    let ws_url = format!("ws://127.0.0.1:{}/api/live", s.addr().port());
    let (mut ws, _) = tungstenite::connect(&ws_url).expect("WebSocket connect");
    if let tungstenite::stream::MaybeTlsStream::Plain(t) = ws.get_mut() {
        t.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }
    let msgs: Arc<Mutex<Vec<Value>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (msgs, stop) = (msgs.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match ws.read() {
                    Ok(tungstenite::Message::Text(t)) => msgs
                        .lock()
                        .unwrap()
                        .push(serde_json::from_str(&t).expect("JSON message")),
                    Ok(_) => {}
                    Err(tungstenite::Error::Io(e))
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
            let _ = ws.close(None);
        })
    };

    let has_burst = |g: &Value| g["entry"] == "main.burstWorker";
    let groups = get_json(&format!("{b}/api/groups"));
    assert!(
        !groups.as_array().unwrap().iter().any(has_burst),
        "no burst yet: {groups}"
    );
    // The first update arrives at once.
    let t0 = Instant::now();
    while msgs.lock().unwrap().is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no WebSocket update"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    {
        let m = msgs.lock().unwrap();
        assert_eq!(m[0]["type"], "update");
        assert_eq!(m[0]["status"]["state"], "ready");
        assert!(m[0]["summary"]["live"].as_u64().unwrap() > 0, "{}", m[0]);
    }

    // Start a new group in the target.
    let r = ureq::get(&format!("{url}/burst?n=25"))
        .timeout(Duration::from_secs(30))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let t0 = Instant::now();
    let burst = loop {
        let groups = get_json(&format!("{b}/api/groups"));
        if let Some(g) = groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| has_burst(g) && g["live"].as_u64() >= Some(25))
        {
            break g.clone();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "burstWorker group never appeared: {groups}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let id = burst["id"].as_u64().unwrap();
    assert!(
        burst["states"]["waiting"].as_u64().unwrap() >= 25,
        "{burst}"
    );
    // Its members are in the table, and the WebSocket announced the group.
    let t = get_json(&format!("{b}/api/goroutines?group={id}"));
    assert_eq!(t["total"].as_u64(), burst["live"].as_u64());
    let t0 = Instant::now();
    loop {
        let announced = msgs.lock().unwrap().iter().any(|m| {
            m["new_groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g.as_u64() == Some(id))
        });
        if announced {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "WebSocket never listed group {id} in new_groups"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let lag = get_json(&format!("{b}/api/status"))["lag_ms"].as_f64();
    assert!(lag.is_some(), "live status reports lag");

    let _ = ureq::get(&format!("{url}/release")).call();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    reader.join().unwrap();
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
