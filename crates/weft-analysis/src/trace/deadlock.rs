//! Deadlock inference: which goroutines are stuck, and whether anything
//! still running could wake them.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use weft_timeline::{GState, GroupId, Model, StackId};

use super::{
    evidence, functions_of, place, secs, wait_and_start_places, Confidence, Evidence, Severity,
    TraceConfig, TraceFinding,
};
use crate::lint::Finding;

/// What a stuck goroutine waits on, as far as reason and stack tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// `sync.Mutex` / `sync.RWMutex`.
    Lock,
    WaitGroup,
    Cond,
    ChanSend,
    ChanReceive,
    Select,
    /// `select {}` or a nil channel.
    Forever,
    /// Another `sync` wait.
    Sync,
}

impl WaitKind {
    fn describe(self) -> &'static str {
        match self {
            WaitKind::Lock => "a mutex (Lock)",
            WaitKind::WaitGroup => "WaitGroup.Wait",
            WaitKind::Cond => "Cond.Wait",
            WaitKind::ChanSend => "a channel send",
            WaitKind::ChanReceive => "a channel receive",
            WaitKind::Select => "a select",
            WaitKind::Forever => "a wait that can never end (select{} or nil channel)",
            WaitKind::Sync => "a sync primitive",
        }
    }
}

/// A goroutine that has waited too long on something only the program can end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stuck {
    pub id: i64,
    pub group: GroupId,
    pub kind: WaitKind,
    pub reason: String,
    pub stack: StackId,
    pub since_ns: i64,
}

/// Classifies a wait by its trace reason and stack; `None` for waits a
/// timer, I/O or the runtime can end (sleep, network, syscalls, GC...).
pub fn wait_kind(reason: &str, funcs: &[&str]) -> Option<WaitKind> {
    let has = |s: &str| funcs.iter().any(|f| f.contains(s));
    if has("Mutex).Lock") || has("Mutex).RLock") || has("Mutex).lockSlow") {
        return Some(WaitKind::Lock);
    }
    if has("WaitGroup).Wait") {
        return Some(WaitKind::WaitGroup);
    }
    if reason.contains("Cond") || has("sync.(*Cond).Wait") {
        return Some(WaitKind::Cond);
    }
    let r = if reason.is_empty() {
        // Goroutines restated at the trace start carry a stack but no reason.
        if has("runtime.chanrecv") {
            "chan receive"
        } else if has("runtime.chansend") {
            "chan send"
        } else if has("runtime.selectgo") {
            "select"
        } else if has("runtime.block") {
            "forever"
        } else {
            ""
        }
    } else {
        reason
    };
    match r {
        _ if r.starts_with("chan send") && r.contains("nil") => Some(WaitKind::Forever),
        _ if r.starts_with("chan receive") && r.contains("nil") => Some(WaitKind::Forever),
        _ if r.starts_with("chan send") => Some(WaitKind::ChanSend),
        _ if r.starts_with("chan receive") => Some(WaitKind::ChanReceive),
        "select" => Some(WaitKind::Select),
        "forever" | "select (no cases)" => Some(WaitKind::Forever),
        "sync" => Some(WaitKind::Sync),
        _ => None,
    }
}

/// Goroutines of the program (not the runtime's) that have waited at least
/// `min_blocked_ns` on channels, selects or sync primitives, in groups that
/// no timer or netpoller ever woke.
pub fn stuck_goroutines(model: &Model, cfg: &TraceConfig) -> Vec<Stuck> {
    let now = model.now_ns();
    let mut out = Vec::new();
    for g in model.goroutines_raw() {
        if g.state != GState::Waiting || now - g.since_ns < cfg.min_blocked_ns {
            continue;
        }
        let Some(grp) = model.group_raw(g.group) else {
            continue;
        };
        if grp.system {
            continue;
        }
        let reason = model.str(g.reason);
        let funcs = model.stack_funcs(g.stack);
        let Some(kind) = wait_kind(reason, &funcs) else {
            continue;
        };
        if grp.runtime_woken_reasons.contains(&g.reason) && kind != WaitKind::Lock {
            // A timer or the netpoller ended such waits before: a timeout may end this one.
            continue;
        }
        out.push(Stuck {
            id: g.id,
            group: g.group,
            kind,
            reason: reason.to_string(),
            stack: g.stack,
            since_ns: g.since_ns,
        });
    }
    out.sort_by_key(|s| s.id);
    out
}

// (group, blocking stack, wait kind, reason)
type BucketKey = (GroupId, StackId, WaitKind, String);

pub(super) fn deadlocks(
    model: &Model,
    cfg: &TraceConfig,
    stuck: &[Stuck],
    leaked: &BTreeSet<GroupId>,
) -> Vec<TraceFinding> {
    if stuck.is_empty() {
        return Vec::new();
    }
    let now = model.now_ns();
    let stuck_ids: BTreeSet<i64> = stuck.iter().map(|s| s.id).collect();
    let alive = |id: i64| {
        model
            .goroutine_raw(id)
            .is_some_and(|g| g.state != GState::Dead)
            && !stuck_ids.contains(&id)
    };
    let mut members: HashMap<GroupId, Vec<i64>> = HashMap::new();
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for g in model.goroutines_raw() {
        members.entry(g.group).or_default().push(g.id);
        if g.parent >= 0 {
            children.entry(g.parent).or_default().push(g.id);
        }
    }
    let mut wakers_of: HashMap<GroupId, BTreeSet<GroupId>> = HashMap::new();
    for (from, to, _) in model.flows_raw() {
        if from != u32::MAX {
            wakers_of.entry(to).or_default().insert(from);
        }
    }
    let lock_stuck = stuck.iter().filter(|s| s.kind == WaitKind::Lock).count();

    // Whole program: nothing of the program can run any more.
    let user_alive = model.goroutines_raw().any(|g| {
        g.state != GState::Dead
            && !stuck_ids.contains(&g.id)
            && model.group_raw(g.group).is_some_and(|gr| !gr.system)
            && !(g.state == GState::Waiting
                && now - g.since_ns >= cfg.min_blocked_ns
                && wait_kind(model.str(g.reason), &model.stack_funcs(g.stack)).is_some())
    });
    let whole = !user_alive;

    // (group, stack, kind) -> (ids, confidence, reasoning)
    let mut buckets: BTreeMap<BucketKey, (Vec<i64>, Confidence, String)> = BTreeMap::new();
    for s in stuck {
        if leaked.contains(&s.group) && !whole {
            continue; // reported as a leak
        }
        let g = model.goroutine_raw(s.id).unwrap();
        let waker_groups: Vec<GroupId> = wakers_of
            .get(&s.group)
            .map(|x| x.iter().copied().collect())
            .unwrap_or_default();
        let waker_alive = waker_groups.iter().any(|wg| {
            members
                .get(wg)
                .is_some_and(|m| m.iter().any(|&id| id != s.id && alive(id)))
        });
        let kids = children.get(&s.id).map(|v| &v[..]).unwrap_or(&[]);
        let kids_alive = kids.iter().any(|&k| alive(k));
        let parent_gone = g.parent >= 0 && !alive(g.parent) && !stuck_ids.contains(&g.parent);
        let verdict: Option<(Confidence, String)> = if whole {
            Some((
                Confidence::High,
                "no goroutine of the program is running, runnable, in a syscall or in a wait a timer or I/O can end".into(),
            ))
        } else if s.kind == WaitKind::Lock {
            if lock_stuck >= 2 {
                Some((Confidence::High, format!("{lock_stuck} goroutines have been stuck acquiring mutexes for over {} with no wake-up: each likely holds a lock another wants (lock-order deadlock)", secs(cfg.min_blocked_ns))))
            } else {
                Some((Confidence::Medium, format!("a mutex wait of over {} with no wake-up means its holder is stuck or never unlocks", secs(cfg.min_blocked_ns))))
            }
        } else if waker_alive {
            None
        } else if !waker_groups.is_empty() {
            Some((
                Confidence::High,
                "every goroutine that woke this group before has exited or is stuck itself".into(),
            ))
        } else if !kids.is_empty() && !kids_alive {
            Some((
                Confidence::High,
                if kids.len() == 1 {
                    "the goroutine it started has exited or is stuck, and nothing else ever woke it"
                        .to_string()
                } else {
                    format!("all {} goroutines it started have exited or are stuck, and nothing else ever woke it", kids.len())
                },
            ))
        } else if parent_gone && !kids_alive {
            Some((
                Confidence::Medium,
                "the goroutine that created it has exited and nothing else ever woke it".into(),
            ))
        } else {
            None
        };
        let Some((conf, why)) = verdict else { continue };
        let b = buckets
            .entry((s.group, s.stack, s.kind, s.reason.clone()))
            .or_insert((Vec::new(), conf, why.clone()));
        b.0.push(s.id);
        if conf > b.1 {
            b.1 = conf;
            b.2 = why;
        }
    }
    if buckets.is_empty() {
        return Vec::new();
    }
    let kind = if whole {
        "deadlock"
    } else {
        "partial-deadlock"
    };
    let mut out = Vec::new();
    if whole {
        // One finding for the whole program.
        let mut ev: Vec<Evidence> = Vec::new();
        let mut ids = Vec::new();
        for ((grp, stack, _, reason), (v, _, _)) in &buckets {
            ev.push(evidence(model, *grp, *stack, reason, v));
            ids.extend(v.iter().copied());
        }
        let total = ids.len();
        let places: Vec<String> = ev
            .iter()
            .filter_map(|e| e.where_.as_ref().map(place))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        out.push(TraceFinding {
            finding: Finding {
                kind: kind.into(),
                summary: format!(
                    "all {total} goroutines of the program are blocked on channels or locks and none can run to wake them (at {})",
                    places.join(", ")
                ),
                groups: ev.iter().map(|e| e.group.clone()).collect(),
                goroutines: ids.iter().map(|&i| i as u64).take(64).collect(),
            },
            severity: Severity::Error,
            confidence: Confidence::High,
            reasoning: "no goroutine of the program is running, runnable, in a syscall or in a wait a timer or I/O can end".into(),
            functions: functions_of(&ev),
            evidence: ev,
        });
        return out;
    }
    if lock_stuck >= 2 {
        // A lock cycle spans groups: report the stuck lockers together.
        let locks: Vec<_> = buckets
            .iter()
            .filter(|(k, _)| k.2 == WaitKind::Lock)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if locks.len() >= 2 {
            let ev: Vec<Evidence> = locks
                .iter()
                .map(|((grp, stack, _, reason), (ids, _, _))| {
                    evidence(model, *grp, *stack, reason, ids)
                })
                .collect();
            let ids: Vec<i64> = locks
                .iter()
                .flat_map(|(_, v)| v.0.iter().copied())
                .collect();
            let mut where_: Vec<String> = ev
                .iter()
                .filter_map(|e| e.where_.as_ref().map(place))
                .collect();
            where_.dedup();
            let mut entries: Vec<String> = ev.iter().map(|e| e.entry.clone()).collect();
            entries.dedup();
            let longest = ev.iter().map(|e| e.blocked_ns).max().unwrap_or(0);
            let why = locks[0].1 .2.clone();
            out.push(TraceFinding {
                finding: Finding {
                    kind: kind.into(),
                    summary: format!(
                        "{} goroutines of {} have been blocked acquiring mutexes in {} for {} while the rest of the program runs on: {why}",
                        ids.len(),
                        entries.join(", "),
                        where_.join(", "),
                        secs(longest),
                    ),
                    groups: ev.iter().map(|e| e.group.clone()).collect(),
                    goroutines: ids.iter().map(|&i| i as u64).take(64).collect(),
                },
                severity: Severity::Error,
                confidence: Confidence::High,
                reasoning: why,
                functions: functions_of(&ev),
                evidence: ev,
            });
            buckets.retain(|k, _| k.2 != WaitKind::Lock);
        }
    }
    for ((grp, stack, wk, reason), (ids, conf, why)) in buckets {
        let ev = evidence(model, grp, stack, &reason, &ids);
        let (at, created) = wait_and_start_places(&ev);
        let summary = format!(
            "{} goroutine{} of {}{created} blocked on {} in {at} for {}{}, and nothing still running will wake {}: {why}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ev.entry,
            wk.describe(),
            secs(ev.blocked_ns),
            if ev.since_before_trace { " (since before the trace began)" } else { "" },
            if ids.len() == 1 { "it" } else { "them" },
        );
        out.push(TraceFinding {
            finding: Finding {
                kind: kind.into(),
                summary,
                groups: vec![ev.group.clone()],
                goroutines: ids.iter().map(|&i| i as u64).take(64).collect(),
            },
            severity: Severity::Error,
            confidence: conf,
            reasoning: why,
            functions: functions_of(std::slice::from_ref(&ev)),
            evidence: vec![ev],
        });
    }
    out
}
