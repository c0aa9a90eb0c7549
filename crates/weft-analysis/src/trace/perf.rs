//! Where time goes: blocked time by site, scheduling latency, GC and STW.
use weft_timeline::Model;

use super::{place, secs, Confidence, Evidence, Severity, TraceConfig, TraceFinding};
use crate::lint::Finding;

// Waits that are the program's own rhythm, not contention.
fn is_idle_reason(r: &str) -> bool {
    matches!(
        r,
        "sleep"
            | "system goroutine wait"
            | "GC background sweeper wait"
            | "GC mark assist wait for work"
            | "wait for debug call"
            | ""
    ) || r.starts_with("GC")
}

pub(super) fn contention(model: &Model, cfg: &TraceConfig) -> Vec<TraceFinding> {
    let observed = (model.now_ns() - model.first_ns()).max(1);
    let mut out = Vec::new();
    for b in model
        .block_sites()
        .into_iter()
        .filter(|b| b.where_.is_some() && !is_idle_reason(&b.reason))
        .take(cfg.top_n)
    {
        let at = b.where_.as_ref().map(place).unwrap_or_default();
        let ev = Evidence {
            where_: b.where_.clone(),
            stack: model
                .stack_funcs(b.stack)
                .into_iter()
                .map(String::from)
                .collect(),
            reason: b.reason.clone(),
            count: b.count + b.ongoing,
            blocked_ns: b.max_ns as i64,
            ..Evidence::default()
        };
        out.push(TraceFinding {
            finding: Finding {
                kind: "contention".into(),
                summary: format!(
                    "{} blocked in {} at {at} over {} waits ({} still waiting), {:.1} goroutine-seconds per second, longest {}",
                    secs(b.total_ns as i64),
                    b.reason,
                    b.count + b.ongoing,
                    b.ongoing,
                    b.total_ns as f64 / observed as f64,
                    secs(b.max_ns as i64),
                ),
                groups: vec![],
                goroutines: vec![],
            },
            severity: Severity::Info,
            confidence: Confidence::High,
            reasoning: "measured: sum of wait durations at this reason and stack".into(),
            functions: b.where_.iter().map(|f| f.func.clone()).collect(),
            evidence: vec![ev],
        });
    }
    out
}

pub(super) fn sched_latency(model: &Model) -> Vec<TraceFinding> {
    let s = model.sched();
    if s.sched_latency.count == 0 {
        return Vec::new();
    }
    let p = s.sched_latency;
    let sev = if p.p99_ns > 10_000_000 {
        Severity::Warning
    } else {
        Severity::Info
    };
    vec![TraceFinding {
        finding: Finding {
            kind: "sched-latency".into(),
            summary: format!(
                "runnable goroutines waited for a P: p50 {}, p90 {}, p99 {}, max {} over {} starts (GOMAXPROCS {})",
                secs(p.p50_ns as i64),
                secs(p.p90_ns as i64),
                secs(p.p99_ns as i64),
                secs(p.max_ns as i64),
                p.count,
                s.gomaxprocs
            ),
            groups: vec![],
            goroutines: vec![],
        },
        severity: sev,
        confidence: Confidence::High,
        reasoning: "measured from runnable to running transitions".into(),
        functions: vec![],
        evidence: vec![],
    }]
}

pub(super) fn gc_pause(model: &Model) -> Vec<TraceFinding> {
    let s = model.sched();
    if s.gc_count == 0 && s.stw_count == 0 {
        return Vec::new();
    }
    let sev = if s.stw_fraction > 0.01 || s.stw_max_ns > 10_000_000 {
        Severity::Warning
    } else {
        Severity::Info
    };
    vec![TraceFinding {
        finding: Finding {
            kind: "gc-pause".into(),
            summary: format!(
                "{} GC cycles marked for {:.1}% of wall time; {} stop-the-world pauses took {:.2}% (longest {})",
                s.gc_count,
                s.gc_fraction * 100.0,
                s.stw_count,
                s.stw_fraction * 100.0,
                secs(s.stw_max_ns as i64)
            ),
            groups: vec![],
            goroutines: vec![],
        },
        severity: sev,
        confidence: Confidence::High,
        reasoning: "measured from GC and STW ranges".into(),
        functions: vec![],
        evidence: vec![],
    }]
}
