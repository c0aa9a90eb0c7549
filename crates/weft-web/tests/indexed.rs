//! Traces bigger than the model's caps keep their early detail: a trace
//! recorded now from `tests/programs/churn` (Go 1.27) is opened with caps
//! forced small (`WEFT_WEB_CAPS`), so the resident model drops the early
//! part; the timeline and wakes of an early window must then come from the
//! file (decoded generations) and equal what a model with no caps answers,
//! a late window must still come from the resident model, and the detail
//! cache must stay within its bounds.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use weft_timeline::{Config, GoroutineFilter, Model, TimeRange};
use weft_web::index::{GenIndex, TUNING_ENV};
use weft_web::rows::{self, RowFilter};
use weft_web::{Options, Server, Source};

/// A temporary directory removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("weft-web-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Records ~6 s (six or seven generations) of the churn program.
fn record_churn(dir: &Path) -> PathBuf {
    let bin = dir.join("churn");
    go_build("crates/weft-web/tests/programs/churn", &bin);
    let trace = dir.join("churn.trace");
    let st = std::process::Command::new(&bin)
        .arg("-trace")
        .arg(&trace)
        .args(["-d", "6s", "-rate", "500"])
        .status()
        .unwrap();
    assert!(st.success(), "churn failed");
    trace
}

/// A model that keeps everything: the reference answer.
fn unlimited(trace: &Path) -> Model {
    let big = usize::MAX / 4;
    let cfg = Config {
        window_ns: i64::MAX / 4,
        max_spans: big,
        max_spans_per_goroutine: big,
        max_wakes: big,
        max_ranges: big,
        ..Config::default()
    };
    Model::from_reader(
        std::io::BufReader::new(std::fs::File::open(trace).unwrap()),
        cfg,
    )
    .unwrap()
}

/// Goroutine → its spans (start, end, state, reason) in a decoded buffer;
/// rows without spans are left out (a layout may list goroutines that did
/// not exist in the window).
type Spans = BTreeMap<i64, Vec<(f32, f32, u8, String)>>;

fn spans_of(tl: &Timeline, out: &mut Spans) {
    for r in tl
        .rows
        .iter()
        .filter(|r| r.goroutine >= 0 && !r.spans.is_empty())
    {
        let v = r
            .spans
            .iter()
            .map(|&(s, e, st, reason)| (s, e, st, tl.strings[reason as usize].clone()))
            .collect();
        assert!(
            out.insert(r.goroutine, v).is_none(),
            "goroutine {} twice",
            r.goroutine
        );
    }
}

/// Every row of the server's timeline for `range` at full resolution.
fn server_spans(b: &str, range: TimeRange) -> Spans {
    let mut out = Spans::new();
    let mut offset = 0u32;
    loop {
        let tl = decode_timeline(&get_bytes(&format!(
            "{b}/api/timeline?start_ns={}&end_ns={}&res_ns=1&row_offset={offset}&row_limit=5000",
            range.start_ns, range.end_ns
        )));
        spans_of(&tl, &mut out);
        offset += tl.rows.len() as u32;
        if tl.rows.is_empty() || offset >= tl.total_rows {
            return out;
        }
    }
}

/// The same answer from a model in this process (the server's encoder).
fn model_spans(m: &Model, range: TimeRange) -> Spans {
    let f = RowFilter::default();
    let lay = rows::layout(m, &f);
    let mut out = Spans::new();
    let mut offset = 0;
    while offset < lay.rows.len() {
        let body = rows::encode_timeline(m, &f, &lay, range, 1, offset, 5000);
        spans_of(&decode_timeline(&body), &mut out);
        offset += 5000;
    }
    out
}

/// The 300 ms window starting in `[from, to]` where the reference has the
/// most spans (eight candidates).
fn busiest(full: &Model, from: i64, to: i64) -> TimeRange {
    assert!(to > from, "no room for a 300 ms window in [{from}, {to}]");
    (0..8)
        .map(|k| {
            let s = from + (to - from) * k / 7;
            TimeRange {
                start_ns: s,
                end_ns: s + 300_000_000,
            }
        })
        .max_by_key(|r| count(&model_spans(full, *r)))
        .unwrap()
}

fn count(s: &Spans) -> usize {
    s.values().map(|v| v.len()).sum()
}

/// Where two answers differ, for the failure message.
fn diff(a: &Spans, b: &Spans) -> String {
    let mut out = String::new();
    for (g, v) in a {
        match b.get(g) {
            None => out += &format!("goroutine {g}: only in the first ({} spans)\n", v.len()),
            Some(w) if w != v => out += &format!("goroutine {g}:\n  {v:?}\n  {w:?}\n"),
            _ => {}
        }
    }
    for (g, w) in b {
        if !a.contains_key(g) {
            out += &format!("goroutine {g}: only in the second ({} spans)\n", w.len());
        }
    }
    out.chars().take(4000).collect()
}

/// The first differences between two WFPL buffers, run by run
/// (P, goroutine, start, end, group), for a failing comparison.
fn lane_diff(got: &[u8], want: &[u8]) -> String {
    fn runs(b: &[u8]) -> Vec<(i64, i64, f32, f32, u32)> {
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let (lanes, n) = (u32_at(8) as usize, u32_at(12) as usize);
        let cols = 48 + lanes * 16;
        let mut out = Vec::new();
        for l in 0..lanes {
            let e = 48 + l * 16;
            let proc = i64::from_le_bytes(b[e..e + 8].try_into().unwrap());
            let (first, len) = (u32_at(e + 8) as usize, u32_at(e + 12) as usize);
            for i in first..first + len {
                let f32_at = |o: usize| f32::from_le_bytes(b[o..o + 4].try_into().unwrap());
                let g = f64::from_le_bytes(b[cols + i * 8..cols + i * 8 + 8].try_into().unwrap());
                out.push((
                    proc,
                    g as i64,
                    f32_at(cols + n * 8 + i * 4),
                    f32_at(cols + n * 12 + i * 4),
                    u32_at(cols + n * 16 + i * 4),
                ));
            }
        }
        out
    }
    let (g, w) = (runs(got), runs(want));
    let mut out = format!("{} runs, want {}\n", g.len(), w.len());
    let mut shown = 0;
    for i in 0..g.len().max(w.len()) {
        if g.get(i) != w.get(i) && shown < 10 {
            out += &format!("  run {i}: got {:?}, want {:?}\n", g.get(i), w.get(i));
            shown += 1;
        }
    }
    out
}

fn status(b: &str) -> Value {
    get_json(&format!("{b}/api/status"))
}

#[test]
fn early_windows_of_a_capped_trace_come_from_the_file_in_full_detail() {
    let dir = TempDir::new("indexed");
    let trace = record_churn(&dir.0);
    let full = unlimited(&trace);
    let total_spans = full.stats().spans;
    assert!(
        total_spans > 5000,
        "churn recorded too little: {:?}",
        full.stats()
    );

    // Caps that hold about a third of the capture; detail models may hold
    // the whole of it (they decode only a few generations).
    let caps = format!(
        "max_spans={},max_spans_per_goroutine=500,max_wakes={},detail_models=2,detail_max_spans={}",
        total_spans / 3,
        total_spans / 6,
        total_spans * 2
    );
    std::env::set_var(TUNING_ENV, &caps);
    let s = Server::start(Source::File(trace.clone()), Options::default()).unwrap();
    let b = base(&s);
    wait_ready(&s, Duration::from_secs(120));
    let t0 = Instant::now();
    let st = loop {
        let st = status(&b);
        if st["index"]["scan"] == "ready" && st["index"]["resident_complete_ns"].is_i64() {
            break st;
        }
        // The summary reads the resident model's bounds into the index.
        get_json(&format!("{b}/api/summary"));
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "index not ready: {st}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let ix = &st["index"];
    assert!(ix["generations"].as_u64().unwrap() >= 5, "{st}");
    let first = full.first_ns();
    let end = full.now_ns();
    let complete = ix["resident_complete_ns"].as_i64().unwrap();
    assert!(
        complete > first + (end - first) / 3,
        "the caps ({caps}) did not evict the early detail: complete from {} of {} ns",
        complete - first,
        end - first
    );
    // The summary lets the front scroll over the whole capture.
    let sum = get_json(&format!("{b}/api/summary"));
    assert_eq!(
        sum["time"]["detail_start_ns"].as_i64(),
        Some(first),
        "{}",
        sum["time"]
    );
    assert_eq!(
        sum["time"]["resident_detail_start_ns"].as_i64(),
        Some(complete)
    );

    // The capped model alone lacks part of the early window (spans before
    // its detail start, and the workers' spans its per-goroutine cap cut).
    // The busiest 300 ms window of the early part (a loaded machine may
    // have stalled the program for a moment).
    let early = busiest(
        &full,
        first + (complete - first) / 10,
        complete - 300_000_000,
    );
    let mut capped_cfg = weft_web::file_config();
    weft_web::index::tuning_from_env(&mut capped_cfg);
    let capped = Model::from_reader(std::fs::File::open(&trace).unwrap(), capped_cfg).unwrap();
    let want = model_spans(&full, early);
    let resident_only = model_spans(&capped, early);
    assert!(
        count(&resident_only) < count(&want),
        "the capped model still holds the early window ({} of {} spans)",
        count(&resident_only),
        count(&want)
    );

    // Over HTTP the early window has every span, exactly as with no caps.
    let builds0 = status(&b)["index"]["detail_builds"].as_u64().unwrap();
    let got = server_spans(&b, early);
    if count(&want) <= 200 {
        let _ = std::fs::copy(&trace, "/tmp/big-trace/quiet.trace");
    }
    assert!(
        count(&want) > 200,
        "window too quiet: {} spans at {} ms of {} ms (resident from {} ms)",
        count(&want),
        (early.start_ns - first) / 1_000_000,
        (end - first) / 1_000_000,
        (complete - first) / 1_000_000
    );
    assert!(
        got == want,
        "early window differs from the unlimited model:\n{}",
        diff(&got, &want)
    );
    // Among them the goroutine blocked for the whole run (churn's
    // `forgotten`): its wait began generations before the slice decoded
    // for this window, which only restates that it waits; the reason comes
    // from the loaded model.
    let forgotten = full
        .goroutines_raw()
        .find(|g| full.str(g.entry) == "main.forgotten")
        .expect("churn's forgotten goroutine")
        .id;
    let spans = got
        .get(&forgotten)
        .expect("the forgotten goroutine in the early window");
    assert!(
        spans.len() == 1 && spans[0].3 == "chan receive",
        "forgotten goroutine {forgotten} in the early window: {spans:?}"
    );
    let st = status(&b);
    assert_eq!(
        st["index"]["detail_builds"].as_u64().unwrap(),
        builds0 + 1,
        "{st}"
    );
    assert_eq!(st["index"]["detail_models"], 1, "{st}");
    // Asked again (a pan within the window): from the cache.
    let again = server_spans(&b, early);
    assert!(again == want);
    assert_eq!(
        status(&b)["index"]["detail_builds"].as_u64().unwrap(),
        builds0 + 1
    );

    // The buffer says it came from the file; `/api/rows` for the same range
    // is its layout, and groups are the resident model's (the request
    // goroutines, long gone from it, still land in main.request's group).
    let page = |r: TimeRange| {
        get_bytes(&format!(
            "{b}/api/timeline?start_ns={}&end_ns={}&res_ns=1&row_limit=5000",
            r.start_ns, r.end_ns
        ))
    };
    let flags = |body: &[u8]| u16::from_le_bytes([body[6], body[7]]);
    let body = page(early);
    assert_eq!(flags(&body), weft_web::index::FLAG_FROM_FILE);
    let tl = decode_timeline(&body);
    let rows_v = get_json(&format!(
        "{b}/api/rows?start_ns={}&end_ns={}&limit=5000",
        early.start_ns, early.end_ns
    ));
    assert_eq!(rows_v["from_file"], true);
    assert_eq!(rows_v["total_rows"].as_u64(), Some(tl.total_rows as u64));
    let listed = rows_v["rows"].as_array().unwrap();
    assert_eq!(listed.len(), tl.rows.len());
    for (r, j) in tl.rows.iter().zip(listed) {
        assert_eq!(j["goroutine"].as_i64(), Some(r.goroutine), "{j}");
        assert_eq!(j["group"].as_u64(), Some(r.group as u64), "{j}");
        assert_eq!(j["row"].as_u64(), Some(r.index as u64), "{j}");
    }
    let groups = get_json(&format!("{b}/api/groups"));
    let request = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "main.request")
        .unwrap_or_else(|| panic!("no main.request group: {groups}"))["id"]
        .as_u64()
        .unwrap();
    let requests = tl
        .rows
        .iter()
        .filter(|r| r.group as u64 == request && !r.spans.is_empty())
        .count();
    assert!(
        requests >= 10,
        "{requests} request rows in the early window"
    );

    // The inspector of a request goroutine long gone from the resident
    // model (one from the capture's first moments): from the detail model,
    // with the same history as no caps give.
    let start = TimeRange {
        start_ns: first,
        end_ns: first + 300_000_000,
    };
    let tl0 = decode_timeline(&page(start));
    let gone = tl0
        .rows
        .iter()
        .filter(|r| r.group as u64 == request && !r.spans.is_empty())
        .map(|r| r.goroutine)
        .find(|&id| capped.goroutine(id).is_none())
        .expect("a request goroutine the capped model forgot");
    let info = get_json(&format!("{b}/api/goroutine/{gone}"));
    assert_eq!(info["from_file"], true, "{info}");
    assert_eq!(info["group"].as_u64(), Some(request), "{info}");
    assert_eq!(info["entry"], "main.request", "{info}");
    let want_h = full.goroutine(gone).unwrap().history;
    let got_h = info["history"].as_array().unwrap();
    let got_se: Vec<(i64, i64)> = got_h
        .iter()
        .map(|x| {
            (
                x["start_ns"].as_i64().unwrap(),
                x["end_ns"].as_i64().unwrap(),
            )
        })
        .collect();
    let want_se: Vec<(i64, i64)> = want_h
        .start
        .iter()
        .copied()
        .zip(want_h.end.iter().copied())
        .collect();
    assert_eq!(got_se, want_se, "history of goroutine {gone}");

    // Wakes of the early window: the same list as with no caps.
    let wakes = get_json(&format!(
        "{b}/api/wakes?start_ns={}&end_ns={}&limit=20000",
        early.start_ns, early.end_ns
    ));
    let want_wakes =
        serde_json::to_value(full.wakes(early, &GoroutineFilter::default(), 20_000)).unwrap();
    assert!(want_wakes.as_array().unwrap().len() > 50, "{want_wakes}");
    assert_eq!(wakes, want_wakes, "early wakes differ");

    // P lanes and GC/STW/region bands of the capture's first moments (long
    // evicted from the capped model) and of the early window: as with no caps.
    // (This program allocates little, so the bands are often empty: the
    // comparison then shows that the file answers with no made-up bands.)
    assert!(
        capped.detail_start_ns() > start.end_ns,
        "the capped model still has detail at the capture's start"
    );
    for (name, r) in [("start", start), ("early", early)] {
        // The finest resolution (runs are microseconds; a coarse bucket
        // less than half busy stays empty).
        let res = 1;
        let lanes = get_bytes(&format!(
            "{b}/api/proc_lanes?start_ns={}&end_ns={}&res_ns={res}",
            r.start_ns, r.end_ns
        ));
        let full_lanes = full.proc_lanes(r, res);
        let runs =
            |l: &weft_timeline::ProcLanes| l.lanes.iter().map(|x| x.start.len()).sum::<usize>();
        assert!(
            runs(&full_lanes) > 50,
            "{name} window ran little: {full_lanes:?}"
        );
        if name == "start" {
            assert_eq!(
                runs(&capped.proc_lanes(r, res)),
                0,
                "the capped model kept P lanes"
            );
        }
        let want_lanes = rows::encode_proc_lanes(&full_lanes, r, full.sched().gomaxprocs);
        assert!(
            lanes == want_lanes,
            "{name} window: P lanes differ from the unlimited model's:\n{}",
            lane_diff(&lanes, &want_lanes)
        );
        let bands = get_json(&format!(
            "{b}/api/bands?start_ns={}&end_ns={}",
            r.start_ns, r.end_ns
        ));
        let overlapping = |v: Vec<weft_timeline::RangeInfo>| -> Value {
            serde_json::to_value(
                v.into_iter()
                    .filter(|x| x.end_ns > r.start_ns && x.start_ns < r.end_ns)
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        };
        let (gc, stw, regions) = full.ranges();
        let want_bands = serde_json::json!({"gc": overlapping(gc), "stw": overlapping(stw), "regions": overlapping(regions)});
        assert_eq!(bands, want_bands, "{name} window: bands differ");
    }

    // A late window is the resident model's own (no decode), and complete.
    let late = busiest(&full, complete + 1, end - 300_000_000);
    let builds1 = status(&b)["index"]["detail_builds"].as_u64().unwrap();
    let got = server_spans(&b, late);
    let want = model_spans(&full, late);
    assert!(
        count(&want) > 200,
        "late window too quiet: {}",
        count(&want)
    );
    assert!(got == want, "late window differs:\n{}", diff(&got, &want));
    assert_eq!(
        status(&b)["index"]["detail_builds"].as_u64().unwrap(),
        builds1
    );
    assert_eq!(flags(&page(late)), 0);
    let rows_late = get_json(&format!(
        "{b}/api/rows?start_ns={}&end_ns={}&limit=1",
        late.start_ns, late.end_ns
    ));
    assert!(rows_late.get("from_file").is_none(), "{rows_late}");

    // Bounded: windows all over the early part never keep more than two
    // detail models, each under its span cap; the resident model stays
    // under its own.
    for k in 0..5 {
        let s0 = first + (complete - first) * k / 5;
        let r = TimeRange {
            start_ns: s0,
            end_ns: s0 + 100_000_000,
        };
        let got = server_spans(&b, r);
        let want = model_spans(&full, r);
        assert!(got == want, "window {k} differs:\n{}", diff(&got, &want));
        if k == 0 {
            let held = count(&model_spans(&capped, r));
            assert!(
                held * 4 <= count(&want),
                "the capped model holds {held} of the first window's {} spans",
                count(&want)
            );
        }
        let ix = status(&b)["index"].clone();
        assert!(ix["detail_models"].as_u64().unwrap() <= 2, "{ix}");
        assert!(
            ix["detail_spans"].as_u64().unwrap() <= 2 * 2 * total_spans as u64,
            "{ix}"
        );
    }
    let sum = get_json(&format!("{b}/api/summary"));
    assert!(
        sum["spans"].as_u64().unwrap() as usize <= total_spans / 3,
        "{sum}"
    );
    drop(s);
}

#[test]
fn generation_index_matches_the_decoder_and_survives_damage() {
    let dir = TempDir::new("genindex");
    let trace = record_churn(&dir.0);
    let bytes = std::fs::read(&trace).unwrap();
    let full = unlimited(&trace);
    let ix = GenIndex::scan(&trace).unwrap();
    // The generations the decoder reports, in order.
    let mut seen: Vec<u64> = Vec::new();
    let mut rd = weft_trace::Reader::new(&bytes[..]);
    while let Some(e) = rd.next_event().unwrap() {
        let g = e.generation();
        if g != 0 && seen.last() != Some(&g) {
            seen.push(g);
        }
    }
    let listed: Vec<u64> = ix.gens.iter().map(|g| g.gen).collect();
    assert_eq!(listed, seen, "{:?}", ix.gens);
    assert_eq!(ix.gens[0].start, 16);
    assert_eq!(ix.gens.last().unwrap().end, bytes.len() as u64);
    for w in ix.gens.windows(2) {
        assert_eq!(w[0].end, w[1].start, "generations are back to back");
        assert!(w[0].start_ns <= w[1].start_ns);
        assert!(w[1].gen > w[0].gen);
    }
    assert_eq!(ix.gens[0].start_ns, full.first_ns());
    // Each generation alone (with the header) is a whole trace whose events
    // lie at or after its start time.
    for g in &ix.gens {
        let mut one = bytes[..16].to_vec();
        one.extend_from_slice(&bytes[g.start as usize..g.end as usize]);
        let m = Model::from_reader(&one[..], Config::default())
            .unwrap_or_else(|e| panic!("generation {} alone: {e}", g.gen));
        assert!(
            m.first_ns() >= g.start_ns,
            "gen {}: {} < {}",
            g.gen,
            m.first_ns(),
            g.start_ns
        );
    }

    // Damage: every truncation point in the first few kB and a sample
    // further on, and bytes flipped, give an index or an error with an
    // offset, never a panic.
    let mut cuts: Vec<usize> = (0..4096.min(bytes.len())).collect();
    cuts.extend((0..bytes.len()).step_by(997));
    for n in cuts {
        let r = GenIndex::scan_reader(std::io::Cursor::new(&bytes[..n]), n as u64);
        if let Ok(ix) = r {
            assert!(ix.gens.iter().all(|g| g.end as usize <= n));
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % b.len();
            b[i] = (seed >> 32) as u8;
        }
        match GenIndex::scan_reader(std::io::Cursor::new(&b[..]), b.len() as u64) {
            Ok(ix) => assert!(ix.gens.iter().all(|g| g.end as usize <= b.len())),
            Err(e) => assert!(e.offset as usize <= b.len(), "{e}"),
        }
    }
    let e = GenIndex::scan_reader(std::io::Cursor::new(b"not a trace at all".to_vec()), 18)
        .unwrap_err();
    assert!(e.to_string().contains("at byte 0"), "{e}");
}
