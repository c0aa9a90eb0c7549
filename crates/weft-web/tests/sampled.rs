//! `weft watch pid:N`: a real Go program (testdata/programs/attach, Go 1.27)
//! read by PID from its memory feeds the web server's model: its goroutine
//! groups with their states, the inspector's stacks, and the channels its
//! goroutines wait on (`/api/objects`, one address per channel, with the
//! buffer state), with the findings coming from the profile lints.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use weft_web::{Options, Server, Source};

#[test]
fn pid_mode_shows_groups_stacks_and_channels() {
    let dir = std::env::temp_dir().join(format!("weft-web-pid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("attach");
    go_build("testdata/programs/attach", &bin);
    let mut child = Command::new(&bin)
        .args(["-recv", "5", "-send", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the attach program");
    let out = child.stdout.take().unwrap();
    let pid = child.id();
    let _target = Kill(child);
    let mut r = BufReader::new(out);
    let mut line = String::new();
    while !line.starts_with("PORT ") {
        line.clear();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "the program exited early"
        );
    }

    let s = Server::start(
        Source::Pid {
            pid,
            interval: Duration::from_millis(300),
        },
        Options::default(),
    )
    .unwrap();
    let b = base(&s);
    wait_ready(&s, Duration::from_secs(60));
    let st = get_json(&format!("{b}/api/status"));
    assert_eq!(st["mode"], "live");
    assert_eq!(st["source"], format!("pid:{pid}"));
    assert!(
        st["collecting"][0]
            .as_str()
            .unwrap()
            .contains("process memory"),
        "{st}"
    );

    // The groups: 5 receivers and 4 senders parked (polled: the program
    // says PORT just before the last ones park).
    let group = |groups: &Value, entry: &str| -> Option<Value> {
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["entry"] == entry)
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let (recv, send) = loop {
        let groups = get_json(&format!("{b}/api/groups"));
        let groups = if groups.is_array() {
            groups
        } else {
            groups["groups"].clone()
        };
        let r = group(&groups, "main.receiver");
        let s = group(&groups, "main.sender");
        if let (Some(r), Some(s)) = (&r, &s) {
            if r["states"]["waiting"] == 5 && s["states"]["waiting"] == 4 {
                break (r.clone(), s.clone());
            }
        }
        assert!(Instant::now() < deadline, "groups never settled: {groups}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(recv["live"], 5);
    assert_eq!(send["live"], 4);

    // The channels: every receiver on one address, every sender on another
    // (a full buffer of 3).
    let objs = get_json(&format!("{b}/api/objects"));
    assert!(objs["samples"].as_u64().unwrap() >= 1);
    let list = objs["objects"].as_array().unwrap();
    let waiting_group = |o: &Value, g: &Value, dir: &str| -> u64 {
        o["waiters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["group"] == g["id"] && w["direction"] == dir)
            .map(|w| w["count"].as_u64().unwrap())
            .sum()
    };
    let recv_chans: Vec<&Value> = list
        .iter()
        .filter(|o| waiting_group(o, &recv, "recv") > 0)
        .collect();
    assert_eq!(recv_chans.len(), 1, "receivers share one channel: {objs}");
    assert_eq!(waiting_group(recv_chans[0], &recv, "recv"), 5);
    assert_eq!(recv_chans[0]["kind"], "chan");
    assert_eq!(recv_chans[0]["cap"], 0);
    let send_chans: Vec<&Value> = list
        .iter()
        .filter(|o| waiting_group(o, &send, "send") > 0)
        .collect();
    assert_eq!(send_chans.len(), 1, "senders share one channel: {objs}");
    assert_eq!(waiting_group(send_chans[0], &send, "send"), 4);
    assert_eq!(
        (send_chans[0]["cap"].as_u64(), send_chans[0]["len"].as_u64()),
        (Some(3), Some(3))
    );
    assert_ne!(recv_chans[0]["addr"], send_chans[0]["addr"]);

    // The inspector: a receiver's stack, as read from memory.
    let id = recv_chans[0]["waiters"][0]["goroutines"][0]
        .as_i64()
        .unwrap();
    let g = get_json(&format!("{b}/api/goroutine/{id}"));
    assert_eq!(g["reason"], "chan receive", "{g}");
    let funcs: Vec<&str> = g["stack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["func"].as_str().unwrap())
        .collect();
    assert!(funcs.contains(&"main.receiver"), "{funcs:?}");

    // Findings come from the profile lints in this mode (no wake edges):
    // the answer is a list; nothing has waited the stuck-channel minute yet.
    let f = get_json(&format!("{b}/api/findings"));
    let f = if f.is_array() {
        f
    } else {
        f["findings"].clone()
    };
    assert!(f.is_array(), "{f}");
    assert!(
        f.as_array()
            .unwrap()
            .iter()
            .all(|x| x["kind"] != "deadlock"),
        "no trace-style deadlock inferred from samples: {f}"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
