//! `weft probes pid:N`: the opt-in eBPF mode. Places uprobes on the
//! target's runtime for a bounded time and reports every goroutine created
//! (with parent and start function) and exited; `--park-ready` adds a short
//! burst of park/ready probes. Probes are removed on every exit path (they
//! are file descriptors of this process); a set whose hit rate would hurt
//! the target is removed early (`--max-rate`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use weft_ebpf::{Counts, EventKind, ProbeSet, Session, Summary};

use super::snapshot::parse_duration;

#[derive(clap::Args)]
pub struct ProbesArgs {
    /// The target: pid:N (or just N).
    pub target: String,
    /// How long to keep the creation/exit probes on (at most 1h).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Also probe every park and ready for this long at the start (at most
    /// 10s: these fire on every channel block and wake-up; see bench/ebpf).
    #[arg(long, value_name = "BURST", value_parser = parse_duration)]
    pub park_ready: Option<Duration>,
    /// Print every event as it arrives, not just the summary.
    #[arg(long)]
    pub events: bool,
    /// Remove a probe set whose hits exceed this many per second (each hit
    /// costs the target microseconds of CPU).
    #[arg(long, default_value_t = 2000)]
    pub max_rate: u64,
    /// Print one JSON document at the end (goroutines created with parent
    /// and start function, exits, channels parked on, who woke whom)
    /// instead of the text summary. Lists are capped at 10 000 entries.
    #[arg(long)]
    pub json: bool,
}

/// What `--json` collects beyond [`Summary`]: the events themselves,
/// bounded.
#[derive(Default)]
struct Recorded {
    created: Vec<serde_json::Value>,
    exited: Vec<u64>,
    /// (waker goid, woken goid) -> count; waker 0 is the scheduler.
    wakes: BTreeMap<(u64, u64), u64>,
    truncated: bool,
}

const JSON_CAP: usize = 10_000;

impl Recorded {
    fn add(&mut self, ev: &weft_ebpf::Event, t: &weft_ebpf::Target) {
        match ev.kind {
            EventKind::Create if self.created.len() < JSON_CAP => {
                self.created.push(serde_json::json!({
                    "goid": ev.goid,
                    "parent": ev.other,
                    "function": t.function_name(ev.pc),
                    "go_statement": t.function_name(ev.aux),
                    "at_ns": ev.ts_ns,
                }))
            }
            EventKind::Exit if self.exited.len() < JSON_CAP => self.exited.push(ev.goid),
            EventKind::Ready
                if self.wakes.len() < JSON_CAP || self.wakes.contains_key(&(ev.other, ev.goid)) =>
            {
                *self.wakes.entry((ev.other, ev.goid)).or_default() += 1
            }
            EventKind::Park => {}
            _ => self.truncated = true,
        }
    }
}

fn parse_pid(s: &str) -> anyhow::Result<u32> {
    let n = s.strip_prefix("pid:").unwrap_or(s);
    n.parse()
        .with_context(|| format!("`{s}` is not a process: use pid:N"))
}

/// Whether the process still runs (a zombie no longer does).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}

fn lifecycle_hits(c: &Counts) -> u64 {
    c.create + c.exit
}

fn park_ready_hits(c: &Counts) -> u64 {
    c.park + c.ready
}

pub fn run(a: ProbesArgs) -> anyhow::Result<ExitCode> {
    let pid = parse_pid(&a.target)?;
    if a.duration > Duration::from_secs(3600) {
        bail!("--duration is at most 1h");
    }
    if a.park_ready.is_some_and(|b| b > Duration::from_secs(10)) {
        bail!("--park-ready bursts are at most 10s (they slow a channel-heavy program many times over)");
    }
    weft_ebpf::install_stop_handler();
    let mut s = Session::open(pid)?;
    s.attach(ProbeSet::Lifecycle)?;
    let start = Instant::now();
    let mut burst_until = None;
    if let Some(b) = a.park_ready {
        s.attach(ProbeSet::ParkReady)?;
        burst_until = Some(start + b);
    }
    let mut lifecycle_on = true;
    eprintln!(
        "weft: probing pid {pid} ({}) for {:?}{}; Ctrl-C stops",
        s.target().exe.go_version(),
        a.duration,
        a.park_ready
            .map(|b| format!(", park/ready for the first {b:?}"))
            .unwrap_or_default()
    );
    let mut summary = Summary::default();
    let mut recorded = Recorded::default();
    let mut waits: BTreeMap<u64, u64> = BTreeMap::new();
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut last = (Instant::now(), s.counts()?);
    let mut ended_by = "the duration ran out";
    while start.elapsed() < a.duration {
        if weft_ebpf::stop_requested() {
            ended_by = "interrupted";
            break;
        }
        if !alive(pid) {
            ended_by = "the target exited";
            break;
        }
        for ev in s.poll(Duration::from_millis(100))? {
            let t = s.target();
            summary.add(&ev, |pc| t.function_name(pc));
            if a.json {
                recorded.add(&ev, t);
            }
            if let Some(ch) = t.parked_channel(&ev) {
                *waits.entry(ch).or_default() += 1;
            }
            if a.events && !a.json {
                let line = match ev.kind {
                    EventKind::Create => format!(
                        "create g{} parent=g{} fn={} go@{}",
                        ev.goid,
                        ev.other,
                        t.function_name(ev.pc),
                        t.function_name(ev.aux)
                    ),
                    EventKind::Exit => format!("exit g{}", ev.goid),
                    EventKind::Park => match t.parked_channel(&ev) {
                        Some(ch) => {
                            format!("park g{} [{}] chan={ch:#x}", ev.goid, t.wait_reason(ev.aux))
                        }
                        None => format!("park g{} [{}]", ev.goid, t.wait_reason(ev.aux)),
                    },
                    EventKind::Ready if ev.other != 0 => {
                        format!("ready g{} by g{}", ev.goid, ev.other)
                    }
                    EventKind::Ready => format!("ready g{} by the scheduler", ev.goid),
                };
                if writeln!(out, "{} {line}", ev.ts_ns).is_err() {
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        if burst_until.is_some_and(|u| Instant::now() >= u) {
            s.detach(ProbeSet::ParkReady)?;
            burst_until = None;
        }
        // Guard the target: remove a set firing too often.
        let now = Instant::now();
        if now - last.0 >= Duration::from_millis(250) {
            let c = s.counts()?;
            let secs = (now - last.0).as_secs_f64();
            let rate = |f: fn(&Counts) -> u64| (f(&c) - f(&last.1)) as f64 / secs;
            if burst_until.is_some() && rate(park_ready_hits) > a.max_rate as f64 {
                s.detach(ProbeSet::ParkReady)?;
                burst_until = None;
                eprintln!(
                    "weft: park/ready probes fired {:.0} times/s (over --max-rate {}): removed them to spare the target",
                    rate(park_ready_hits),
                    a.max_rate
                );
            }
            if lifecycle_on && rate(lifecycle_hits) > a.max_rate as f64 {
                s.detach(ProbeSet::Lifecycle)?;
                lifecycle_on = false;
                eprintln!(
                    "weft: creation/exit probes fired {:.0} times/s (over --max-rate {}): removed them to spare the target",
                    rate(lifecycle_hits),
                    a.max_rate
                );
            }
            last = (now, c);
            if !lifecycle_on && burst_until.is_none() {
                ended_by = "every probe set was removed for its rate";
                break;
            }
        }
    }
    let counts = s.counts()?;
    let elapsed = start.elapsed();
    let go_version = s.target().exe.go_version().to_string();
    drop(s); // removes the probes
    if a.json {
        let mut channels: Vec<(&u64, &u64)> = waits.iter().collect();
        channels.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
        let doc = serde_json::json!({
            "pid": pid,
            "go_version": go_version,
            "probed_secs": elapsed.as_secs_f64(),
            "ended_by": ended_by,
            "probes_removed": true,
            "created": recorded.created,
            "exited": recorded.exited,
            "created_by_function": summary.created_by_function,
            "created_by_parent": summary.created_by_parent.iter().map(|(g, n)| serde_json::json!({"parent": g, "count": n})).collect::<Vec<_>>(),
            "still_running_of_created": summary.live.len(),
            "parks": summary.parks,
            "readies": summary.readies,
            "channels": channels.iter().take(JSON_CAP).map(|(c, n)| serde_json::json!({"addr": c, "kind": "chan", "parks": n})).collect::<Vec<_>>(),
            "wakes": recorded.wakes.iter().map(|((from, to), n)| serde_json::json!({"waker": from, "woken": to, "count": n})).collect::<Vec<_>>(),
            "truncated": recorded.truncated,
            "hits": {"create": counts.create, "exit": counts.exit, "park": counts.park, "ready": counts.ready, "dropped": counts.dropped},
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "probed pid {pid} for {:.1}s ({ended_by}); probes removed",
        elapsed.as_secs_f64()
    )?;
    writeln!(
        out,
        "goroutines created: {}  exited: {} ({} of those created while probing)  still running of those created: {}",
        summary.created,
        summary.exited,
        summary.exited_seen_created,
        summary.live.len()
    )?;
    let mut by_fn: Vec<_> = summary.created_by_function.iter().collect();
    by_fn.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !by_fn.is_empty() {
        writeln!(out, "created by start function:")?;
        for (f, n) in by_fn.iter().take(15) {
            writeln!(out, "  {n:>8}  {f}")?;
        }
    }
    let mut by_parent: Vec<_> = summary.created_by_parent.iter().collect();
    by_parent.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !by_parent.is_empty() {
        writeln!(out, "created by parent goroutine:")?;
        for (g, n) in by_parent.iter().take(5) {
            writeln!(out, "  {n:>8}  g{g}")?;
        }
    }
    if a.park_ready.is_some() {
        writeln!(
            out,
            "parks: {}  readies: {}  channels waited on: {}",
            summary.parks,
            summary.readies,
            waits.len()
        )?;
        let mut by_parks: Vec<_> = waits.iter().collect();
        by_parks.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (ch, n) in by_parks.iter().take(5) {
            writeln!(out, "  {n:>8} parks on chan {ch:#x}")?;
        }
    }
    writeln!(
        out,
        "probe hits: create {} exit {} park {} ready {}; events dropped: {}",
        counts.create, counts.exit, counts.park, counts.ready, counts.dropped
    )?;
    Ok(ExitCode::SUCCESS)
}
