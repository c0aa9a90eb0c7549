//! `weft trace record` and `weft snapshot --trace` against real Go programs
//! serving net/http/pprof on loopback (Go 1.27): the recorded file opens in
//! `go tool trace -d=parsed` and `weft trace dump`; a lock-order deadlock
//! shows up among the snapshot's findings.
//!
//! A missing toolchain fails the test; run `scripts/install-go-toolchains.sh`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{go_binary, go_command, run_with_limit, scratch_dir};
use weft_testkit::{build_go, GoProcess};

fn weft(args: &[&str], limit_secs: u64) -> common::Output {
    run_with_limit(
        Command::new(env!("CARGO_BIN_EXE_weft")).args(args),
        None,
        Duration::from_secs(limit_secs),
    )
    .unwrap()
}

#[test]
fn trace_record_saves_a_file_go_tool_trace_opens() {
    let bin = build_go("1.27", "testdata/programs/live", ".");
    let t = GoProcess::start(&bin, &["-parked", "5000", "-marks", "50"]);
    let dir = scratch_dir("trace-live-record");
    let file = dir.join("rec.trace");
    let out = weft(
        &[
            "trace",
            "record",
            &t.addr,
            "-o",
            file.to_str().unwrap(),
            "--duration",
            "3s",
        ],
        30,
    );
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(out.stderr_text().contains("saved"), "{}", out.stderr_text());

    let go = go_binary("1.27").unwrap();
    let parsed = run_with_limit(
        go_command(&go)
            .args(["tool", "trace", "-d=parsed"])
            .arg(&file),
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(parsed.status.success(), "{}", parsed.stderr_text());
    let dump = weft(&["trace", "dump", file.to_str().unwrap()], 60);
    assert!(dump.status.success(), "{}", dump.stderr_text());
    // weft's dump is byte-identical to Go's on the same file.
    assert_eq!(dump.stdout, parsed.stdout);

    // A target that is gone: a clear error, exit 2, no hang.
    drop(t);
    let out = weft(
        &[
            "trace",
            "record",
            &format!("http://{}", "127.0.0.1:9"),
            "-o",
            file.to_str().unwrap(),
            "--duration",
            "1s",
        ],
        30,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr_text().contains("cannot reach"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn snapshot_with_trace_reports_a_lock_order_deadlock() {
    let bin = build_go("1.27", "testdata/programs/bugs", "./lockorder");
    let t = GoProcess::start(&bin, &["-http", "127.0.0.1:0"]);
    // The tellers deadlock within moments; give them a second.
    std::thread::sleep(Duration::from_millis(1000));
    let out = weft(&["snapshot", &t.addr, "--json", "--trace", "3s"], 60);
    assert!(out.status.success(), "{}", out.stderr_text());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let trace = &doc["trace"];
    assert_eq!(trace["format"], 26);
    assert!(trace["events"].as_u64().unwrap() > 1000);
    assert!(trace["covered_ms"].as_f64().unwrap() > 2500.0);
    let kinds: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"partial-deadlock") || kinds.contains(&"deadlock"),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"contention"), "{kinds:?}");
    let dl = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"].as_str().unwrap().ends_with("deadlock"))
        .unwrap();
    assert!(
        dl["summary"].as_str().unwrap().contains("main.transfer"),
        "{dl}"
    );

    // --trace needs a URL.
    let file = scratch_dir("trace-live-notrace").join("x.txt");
    std::fs::write(
        &file,
        "goroutine 1 [running]:\nmain.main()\n\t/x.go:1 +0x1\n",
    )
    .unwrap();
    let out = weft(&["snapshot", file.to_str().unwrap(), "--trace", "1s"], 30);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr_text().contains("--trace needs a pprof URL"),
        "{}",
        out.stderr_text()
    );
}
