//! `/api/proc_lanes` over real HTTP on the bundled demo capture (recorded
//! from the project's example programs): the binary layout, and that the
//! lanes agree with what the other endpoints say about the same capture
//! (each run's goroutine was running then; no goroutine on two Ps at once;
//! a P is never busier than its occupancy says).
mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use weft_web::{Options, Server, Source};

struct Lanes {
    start_ns: i64,
    end_ns: i64,
    res_ns: i64,
    gomaxprocs: u32,
    /// (P id, runs: (goroutine, start, end, group) with absolute times)
    lanes: Vec<(i64, Vec<(i64, i64, i64, u32)>)>,
}

fn at<const N: usize>(b: &[u8], o: usize) -> [u8; N] {
    b[o..o + N].try_into().unwrap()
}

/// Decodes a WFPL buffer, checking that its sizes add up exactly.
fn decode(b: &[u8]) -> Lanes {
    assert!(b.len() >= 48, "shorter than the header: {}", b.len());
    assert_eq!(&b[0..4], b"WFPL");
    assert_eq!(u16::from_le_bytes(at(b, 4)), 1, "format version");
    let nl = u32::from_le_bytes(at(b, 8)) as usize;
    let nr = u32::from_le_bytes(at(b, 12)) as usize;
    let start_ns = i64::from_le_bytes(at(b, 16));
    let end_ns = i64::from_le_bytes(at(b, 24));
    let res_ns = i64::from_le_bytes(at(b, 32));
    let gomaxprocs = u32::from_le_bytes(at(b, 40));
    assert_eq!(b.len(), 48 + nl * 16 + nr * 20, "exact size");
    let cols = 48 + nl * 16;
    let (g0, s0, e0, gr0) = (cols, cols + nr * 8, cols + nr * 12, cols + nr * 16);
    let mut lanes = Vec::new();
    let mut next = 0usize;
    for i in 0..nl {
        let o = 48 + i * 16;
        let p = i64::from_le_bytes(at(b, o));
        let first = u32::from_le_bytes(at(b, o + 8)) as usize;
        let n = u32::from_le_bytes(at(b, o + 12)) as usize;
        assert_eq!(first, next, "lanes are contiguous");
        next += n;
        let runs: Vec<(i64, i64, i64, u32)> = (first..first + n)
            .map(|k| {
                let g = f64::from_le_bytes(at(b, g0 + k * 8)) as i64;
                let s = f32::from_le_bytes(at(b, s0 + k * 4)) as f64;
                let e = f32::from_le_bytes(at(b, e0 + k * 4)) as f64;
                let grp = u32::from_le_bytes(at(b, gr0 + k * 4));
                assert!(s >= 0.0 && e > s, "run {k}: [{s}, {e})");
                assert!(
                    e <= (end_ns - start_ns) as f64 * 1.0001,
                    "run {k} inside the range"
                );
                (g, start_ns + s as i64, start_ns + e as i64, grp)
            })
            .collect();
        for w in runs.windows(2) {
            // f32 rounding of relative times: allow a little overlap.
            let slack = ((end_ns - start_ns) as f64 * 1e-6) as i64 + 1;
            assert!(w[0].2 <= w[1].1 + slack, "sorted, no overlap: {w:?}");
        }
        lanes.push((p, runs));
    }
    assert_eq!(next, nr);
    Lanes {
        start_ns,
        end_ns,
        res_ns,
        gomaxprocs,
        lanes,
    }
}

#[test]
fn proc_lanes_show_which_goroutine_ran_on_each_p() {
    let s = Server::start(
        Source::Bytes {
            name: "demo".into(),
            data: weft_web::DEMO_TRACE,
        },
        Options::default(),
    )
    .expect("start server");
    let b = base(&s);
    wait_ready(&s, Duration::from_secs(60));
    let sum = get_json(&format!("{b}/api/summary"));
    let t0 = sum["time"]["detail_start_ns"].as_i64().unwrap();
    let t1 = sum["time"]["end_ns"].as_i64().unwrap() + 1;
    let procs = get_json(&format!("{b}/api/procs"));

    // Full detail over a 20 ms window in the middle (f32 offsets from the
    // window start stay exact to well under a microsecond there).
    let mid = t0 + (t1 - t0) / 2;
    let (w0, w1) = (mid, mid + 20_000_000);
    let fine = decode(&get_bytes(&format!(
        "{b}/api/proc_lanes?start_ns={w0}&end_ns={w1}&res_ns=1"
    )));
    assert_eq!((fine.start_ns, fine.end_ns), (w0, w1));
    assert_eq!(
        fine.res_ns,
        20_000_000 / 16_384 + 1,
        "raised to 16384 buckets"
    );
    assert_eq!(
        fine.gomaxprocs as u64,
        procs["gomaxprocs"].as_u64().unwrap()
    );
    assert!(!fine.lanes.is_empty(), "the demo runs goroutines");
    assert!(fine.lanes.len() <= fine.gomaxprocs.max(1) as usize);
    let runs: Vec<(i64, i64, i64, i64, u32)> = fine
        .lanes
        .iter()
        .flat_map(|(p, r)| r.iter().map(move |&(g, s, e, grp)| (*p, g, s, e, grp)))
        .collect();
    assert!(
        runs.len() > 20,
        "real runs in 20 ms of the demo: {}",
        runs.len()
    );

    // Every single-goroutine run of at least 5 µs lies inside a running
    // span of that goroutine, as its group's timeline rows show at full
    // resolution over the same window (so it is also in the group it is
    // coloured by).
    let mut checked = 0;
    let mut rows_of: HashMap<u32, Timeline> = HashMap::new();
    for &(_, g, s, e, grp) in runs
        .iter()
        .filter(|r| r.1 >= 0 && r.3 - r.2 >= 5_000)
        .take(60)
    {
        let tl = rows_of.entry(grp).or_insert_with(|| {
            decode_timeline(&get_bytes(&format!(
                "{b}/api/timeline?group={grp}&system=1&start_ns={w0}&end_ns={w1}&res_ns=1&row_limit=5000"
            )))
        });
        let row = tl
            .rows
            .iter()
            .find(|r| r.goroutine == g)
            .unwrap_or_else(|| {
                panic!("goroutine {g} is not a row of its lane colour's group {grp}")
            });
        let tol = fine.res_ns + 1_000;
        let inside = row.spans.iter().any(|&(rs, re, st, _)| {
            st == 1 && w0 + rs as i64 <= s + tol && w0 + re as i64 >= e - tol
        });
        assert!(
            inside,
            "run of goroutine {g} [{s}, {e}) is not in a running span: {:?}",
            row.spans
        );
        checked += 1;
    }
    assert!(checked >= 5, "checked {checked} runs");

    // No goroutine runs on two Ps at once.
    let mut by_g: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for &(_, g, s, e, _) in runs.iter().filter(|r| r.1 >= 0) {
        by_g.entry(g).or_default().push((s, e));
    }
    for (g, mut v) in by_g {
        v.sort();
        for w in v.windows(2) {
            assert!(
                w[0].1 <= w[1].0 + 2 * fine.res_ns,
                "goroutine {g} on two Ps: {w:?}"
            );
        }
    }

    // Whole capture at a coarse resolution: merged, bounded, and never
    // busier than the P's occupancy over the run.
    let coarse = decode(&get_bytes(&format!(
        "{b}/api/proc_lanes?start_ns={t0}&end_ns={t1}&res_ns=1000000"
    )));
    let busy: HashMap<i64, u64> = procs["procs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["proc"].as_i64().unwrap(), p["busy_ns"].as_u64().unwrap()))
        .collect();
    let buckets = ((t1 - t0) / coarse.res_ns + 1) as usize;
    for (p, r) in &coarse.lanes {
        assert!(
            r.len() <= buckets,
            "P{p}: {} runs for {buckets} buckets",
            r.len()
        );
        let lane_busy: i64 = r.iter().map(|x| x.2 - x.1).sum();
        let occ = *busy.get(p).unwrap_or(&0) as i64;
        // Merging rounds a half-busy bucket up to a whole one.
        assert!(
            lane_busy <= occ + (r.len() as i64 + 1) * coarse.res_ns,
            "P{p}: lanes say {lane_busy} ns busy, occupancy {occ}"
        );
    }
    let total: usize = coarse.lanes.iter().map(|l| l.1.len()).sum();
    assert!(total > 0);

    // Bad input is a clear 400.
    let (code, body) = raw_get(
        s.addr(),
        "/api/proc_lanes?start_ns=10&end_ns=5",
        &[("Host", &format!("127.0.0.1:{}", s.addr().port()))],
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("end_ns"), "{body}");
    let (code, body) = raw_get(
        s.addr(),
        "/api/proc_lanes?res_ns=fast",
        &[("Host", &format!("127.0.0.1:{}", s.addr().port()))],
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("res_ns"), "{body}");
}
