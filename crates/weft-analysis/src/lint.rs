//! Findings: named, explainable checks over a report, in the manner of
//! tokio-console's lints. Each has a kebab-case name users can silence,
//! and each finding says in a sentence what is wrong and where.

use serde::{Deserialize, Serialize};
use weft_model::{Snapshot, StateClass};

use crate::track::{TrackedGroup, TrackerConfig};

/// One problem found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The lint's name (see [`LINTS`]).
    pub kind: String,
    /// One sentence: what is wrong and where.
    pub summary: String,
    /// Keys of the groups involved.
    pub groups: Vec<String>,
    /// Ids of goroutines involved, when the source reports ids (a sample).
    pub goroutines: Vec<u64>,
}

/// A check's name and what it looks for.
#[derive(Clone, Copy, Debug)]
pub struct Lint {
    pub name: &'static str,
    pub description: &'static str,
}

/// Every check weft runs, in report order.
pub const LINTS: &[Lint] = &[
    Lint {
        name: "leak",
        description: "a blocked group kept growing over several observations and never shrank",
    },
    Lint {
        name: "long-wait",
        description: "goroutines have waited longer than the threshold (the runtime's `N minutes`)",
    },
    Lint {
        name: "runtime-leak",
        description: "the Go runtime's goroutine-leak profile reports goroutines blocked on unreachable objects",
    },
    Lint {
        name: "lock-pileup",
        description: "many goroutines of one group wait on the same kind of lock",
    },
    Lint {
        name: "stuck-channel",
        description: "goroutines have waited a long time on one channel (address known: pid:N) and no goroutine waits on its other side",
    },
    Lint {
        name: "deadlock",
        description: "every goroutine is blocked on channels or locks and nothing can wake them (dumps and tracebacks)",
    },
];

/// True when `name` is a known lint.
pub fn is_lint(name: &str) -> bool {
    LINTS.iter().any(|l| l.name == name)
}

pub(crate) fn run_lints(
    cfg: &TrackerConfig,
    snap: &Snapshot,
    groups: &[TrackedGroup],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for lint in LINTS {
        if cfg.silenced.contains(lint.name) {
            continue;
        }
        match lint.name {
            "leak" | "long-wait" | "runtime-leak" => {
                for tg in groups {
                    if let Some(i) = tg.rules.iter().position(|r| r == lint.name) {
                        out.push(group_finding(lint.name, tg, &tg.why[i]));
                    }
                }
            }
            "lock-pileup" => {
                for tg in groups {
                    let waiting: u64 = tg
                        .group
                        .states
                        .iter()
                        .filter(|(s, _)| is_lock_wait(s))
                        .map(|(_, n)| *n)
                        .sum();
                    if waiting >= cfg.lock_pileup_min {
                        let sentence =
                            format!("{waiting} goroutines wait on a lock ({})", tg.group.state);
                        out.push(group_finding(lint.name, tg, &sentence));
                    }
                }
            }
            "deadlock" => {
                if let Some(f) = deadlock(snap, groups) {
                    out.push(f);
                }
            }
            _ => {}
        }
    }
    out
}

fn group_finding(kind: &str, tg: &TrackedGroup, sentence: &str) -> Finding {
    let g = &tg.group;
    let place = match &g.where_ {
        Some(f) if f.line > 0 => format!("{} ({}:{})", f.func, short_file(&f.file), f.line),
        Some(f) => f.func.clone(),
        None => format!("group {}", g.key),
    };
    Finding {
        kind: kind.to_string(),
        summary: format!("{} goroutines at {place}: {sentence}", g.count),
        groups: vec![g.key.clone()],
        goroutines: g.ids.clone(),
    }
}

/// `stuck-channel`: channels (known by address, from a `pid:N` read) whose
/// waiters are all on one side (all sending, or all receiving), each
/// waiting at least [`TrackerConfig::stuck_channel_secs`]: by the tracker's
/// own observations (`since`: (address, goroutine) -> first seen, ms) or by
/// the runtime's wait time when the source gives it. Goroutines in
/// `select` are left out: another case may still fire.
pub(crate) fn stuck_channels(
    cfg: &TrackerConfig,
    snap: &Snapshot,
    groups: &[TrackedGroup],
    now_ms: u64,
    since: &std::collections::HashMap<(u64, u64), u64>,
) -> Vec<Finding> {
    use std::collections::BTreeMap;
    // addr -> (cap, len, closed, [(goroutine, direction, waited ms)])
    type Waiters<'a> = (
        Option<u64>,
        Option<u64>,
        Option<bool>,
        Vec<(u64, &'a str, u64)>,
    );
    let mut chans: BTreeMap<u64, Waiters> = BTreeMap::new();
    for r in &snap.records {
        for w in r.wait_on.iter().filter(|w| w.kind == "chan") {
            let e = chans
                .entry(w.addr)
                .or_insert((w.cap, w.len, w.closed, Vec::new()));
            for &id in &r.ids {
                let seen = since
                    .get(&(w.addr, id))
                    .map_or(0, |&t| now_ms.saturating_sub(t));
                let runtime = r.wait_ns.map_or(0, |ns| ns / 1_000_000);
                e.3.push((id, w.direction.as_str(), seen.max(runtime)));
            }
        }
    }
    let group_of = |id: u64| {
        groups
            .iter()
            .find(|g| g.group.ids.contains(&id))
            .map(|g| g.group.key.clone())
    };
    let min_ms = cfg.stuck_channel_secs.saturating_mul(1000);
    let mut out = Vec::new();
    for (addr, (cap, len, closed, waiters)) in chans {
        let sending = waiters.iter().all(|w| w.1 == "send");
        let receiving = waiters.iter().all(|w| w.1 == "recv");
        if waiters.is_empty() || !(sending || receiving) || closed == Some(true) {
            continue;
        }
        let waited = waiters.iter().map(|w| w.2).min().unwrap_or(0);
        if waited < min_ms {
            continue;
        }
        let buffer = match (cap, len) {
            (Some(0), _) => "unbuffered".to_string(),
            (Some(c), Some(l)) => format!("buffer {l}/{c}"),
            _ => "buffer unknown".to_string(),
        };
        let (doing, other) = if sending {
            ("sending on", "receiving from")
        } else {
            ("receiving from", "sending on")
        };
        let mut keys: Vec<String> = waiters.iter().filter_map(|w| group_of(w.0)).collect();
        keys.sort();
        keys.dedup();
        out.push(Finding {
            kind: "stuck-channel".into(),
            summary: format!(
                "{} goroutine{} blocked {doing} channel {addr:#x} ({buffer}) for at least {}; no goroutine is {other} it",
                waiters.len(),
                if waiters.len() == 1 { " has been" } else { "s have been" },
                crate::track::human_duration_ms(waited)
            ),
            groups: keys,
            goroutines: waiters.iter().map(|w| w.0).take(64).collect(),
        });
    }
    out
}

/// Last two path elements: `/home/x/svc/main.go` → `svc/main.go`.
pub fn short_file(path: &str) -> &str {
    let mut cut = path.len();
    for _ in 0..2 {
        match path[..cut].rfind('/') {
            Some(i) => cut = i,
            None => return path,
        }
    }
    &path[cut + 1..]
}

fn is_lock_wait(status: &str) -> bool {
    status.starts_with("sync.Mutex") || status.starts_with("sync.RWMutex") || status == "semacquire"
}

/// Waits only another goroutine of the program can end (no I/O, timer or
/// syscall can). `select` is left out: it may have a timer case.
fn is_program_only_wait(status: &str) -> bool {
    status.starts_with("chan receive")
        || status.starts_with("chan send")
        || status == "select (no cases)"
        || status.starts_with("sync.")
        || status == "semacquire"
}

/// A whole-program deadlock: something is waiting, all non-idle goroutines
/// wait on channels or locks only, and none runs, is runnable or is in a
/// syscall. A live pprof endpoint never matches (its handler is running),
/// so this fires on dumps and tracebacks.
fn deadlock(snap: &Snapshot, groups: &[TrackedGroup]) -> Option<Finding> {
    let mut waiting = 0;
    for r in &snap.records {
        match r.class {
            StateClass::Idle | StateClass::Dead => {}
            StateClass::Blocked if is_program_only_wait(&r.status) => waiting += r.count,
            _ => return None,
        }
    }
    if waiting == 0 {
        return None;
    }
    let involved: Vec<&TrackedGroup> = groups
        .iter()
        .filter(|g| g.group.class == StateClass::Blocked)
        .collect();
    Some(Finding {
        kind: "deadlock".into(),
        summary: format!(
            "all {waiting} goroutines of the program wait on channels or locks and none can run to wake them"
        ),
        groups: involved.iter().map(|g| g.group.key.clone()).collect(),
        goroutines: involved.iter().flat_map(|g| g.group.ids.iter().copied()).take(64).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tracker;
    use weft_model::{Frame, Record};

    fn rec(func: &str, n: u64, status: &str, class: StateClass) -> Record {
        Record {
            count: n,
            ids: if n == 1 { vec![n + 10] } else { vec![] },
            status: status.into(),
            class,
            stack: vec![Frame {
                func: func.into(),
                file: "/src/svc/main.go".into(),
                line: 7,
                pc: None,
            }]
            .into(),
            ..Record::default()
        }
    }

    #[test]
    fn deadlock_only_when_nothing_can_run() {
        let dead = Snapshot {
            records: vec![
                rec("main.a", 1, "chan receive", StateClass::Blocked),
                rec("main.b", 1, "sync.Mutex.Lock", StateClass::Blocked),
                rec("runtime.bgsweep", 1, "GC sweep wait", StateClass::Idle),
            ],
            ..Snapshot::default()
        };
        let r = Tracker::new(TrackerConfig::default()).observe(&dead);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].kind, "deadlock");
        assert_eq!(r.findings[0].groups.len(), 2);
        assert!(r.findings[0].summary.starts_with("all 2 goroutines"));

        for other in [
            rec("main.srv", 1, "IO wait", StateClass::Blocked),
            rec("main.t", 1, "select", StateClass::Blocked),
            rec("main.r", 1, "running", StateClass::Running),
        ] {
            let mut s = dead.clone();
            s.records.push(other);
            let r = Tracker::new(TrackerConfig::default()).observe(&s);
            assert!(
                r.findings.iter().all(|f| f.kind != "deadlock"),
                "{:?}",
                r.findings
            );
        }
    }

    #[test]
    fn lock_pileup_names_the_place() {
        let s = Snapshot {
            records: vec![
                rec("main.get", 60, "sync.Mutex.Lock", StateClass::Blocked),
                rec("main.srv", 1, "running", StateClass::Running),
            ],
            ..Snapshot::default()
        };
        let r = Tracker::new(TrackerConfig::default()).observe(&s);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].kind, "lock-pileup");
        assert_eq!(
            r.findings[0].summary,
            "60 goroutines at main.get (svc/main.go:7): 60 goroutines wait on a lock (sync.Mutex.Lock)"
        );
    }

    #[test]
    fn lint_names_are_kebab_case_and_known() {
        for l in LINTS {
            assert!(l.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!(is_lint(l.name));
        }
        assert!(!is_lint("nope"));
        assert_eq!(short_file("/a/b/c.go"), "b/c.go");
        assert_eq!(short_file("c.go"), "c.go");
        assert_eq!(short_file("b/c.go"), "b/c.go");
    }

    fn chan_waiter(id: u64, func: &str, dir: &str, addr: u64) -> Record {
        let status = if dir == "send" {
            "chan send"
        } else {
            "chan receive"
        };
        let mut r = rec(func, 1, status, StateClass::Blocked);
        r.ids = vec![id];
        r.wait_on = vec![weft_model::WaitObject {
            addr,
            kind: "chan".into(),
            direction: dir.into(),
            cap: Some(2),
            len: Some(2),
            closed: Some(false),
        }];
        r
    }

    fn at(ms: u64, records: Vec<Record>) -> Snapshot {
        Snapshot {
            taken_at_ms: ms,
            records,
            ..Snapshot::default()
        }
    }

    #[test]
    fn stuck_channel_needs_one_sided_waiters_for_the_threshold() {
        let cfg = TrackerConfig {
            stuck_channel_secs: 60,
            ..TrackerConfig::default()
        };
        let stuck = |f: &[Finding]| f.iter().filter(|f| f.kind == "stuck-channel").count();
        let senders = || {
            vec![
                chan_waiter(7, "main.produce", "send", 0xc0001),
                chan_waiter(8, "main.produce", "send", 0xc0001),
            ]
        };
        let mut t = Tracker::new(cfg.clone());
        assert_eq!(stuck(&t.observe(&at(1_000, senders())).findings), 0);
        // 30 s later: not long enough yet.
        assert_eq!(stuck(&t.observe(&at(31_000, senders())).findings), 0);
        let r = t.observe(&at(62_000, senders()));
        assert_eq!(stuck(&r.findings), 1, "{:?}", r.findings);
        let f = r
            .findings
            .iter()
            .find(|f| f.kind == "stuck-channel")
            .unwrap();
        assert_eq!(f.goroutines, vec![7, 8]);
        assert!(
            f.summary.contains("0xc0001") && f.summary.contains("buffer 2/2"),
            "{}",
            f.summary
        );
        assert!(
            f.summary.contains("no goroutine is receiving from it"),
            "{}",
            f.summary
        );
        assert_eq!(f.groups.len(), 1);

        // A goroutine that only now started waiting there resets nothing
        // for the others, but the finding waits for it too.
        let mut more = senders();
        more.push(chan_waiter(9, "main.produce", "send", 0xc0001));
        assert_eq!(stuck(&t.observe(&at(63_000, more)).findings), 0);

        // Someone on the other side: not stuck (it is being served).
        let mut t = Tracker::new(cfg.clone());
        let mut both = senders();
        both.push(chan_waiter(9, "main.consume", "recv", 0xc0001));
        t.observe(&at(0, both.clone()));
        assert_eq!(stuck(&t.observe(&at(120_000, both)).findings), 0);

        // The runtime's own wait time counts on the first observation.
        let mut t = Tracker::new(cfg);
        let mut old = senders();
        for r in &mut old {
            r.wait_ns = Some(90_000_000_000);
        }
        assert_eq!(stuck(&t.observe(&at(0, old)).findings), 1);
    }
}
