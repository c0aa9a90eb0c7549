//! Property tests: random snapshot sequences through grouping and the
//! tracker never panic and keep the report's invariants.

use std::collections::HashMap;

use weft_analysis::{group, group_by_creation_site, Tracker, TrackerConfig};
use weft_model::{Frame, Record, Snapshot, StateClass};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const FUNCS: &[&str] = &[
    "runtime.gopark",
    "runtime.chanrecv1",
    "runtime.goexit",
    "sync.(*Mutex).Lock",
    "time.Sleep",
    "net/http.(*conn).serve",
    "main.a",
    "main.(*pool).worker",
    "main.handler.func1",
    "example.com/x/y.F[...]",
    "",
    "weird name with spaces",
];
const STATES: &[(&str, StateClass)] = &[
    ("chan receive", StateClass::Blocked),
    ("chan send", StateClass::Blocked),
    ("running", StateClass::Running),
    ("runnable", StateClass::Runnable),
    ("syscall", StateClass::Syscall),
    ("sync.Mutex.Lock", StateClass::Blocked),
    ("GC worker (idle)", StateClass::Idle),
    ("select", StateClass::Blocked),
];

fn random_snapshot(rng: &mut Rng, t: u64) -> Snapshot {
    let n = rng.below(12);
    let records = (0..n)
        .map(|_| {
            let depth = rng.below(6);
            let stack = (0..depth)
                .map(|_| Frame {
                    func: FUNCS[rng.below(FUNCS.len() as u64) as usize].to_string(),
                    file: "f.go".into(),
                    line: rng.below(100) as u32,
                    pc: None,
                })
                .collect();
            let (status, class) = STATES[rng.below(STATES.len() as u64) as usize];
            let count = rng.below(200);
            Record {
                count,
                ids: if count == 1 {
                    vec![rng.below(1_000_000)]
                } else {
                    vec![]
                },
                status: status.into(),
                class,
                wait_minutes: if rng.below(4) == 0 {
                    Some(rng.below(60))
                } else {
                    None
                },
                leaked: rng.below(8) == 0,
                stack,
                created_by: if rng.below(2) == 0 {
                    Some(Frame {
                        func: FUNCS[rng.below(FUNCS.len() as u64) as usize].into(),
                        ..Frame::default()
                    })
                } else {
                    None
                },
                ..Record::default()
            }
        })
        .collect();
    Snapshot {
        taken_at_ms: t,
        records,
        ..Snapshot::default()
    }
}

#[test]
fn random_sequences_keep_the_invariants() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..200 {
        let cfg = TrackerConfig {
            history_len: 1 + rng.below(10) as usize,
            ..TrackerConfig::default()
        };
        let history_len = cfg.history_len;
        let mut tracker = Tracker::new(cfg);
        let mut t = 1_000 * round;
        for step in 0..30 {
            // Time sometimes stands still or repeats; the tracker must cope.
            t += rng.below(3) * 500;
            let snap = random_snapshot(&mut rng, t);
            let groups = group(&snap);
            assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), snap.total());
            assert_eq!(
                group_by_creation_site(&snap)
                    .iter()
                    .map(|g| g.count)
                    .sum::<u64>(),
                snap.total()
            );
            let mut keys: HashMap<&str, ()> = HashMap::new();
            for g in &groups {
                assert!(keys.insert(g.key.as_str(), ()).is_none(), "duplicate key");
                assert_eq!(g.states.values().sum::<u64>(), g.count);
                assert!(g.leaked <= g.count);
            }
            let report = tracker.observe(&snap);
            assert_eq!(report.total, snap.total());
            assert_eq!(report.by_state.values().sum::<u64>(), snap.total());
            assert!(report.total_history.len() <= history_len);
            for tg in &report.groups {
                assert_eq!(tg.delta, tg.group.count as i64 - tg.baseline as i64);
                assert_eq!(tg.history.len(), report.total_history.len());
                assert_eq!(*tg.history.last().unwrap(), tg.group.count);
                assert!(tg.rate_per_min.is_finite());
                assert_eq!(tg.why.len(), tg.rules.len());
                assert_eq!(tg.leak_suspect, !tg.why.is_empty());
            }
            for f in &report.findings {
                assert!(weft_analysis::is_lint(&f.kind));
                assert!(!f.summary.is_empty());
            }
            if step % 11 == 10 {
                tracker.reset_baseline();
            }
            if step % 17 == 16 {
                tracker.clear();
            }
        }
    }
}
