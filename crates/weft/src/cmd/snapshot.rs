//! `weft snapshot SOURCE [--json]`: one report of a program's goroutines,
//! grouped, with findings; then exit. The JSON form is documented in
//! `docs/snapshot-json.md` and is what `weft check --baseline` reads.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use weft_analysis::{
    class_name, short_file, Finding, Report, TrackedGroup, Tracker, TrackerConfig,
};
use weft_model::{Frame, Snapshot, SourceForm};
use weft_source::{fetch_detail, fetch_once, parse_source, PollOptions, ProfileForm, SourceSpec};

/// Version of the JSON layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(clap::Args)]
pub struct SnapshotArgs {
    /// A pprof base URL (http://127.0.0.1:6060, :6060), a dump file, `-` for stdin, or pid:N.
    pub source: String,
    /// Print the documented JSON (docs/snapshot-json.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Polls to take (URL and pid sources), to compute deltas and growth.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub polls: u32,
    /// Time between polls (e.g. 500ms, 2s).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    #[command(flatten)]
    pub fetch: FetchArgs,
    /// Show at most this many groups in the table (all in JSON).
    #[arg(long, default_value_t = 25)]
    pub top: usize,
    /// Silence a finding by name (leak, long-wait, runtime-leak, lock-pileup, deadlock); repeatable.
    #[arg(long = "silence", value_name = "LINT")]
    pub silence: Vec<String>,
    /// Also record this much execution trace (URL sources), alongside the
    /// profiles; its summary and findings join the report.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub trace: Option<Duration>,
}

/// Options for reaching the target, shared with `weft check`.
#[derive(clap::Args, Clone)]
pub struct FetchArgs {
    /// Per-request timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Largest answer or file read, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_body: u64,
    /// Concurrent profile form to read from a URL: debug0 (gzipped
    /// protobuf, keeps the runtime frames that give exact states) or debug1
    /// (text; its hidden runtime frames are restored from one extra debug0
    /// fetch). Neither stops the target.
    #[arg(long, default_value = "debug0", value_parser = parse_form)]
    pub form: ProfileForm,
    /// Take a full debug=2 dump (ids, wait times, creators). It stops the
    /// target's world while it runs; refused above --detail-limit goroutines.
    #[arg(long)]
    pub detail: bool,
    /// Goroutine count above which --detail is refused.
    #[arg(long, default_value_t = 10_000)]
    pub detail_limit: u64,
    /// Take --detail even above --detail-limit.
    #[arg(long)]
    pub force: bool,
    /// Also read /debug/pprof/goroutineleak (Go 1.27+, or 1.26 with the
    /// experiment) and mark the goroutines the runtime proves leaked. Off by
    /// default: it runs a leak-finding GC cycle in the target, which stalls
    /// big targets; refused above --detail-limit goroutines unless --force.
    #[arg(long)]
    pub leak_profile: bool,
}

impl FetchArgs {
    pub fn poll_options(&self) -> PollOptions {
        PollOptions {
            timeout: self.timeout,
            max_body_bytes: self.max_body,
            form: self.form,
            max_goroutines_for_detail: self.detail_limit,
            force_detail: self.force,
            leak_profile: self.leak_profile,
            ..PollOptions::default()
        }
    }

    /// One snapshot as the options ask: the concurrent form, or debug=2
    /// guarded by the goroutine count of a concurrent poll first.
    pub fn take(&self, spec: &SourceSpec) -> anyhow::Result<Snapshot> {
        let opts = self.poll_options();
        if self.detail {
            let last_total = match spec {
                SourceSpec::Url(_) if !self.force => {
                    let mut light = opts.clone();
                    light.leak_profile = false;
                    Some(fetch_once(spec, &light)?.total())
                }
                _ => None,
            };
            Ok(fetch_detail(spec, &opts, last_total)?)
        } else {
            Ok(fetch_once(spec, &opts)?)
        }
    }
}

#[path = "snapshot_trace.rs"]
mod trace;

pub fn run(args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    let spec = parse_source(&args.source)?;
    let mut cfg = TrackerConfig::default();
    for s in &args.silence {
        let trace_lint = args.trace.is_some()
            && weft_analysis::trace::TRACE_LINTS
                .iter()
                .any(|l| l.name == s);
        if !weft_analysis::is_lint(s) && !trace_lint {
            bail!("--silence {s}: no such finding; known: {}", lint_names());
        }
        cfg.silenced.insert(s.clone());
    }
    let mut tracker = Tracker::new(cfg);
    let recording = match args.trace {
        Some(d) => Some(trace::start(&spec, d, args.fetch.timeout)?),
        None => None,
    };
    let repeatable = matches!(spec, SourceSpec::Url(_) | SourceSpec::Pid(_));
    let polls = if repeatable { args.polls } else { 1 };
    let mut report = None;
    let mut form = SourceForm::Unknown;
    for i in 0..polls {
        if i > 0 {
            std::thread::sleep(args.poll_interval);
        }
        let snap = args
            .fetch
            .take(&spec)
            .with_context(|| format!("taking a snapshot of {}", spec.describe()))?;
        form = snap.form;
        report = Some(tracker.observe(&snap));
    }
    let report = report.expect("at least one poll");
    let mut doc = SnapshotJson::from_report(&report, form);
    if let Some(rec) = recording {
        let (summary, findings) = rec.finish(&args.silence)?;
        doc.findings.extend(findings);
        doc.trace = Some(summary);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &doc, args.top)?;
        if let Some(t) = &doc.trace {
            writeln!(
                out,
                "\ntrace: {:.1}s, {} events, {} bytes, {} goroutines created, {} ended (details: --json)",
                t.covered_ms / 1e3,
                t.events,
                t.bytes,
                t.goroutines_created,
                t.goroutines_ended
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn lint_names() -> String {
    weft_analysis::LINTS
        .iter()
        .map(|l| l.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `500ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
fn parse_form(s: &str) -> Result<ProfileForm, String> {
    match s {
        "debug0" | "debug=0" | "0" => Ok(ProfileForm::Debug0),
        "debug1" | "debug=1" | "1" => Ok(ProfileForm::Debug1),
        "debug2" | "debug=2" | "2" => Err("debug=2 stops the target's world; use --detail".into()),
        _ => Err(format!("{s}: expected debug0 or debug1")),
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; use e.g. 500ms, 2s, 1m"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}`; use ms, s or m")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The documented JSON document (docs/snapshot-json.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotJson {
    pub schema_version: u32,
    pub source: String,
    /// RFC 3339, UTC, milliseconds.
    pub taken_at: String,
    /// `debug2`, `debug1`, `pprof`, `leak_profile`, `memory`, `trace`, `unknown`.
    pub form: SourceForm,
    /// Observations behind the deltas (1 = no deltas).
    pub polls: usize,
    pub total: u64,
    pub by_state: BTreeMap<String, u64>,
    pub by_class: BTreeMap<String, u64>,
    pub groups: Vec<GroupJson>,
    pub findings: Vec<Finding>,
    /// With `--trace`: what the execution trace showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<trace::TraceJson>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FrameJson {
    pub func: String,
    pub file: String,
    pub line: u32,
}

impl From<&Frame> for FrameJson {
    fn from(f: &Frame) -> Self {
        FrameJson {
            func: f.func.clone(),
            file: f.file.clone(),
            line: f.line,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupJson {
    pub key: String,
    pub count: u64,
    pub delta: i64,
    pub rate_per_min: f64,
    pub state: String,
    pub states: BTreeMap<String, u64>,
    pub class: String,
    #[serde(rename = "where")]
    pub where_: Option<FrameJson>,
    pub created_by: Option<FrameJson>,
    pub stack: Vec<FrameJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_minutes: Option<u64>,
    #[serde(default)]
    pub leaked: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, Vec<String>>,
    pub leak_suspect: bool,
    pub why: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_on: Vec<weft_model::WaitObject>,
}

impl GroupJson {
    fn from_tracked(tg: &TrackedGroup) -> Self {
        let g = &tg.group;
        GroupJson {
            key: g.key.clone(),
            count: g.count,
            delta: tg.delta,
            rate_per_min: (tg.rate_per_min * 100.0).round() / 100.0,
            state: g.state.clone(),
            states: g.states.clone(),
            class: class_name(g.class).to_string(),
            where_: g.where_.as_ref().map(FrameJson::from),
            created_by: g.created_by.as_ref().map(FrameJson::from),
            stack: g.stack.iter().map(FrameJson::from).collect(),
            ids: g.ids.clone(),
            max_wait_minutes: g.max_wait_minutes,
            leaked: g.leaked,
            labels: g.labels.clone(),
            leak_suspect: tg.leak_suspect,
            why: tg.why.clone(),
            wait_on: g.wait_on.clone(),
        }
    }

    /// `func (dir/file.go:line)`.
    pub fn place(&self) -> String {
        place(self.where_.as_ref())
    }
}

pub fn place(f: Option<&FrameJson>) -> String {
    match f {
        Some(f) if f.line > 0 => format!("{} ({}:{})", f.func, short_file(&f.file), f.line),
        Some(f) => f.func.clone(),
        None => "?".into(),
    }
}

impl SnapshotJson {
    pub fn from_report(r: &Report, form: SourceForm) -> Self {
        SnapshotJson {
            schema_version: SCHEMA_VERSION,
            source: r.source.clone(),
            taken_at: rfc3339_ms(r.taken_at_ms),
            form,
            polls: r.observations,
            total: r.total,
            by_state: r.by_state.clone(),
            by_class: r.by_class.clone(),
            groups: r.groups.iter().map(GroupJson::from_tracked).collect(),
            findings: r.findings.clone(),
            trace: None,
        }
    }
}

fn write_table(out: &mut impl Write, doc: &SnapshotJson, top: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  {}  {} goroutines in {} groups  ({})",
        doc.source,
        doc.taken_at,
        doc.total,
        doc.groups.len(),
        serde_json::to_value(doc.form)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    )?;
    let mut states: Vec<(&String, &u64)> = doc.by_state.iter().collect();
    states.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let states: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
    writeln!(out, "states: {}", states.join(", "))?;
    writeln!(out)?;
    let show_delta = doc.polls > 1;
    let shown = &doc.groups[..doc.groups.len().min(top)];
    let sw = shown
        .iter()
        .map(|g| g.state.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 24);
    let places: Vec<String> = shown.iter().map(|g| g.place()).collect();
    let ww = places
        .iter()
        .map(|p| p.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 70);
    let delta_head = if show_delta {
        format!(" {:>7}", "DELTA")
    } else {
        String::new()
    };
    writeln!(
        out,
        "{:>7}{delta_head}  {:<sw$} {:<ww$} CREATED BY",
        "COUNT", "STATE", "WHERE"
    )?;
    for (g, p) in shown.iter().zip(&places) {
        let mark = if g.leak_suspect { "!" } else { " " };
        let delta = if show_delta {
            format!(" {:>+7}", g.delta)
        } else {
            String::new()
        };
        let created = match (&g.created_by, doc.form) {
            (Some(f), _) => place(Some(f)),
            // These forms print stacks without the `created by` line.
            (None, SourceForm::Pprof) => "(not in debug=0 profiles)".into(),
            (None, SourceForm::Debug1) => "(not in debug=1 profiles)".into(),
            (None, _) => "-".into(),
        };
        writeln!(
            out,
            "{:>7}{delta}{mark} {:<sw$} {:<ww$} {}",
            g.count, g.state, p, created
        )?;
    }
    if doc.groups.len() > top {
        let rest: u64 = doc.groups[top..].iter().map(|g| g.count).sum();
        writeln!(
            out,
            "  ... {} more groups ({rest} goroutines); --top N or --json for all",
            doc.groups.len() - top
        )?;
    }
    if !doc.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "findings:")?;
        for f in &doc.findings {
            writeln!(out, "  [{}] {}", f.kind, f.summary)?;
        }
    }
    Ok(())
}

/// `2026-11-22T20:04:05.123Z` from Unix milliseconds.
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_377_845_123), "2026-11-22T20:04:05.123Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3h").is_err());
    }
}
