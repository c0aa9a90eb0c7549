//! P lanes against the trace itself. The model keeps no runs of its own for
//! the lanes: it reads them from the goroutines' running spans, each
//! tagged with its P. Here a reference is built straight from the decoded
//! events of the demo capture (a real trace of the project's example
//! programs): a goroutine's run on a P starts when it enters the running
//! state on that P and ends at its next transition. Every lane the model
//! answers at full resolution must be exactly that.
use std::collections::{BTreeMap, HashMap};

use weft_timeline::{Config, GroupId, Model, TimeRange};
use weft_trace::{GoState, Reader, Transition};

// At most 16384 buckets per lane: a window this short is answered at 1 ns.
const WINDOW_NS: i64 = 16_000;

#[test]
fn lanes_are_the_runs_the_trace_shows() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/demo/demo.trace"
    );
    let bytes = std::fs::read(path).expect("the demo trace");

    // The reference: P -> runs (start, end, goroutine).
    let mut runs: BTreeMap<i64, Vec<(i64, i64, i64)>> = BTreeMap::new();
    let mut running: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut rd = Reader::new(&bytes[..]);
    let mut last = 0;
    while let Some(e) = rd.next_event().expect("decode") {
        last = e.time();
        let Some(st) = e.state_transition() else {
            continue;
        };
        let Transition::Goroutine { id, from, to } = st.transition else {
            continue;
        };
        if from == to {
            continue; // a restatement: the run goes on
        }
        if let Some((p, since)) = running.remove(&id) {
            if e.time() > since {
                runs.entry(p).or_default().push((since, e.time(), id));
            }
        }
        if to == GoState::Running && e.proc() >= 0 {
            running.insert(id, (e.proc(), e.time()));
        }
    }
    for (id, (p, since)) in running {
        runs.entry(p).or_default().push((since, last, id));
    }

    let cfg = Config {
        max_spans: 1 << 24,
        max_spans_per_goroutine: 1 << 24,
        ..Config::default()
    };
    let m = Model::from_reader(&bytes[..], cfg).expect("model");
    assert!(m.detail_complete_ns() <= m.first_ns(), "nothing dropped");
    let group = |g: i64| -> GroupId { m.goroutine(g).map_or(0, |x| x.group) };
    let (t0, t1) = (m.first_ns(), m.now_ns());

    // Windows from a tenth of the way in (goroutines restated as running
    // at the start began before the trace, so the model starts their run
    // at the capture's start, the reference at the restatement).
    let mut compared = 0;
    for k in 0..200 {
        let s = t0 + (t1 - t0) / 10 + (t1 - t0) * 8 / 10 * k / 200;
        let range = TimeRange {
            start_ns: s,
            end_ns: s + WINDOW_NS,
        };
        let lanes = m.proc_lanes(range, 1);
        assert_eq!(lanes.resolution_ns, 1);
        let got: BTreeMap<i64, Vec<(i64, i64, i64)>> = lanes
            .lanes
            .iter()
            .map(|l| {
                let v = (0..l.start.len())
                    .map(|i| (l.start[i], l.end[i], l.goroutine[i]))
                    .collect();
                (l.proc, v)
            })
            .collect();
        // The reference clipped to the window, with neighbours of one group
        // joined as the lanes join them (-1: several goroutines).
        let mut want: BTreeMap<i64, Vec<(i64, i64, i64)>> = BTreeMap::new();
        for (&p, rs) in &runs {
            let mut v: Vec<(i64, i64, i64, GroupId)> = Vec::new();
            let mut clipped: Vec<(i64, i64, i64)> = rs
                .iter()
                .map(|&(a, b, g)| (a.max(range.start_ns), b.min(range.end_ns), g))
                .filter(|&(a, b, _)| b > a)
                .collect();
            clipped.sort();
            for (a, b, g) in clipped {
                match v.last_mut() {
                    Some(l) if l.1 == a && l.3 == group(g) => {
                        l.1 = b;
                        if l.2 != g {
                            l.2 = -1;
                        }
                    }
                    _ => v.push((a, b, g, group(g))),
                }
            }
            if !v.is_empty() {
                compared += v.len();
                want.insert(p, v.into_iter().map(|(a, b, g, _)| (a, b, g)).collect());
            }
        }
        assert_eq!(got, want, "P lanes over [{s}, {})", s + WINDOW_NS);
    }
    assert!(compared > 100, "only {compared} runs compared");
}
