//! The edge where other crates' types become the UI's own: analysis reports
//! become [`ReportView`]s.

use weft_analysis::{Report, TrackedGroup};

use crate::view::{FindingView, GroupView, ReportView};

impl From<&TrackedGroup> for GroupView {
    fn from(t: &TrackedGroup) -> GroupView {
        let g = &t.group;
        GroupView {
            key: g.key.clone(),
            count: g.count,
            delta: t.delta,
            rate_per_min: t.rate_per_min,
            state: g.state.clone(),
            class: g.class,
            where_: g.where_.clone(),
            created_by: g.created_by.clone(),
            stack: g.stack.clone(),
            leak_suspect: t.leak_suspect,
            why: t.why.clone(),
            history: t.history.clone(),
        }
    }
}

/// Converts an analysis report; `form` names the source form for the
/// status line (`debug=1`, `debug=0`, …).
pub fn report_view(r: &Report, form: &str) -> ReportView {
    let prev = r
        .total_history
        .len()
        .checked_sub(2)
        .map(|i| r.total_history[i]);
    ReportView {
        total: r.total,
        total_delta: prev.map(|p| r.total as i64 - p as i64).unwrap_or(0),
        observations: r.observations,
        by_class: r.by_class.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        total_history: r.total_history.clone(),
        groups: r.groups.iter().map(GroupView::from).collect(),
        findings: r
            .findings
            .iter()
            .map(|f| FindingView {
                name: f.kind.clone(),
                message: f.summary.clone(),
            })
            .collect(),
        form: form.to_string(),
    }
}

/// Short name of a source form for the status line.
pub fn form_name(form: weft_model::SourceForm) -> &'static str {
    use weft_model::SourceForm::*;
    match form {
        Debug2 => "debug=2",
        Debug1 => "debug=1",
        Pprof => "debug=0",
        LeakProfile => "goroutineleak",
        Memory => "memory",
        Trace => "trace",
        Unknown => "",
    }
}
