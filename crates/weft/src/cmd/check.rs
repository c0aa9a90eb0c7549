//! `weft check --baseline SNAPSHOT.json SOURCE`: a CI gate. Compares the
//! program now with a snapshot saved by `weft snapshot --json` and exits 1
//! naming each goroutine group that grew beyond tolerance, 0 otherwise,
//! 2 on errors. The tolerance rules are documented in docs/snapshot-json.md.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use weft_analysis::{class_name, group, Group};
use weft_model::Frame;
use weft_source::parse_source;

use super::snapshot::{parse_duration, place, FetchArgs, FrameJson, SnapshotJson, SCHEMA_VERSION};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The JSON written by `weft snapshot --json` to compare with.
    #[arg(long, value_name = "SNAPSHOT.json")]
    pub baseline: String,
    /// A pprof base URL, a dump file, `-` for stdin, or pid:N.
    pub source: String,
    /// A group fails when it grew by more than max(N, --tolerance-pct of its baseline count).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub tolerance: u64,
    /// Relative part of the tolerance, in percent of the group's baseline count.
    #[arg(long, default_value_t = 20.0, value_name = "PCT")]
    pub tolerance_pct: f64,
    /// Absolute tolerance for connection-serving groups (keep-alive
    /// connections, HTTP/2 and gRPC transports), which come and go with
    /// clients; they may also double their baseline count.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub connection_tolerance: u64,
    /// Ignore groups with this function anywhere in their stack or as their
    /// creator (like goleak's IgnoreAnyFunction); a trailing `*` matches a prefix. Repeatable.
    #[arg(long = "ignore", value_name = "FUNC")]
    pub ignore: Vec<String>,
    /// Ignore groups whose innermost frame is this function (goleak's IgnoreTopFunction). Repeatable.
    #[arg(long = "ignore-top", value_name = "FUNC")]
    pub ignore_top: Vec<String>,
    /// File of functions to ignore, one per line (`top:FUNC` for --ignore-top; `#` comments).
    #[arg(long, value_name = "PATH")]
    pub ignore_file: Option<String>,
    /// Samples of the source to take; each group counts with its minimum
    /// over the samples, so goroutines that come and go are not flagged.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub samples: u32,
    /// Time between samples.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub interval: Duration,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Where-frames of goroutines that serve connections: they come and go with
/// traffic, so they only fail when they grew a lot.
const CONNECTION_SERVING: &[&str] = &[
    "net/http.(*conn).serve",
    "net/http.(*connReader).backgroundRead",
    "net/http.(*Server).Serve",
    "net/http.(*persistConn).readLoop",
    "net/http.(*persistConn).writeLoop",
    "net/http.(*http2serverConn).serve",
    "net/http.(*http2serverConn).readFrames",
    "net/http.(*http2ClientConn).readLoop",
    "net/http.(*http2clientConnReadLoop).run",
    "golang.org/x/net/http2.*",
    "google.golang.org/grpc/internal/transport.*",
    "database/sql.(*DB).connectionOpener",
];
/// Connection-serving groups may double their baseline count (besides
/// `--connection-tolerance`).
const CONNECTION_REL: f64 = 1.0;

/// A goroutine that serves a connection: its "where" is one of
/// [`CONNECTION_SERVING`], or it is inside net/http's own code (not a
/// handler, whose "where" would be the handler) under `(*conn).serve`,
/// e.g. reading the next request of a keep-alive connection.
fn is_connection_serving(g: &Group) -> bool {
    let Some(w) = &g.where_ else { return false };
    CONNECTION_SERVING.iter().any(|p| matches(p, &w.func))
        || (weft_analysis::package_of(&w.func) == "net/http"
            && g.stack.iter().any(|f| f.func == "net/http.(*conn).serve"))
}

struct Ignores {
    any: Vec<String>,
    top: Vec<String>,
}

fn matches(pattern: &str, func: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => func.starts_with(prefix),
        None => func == pattern,
    }
}

impl Ignores {
    fn load(args: &CheckArgs) -> anyhow::Result<Ignores> {
        let mut ig = Ignores {
            any: args.ignore.clone(),
            top: args.ignore_top.clone(),
        };
        if let Some(path) = &args.ignore_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --ignore-file {path}"))?;
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.is_empty() {
                    continue;
                }
                match line.strip_prefix("top:") {
                    Some(f) => ig.top.push(f.trim().to_string()),
                    None => ig.any.push(line.to_string()),
                }
            }
        }
        Ok(ig)
    }

    fn ignored(&self, g: &Group) -> Option<String> {
        if let Some(top) = g.stack.first() {
            if let Some(p) = self.top.iter().find(|p| matches(p, &top.func)) {
                return Some(p.clone());
            }
        }
        let funcs = g
            .stack
            .iter()
            .chain(g.created_by.iter())
            .map(|f: &Frame| f.func.as_str());
        for f in funcs {
            if let Some(p) = self.any.iter().find(|p| matches(p, f)) {
                return Some(p.clone());
            }
        }
        None
    }
}

/// A group's verdict.
struct Growth {
    group: Group,
    base: u64,
    now: u64,
    limit: u64,
    connection: bool,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.baseline)
        .with_context(|| format!("reading the baseline {}", args.baseline))?;
    let baseline: SnapshotJson = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a weft snapshot JSON (write one with `weft snapshot SOURCE --json > {}`)",
            args.baseline, args.baseline
        )
    })?;
    if baseline.schema_version != SCHEMA_VERSION {
        bail!(
            "{} has schema_version {}, this weft reads {}; take a new baseline with `weft snapshot --json`",
            args.baseline,
            baseline.schema_version,
            SCHEMA_VERSION
        );
    }
    if !(0.0..=10_000.0).contains(&args.tolerance_pct) {
        bail!("--tolerance-pct must be between 0 and 10000");
    }
    let ignores = Ignores::load(&args)?;
    let spec = parse_source(&args.source)?;
    let repeatable = matches!(
        spec,
        weft_source::SourceSpec::Url(_) | weft_source::SourceSpec::Pid(_)
    );
    let samples = if repeatable { args.samples } else { 1 };
    // The verdict uses counts only; skip the leak profile (a GC cycle in the target per read).
    let mut fetch = args.fetch.clone();
    fetch.leak_profile = false;

    // Minimum count per group over the samples; the latest group data for display.
    let mut min: HashMap<String, u64> = HashMap::new();
    let mut latest: HashMap<String, Group> = HashMap::new();
    let mut total_now = 0;
    for i in 0..samples {
        if i > 0 {
            std::thread::sleep(args.interval);
        }
        let snap = fetch
            .take(&spec)
            .with_context(|| format!("sampling {}", spec.describe()))?;
        total_now = snap.total();
        let groups = group(&snap);
        let seen: HashMap<&str, u64> = groups.iter().map(|g| (g.key.as_str(), g.count)).collect();
        if i == 0 {
            for g in &groups {
                min.insert(g.key.clone(), g.count);
            }
        } else {
            for (k, v) in min.iter_mut() {
                *v = (*v).min(seen.get(k.as_str()).copied().unwrap_or(0));
            }
        }
        for g in groups {
            latest.insert(g.key.clone(), g);
        }
    }

    let base: HashMap<&str, u64> = baseline
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.count))
        .collect();
    let mut failed = Vec::new();
    // The grown group closest to failing, for the "ok" line.
    let mut closest: Option<(String, u64, u64)> = None;
    let mut ignored = Vec::new();
    let mut running = 0;
    for (key, &now) in &min {
        let g = &latest[key];
        let b = base.get(key.as_str()).copied().unwrap_or(0);
        if now <= b {
            continue;
        }
        if let Some(p) = ignores.ignored(g) {
            ignored.push((g.clone(), p));
            continue;
        }
        if !g.is_blocked() {
            // Running or runnable goroutines are doing work, not stranded.
            running += 1;
            continue;
        }
        let connection = is_connection_serving(g);
        let (abs, rel) = if connection {
            (args.connection_tolerance, CONNECTION_REL)
        } else {
            (args.tolerance, args.tolerance_pct / 100.0)
        };
        let limit = abs.max((rel * b as f64).floor() as u64);
        let w = g.where_.as_ref().map(FrameJson::from);
        // Compare growth/limit ratios without floats: a/b > c/d ⇔ a·d > c·b.
        let closer = match &closest {
            None => true,
            Some(c) => (now - b) * c.2 > c.1 * limit,
        };
        if closer {
            closest = Some((place(w.as_ref()), now - b, limit));
        }
        if now - b > limit {
            failed.push(Growth {
                group: g.clone(),
                base: b,
                now,
                limit,
                connection,
            });
        }
    }
    failed.sort_by(|a, b| {
        (b.now - b.base)
            .cmp(&(a.now - a.base))
            .then(a.group.key.cmp(&b.group.key))
    });

    let total_base = baseline.total;
    if failed.is_empty() {
        println!(
            "weft check: ok: {} groups within tolerance (total {total_base} -> {total_now} goroutines, {samples} sample{})",
            min.len(),
            if samples == 1 { "" } else { "s" }
        );
        if let Some((at, grew, limit)) = &closest {
            println!("  closest to the limit: {at} +{grew} (allowed +{limit})");
        }
        if !ignored.is_empty() || running > 0 {
            println!("  ({} grown groups ignored by --ignore, {running} grown groups running rather than blocked)", ignored.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "weft check: FAIL: {} group{} grew beyond tolerance (total {total_base} -> {total_now} goroutines)",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" }
    );
    for f in &failed {
        let g = &f.group;
        let w = g.where_.as_ref().map(FrameJson::from);
        let c = g.created_by.as_ref().map(FrameJson::from);
        println!(
            "  {}: {} -> {} (+{}, allowed +{}{}), {} in {}, created by {} [group {}]",
            place(w.as_ref()),
            f.base,
            f.now,
            f.now - f.base,
            f.limit,
            if f.connection {
                ", connection-serving"
            } else {
                ""
            },
            class_name(g.class),
            g.state,
            place(c.as_ref()),
            g.key
        );
    }
    println!("  (silence a known one with --ignore FUNC, or raise --tolerance)");
    Ok(ExitCode::from(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(func: &str) -> Frame {
        Frame {
            func: func.into(),
            ..Frame::default()
        }
    }

    fn grp(stack: &[&str], created_by: Option<&str>) -> Group {
        let stack: Vec<Frame> = stack.iter().map(|f| fr(f)).collect();
        Group {
            where_: weft_analysis::where_frame(&stack).cloned(),
            stack,
            created_by: created_by.map(fr),
            ..Group::default()
        }
    }

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        assert!(matches("main.f", "main.f"));
        assert!(!matches("main.f", "main.f.func1"));
        assert!(matches("main.f*", "main.f.func1"));
        assert!(matches("*", "anything"));
    }

    #[test]
    fn ignores_by_any_frame_creator_or_top() {
        let ig = Ignores {
            any: vec!["main.spawn".into(), "github.com/x/pool.*".into()],
            top: vec!["runtime.gopark".into()],
        };
        assert!(ig.ignored(&grp(&["main.a"], Some("main.spawn"))).is_some());
        assert!(ig
            .ignored(&grp(&["github.com/x/pool.(*P).run"], None))
            .is_some());
        assert!(ig
            .ignored(&grp(&["runtime.gopark", "main.b"], None))
            .is_some());
        assert!(ig
            .ignored(&grp(&["main.b", "runtime.gopark"], None))
            .is_none());
    }

    #[test]
    fn connection_serving_groups_are_recognised_but_handlers_are_not() {
        let idle_conn = grp(
            &[
                "internal/poll.(*FD).Read",
                "net.(*conn).Read",
                "net/http.(*connReader).Read",
                "bufio.(*Reader).fill",
                "net/http.readRequestLimit",
                "net/http.(*conn).readRequest",
                "net/http.(*conn).serve",
            ],
            None,
        );
        assert!(is_connection_serving(&idle_conn));
        let accept = grp(
            &["net.(*TCPListener).Accept", "net/http.(*Server).Serve"],
            None,
        );
        assert!(is_connection_serving(&accept));
        let client = grp(
            &["runtime.selectgo", "net/http.(*persistConn).readLoop"],
            None,
        );
        assert!(is_connection_serving(&client));
        // A handler stuck on a channel is at the handler, even under conn.serve.
        let stuck = grp(
            &[
                "runtime.chanrecv1",
                "main.handler",
                "net/http.HandlerFunc.ServeHTTP",
                "net/http.serverHandler.ServeHTTP",
                "net/http.(*conn).serve",
            ],
            None,
        );
        assert!(!is_connection_serving(&stuck));
    }
}
