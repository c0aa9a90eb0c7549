//! Leak inference: groups whose blocked population grows while the waits
//! at their blocking site (almost) never end.
use std::collections::HashMap;

use weft_timeline::{GState, GroupId, Model, StackId};

use super::deadlock::wait_kind;
use super::{
    evidence, functions_of, secs, wait_and_start_places, Confidence, Severity, TraceConfig,
    TraceFinding,
};
use crate::lint::Finding;

pub(super) fn leaks(model: &Model, cfg: &TraceConfig) -> Vec<(GroupId, TraceFinding)> {
    // Ended waits per (reason, stack): a site whose waits end is not leaking.
    let mut ended: HashMap<(String, StackId), u64> = HashMap::new();
    for b in model.block_sites() {
        ended.insert((b.reason.clone(), b.stack), b.count);
    }
    // Never-woken waiters per (group, reason, stack).
    let mut waiting: HashMap<(GroupId, String, StackId), Vec<i64>> = HashMap::new();
    for g in model.goroutines_raw() {
        if g.state != GState::Waiting {
            continue;
        }
        let Some(grp) = model.group_raw(g.group) else {
            continue;
        };
        if grp.system {
            continue;
        }
        let reason = model.str(g.reason);
        if wait_kind(reason, &model.stack_funcs(g.stack)).is_none() {
            continue;
        }
        waiting
            .entry((g.group, reason.to_string(), g.stack))
            .or_default()
            .push(g.id);
    }
    let times = model.series_times();
    let mut out = Vec::new();
    let mut by_group: HashMap<GroupId, Vec<(String, StackId, Vec<i64>)>> = HashMap::new();
    for ((grp, reason, stack), ids) in waiting {
        by_group.entry(grp).or_default().push((reason, stack, ids));
    }
    for (grp, mut sites) in by_group {
        sites.sort_by(|a, b| b.2.len().cmp(&a.2.len()));
        let (reason, stack, ids) = &sites[0];
        let n = ids.len() as u64;
        if n < cfg.leak_min_stuck {
            continue;
        }
        let done = ended.get(&(reason.clone(), *stack)).copied().unwrap_or(0);
        if done * 4 > n {
            continue; // waits there do end
        }
        let Some(g) = model.group_raw(grp) else {
            continue;
        };
        let series: Vec<u32> = g.series.iter().map(|c| c[2]).collect();
        if series.len() < 3 {
            continue;
        }
        // Blocked population a quarter into the capture vs now.
        let early_i = series.len() / 4;
        let early = series[early_i] as u64;
        let last = g.counts[2] as u64;
        if last < early + cfg.leak_min_growth || last < 2 * early.max(1) {
            continue;
        }
        // Mostly rising: no big drop between samples.
        let drops = series
            .windows(2)
            .filter(|w| w[1] + (w[0] / 10).max(1) < w[0])
            .count();
        if drops * 10 > series.len() {
            continue;
        }
        let span_ns =
            (model.now_ns() - times.get(early_i).copied().unwrap_or(model.first_ns())).max(1);
        let rate = (last - early) as f64 / (span_ns as f64 / 1e9);
        let ev = evidence(model, grp, *stack, reason, ids);
        let (at, created) = wait_and_start_places(&ev);
        let summary = format!(
            "{n} goroutines of {}{created} are blocked in {reason} at {at} and never woke: the group grew from {early} to {last} blocked over {} ({rate:.0}/s), and only {done} waits there ever ended",
            ev.entry,
            secs(span_ns),
        );
        out.push((
            grp,
            TraceFinding {
                finding: Finding {
                    kind: "leak".into(),
                    summary,
                    groups: vec![ev.group.clone()],
                    goroutines: ev.goroutines.iter().map(|&i| i as u64).collect(),
                },
                severity: Severity::Error,
                confidence: if done == 0 { Confidence::High } else { Confidence::Medium },
                reasoning: "the blocked population rose steadily across the capture and goroutines that block at this site stay blocked".into(),
                functions: functions_of(std::slice::from_ref(&ev)),
                evidence: vec![ev],
            },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
