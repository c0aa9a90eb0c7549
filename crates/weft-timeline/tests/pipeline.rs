//! The pipelined ingest (decoder thread digests, model thread applies
//! batches) must build exactly the model that event-by-event ingest builds:
//! compared through every query, on the project's bundled real capture,
//! with batch sizes that split generations anywhere, with and without
//! eviction.
use serde_json::{json, Value};
use weft_timeline::{Config, GoroutineFilter, Model, TimeRange};

const ALL: TimeRange = TimeRange {
    start_ns: i64::MIN,
    end_ns: i64::MAX,
};

fn demo_trace() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/demo/demo.trace"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

// Everything a frontend or analysis can read, as JSON.
fn view(m: &Model) -> Value {
    let mut stats = serde_json::to_value(m.stats()).unwrap();
    // Capacities of the interner's per-generation caches differ by design.
    stats["heap_bytes"] = json!(0);
    let ids: Vec<i64> = m.goroutines_raw().map(|g| g.id).collect();
    let gs: Vec<Value> = ids
        .iter()
        .map(|&id| serde_json::to_value(m.goroutine(id)).unwrap())
        .collect();
    json!({
        "stats": stats,
        "groups": serde_json::to_value(m.groups(true)).unwrap(),
        "flows": serde_json::to_value(m.wake_flows()).unwrap(),
        "sched": serde_json::to_value(m.sched()).unwrap(),
        "blocks": serde_json::to_value(m.block_sites()).unwrap(),
        "ranges": serde_json::to_value(m.ranges()).unwrap(),
        "tasks": serde_json::to_value(m.tasks()).unwrap(),
        "heap": serde_json::to_value(m.heap_series()).unwrap(),
        "intervals": serde_json::to_value(m.intervals(ALL, 1, &GoroutineFilter::default())).unwrap(),
        "wakes": serde_json::to_value(m.wakes(ALL, &GoroutineFilter::default(), usize::MAX)).unwrap(),
        "goroutines": gs,
    })
}

fn one_thread(bytes: &[u8], cfg: Config) -> Model {
    Model::from_reader(bytes, cfg).unwrap()
}

// Feeder on another thread with a given batch length, batches applied here.
fn pipelined(bytes: &[u8], cfg: Config, batch: usize) -> Model {
    let mut model = Model::new(cfg);
    let mut feeder = model.feeder();
    feeder.set_batch_len(batch);
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut rd = weft_trace::Reader::new(bytes);
            while let Some(e) = rd.next_event().unwrap() {
                if let Some(b) = feeder.push(&e) {
                    tx.send(b).unwrap();
                }
            }
            tx.send(feeder.flush()).unwrap();
        });
        for b in rx {
            model.apply_batch(b);
        }
    });
    model.evict();
    model
}

fn assert_same(a: &Model, b: &Model, what: &str) {
    let (va, vb) = (view(a), view(b));
    assert!(
        a.stats().events > 1000,
        "{what}: the capture should have events"
    );
    for key in va.as_object().unwrap().keys() {
        assert!(
            va[key] == vb[key],
            "{what}: {key} differs between one-thread and pipelined ingest"
        );
    }
}

#[test]
fn pipelined_ingest_builds_the_same_model() {
    let bytes = demo_trace();
    let want = one_thread(&bytes, Config::default());
    for batch in [3, 4096] {
        let got = pipelined(&bytes, Config::default(), batch);
        assert_same(&want, &got, &format!("batch {batch}"));
    }
    let mut model = Model::new(Config::default());
    let mut last = 0;
    let n = model
        .ingest_reader_pipelined(&bytes[..], |n| {
            assert!(n > last);
            last = n;
        })
        .unwrap();
    model.evict();
    assert_eq!(n, want.stats().events);
    assert_same(&want, &model, "ingest_reader_pipelined");
}

#[test]
fn pipelined_ingest_evicts_the_same_way() {
    let bytes = demo_trace();
    // Small caps and window: eviction runs many times during the load.
    let cfg = Config {
        window_ns: 200_000_000,
        max_spans: 2000,
        max_spans_per_goroutine: 50,
        max_wakes: 500,
        max_ranges: 20,
        ..Config::default()
    };
    let want = one_thread(&bytes, cfg.clone());
    assert!(want.stats().spans <= 2000);
    let got = pipelined(&bytes, cfg, 33);
    assert_same(&want, &got, "evicting");
}

#[test]
fn a_truncated_trace_reports_the_error_and_keeps_what_came_before() {
    let bytes = demo_trace();
    let cut = &bytes[..bytes.len() * 2 / 3];
    let single = Model::from_reader(cut, Config::default()).err();
    let mut model = Model::new(Config::default());
    let got = model.ingest_reader_pipelined(cut, |_| {}).err();
    match (single, got) {
        (Some(a), Some(b)) => assert_eq!(a.to_string(), b.to_string()),
        (None, None) => {}
        (a, b) => panic!("one-thread {a:?} vs pipelined {b:?}"),
    }
}

// Feeds `bytes` as one live stream: the streaming decoder gets `chunk`
// bytes at a time and the feed is flushed each time it has caught up, as
// the live trace stream does.
fn feed_stream(feed: &mut weft_timeline::LiveFeed, bytes: &[u8], chunk: usize) {
    use weft_trace::{Decoder, Status};
    feed.restart();
    let mut dec = Decoder::new();
    let mut drain = |dec: &mut Decoder, feed: &mut weft_timeline::LiveFeed| {
        while let Status::Event = dec.advance().unwrap() {
            feed.push(&dec.event());
        }
        feed.flush();
    };
    for c in bytes.chunks(chunk) {
        dec.feed(c);
        drain(&mut dec, feed);
    }
    dec.finish();
    drain(&mut dec, feed);
}

#[test]
fn live_feed_builds_the_same_model_while_readers_query_it() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    let bytes = demo_trace();
    // Two streams back to back, the second's ids starting over, as when
    // the live stream renews its request. At a renewal, goroutines the new
    // stream's first generation does not mention are ended once that
    // generation is complete: those alive at the end of the first pass that
    // the trace's first generation does not know yet.
    let (want, ended) = {
        let mut m = Model::new(Config::default());
        let mut ended = 0;
        for stream in 0..2 {
            let mut rd = weft_trace::Reader::new(&bytes[..]);
            let mut first: Option<(u64, i64)> = None;
            let mut mentioned = std::collections::HashSet::new();
            let mut settled = stream == 0;
            while let Some(e) = rd.next_event().unwrap() {
                if !settled && e.generation() != 0 {
                    match first {
                        None => first = Some((e.generation(), e.time())),
                        Some((g, t)) if g != e.generation() => {
                            ended += m.end_unmentioned(|id| mentioned.contains(&id), t);
                            settled = true;
                        }
                        Some(_) => {}
                    }
                }
                if !settled {
                    if let Some(st) = e.state_transition() {
                        if let weft_trace::Transition::Goroutine { id, .. } = st.transition {
                            mentioned.insert(id);
                        }
                    }
                }
                m.ingest(&e);
            }
        }
        m.evict();
        (m, ended)
    };
    let model = Arc::new(Mutex::new(Model::new(Config::default())));
    let applied = Arc::new(AtomicU64::new(0));
    let (m, a) = (model.clone(), applied.clone());
    let mut feed = weft_timeline::LiveFeed::new(move |n, f| {
        f(&mut m.lock().unwrap());
        a.fetch_add(n as u64, Ordering::Relaxed);
    });
    // A reader taking the lock all along, as web requests do.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (model, done) = (model.clone(), done.clone());
        std::thread::spawn(move || {
            let mut queries = 0u64;
            while !done.load(Ordering::Relaxed) {
                let _ = model.lock().unwrap().groups(true);
                queries += 1;
            }
            queries
        })
    };
    for chunk in [4096, 1 << 20] {
        feed_stream(&mut feed, &bytes, chunk);
    }
    feed.sync();
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(applied.load(Ordering::Relaxed), want.stats().events);
    assert_eq!(feed.ended_between_streams(), ended as u64);
    drop(feed);
    let mut got = Arc::try_unwrap(model).ok().unwrap().into_inner().unwrap();
    got.evict();
    assert_same(&want, &got, "live feed, two streams");
}
