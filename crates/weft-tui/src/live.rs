//! Feeding the UI from a live source: a `weft-source` [`Poller`] for the
//! snapshots and a `weft-analysis` [`Tracker`] to follow groups over time.
//! This is the only place that knows about both.

use std::sync::mpsc::TryRecvError;

use weft_analysis::{Tracker, TrackerConfig};
use weft_source::{PollEvent, PollOptions, Poller, SourceSpec};

use crate::adapt::{form_name, report_view};
use crate::trace::TraceFeed;
use crate::view::{Connection, DetailsReply, Feed};

/// Where the main loop gets its [`Feed`]s from and sends its requests to.
pub trait FeedSource {
    /// The next feed, if one is ready (never blocks).
    fn try_next(&mut self) -> Option<Feed>;
    /// Asks for a per-goroutine dump; the answer comes later as
    /// [`Feed::Details`].
    fn request_details(&mut self);
    /// Saves the live trace's raw ring (`w`); the answer is the returned feed.
    fn save_trace(&mut self) -> Option<Feed> {
        None
    }
}

/// A [`Poller`] with the analysis that turns its snapshots into reports.
pub struct PollerFeed {
    poller: Poller,
    tracker: Tracker,
    /// A file or stdin: read once, nothing to reconnect to.
    is_static: bool,
    /// Feeds produced by one event beyond the first.
    queued: Vec<Feed>,
    /// The live execution trace, when the source is a URL and it is on.
    trace: Option<TraceFeed>,
}

impl PollerFeed {
    /// Starts polling `spec` with `opts` (the defaults are what `weft top`
    /// uses: `debug=1` every second, never a stop-the-world form).
    pub fn spawn(spec: SourceSpec, opts: PollOptions) -> PollerFeed {
        let is_static = matches!(spec, SourceSpec::File(_) | SourceSpec::Stdin);
        PollerFeed::new(Poller::spawn(spec, opts), is_static)
    }

    pub fn new(poller: Poller, is_static: bool) -> PollerFeed {
        PollerFeed {
            poller,
            tracker: Tracker::new(TrackerConfig::default()),
            is_static,
            queued: Vec::new(),
            trace: None,
        }
    }

    /// Also streams the execution trace (see [`TraceFeed`]).
    pub fn with_trace(mut self, trace: TraceFeed) -> PollerFeed {
        self.trace = Some(trace);
        self
    }

    /// Stops the trace stream, if any, waiting for the request in flight.
    pub fn stop_trace(&mut self) {
        if let Some(t) = self.trace.take() {
            t.join();
        }
    }

    /// Converts one poller event into what the UI shows.
    pub fn translate(&mut self, ev: PollEvent) -> Vec<Feed> {
        match ev {
            PollEvent::Connected { .. } => {
                vec![Feed::Connection(if self.is_static {
                    Connection::Static
                } else {
                    Connection::Connected
                })]
            }
            PollEvent::Snapshot(snap) => {
                let report = self.tracker.observe(&snap);
                let mut out = vec![Feed::Report(report_view(&report, form_name(snap.form)))];
                if self.is_static {
                    out.push(Feed::Connection(Connection::Static));
                }
                out
            }
            PollEvent::Detail(snap) => vec![Feed::Details(DetailsReply::Records(snap.records))],
            PollEvent::DetailRefused { reason } => {
                vec![Feed::Details(DetailsReply::Refused(reason))]
            }
            PollEvent::Error { message, retry_in } => {
                vec![Feed::Connection(Connection::Failing {
                    error: message,
                    retry_in,
                })]
            }
            PollEvent::Disconnected { message, retry_in } => {
                vec![Feed::Connection(Connection::Disconnected {
                    error: message,
                    retry_in,
                })]
            }
            PollEvent::TargetRestarted { .. } => {
                // A new process: the old groups' history means nothing now.
                self.tracker.clear();
                vec![Feed::Connection(Connection::Restarted)]
            }
            PollEvent::Notice { message } => vec![Feed::Notice(message)],
        }
    }
}

impl FeedSource for PollerFeed {
    fn try_next(&mut self) -> Option<Feed> {
        if !self.queued.is_empty() {
            return Some(self.queued.remove(0));
        }
        if let Some(f) = self.trace.as_mut().and_then(|t| t.try_next()) {
            return Some(f);
        }
        match self.poller.events().try_recv() {
            Ok(ev) => {
                let mut feeds = self.translate(ev);
                if feeds.is_empty() {
                    return None;
                }
                let first = feeds.remove(0);
                self.queued = feeds;
                Some(first)
            }
            Err(TryRecvError::Empty) => None,
            // The poller is done (a file was read once) or gone.
            Err(TryRecvError::Disconnected) => None,
        }
    }

    fn request_details(&mut self) {
        self.poller.request_detail(false);
    }

    fn save_trace(&mut self) -> Option<Feed> {
        self.trace.as_mut().map(|t| t.save())
    }
}
