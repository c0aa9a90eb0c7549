//! Draws a [`TopState`] into a frame. Pure: the same state gives the same
//! screen (apart from "N s ago" counters), which is what the tests rely on.

use std::time::Instant;

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Wrap};
use ratatui::Frame;

use crate::state::{DetailsStatus, InputMode, StateFilter, TopState};
use crate::table::{table, Column};
use crate::trace::TraceStatus;
use crate::view::{short_frame, Connection, GroupView};

/// Style of a leak suspect row (also what tests look for).
pub const SUSPECT_STYLE: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);

fn group_columns() -> Vec<Column<GroupView>> {
    vec![
        Column {
            title: "count",
            width: Constraint::Length(8),
            min_table_width: 0,
            right_align: true,
            cell: |g| g.count.to_string(),
        },
        Column {
            title: "Δ",
            width: Constraint::Length(7),
            min_table_width: 0,
            right_align: true,
            cell: |g| signed(g.delta),
        },
        Column {
            title: "rate",
            width: Constraint::Length(9),
            min_table_width: 50,
            right_align: true,
            cell: |g| rate(g.rate_per_min),
        },
        Column {
            title: "state",
            width: Constraint::Length(20),
            min_table_width: 40,
            right_align: false,
            cell: |g| {
                let mark = if g.leak_suspect { "! " } else { "" };
                format!("{mark}{}", g.state)
            },
        },
        Column {
            title: "where",
            width: Constraint::Fill(3),
            min_table_width: 0,
            right_align: false,
            cell: |g| g.where_text(),
        },
        Column {
            title: "created by",
            width: Constraint::Fill(2),
            min_table_width: 100,
            right_align: false,
            cell: |g| g.created_by_text(),
        },
    ]
}

/// Growth per minute, short enough for the column.
fn rate(per_min: f64) -> String {
    if per_min.abs() >= 100.0 {
        format!("{:+.0}/m", per_min)
    } else {
        format!("{:+.1}/m", per_min)
    }
}

fn signed(v: i64) -> String {
    if v > 0 {
        format!("+{v}")
    } else {
        v.to_string()
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, state: &TopState) {
    let area = f.area();
    let banner = banner(state);
    // Small terminals keep the table and give the detail pane what is left.
    let header_h = if area.height >= 16 { 4 } else { 2 };
    let detail_h = if area.height >= 30 {
        area.height * 2 / 5
    } else if area.height >= 16 {
        area.height / 3
    } else {
        0
    };
    // The trace pane (findings, wake flows) takes its share from the
    // detail pane when the trace is on.
    let trace_h = match state.trace_status {
        TraceStatus::Off | TraceStatus::Disabled => 0,
        _ if area.height >= 30 => area.height / 4,
        _ if area.height >= 16 => 5,
        _ => 0,
    };
    let detail_h = detail_h.saturating_sub(trace_h / 2);
    let chunks = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(header_h),
            Constraint::Length(u16::from(banner.is_some())),
            Constraint::Min(3),
            Constraint::Length(trace_h),
            Constraint::Length(detail_h),
            Constraint::Length(1),
        ])
        .split(area);
    draw_header(f, chunks[0], state);
    if let Some(line) = banner {
        f.render_widget(Paragraph::new(line), chunks[1]);
    }
    draw_table(f, chunks[2], state);
    if trace_h > 0 {
        draw_trace(f, chunks[3], state);
    }
    if detail_h > 0 {
        draw_detail(f, chunks[4], state);
    }
    draw_footer(f, chunks[5], state);
}

/// Style of a deadlock or leak found in the trace.
pub const SEVERE_STYLE: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);

/// The header's word on the trace: it costs the target, so say when it runs.
fn trace_span(state: &TopState) -> Option<Span<'static>> {
    Some(match &state.trace_status {
        TraceStatus::Off => return None,
        TraceStatus::Disabled => Span::styled("  trace: off", Style::new().fg(Color::DarkGray)),
        TraceStatus::Starting => Span::styled(
            "  trace: starting (costs the target 1-2%)",
            Style::new().fg(Color::Yellow),
        ),
        TraceStatus::On => Span::styled(
            "  trace: on (costs the target 1-2%)",
            Style::new().fg(Color::Green),
        ),
        TraceStatus::Failing(_) => {
            Span::styled("  trace: failing, retrying", Style::new().fg(Color::Yellow))
        }
        TraceStatus::Unavailable(_) => {
            Span::styled("  trace: unavailable", Style::new().fg(Color::Yellow))
        }
    })
}

/// Nanoseconds as a short duration.
fn dur(ns: u64) -> String {
    let ns = ns as f64;
    if ns >= 1e9 {
        format!("{:.1}s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1}ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.0}µs", ns / 1e3)
    } else {
        format!("{ns:.0}ns")
    }
}

fn draw_trace(f: &mut Frame, area: Rect, state: &TopState) {
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .split(area);
    let t = &state.trace;
    let mut lines: Vec<Line> = Vec::new();
    match &state.trace_status {
        TraceStatus::Failing(msg) | TraceStatus::Unavailable(msg) => {
            lines.push(Line::from(Span::styled(
                format!("trace: {msg}"),
                Style::new().fg(Color::Yellow),
            )));
        }
        _ => {}
    }
    // Deadlocks and leaks first, then where time goes.
    let mut findings: Vec<_> = t.findings.iter().collect();
    findings.sort_by_key(|f| !f.severe);
    for fd in findings {
        let style = if fd.severe {
            SEVERE_STYLE
        } else {
            Style::new().fg(Color::Yellow)
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", fd.kind), style),
            Span::raw(fd.summary.clone()),
        ]));
        if !fd.functions.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("    in {}", fd.functions.join(", ")),
                Style::new().fg(Color::DarkGray),
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            match state.trace_status {
                TraceStatus::Starting => "waiting for the first generation of the trace…",
                TraceStatus::Disabled => "trace off (--no-trace)",
                _ => "no findings in the trace",
            },
            Style::new().fg(Color::DarkGray),
        )));
    }
    let title = format!(
        " trace findings ({} requests, {} events, analysis {:.0} ms) ",
        t.streams, t.events, t.analysis_ms
    );
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(title)),
        cols[0],
    );
    let mut flows: Vec<Line> = vec![Line::from(Span::styled(
        format!("{:>9} {:>8} {:>8}  from → to", "wakes/s", "p50", "p99"),
        Style::new().add_modifier(Modifier::BOLD),
    ))];
    for fl in &t.flows {
        flows.push(Line::from(format!(
            "{:>9.1} {:>8} {:>8}  {} → {}",
            fl.rate_per_s,
            dur(fl.p50_ns),
            dur(fl.p99_ns),
            fl.from,
            fl.to
        )));
    }
    if t.flows.is_empty() {
        flows.push(Line::from(Span::styled(
            "no goroutine has woken another yet",
            Style::new().fg(Color::DarkGray),
        )));
    }
    f.render_widget(
        Paragraph::new(flows).block(
            Block::default()
                .borders(Borders::TOP | Borders::LEFT)
                .title(" wake flows: group → group, block-to-wake latency "),
        ),
        cols[1],
    );
}

fn connection_span(state: &TopState) -> Span<'static> {
    match &state.connection {
        Connection::Connecting => Span::styled("● connecting…", Style::new().fg(Color::Yellow)),
        Connection::Connected => Span::styled("● connected", Style::new().fg(Color::Green)),
        Connection::Disconnected { .. } => {
            let secs = state
                .retry_in(Instant::now())
                .map(|d| d.as_secs_f64().ceil() as u64)
                .unwrap_or(0);
            Span::styled(
                format!("● disconnected, retrying in {secs}s"),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            )
        }
        Connection::Failing { .. } => {
            let secs = state
                .retry_in(Instant::now())
                .map(|d| d.as_secs_f64().ceil() as u64)
                .unwrap_or(0);
            Span::styled(
                format!("● poll failed, retrying in {secs}s"),
                Style::new().fg(Color::Yellow),
            )
        }
        Connection::Restarted => Span::styled(
            "● target restarted, new baseline",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        Connection::Static => Span::styled("● file (static)", Style::new().fg(Color::Cyan)),
    }
}

/// A full-width line under the header when something needs attention.
fn banner(state: &TopState) -> Option<Line<'static>> {
    match &state.connection {
        Connection::Disconnected { error, .. } => {
            let age = state
                .last_report_at
                .map(|t| format!(" — showing data from {}s ago", t.elapsed().as_secs()))
                .unwrap_or_default();
            Some(Line::from(Span::styled(
                format!(" DISCONNECTED: {error}{age}"),
                Style::new()
                    .fg(Color::White)
                    .bg(Color::Red)
                    .add_modifier(Modifier::BOLD),
            )))
        }
        Connection::Failing { error, .. } => Some(Line::from(Span::styled(
            format!(" POLL FAILED: {error}"),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ))),
        Connection::Restarted => Some(Line::from(Span::styled(
            " TARGET RESTARTED: counts and history start over from a new baseline",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ))),
        _ if state.trace_saved.is_some() => Some(match state.trace_saved.as_ref().unwrap() {
            Ok(p) => Line::from(Span::styled(
                format!(" trace saved: {p}"),
                Style::new().fg(Color::Green),
            )),
            Err(e) => Line::from(Span::styled(
                format!(" trace not saved: {e}"),
                Style::new().fg(Color::Black).bg(Color::Yellow),
            )),
        }),
        _ => state.notice.as_ref().map(|n| {
            Line::from(Span::styled(
                format!(" note: {n}"),
                Style::new().fg(Color::Cyan),
            ))
        }),
    }
}

fn draw_header(f: &mut Frame, area: Rect, state: &TopState) {
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Min(40), Constraint::Percentage(30)])
        .split(area);
    let r = &state.report;
    let mut first = vec![
        Span::styled("weft top ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!("{}  ", state.source)),
        connection_span(state),
    ];
    if !r.form.is_empty() {
        first.push(Span::raw(format!("  ({})", r.form)));
    }
    if let Some(t) = trace_span(state) {
        first.push(t);
    }
    if state.paused {
        first.push(Span::styled(
            "  PAUSED",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    let suspects = r.groups.iter().filter(|g| g.leak_suspect).count();
    let mut totals = vec![
        Span::styled(
            format!("goroutines {}", r.total),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  Δ {}", signed(r.total_delta))),
        Span::raw(format!("  groups {}", r.groups.len())),
    ];
    if suspects > 0 {
        totals.push(Span::styled(
            format!("  leak suspects {suspects}"),
            SUSPECT_STYLE,
        ));
    }
    let by_state = Line::from(
        r.by_class
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{c} {n}  "))
            .collect::<String>(),
    );
    let findings = match r.findings.first() {
        Some(fd) if r.findings.len() > 1 => format!(
            "{}: {} (+{} more)",
            fd.name,
            fd.message,
            r.findings.len() - 1
        ),
        Some(fd) => format!("{}: {}", fd.name, fd.message),
        None => String::new(),
    };
    let lines = vec![
        Line::from(first),
        Line::from(totals),
        by_state,
        Line::from(Span::styled(findings, Style::new().fg(Color::Red))),
    ];
    f.render_widget(Paragraph::new(lines), cols[0]);
    // Relative to the window's minimum, so that a rise of 50 on 100 000
    // still shows.
    // The sparkline draws from the left and cuts the rest: keep the newest.
    let width = cols[1].width.saturating_sub(1) as usize;
    let recent = &r.total_history[r.total_history.len().saturating_sub(width)..];
    let min = recent.iter().copied().min().unwrap_or(0);
    let max = recent.iter().copied().max().unwrap_or(0);
    let data: Vec<u64> = recent.iter().map(|v| v - min + 1).collect();
    let spark = Sparkline::default()
        .block(
            Block::default()
                .borders(Borders::LEFT)
                .title(format!("total {min}..{max}")),
        )
        .data(&data)
        .style(Style::new().fg(Color::Cyan));
    f.render_widget(spark, cols[1]);
}

fn draw_table(f: &mut Frame, area: Rect, state: &TopState) {
    let mut title = format!(
        " groups {}/{} ",
        state.visible_len(),
        state.report.groups.len()
    );
    if state.state_filter != StateFilter::All {
        title.push_str(&format!("state={} ", state.state_filter.name()));
    }
    if !state.text_filter.is_empty() || state.mode == InputMode::Filter {
        title.push_str(&format!("filter=\"{}\" ", state.text_filter));
    }
    let block = Block::default().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if state.visible_len() == 0 {
        let msg = match state.connection {
            Connection::Connecting => "waiting for the first snapshot…",
            _ if state.report.groups.is_empty() => "no goroutines yet",
            _ => "no group matches the filter (Esc clears it)",
        };
        f.render_widget(Paragraph::new(msg), inner);
        return;
    }
    let columns = group_columns();
    // Build only the rows that fit (a per-goroutine source can have 100k
    // groups), scrolled so that the selected row is on screen.
    let body_rows = inner.height.saturating_sub(1).max(1) as usize;
    let selected = state.selected_index().unwrap_or(0);
    let offset = (selected + 1).saturating_sub(body_rows);
    let t = table(
        state.visible().skip(offset).take(body_rows),
        &columns,
        inner.width,
        Some((state.sort.name(), state.descending)),
        Some(selected - offset),
        |g| {
            if g.leak_suspect {
                SUSPECT_STYLE
            } else if state.search_hit(g) {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            }
        },
    );
    f.render_widget(t, inner);
}

fn draw_detail(f: &mut Frame, area: Rect, state: &TopState) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(" stack of the selected group ");
    let Some(g) = state.selected() else {
        f.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let mut lines: Vec<Line> = Vec::new();
    let head = format!("{} goroutine(s), {}", g.count, g.state);
    if g.leak_suspect {
        lines.push(Line::from(Span::styled(
            format!("{head} — LEAK SUSPECT"),
            SUSPECT_STYLE,
        )));
        for why in &g.why {
            lines.push(Line::from(Span::styled(
                format!("  why: {why}"),
                Style::new().fg(Color::Red),
            )));
        }
    } else {
        lines.push(Line::from(head));
    }
    for fr in &g.stack {
        lines.push(Line::from(vec![Span::styled(
            format!("  {}", fr.func),
            Style::new().add_modifier(Modifier::BOLD),
        )]));
        if !fr.file.is_empty() {
            lines.push(Line::from(format!("      {}:{}", fr.file, fr.line)));
        }
    }
    if let Some(c) = &g.created_by {
        lines.push(Line::from(format!("  created by {}", short_frame(c))));
    }
    match &state.details {
        DetailsStatus::Idle => lines.push(Line::from(Span::styled(
            "  d: fetch per-goroutine details (debug=2)",
            Style::new().fg(Color::DarkGray),
        ))),
        DetailsStatus::Pending => lines.push(Line::from("  details: fetching…")),
        DetailsStatus::Refused(msg) => lines.push(Line::from(Span::styled(
            format!("  details refused: {msg}"),
            Style::new().fg(Color::Yellow),
        ))),
        DetailsStatus::Loaded => {
            let ds = state.selected_details();
            lines.push(Line::from(format!(
                "  details: {} goroutine(s) in the last debug=2 dump",
                ds.len()
            )));
            for d in ds.iter().take(200) {
                let mut s = format!("    goroutine {} [{}", d.id, d.state);
                if let Some(m) = d.wait_minutes {
                    s.push_str(&format!(", {m} minutes"));
                }
                s.push(']');
                if let Some(c) = d.creator_id {
                    s.push_str(&format!(" created by goroutine {c}"));
                }
                for (k, v) in &d.labels {
                    s.push_str(&format!(" {k}={v}"));
                }
                lines.push(Line::from(s));
            }
        }
    }
    let p = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((state.detail_scroll, 0));
    f.render_widget(p, area);
}

fn draw_footer(f: &mut Frame, area: Rect, state: &TopState) {
    let line = match state.mode {
        InputMode::Filter => Line::from(format!(
            "filter: {}▏ (Enter keeps, Esc clears)",
            state.text_filter
        )),
        InputMode::Search => Line::from(format!(
            "/{}▏ (Enter, then n/N for next/previous)",
            state.search
        )),
        InputMode::Normal => {
            let mut s = format!(
                "q quit  ↑↓ select  s sort:{}  r reverse  f state:{}  t filter  / search  p {}  d details  [ ] scroll",
                state.sort.name(),
                state.state_filter.name(),
                if state.paused { "resume" } else { "pause" }
            );
            if !matches!(state.trace_status, TraceStatus::Off | TraceStatus::Disabled) {
                s.push_str("  w save trace");
            }
            if !state.search.is_empty() {
                s.push_str(&format!("  search:\"{}\"", state.search));
            }
            Line::from(s)
        }
    };
    f.render_widget(
        Paragraph::new(line).style(Style::new().fg(Color::DarkGray)),
        area,
    );
}
