//! Following groups across snapshots: count history, growth since a
//! baseline, growth rate, and leak suspicion with the reason in words.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use weft_model::{Snapshot, StateClass};

use crate::group::{by_state, group, Group};
use crate::lint::{run_lints, Finding};

/// Tunables of a [`Tracker`]. The defaults suit 1-second polling.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// Observations kept per group (the sparkline window).
    pub history_len: usize,
    /// The `leak` rule needs at least this many observations since the baseline.
    pub growth_min_observations: usize,
    /// ... a rise of at least this many goroutines ...
    pub growth_min_increase: u64,
    /// ... made of at least this many separate rises (a pool warming up
    /// in one or two steps is not a leak) ...
    pub growth_min_steps: usize,
    /// `long-wait`: a member waited at least this many minutes.
    pub long_wait_minutes: u64,
    /// `lock-pileup`: at least this many goroutines of one group wait on a lock.
    pub lock_pileup_min: u64,
    /// `stuck-channel`: every waiter on a channel has waited at least this
    /// long (seconds) with nobody on the other side.
    pub stuck_channel_secs: u64,
    /// Lint names that are switched off (see [`crate::LINTS`]).
    pub silenced: BTreeSet<String>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            history_len: 120,
            growth_min_observations: 5,
            growth_min_increase: 5,
            growth_min_steps: 3,
            long_wait_minutes: 10,
            lock_pileup_min: 50,
            stuck_channel_secs: 60,
            silenced: BTreeSet::new(),
        }
    }
}

/// A group as seen over time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackedGroup {
    #[serde(flatten)]
    pub group: Group,
    /// Count at the baseline (0 when the group appeared after it).
    pub baseline: u64,
    /// `count - baseline`.
    pub delta: i64,
    /// Least-squares slope of the count over the window, per minute.
    pub rate_per_min: f64,
    /// Counts of the last observations, oldest first (0 where absent).
    pub history: Vec<u64>,
    /// One of the leak rules fired for this group.
    pub leak_suspect: bool,
    /// Each fired rule, as a sentence.
    pub why: Vec<String>,
    /// Lint name of each fired rule, parallel to `why`.
    pub rules: Vec<String>,
}

/// What one observation amounts to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub source: String,
    pub taken_at_ms: u64,
    /// Observations since the baseline, this one included.
    pub observations: usize,
    pub baseline_taken_at_ms: u64,
    pub total: u64,
    pub by_state: BTreeMap<String, u64>,
    pub by_class: BTreeMap<String, u64>,
    /// Totals of the last observations, oldest first.
    pub total_history: Vec<u64>,
    /// Groups present now, largest first.
    pub groups: Vec<TrackedGroup>,
    pub findings: Vec<Finding>,
}

struct GroupState {
    baseline: u64,
    history: VecDeque<u64>,
}

/// Follows a program's goroutine groups across snapshots.
///
/// ```
/// use weft_analysis::{Tracker, TrackerConfig};
/// let mut t = Tracker::new(TrackerConfig::default());
/// let report = t.observe(&weft_model::Snapshot::default());
/// assert_eq!(report.total, 0);
/// ```
pub struct Tracker {
    cfg: TrackerConfig,
    times: VecDeque<u64>,
    totals: VecDeque<u64>,
    groups: HashMap<String, GroupState>,
    /// Observations since the baseline (the baseline one included).
    since_baseline: usize,
    baseline_at: u64,
    last_counts: HashMap<String, u64>,
    /// (channel address, goroutine id) -> when first seen waiting there.
    chan_waits: HashMap<(u64, u64), u64>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Tracker {
            cfg,
            times: VecDeque::new(),
            totals: VecDeque::new(),
            groups: HashMap::new(),
            since_baseline: 0,
            baseline_at: 0,
            last_counts: HashMap::new(),
            chan_waits: HashMap::new(),
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// Silences or re-enables a lint by name.
    pub fn set_silenced(&mut self, lint: &str, silenced: bool) {
        if silenced {
            self.cfg.silenced.insert(lint.to_string());
        } else {
            self.cfg.silenced.remove(lint);
        }
    }

    /// Makes the latest observation the baseline: deltas restart from 0 and
    /// growth rules only look at what happens from now on.
    pub fn reset_baseline(&mut self) {
        for (key, st) in &mut self.groups {
            st.baseline = self.last_counts.get(key).copied().unwrap_or(0);
        }
        self.since_baseline = self.since_baseline.min(1);
        self.baseline_at = self.times.back().copied().unwrap_or(0);
    }

    /// Forgets everything (use after the target restarted: its old history
    /// says nothing about the new process). The next observation is the baseline.
    pub fn clear(&mut self) {
        *self = Tracker::new(self.cfg.clone());
    }

    /// Takes in one snapshot and reports on it.
    pub fn observe(&mut self, snap: &Snapshot) -> Report {
        let now = if snap.taken_at_ms != 0 {
            snap.taken_at_ms
        } else {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        };
        let groups = group(snap);
        let first = self.since_baseline == 0;
        if first {
            self.baseline_at = now;
        }
        self.since_baseline += 1;
        push_capped(&mut self.times, now, self.cfg.history_len);
        push_capped(&mut self.totals, snap.total(), self.cfg.history_len);

        let current: HashMap<&str, u64> =
            groups.iter().map(|g| (g.key.as_str(), g.count)).collect();
        // Every known group gets a point this observation (0 when absent),
        // so histories stay aligned with `times`.
        let len = self.times.len();
        for (key, st) in self.groups.iter_mut() {
            let c = current.get(key.as_str()).copied().unwrap_or(0);
            push_capped(&mut st.history, c, self.cfg.history_len);
        }
        for g in &groups {
            self.groups.entry(g.key.clone()).or_insert_with(|| {
                let mut history = VecDeque::from(vec![0; len - 1]);
                history.push_back(g.count);
                GroupState {
                    baseline: if first { g.count } else { 0 },
                    history,
                }
            });
        }
        // Bounded memory: forget groups absent for the whole window and not
        // part of the baseline.
        self.groups
            .retain(|_, st| st.baseline > 0 || st.history.iter().any(|&c| c > 0));
        self.last_counts = current.iter().map(|(k, v)| (k.to_string(), *v)).collect();

        let window = self.since_baseline.min(len);
        let times: Vec<u64> = self.times.iter().copied().collect();
        let mut tracked = Vec::with_capacity(groups.len());
        for g in groups {
            let st = &self.groups[&g.key];
            let history: Vec<u64> = st.history.iter().copied().collect();
            let rate = slope_per_min(&times, &history);
            let mut tg = TrackedGroup {
                baseline: st.baseline,
                delta: g.count as i64 - st.baseline as i64,
                rate_per_min: rate,
                history,
                group: g,
                ..TrackedGroup::default()
            };
            self.judge(&mut tg, &times, window);
            tracked.push(tg);
        }

        let mut by_class = BTreeMap::new();
        for r in &snap.records {
            *by_class.entry(class_name(r.class).to_string()).or_default() += r.count;
        }
        let mut report = Report {
            source: snap.source.clone(),
            taken_at_ms: now,
            observations: self.since_baseline,
            baseline_taken_at_ms: self.baseline_at,
            total: snap.total(),
            by_state: by_state(snap),
            by_class,
            total_history: self.totals.iter().copied().collect(),
            groups: tracked,
            findings: Vec::new(),
        };
        self.note_channel_waits(snap, now);
        report.findings = run_lints(&self.cfg, snap, &report.groups);
        if !self.cfg.silenced.contains("stuck-channel") {
            report.findings.extend(crate::lint::stuck_channels(
                &self.cfg,
                snap,
                &report.groups,
                now,
                &self.chan_waits,
            ));
        }
        report
    }

    // Remembers since when each goroutine waits on each channel (only the
    // pairs of this snapshot are kept, so the map stays its size).
    fn note_channel_waits(&mut self, snap: &Snapshot, now: u64) {
        let mut next = HashMap::new();
        for r in &snap.records {
            for w in r.wait_on.iter().filter(|w| w.kind == "chan") {
                for &id in &r.ids {
                    let since = self.chan_waits.get(&(w.addr, id)).copied().unwrap_or(now);
                    next.insert((w.addr, id), since);
                }
            }
        }
        self.chan_waits = next;
    }

    /// Applies the leak rules to one group, filling `leak_suspect` and `why`.
    fn judge(&self, tg: &mut TrackedGroup, times: &[u64], window: usize) {
        let cfg = &self.cfg;
        let g = &tg.group;
        let mut why = Vec::new();
        let mut rules = Vec::new();
        if !self.cfg.silenced.contains("leak")
            && g.is_blocked()
            && window >= cfg.growth_min_observations
        {
            let h = &tg.history[tg.history.len() - window..];
            let t = &times[times.len() - window..];
            let never_shrank = h.windows(2).all(|w| w[1] >= w[0]);
            let steps = h.windows(2).filter(|w| w[1] > w[0]).count();
            let rise = h[h.len() - 1].saturating_sub(h[0]);
            if never_shrank && steps >= cfg.growth_min_steps && rise >= cfg.growth_min_increase {
                rules.push("leak".to_string());
                why.push(format!(
                    "grew from {} to {} over {} observations ({}) and never shrank, while blocked in {}",
                    h[0],
                    h[h.len() - 1],
                    window,
                    human_duration_ms(t[t.len() - 1].saturating_sub(t[0])),
                    g.state
                ));
            }
        }
        if !self.cfg.silenced.contains("long-wait") {
            if let Some(m) = g.max_wait_minutes {
                if m >= cfg.long_wait_minutes {
                    rules.push("long-wait".to_string());
                    why.push(format!(
                        "has goroutines waiting in {} for {} minutes or more",
                        g.state, m
                    ));
                }
            }
        }
        if !self.cfg.silenced.contains("runtime-leak") && g.leaked > 0 {
            rules.push("runtime-leak".to_string());
            why.push(format!(
                "the Go runtime reports {} of these goroutines as leaked (blocked on something no running goroutine can reach)",
                g.leaked
            ));
        }
        tg.leak_suspect = !why.is_empty();
        tg.why = why;
        tg.rules = rules;
    }
}

fn push_capped(q: &mut VecDeque<u64>, v: u64, cap: usize) {
    q.push_back(v);
    while q.len() > cap.max(1) {
        q.pop_front();
    }
}

/// Least-squares slope of `ys` over `ts` (milliseconds), per minute.
fn slope_per_min(ts: &[u64], ys: &[u64]) -> f64 {
    let n = ts.len().min(ys.len());
    if n < 2 {
        return 0.0;
    }
    let (ts, ys) = (&ts[ts.len() - n..], &ys[ys.len() - n..]);
    let t0 = ts[0] as f64;
    let xs: Vec<f64> = ts.iter().map(|&t| (t as f64 - t0) / 60_000.0).collect();
    let mx = xs.iter().sum::<f64>() / n as f64;
    let my = ys.iter().map(|&y| y as f64).sum::<f64>() / n as f64;
    let mut num = 0.0;
    let mut den = 0.0;
    for (x, &y) in xs.iter().zip(ys) {
        num += (x - mx) * (y as f64 - my);
        den += (x - mx) * (x - mx);
    }
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// `snake_case` name of a state class, as serialized.
pub fn class_name(c: StateClass) -> &'static str {
    match c {
        StateClass::Running => "running",
        StateClass::Runnable => "runnable",
        StateClass::Syscall => "syscall",
        StateClass::Blocked => "blocked",
        StateClass::Idle => "idle",
        StateClass::Dead => "dead",
        StateClass::Unknown => "unknown",
    }
}

/// `1m05s`, `12s`, `850ms`.
pub fn human_duration_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::{Frame, Record};

    fn snap_at(t_ms: u64, groups: &[(&str, u64, &str, StateClass)]) -> Snapshot {
        Snapshot {
            taken_at_ms: t_ms,
            records: groups
                .iter()
                .map(|(f, n, st, class)| Record {
                    count: *n,
                    status: st.to_string(),
                    class: *class,
                    stack: vec![
                        Frame {
                            func: "runtime.gopark".into(),
                            ..Frame::default()
                        },
                        Frame {
                            func: f.to_string(),
                            file: "main.go".into(),
                            line: 10,
                            pc: None,
                        },
                    ]
                    .into(),
                    ..Record::default()
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    fn find<'a>(r: &'a Report, func: &str) -> &'a TrackedGroup {
        r.groups
            .iter()
            .find(|g| g.group.where_.as_ref().unwrap().func == func)
            .unwrap()
    }

    const B: StateClass = StateClass::Blocked;

    #[test]
    fn steady_growth_that_never_shrinks_is_a_leak() {
        let mut t = Tracker::new(TrackerConfig::default());
        let mut last = Report::default();
        for i in 0..8u64 {
            last = t.observe(&snap_at(
                1000 + i * 1000,
                &[
                    ("main.leak", 2 + 3 * i, "chan receive", B),
                    ("main.pool", 8, "chan receive", B),
                    ("main.serve", 1, "running", StateClass::Running),
                ],
            ));
        }
        let leak = find(&last, "main.leak");
        assert!(leak.leak_suspect, "{leak:?}");
        assert_eq!(leak.baseline, 2);
        assert_eq!(leak.delta, 21);
        assert_eq!(leak.history, vec![2, 5, 8, 11, 14, 17, 20, 23]);
        assert!(
            (leak.rate_per_min - 180.0).abs() < 1e-6,
            "{}",
            leak.rate_per_min
        );
        assert!(
            leak.why[0].starts_with("grew from 2 to 23 over 8 observations (7s) and never shrank"),
            "{:?}",
            leak.why
        );
        let pool = find(&last, "main.pool");
        assert!(!pool.leak_suspect);
        assert_eq!(pool.delta, 0);
        assert_eq!(last.findings.len(), 1);
        assert_eq!(last.findings[0].kind, "leak");
        assert_eq!(last.findings[0].groups, vec![leak.group.key.clone()]);
        assert_eq!(last.total_history.len(), 8);
        assert_eq!(last.observations, 8);
    }

    #[test]
    fn growth_with_a_dip_or_in_one_step_or_while_running_is_not_a_leak() {
        let mut t = Tracker::new(TrackerConfig::default());
        let dip = [2, 5, 8, 7, 11, 14, 17];
        let step = [0, 16, 16, 16, 16, 16, 16];
        let mut last = Report::default();
        for i in 0..7 {
            last = t.observe(&snap_at(
                i as u64 * 1000 + 1,
                &[
                    ("main.dip", dip[i], "chan receive", B),
                    ("main.warm", step[i], "select", B),
                    (
                        "main.busy",
                        1 + 5 * i as u64,
                        "running",
                        StateClass::Running,
                    ),
                ],
            ));
        }
        for f in ["main.dip", "main.warm", "main.busy"] {
            assert!(!find(&last, f).leak_suspect, "{f}");
        }
        assert!(last.findings.is_empty());
        // A group that appeared after the baseline has baseline 0.
        assert_eq!(find(&last, "main.warm").baseline, 0);
        assert_eq!(find(&last, "main.warm").delta, 16);
    }

    #[test]
    fn a_shrinking_group_is_fine() {
        let mut t = Tracker::new(TrackerConfig::default());
        let mut last = Report::default();
        for (i, n) in [10, 8, 6, 4, 2, 1].into_iter().enumerate() {
            last = t.observe(&snap_at(
                i as u64 * 1000 + 1,
                &[("main.drain", n, "chan receive", B)],
            ));
        }
        let g = find(&last, "main.drain");
        assert!(!g.leak_suspect);
        assert_eq!(g.delta, -9);
        assert!(g.rate_per_min < 0.0);
    }

    #[test]
    fn reset_baseline_restarts_deltas_and_growth_window() {
        let mut t = Tracker::new(TrackerConfig::default());
        for i in 0..6u64 {
            t.observe(&snap_at(
                i * 1000 + 1,
                &[("main.leak", 10 * i, "chan send", B)],
            ));
        }
        t.reset_baseline();
        let r = t.observe(&snap_at(7000, &[("main.leak", 50, "chan send", B)]));
        let g = find(&r, "main.leak");
        assert_eq!(g.baseline, 50);
        assert_eq!(g.delta, 0);
        assert!(!g.leak_suspect);
        assert_eq!(r.observations, 2);
        t.clear();
        let r = t.observe(&snap_at(8000, &[("main.leak", 3, "chan send", B)]));
        assert_eq!(r.observations, 1);
        assert_eq!(find(&r, "main.leak").history, vec![3]);
    }

    #[test]
    fn long_waits_and_runtime_leaks_are_suspects_with_reasons() {
        let mut s = snap_at(
            1,
            &[
                ("main.stuck", 3, "chan receive", B),
                ("main.lost", 2, "select", B),
                ("main.serve", 1, "running", StateClass::Running),
            ],
        );
        s.records[0].wait_minutes = Some(42);
        s.records[1].leaked = true;
        let mut t = Tracker::new(TrackerConfig::default());
        let r = t.observe(&s);
        let stuck = find(&r, "main.stuck");
        assert!(stuck.leak_suspect);
        assert_eq!(
            stuck.why,
            vec!["has goroutines waiting in chan receive for 42 minutes or more"]
        );
        let lost = find(&r, "main.lost");
        assert!(lost.leak_suspect);
        assert!(lost.why[0].contains("reports 2 of these goroutines as leaked"));
        let kinds: Vec<&str> = r.findings.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, vec!["long-wait", "runtime-leak"]);

        // Silenced by name.
        let mut cfg = TrackerConfig::default();
        cfg.silenced.insert("long-wait".into());
        let r = Tracker::new(cfg).observe(&s);
        assert!(!find(&r, "main.stuck").leak_suspect);
        assert_eq!(r.findings.len(), 1);
    }

    #[test]
    fn history_is_bounded_and_vanished_groups_are_forgotten() {
        let cfg = TrackerConfig {
            history_len: 4,
            ..TrackerConfig::default()
        };
        let mut t = Tracker::new(cfg);
        t.observe(&snap_at(1, &[("main.base", 1, "sleep", B)]));
        t.observe(&snap_at(2, &[("main.short", 1, "sleep", B)]));
        for i in 3..20 {
            t.observe(&snap_at(i, &[]));
        }
        assert_eq!(t.times.len(), 4);
        // main.base is in the baseline, so kept (with zeros); main.short is gone.
        assert_eq!(t.groups.len(), 1);
        let r = t.observe(&snap_at(30, &[("main.base", 1, "sleep", B)]));
        assert_eq!(r.groups[0].history, vec![0, 0, 0, 1]);
        assert_eq!(r.groups[0].delta, 0);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration_ms(850), "850ms");
        assert_eq!(human_duration_ms(12_500), "12s");
        assert_eq!(human_duration_ms(65_000), "1m05s");
    }
}
