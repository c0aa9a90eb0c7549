//! The model fed by goroutine snapshots (the `pid:N` source) rather than a
//! trace: goroutines appear, change state and exit at sample times, and the
//! channels they wait on become object nodes. (The same path against a real
//! Go process read by PID is tested in crates/weft-web/tests/sampled.rs.)
use weft_model::{Frame, Record, Snapshot, SourceForm, StateClass, WaitObject};
use weft_timeline::{GState, Model};

fn frame(func: &str, line: u32) -> Frame {
    Frame {
        func: func.into(),
        file: "/src/app/main.go".into(),
        line,
        pc: None,
    }
}

fn rec(
    id: u64,
    status: &str,
    class: StateClass,
    top: &str,
    entry: &str,
    chan: Option<(u64, &str)>,
) -> Record {
    Record {
        count: 1,
        ids: vec![id],
        status: status.into(),
        class,
        stack: vec![frame(top, 10), frame(entry, 20), frame("runtime.goexit", 1)].into(),
        created_by: Some(frame("main.main", 30)),
        creator_id: Some(1),
        wait_on: chan
            .map(|(addr, dir)| {
                vec![WaitObject {
                    addr,
                    kind: "chan".into(),
                    direction: dir.into(),
                    cap: Some(0),
                    len: Some(0),
                    closed: Some(false),
                }]
            })
            .unwrap_or_default(),
        ..Record::default()
    }
}

fn snap(records: Vec<Record>) -> Snapshot {
    Snapshot {
        source: "pid:1".into(),
        taken_at_ms: 0,
        form: SourceForm::default(),
        records,
        ..Snapshot::default()
    }
}

const CH: u64 = 0xc000_1000;

#[test]
fn samples_make_goroutines_states_exits_and_channel_nodes() {
    let mut m = Model::default();
    let main = || {
        rec(
            1,
            "running",
            StateClass::Running,
            "main.main",
            "runtime.main",
            None,
        )
    };
    let sender = |id| {
        rec(
            id,
            "chan send",
            StateClass::Blocked,
            "main.produce",
            "main.produce",
            Some((CH, "send")),
        )
    };
    let a = m.ingest_snapshot(&snap(vec![main(), sender(5), sender(6)]), 1_000_000_000);
    assert_eq!((a.new, a.changed, a.exited), (3, 0, 0));
    assert_eq!(m.samples(), 1);

    // Both senders share one channel node, in one group, as senders.
    let objs = m.wait_objects();
    assert_eq!(objs.len(), 1);
    assert_eq!(
        (objs[0].addr, objs[0].kind.as_str(), objs[0].cap),
        (CH, "chan", Some(0))
    );
    assert_eq!(objs[0].waiters.len(), 1);
    assert_eq!(
        (
            objs[0].waiters[0].direction.as_str(),
            objs[0].waiters[0].count
        ),
        ("send", 2)
    );
    let g5 = m.goroutine(5).unwrap();
    assert_eq!(g5.entry, "main.produce");
    assert_eq!(g5.parent, Some(1));
    assert_eq!(g5.state, GState::Waiting);
    assert_eq!(g5.reason, "chan send");
    assert_eq!(objs[0].waiters[0].group, g5.group);
    let grp = m
        .groups(false)
        .into_iter()
        .find(|g| g.id == g5.group)
        .unwrap();
    assert_eq!(grp.counts.waiting, 2);

    // Second sample: 5 exited, 6 still waits, 1 blocked now, 8 is new.
    let mut main_blocked = main();
    main_blocked.status = "chan receive".into();
    main_blocked.class = StateClass::Blocked;
    let b = m.ingest_snapshot(
        &snap(vec![main_blocked, sender(6), sender(8)]),
        2_000_000_000,
    );
    assert_eq!((b.new, b.changed, b.exited), (1, 1, 1));
    assert_eq!(m.goroutine(5).unwrap().state, GState::Dead);
    assert_eq!(m.goroutine(5).unwrap().ended_ns, Some(2_000_000_000));
    let g1 = m.goroutine(1).unwrap();
    assert_eq!(
        (g1.state, g1.reason.as_str(), g1.since_ns),
        (GState::Waiting, "chan receive", 2_000_000_000)
    );
    // Goroutine 1 ran from the first sample to the second.
    assert_eq!(g1.history.state.len(), 1);
    let grp = m
        .groups(false)
        .into_iter()
        .find(|g| g.id == g5.group)
        .unwrap();
    assert_eq!((grp.counts.waiting, grp.created, grp.exited), (2, 3, 1));
    assert_eq!(m.wait_objects()[0].waiters[0].goroutines, vec![6, 8]);

    // An unchanged sample changes nothing but the clock.
    let v = m.version();
    let mut main_blocked = main();
    main_blocked.status = "chan receive".into();
    main_blocked.class = StateClass::Blocked;
    let c = m.ingest_snapshot(
        &snap(vec![main_blocked, sender(6), sender(8)]),
        3_000_000_000,
    );
    assert_eq!((c.new, c.changed, c.exited), (0, 0, 0));
    assert!(m.version() > v);
    assert_eq!(m.now_ns(), 3_000_000_000);
}

#[test]
fn aggregated_records_are_counted_as_skipped() {
    let mut m = Model::default();
    let mut r = rec(
        1,
        "chan receive",
        StateClass::Blocked,
        "main.wait",
        "main.wait",
        None,
    );
    r.ids.clear();
    r.count = 40;
    let a = m.ingest_snapshot(&snap(vec![r]), 5);
    assert_eq!((a.new, a.skipped_records), (0, 1));
}
