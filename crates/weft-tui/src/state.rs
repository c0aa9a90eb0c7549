//! The UI's state and how input changes it. Nothing here draws: keys and
//! feeds update [`TopState`], and each key returns a [`Change`] that tells
//! the main loop what to do next.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use weft_model::StateClass;

use crate::trace::{TraceStatus, TraceView};
use crate::view::{
    class_name, Connection, DetailsReply, Feed, GoroutineDetail, GroupView, ReportView,
};

/// How long "target restarted" stays on screen after a restart.
pub const RESTART_BANNER: Duration = Duration::from_secs(10);

/// What a key press asks of the main loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing visible changed.
    None,
    /// Draw again.
    Redraw,
    /// Ask the source for per-goroutine details (a `debug=2` dump).
    RequestDetails,
    /// Save the last seconds of raw execution trace (`w`).
    SaveTrace,
    Quit,
}

/// Column the group table is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Count,
    Delta,
    Rate,
    Where,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [
        SortKey::Count,
        SortKey::Delta,
        SortKey::Rate,
        SortKey::Where,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Count => "count",
            SortKey::Delta => "Δ",
            SortKey::Rate => "rate",
            SortKey::Where => "where",
        }
    }

    fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }
}

/// Which rows the state filter keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    All,
    Class(StateClass),
    LeakSuspects,
}

impl StateFilter {
    const CYCLE: [StateFilter; 7] = [
        StateFilter::All,
        StateFilter::Class(StateClass::Blocked),
        StateFilter::Class(StateClass::Running),
        StateFilter::Class(StateClass::Runnable),
        StateFilter::Class(StateClass::Syscall),
        StateFilter::Class(StateClass::Idle),
        StateFilter::LeakSuspects,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StateFilter::All => "all",
            StateFilter::Class(c) => class_name(c),
            StateFilter::LeakSuspects => "leak suspects",
        }
    }

    fn keeps(self, g: &GroupView) -> bool {
        match self {
            StateFilter::All => true,
            StateFilter::Class(c) => g.class == c,
            StateFilter::LeakSuspects => g.leak_suspect,
        }
    }

    fn next(self) -> StateFilter {
        let i = Self::CYCLE.iter().position(|f| *f == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }
}

/// Where typed characters go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    Normal,
    /// Typing a text filter (`t`): non-matching rows are hidden.
    Filter,
    /// Typing a search (`/`): the selection jumps to matching rows.
    Search,
}

/// The state of the details request for the status line.
#[derive(Clone, Debug, PartialEq)]
pub enum DetailsStatus {
    Idle,
    Pending,
    Refused(String),
    Loaded,
}

/// All the state of `weft top`'s screen.
#[derive(Debug)]
pub struct TopState {
    pub source: String,
    /// The report on screen.
    pub report: ReportView,
    /// The newest report received while paused; shown on resume.
    pending: Option<ReportView>,
    pub reports_seen: u64,
    pub last_report_at: Option<Instant>,
    pub connection: Connection,
    pub connection_since: Instant,
    pub paused: bool,
    pub sort: SortKey,
    pub descending: bool,
    pub state_filter: StateFilter,
    pub text_filter: String,
    pub search: String,
    pub mode: InputMode,
    /// Indices into `report.groups` of the shown rows, in display order.
    visible: Vec<usize>,
    /// Position of the selected row within `visible`.
    selected: usize,
    /// Key of the selected group, so the selection follows it across reports.
    selected_key: Option<String>,
    pub detail_scroll: u16,
    pub details: DetailsStatus,
    /// The source's latest note for the status line.
    pub notice: Option<String>,
    /// Per-goroutine records of the last details dump, grouped by stack key.
    detail_records: Vec<(String, GoroutineDetail)>,
    /// The live trace's state; `Off` hides the trace pane.
    pub trace_status: TraceStatus,
    /// The live trace's newest findings and flows.
    pub trace: TraceView,
    /// The last save of the raw trace: where, or why it failed.
    pub trace_saved: Option<Result<String, String>>,
}

impl TopState {
    pub fn new(source: impl Into<String>) -> TopState {
        TopState {
            source: source.into(),
            report: ReportView::default(),
            pending: None,
            reports_seen: 0,
            last_report_at: None,
            connection: Connection::Connecting,
            connection_since: Instant::now(),
            paused: false,
            sort: SortKey::Count,
            descending: true,
            state_filter: StateFilter::All,
            text_filter: String::new(),
            search: String::new(),
            mode: InputMode::Normal,
            visible: Vec::new(),
            selected: 0,
            selected_key: None,
            detail_scroll: 0,
            details: DetailsStatus::Idle,
            notice: None,
            detail_records: Vec::new(),
            trace_status: TraceStatus::Off,
            trace: TraceView::default(),
            trace_saved: None,
        }
    }

    /// Applies something from the source side (a report, a connection
    /// change, a details answer).
    pub fn apply(&mut self, feed: Feed) {
        match feed {
            Feed::Report(r) => {
                self.reports_seen += 1;
                self.last_report_at = Some(Instant::now());
                if self.paused {
                    self.pending = Some(r);
                } else {
                    self.report = r;
                    self.rebuild();
                }
                // A report means the source is answering again; the restart
                // banner stays a while so that it can be read.
                let answering = match self.connection {
                    Connection::Connecting
                    | Connection::Disconnected { .. }
                    | Connection::Failing { .. } => true,
                    Connection::Restarted => self.connection_since.elapsed() >= RESTART_BANNER,
                    Connection::Connected | Connection::Static => false,
                };
                if answering {
                    self.set_connection(Connection::Connected);
                }
            }
            Feed::Connection(c) => {
                if c == Connection::Restarted {
                    // History and details belong to the old process.
                    self.detail_records.clear();
                    self.details = DetailsStatus::Idle;
                }
                let keep_restart_banner = c == Connection::Connected
                    && self.connection == Connection::Restarted
                    && self.connection_since.elapsed() < RESTART_BANNER;
                if !keep_restart_banner {
                    self.set_connection(c);
                }
            }
            Feed::Notice(msg) => self.notice = Some(msg),
            Feed::Trace(v) => {
                if !self.paused {
                    self.trace = v;
                }
            }
            Feed::TraceStatus(s) => self.trace_status = s,
            Feed::TraceSaved(r) => self.trace_saved = Some(r),
            Feed::Details(DetailsReply::Refused(msg)) => self.details = DetailsStatus::Refused(msg),
            Feed::Details(DetailsReply::Records(records)) => {
                self.detail_records = records
                    .iter()
                    .flat_map(|r| {
                        let key = weft_analysis::stack_key(&r.stack);
                        let ids = if r.ids.is_empty() {
                            vec![0]
                        } else {
                            r.ids.clone()
                        };
                        ids.into_iter().map(move |id| {
                            (
                                key.clone(),
                                GoroutineDetail {
                                    id,
                                    where_func: weft_analysis::where_frame(&r.stack)
                                        .map(|f| f.func.clone())
                                        .unwrap_or_default(),
                                    state: r.status.clone(),
                                    wait_minutes: r.wait_minutes,
                                    creator_id: r.creator_id,
                                    labels: r
                                        .labels
                                        .iter()
                                        .map(|(k, v)| (k.clone(), v.clone()))
                                        .collect(),
                                },
                            )
                        })
                    })
                    .collect();
                self.details = DetailsStatus::Loaded;
            }
        }
    }

    fn set_connection(&mut self, c: Connection) {
        if self.connection != c {
            self.connection = c;
            self.connection_since = Instant::now();
        }
    }

    /// Seconds until the poller retries, when disconnected.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        match &self.connection {
            Connection::Disconnected { retry_in, .. } | Connection::Failing { retry_in, .. } => {
                Some(retry_in.saturating_sub(now.saturating_duration_since(self.connection_since)))
            }
            _ => None,
        }
    }

    /// Handles one key press.
    pub fn on_key(&mut self, key: KeyEvent) -> Change {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Change::Quit;
        }
        match self.mode {
            InputMode::Normal => self.on_normal_key(key),
            InputMode::Filter | InputMode::Search => self.on_text_key(key),
        }
    }

    fn on_normal_key(&mut self, key: KeyEvent) -> Change {
        let page = 10;
        match key.code {
            KeyCode::Char('q') => return Change::Quit,
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(page),
            KeyCode::PageUp => self.move_selection(-page),
            KeyCode::Home | KeyCode::Char('g') => self.select_index(0),
            KeyCode::End | KeyCode::Char('G') => self.select_index(usize::MAX),
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                self.descending = self.sort != SortKey::Where;
                self.rebuild();
            }
            KeyCode::Char(c @ '1'..='4') => {
                self.sort = SortKey::ALL[(c as u8 - b'1') as usize];
                self.descending = self.sort != SortKey::Where;
                self.rebuild();
            }
            KeyCode::Char('r') => {
                self.descending = !self.descending;
                self.rebuild();
            }
            KeyCode::Char('f') => {
                self.state_filter = self.state_filter.next();
                self.rebuild();
            }
            KeyCode::Char('t') => {
                self.mode = InputMode::Filter;
                self.text_filter.clear();
                self.rebuild();
            }
            KeyCode::Char('/') => {
                self.mode = InputMode::Search;
                self.search.clear();
            }
            KeyCode::Char('n') => self.search_step(true),
            KeyCode::Char('N') => self.search_step(false),
            KeyCode::Char('p') | KeyCode::Char(' ') => {
                self.paused = !self.paused;
                if !self.paused {
                    if let Some(r) = self.pending.take() {
                        self.report = r;
                        self.rebuild();
                    }
                }
            }
            KeyCode::Char('d') => {
                if self.details == DetailsStatus::Pending {
                    return Change::None;
                }
                self.details = DetailsStatus::Pending;
                return Change::RequestDetails;
            }
            KeyCode::Char('w') => {
                return match self.trace_status {
                    TraceStatus::Off | TraceStatus::Disabled => {
                        self.trace_saved = Some(Err(
                            "no live trace to save (a pprof URL is needed, without --no-trace)"
                                .into(),
                        ));
                        Change::Redraw
                    }
                    _ => Change::SaveTrace,
                };
            }
            KeyCode::Char(']') => self.detail_scroll = self.detail_scroll.saturating_add(1),
            KeyCode::Char('[') => self.detail_scroll = self.detail_scroll.saturating_sub(1),
            KeyCode::Esc => {
                if self.text_filter.is_empty() && self.state_filter == StateFilter::All {
                    return Change::None;
                }
                self.text_filter.clear();
                self.state_filter = StateFilter::All;
                self.rebuild();
            }
            _ => return Change::None,
        }
        Change::Redraw
    }

    fn on_text_key(&mut self, key: KeyEvent) -> Change {
        let filtering = self.mode == InputMode::Filter;
        match key.code {
            KeyCode::Enter => self.mode = InputMode::Normal,
            KeyCode::Esc => {
                self.mode = InputMode::Normal;
                if filtering {
                    self.text_filter.clear();
                } else {
                    self.search.clear();
                }
            }
            KeyCode::Backspace => {
                if filtering {
                    self.text_filter.pop();
                } else {
                    self.search.pop();
                }
            }
            KeyCode::Char(c) => {
                if filtering {
                    self.text_filter.push(c);
                } else {
                    self.search.push(c);
                }
            }
            _ => return Change::None,
        }
        if filtering {
            self.rebuild();
        } else if !self.search.is_empty() && !self.selected_matches() {
            // Incremental search: jump to the first match from the top.
            self.selected = usize::MAX;
            self.search_step(true);
        }
        Change::Redraw
    }

    /// Recomputes the visible rows after any change of data, sort or filter,
    /// keeping the selection on the same group when it is still shown.
    pub fn rebuild(&mut self) {
        let groups = &self.report.groups;
        let needle = self.text_filter.to_lowercase();
        let mut rows: Vec<usize> = (0..groups.len())
            .filter(|&i| self.state_filter.keeps(&groups[i]))
            .filter(|&i| needle.is_empty() || group_matches(&groups[i], &needle))
            .collect();
        let sort = self.sort;
        rows.sort_by(|&a, &b| {
            let (ga, gb) = (&groups[a], &groups[b]);
            let ord = match sort {
                SortKey::Count => ga.count.cmp(&gb.count),
                SortKey::Delta => ga.delta.cmp(&gb.delta),
                SortKey::Rate => ga.rate_per_min.total_cmp(&gb.rate_per_min),
                SortKey::Where => ga.where_text().cmp(&gb.where_text()),
            };
            // Ties: biggest groups first, then a stable order by key.
            let ord = if self.descending { ord.reverse() } else { ord };
            ord.then(gb.count.cmp(&ga.count)).then(ga.key.cmp(&gb.key))
        });
        self.visible = rows;
        let keep = self.selected_key.as_ref().and_then(|k| {
            self.visible
                .iter()
                .position(|&i| &self.report.groups[i].key == k)
        });
        self.select_index(keep.unwrap_or(self.selected));
    }

    fn select_index(&mut self, i: usize) {
        if self.visible.is_empty() {
            self.selected = 0;
            return;
        }
        let i = i.min(self.visible.len() - 1);
        self.selected = i;
        let key = self.report.groups[self.visible[i]].key.clone();
        if self.selected_key.as_ref() != Some(&key) {
            self.detail_scroll = 0;
        }
        self.selected_key = Some(key);
    }

    fn move_selection(&mut self, by: isize) {
        let i = (self.selected as isize + by).max(0) as usize;
        self.select_index(i);
    }

    fn selected_matches(&self) -> bool {
        let needle = self.search.to_lowercase();
        self.selected().is_some_and(|g| group_matches(g, &needle))
    }

    /// Moves the selection to the next (or previous) row matching the search.
    fn search_step(&mut self, forward: bool) {
        if self.search.is_empty() || self.visible.is_empty() {
            return;
        }
        let needle = self.search.to_lowercase();
        let n = self.visible.len();
        let start = if self.selected >= n {
            if forward {
                n - 1
            } else {
                0
            }
        } else {
            self.selected
        };
        for step in 1..=n {
            let i = if forward {
                (start + step) % n
            } else {
                (start + n - step) % n
            };
            if group_matches(&self.report.groups[self.visible[i]], &needle) {
                self.select_index(i);
                return;
            }
        }
    }

    /// Rows in display order.
    pub fn visible(&self) -> impl Iterator<Item = &GroupView> {
        self.visible.iter().map(|&i| &self.report.groups[i])
    }

    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// Position of the selected row among the visible ones.
    pub fn selected_index(&self) -> Option<usize> {
        (!self.visible.is_empty()).then_some(self.selected)
    }

    pub fn selected(&self) -> Option<&GroupView> {
        self.visible
            .get(self.selected)
            .map(|&i| &self.report.groups[i])
    }

    /// Goroutines of the selected group from the last details dump.
    pub fn selected_details(&self) -> Vec<&GoroutineDetail> {
        match self.selected() {
            Some(g) => {
                // Same stack first; failing that, same "where" frame (the
                // debug=2 form can show a frame or two more or fewer).
                let key = weft_analysis::stack_key(&g.stack);
                let same_stack: Vec<&GoroutineDetail> = self
                    .detail_records
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, d)| d)
                    .collect();
                if !same_stack.is_empty() {
                    return same_stack;
                }
                let Some(w) = &g.where_ else {
                    return Vec::new();
                };
                self.detail_records
                    .iter()
                    .filter(|(_, d)| d.where_func == w.func)
                    .map(|(_, d)| d)
                    .collect()
            }
            None => Vec::new(),
        }
    }

    /// Whether a row matches the current search (for highlighting).
    pub fn search_hit(&self, g: &GroupView) -> bool {
        !self.search.is_empty() && group_matches(g, &self.search.to_lowercase())
    }
}

/// Case-insensitive match of `needle` (already lower-case) against a group's
/// state, stack and creation site.
fn group_matches(g: &GroupView, needle: &str) -> bool {
    let hit = |s: &str| s.to_lowercase().contains(needle);
    hit(&g.state)
        || g.stack.iter().any(|f| hit(&f.func) || hit(&f.file))
        || g.created_by
            .as_ref()
            .is_some_and(|f| hit(&f.func) || hit(&f.file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::GroupView;
    use weft_model::Frame;

    fn group(key: &str, func: &str, count: u64, class: StateClass) -> GroupView {
        let f = Frame {
            func: func.into(),
            file: "/src/main.go".into(),
            line: 1,
            pc: None,
        };
        GroupView {
            key: key.into(),
            count,
            state: "chan receive".into(),
            class,
            where_: Some(f.clone()),
            stack: vec![f],
            ..GroupView::default()
        }
    }

    fn state_with(groups: Vec<GroupView>) -> TopState {
        let mut s = TopState::new("test");
        s.apply(Feed::Report(ReportView {
            groups,
            ..ReportView::default()
        }));
        s
    }

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn selection_follows_its_group_when_rows_move() {
        let mut s = state_with(vec![
            group("a", "main.a", 10, StateClass::Blocked),
            group("b", "main.b", 5, StateClass::Blocked),
        ]);
        s.on_key(key(KeyCode::Down));
        assert_eq!(s.selected().unwrap().key, "b");
        // b grows past a: it moves to the top and stays selected.
        s.apply(Feed::Report(ReportView {
            groups: vec![
                group("a", "main.a", 10, StateClass::Blocked),
                group("b", "main.b", 50, StateClass::Blocked),
            ],
            ..ReportView::default()
        }));
        assert_eq!(s.selected_index(), Some(0));
        assert_eq!(s.selected().unwrap().key, "b");
    }

    #[test]
    fn search_wraps_and_n_moves_between_matches() {
        let mut s = state_with(vec![
            group("a", "main.handler", 30, StateClass::Blocked),
            group("b", "main.other", 20, StateClass::Blocked),
            group("c", "main.handlerTwo", 10, StateClass::Blocked),
        ]);
        for c in "/handler".chars() {
            s.on_key(key(KeyCode::Char(c)));
        }
        s.on_key(key(KeyCode::Enter));
        assert_eq!(s.selected().unwrap().key, "a");
        s.on_key(key(KeyCode::Char('n')));
        assert_eq!(s.selected().unwrap().key, "c");
        s.on_key(key(KeyCode::Char('n')));
        assert_eq!(s.selected().unwrap().key, "a", "wraps around");
        s.on_key(key(KeyCode::Char('N')));
        assert_eq!(s.selected().unwrap().key, "c");
    }

    #[test]
    fn escape_clears_filters_and_empty_results_keep_no_selection() {
        let mut s = state_with(vec![group("a", "main.a", 3, StateClass::Blocked)]);
        for c in "tnothing".chars() {
            s.on_key(key(KeyCode::Char(c)));
        }
        assert_eq!(s.visible_len(), 0);
        assert!(s.selected().is_none());
        assert_ne!(
            s.on_key(key(KeyCode::Char('d'))),
            Change::RequestDetails,
            "typing goes to the filter"
        );
        s.on_key(key(KeyCode::Esc));
        assert_eq!(s.mode, InputMode::Normal);
        assert_eq!(s.visible_len(), 1);
    }

    #[test]
    fn restart_banner_is_not_replaced_by_the_next_connected() {
        let mut s = TopState::new("test");
        s.apply(Feed::Connection(Connection::Connected));
        s.apply(Feed::Connection(Connection::Restarted));
        s.apply(Feed::Connection(Connection::Connected));
        s.apply(Feed::Report(ReportView::default()));
        assert_eq!(s.connection, Connection::Restarted);
        s.apply(Feed::Connection(Connection::Disconnected {
            error: "gone".into(),
            retry_in: Duration::from_secs(4),
        }));
        assert!(s.retry_in(Instant::now()).unwrap() <= Duration::from_secs(4));
        s.apply(Feed::Report(ReportView::default()));
        assert_eq!(
            s.connection,
            Connection::Connected,
            "a report after a disconnect means connected"
        );
    }

    #[test]
    fn a_second_details_request_waits_for_the_first() {
        let mut s = state_with(vec![group("a", "main.a", 3, StateClass::Blocked)]);
        assert_eq!(s.on_key(key(KeyCode::Char('d'))), Change::RequestDetails);
        assert_eq!(s.on_key(key(KeyCode::Char('d'))), Change::None);
        s.apply(Feed::Details(DetailsReply::Refused("no".into())));
        assert_eq!(s.on_key(key(KeyCode::Char('d'))), Change::RequestDetails);
    }
}
