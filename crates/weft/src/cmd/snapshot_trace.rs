//! `weft snapshot URL --trace DURATION`: an execution trace recorded on its
//! own thread while the profiles are taken, decoded as it streams in, fed to
//! the trace model (`weft-timeline`), summarised under `trace` in the report
//! and turned into trace-based findings.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use weft_analysis::trace::{analyze, TraceConfig, TraceFinding};
use weft_analysis::Finding;
use weft_source::trace_stream::TraceSink;
use weft_source::{
    SourceSpec, TraceSourceError, TraceStream, TraceStreamEvent, TraceStreamOptions,
};
use weft_timeline::{Config, Model};
use weft_trace::stats::Stats;
use weft_trace::{Decoder, EventRef};

/// The `trace` object of the snapshot JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TraceJson {
    /// What was asked for.
    pub duration_ms: u64,
    /// Trace time covered by the events.
    pub covered_ms: f64,
    /// Format minor version (`go 1.NN trace`).
    pub format: Option<u32>,
    pub bytes: u64,
    pub events: u64,
    pub generations: u64,
    pub goroutines_created: u64,
    pub goroutines_ended: u64,
    pub max_goroutines_alive: u64,
    /// Goroutine groups (same `go` statement) in the trace model.
    pub groups: usize,
    /// Where goroutines blocked longest, most total time first (at most 10).
    pub block_sites: Vec<BlockSiteJson>,
    /// The trace findings with their evidence, severity and confidence
    /// (their name and summary are also in the report's `findings`).
    pub findings: Vec<TraceFinding>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BlockSiteJson {
    pub reason: String,
    #[serde(rename = "where")]
    pub where_: String,
    pub count: u64,
    pub total_ms: f64,
    pub max_ms: f64,
    /// Still blocked there when the trace ended.
    pub ongoing: u64,
}

struct Collect {
    model: Model,
    stats: Stats,
    error: Option<TraceSourceError>,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Collect>>);

impl TraceSink for Shared {
    fn event(&mut self, _stream: u64, ev: &EventRef<'_>) {
        let mut c = self.0.lock().unwrap();
        c.stats.add(ev);
        c.model.ingest(ev);
    }
    fn stream_ended(&mut self, _stream: u64, dec: &Decoder, error: Option<&TraceSourceError>) {
        let mut c = self.0.lock().unwrap();
        c.stats.finish(dec);
        if let Some(e) = error {
            c.error = Some(e.clone());
        }
    }
}

/// A trace being recorded.
pub struct Recording {
    shared: Shared,
    duration: Duration,
    done: thread::JoinHandle<Option<TraceSourceError>>,
}

/// Starts recording `duration` of trace from a URL source.
pub fn start(
    spec: &SourceSpec,
    duration: Duration,
    timeout: Duration,
) -> anyhow::Result<Recording> {
    let SourceSpec::Url(base) = spec else {
        bail!(
            "--trace needs a pprof URL (the trace comes from /debug/pprof/trace); {} is not one",
            spec.describe()
        );
    };
    if duration < Duration::from_millis(100) {
        bail!("--trace {duration:?} is too short; give at least 100ms (a generation is about 1s)");
    }
    let shared = Shared(Arc::new(Mutex::new(Collect {
        model: Model::new(Config::default()),
        stats: Stats::default(),
        error: None,
    })));
    let opts = TraceStreamOptions {
        // One request covering the whole duration when possible.
        request: duration.min(Duration::from_secs(60)),
        quiet_request: duration.min(Duration::from_secs(60)),
        total: Some(duration),
        stop_on_error: true,
        connect_timeout: timeout,
        read_grace: timeout,
        ..TraceStreamOptions::default()
    };
    let stream = TraceStream::spawn(base, opts, Box::new(shared.clone()));
    let done = thread::spawn(move || {
        let mut err = None;
        for ev in stream.events().iter() {
            match ev {
                TraceStreamEvent::Stopped => break,
                TraceStreamEvent::Error { error, .. } => err = Some(error),
                _ => {}
            }
        }
        stream.join();
        err
    });
    Ok(Recording {
        shared,
        duration,
        done,
    })
}

impl Recording {
    /// Waits for the trace, then summarises it and derives findings
    /// (except the `silenced` ones).
    pub fn finish(self, silenced: &[String]) -> anyhow::Result<(TraceJson, Vec<Finding>)> {
        let req_err = self.done.join().unwrap_or(None);
        let c = self.shared.0.lock().unwrap();
        if let Some(e) = req_err.as_ref().or(c.error.as_ref()) {
            bail!("recording the execution trace: {e}");
        }
        if c.stats.events == 0 {
            bail!("recording the execution trace: the target sent no trace");
        }
        let model = &c.model;
        let sites = model
            .block_sites()
            .into_iter()
            .take(10)
            .map(|s| BlockSiteJson {
                reason: s.reason.clone(),
                where_: s
                    .where_
                    .as_ref()
                    .map(|f| format!("{} ({}:{})", f.func, f.file, f.line))
                    .unwrap_or_default(),
                count: s.count,
                total_ms: s.total_ns as f64 / 1e6,
                max_ms: s.max_ns as f64 / 1e6,
                ongoing: s.ongoing,
            })
            .collect();
        let cfg = TraceConfig {
            silenced: silenced.iter().cloned().collect(),
            ..TraceConfig::default()
        };
        let found = analyze(model, &cfg);
        let st = &c.stats;
        let json = TraceJson {
            duration_ms: self.duration.as_millis() as u64,
            covered_ms: st.duration_ns() as f64 / 1e6,
            format: st.version,
            bytes: st.bytes,
            events: st.events,
            generations: st.generations,
            goroutines_created: st.created,
            goroutines_ended: st.ended,
            max_goroutines_alive: st.max_alive,
            groups: model.stats().groups,
            block_sites: sites,
            findings: found.clone(),
        };
        Ok((json, found.into_iter().map(|f| f.finding).collect()))
    }
}
