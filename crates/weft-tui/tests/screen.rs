//! What `weft top` puts on screen, checked cell by cell on ratatui's test
//! backend, fed with real goroutine profiles of a real Go program
//! (`bench/schedgap`) parsed by weft-profile and tracked by weft-analysis.

mod support;

use std::thread::sleep;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use support::Target;
use weft_analysis::{Tracker, TrackerConfig};
use weft_model::Snapshot;
use weft_tui::adapt::{form_name, report_view};
use weft_tui::{ui, Change, Connection, DetailsReply, Feed, ReportView, TopState};

const DEBUG1: &str = "/debug/pprof/goroutine?debug=1";
const DEBUG2: &str = "/debug/pprof/goroutine?debug=2";

fn snapshot(t: &Target, path: &str) -> Snapshot {
    let body = t.get(path);
    let mut snap = weft_profile::parse(&body).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    snap.source = t.url.clone();
    snap
}

fn observe(tracker: &mut Tracker, t: &Target, path: &str) -> ReportView {
    let snap = snapshot(t, path);
    report_view(&tracker.observe(&snap), form_name(snap.form))
}

fn render(term: &mut Terminal<TestBackend>, state: &TopState) -> Buffer {
    term.draw(|f| ui::draw(f, state)).unwrap();
    term.backend().buffer().clone()
}

fn lines(buf: &Buffer) -> Vec<String> {
    let w = buf.area.width as usize;
    buf.content()
        .chunks(w)
        .map(|row| row.iter().map(|c| c.symbol()).collect())
        .collect()
}

fn screen(buf: &Buffer) -> String {
    lines(buf).join("\n")
}

/// Index of the table row (between the column header and the detail pane)
/// containing `needle`.
fn row_of(buf: &Buffer, needle: &str) -> Option<usize> {
    let ls = lines(buf);
    let start = ls
        .iter()
        .position(|l| l.contains("count") && l.contains("where"))?;
    let end = ls
        .iter()
        .position(|l| l.contains("stack of the selected group"))
        .unwrap_or(ls.len());
    (start + 1..end).find(|&i| ls[i].contains(needle))
}

/// Table rows (lines that show a `main.parked*`/`main.leaky*` group), in order.
fn table_order(buf: &Buffer) -> Vec<String> {
    let names = [
        "parkedReceiver",
        "parkedSelector",
        "parkedSender",
        "parkedWaiter",
        "leakyHandler",
    ];
    let ls = lines(buf);
    // The table ends where the detail pane's title starts.
    let end = ls
        .iter()
        .position(|l| l.contains("stack of the selected group"))
        .unwrap_or(ls.len());
    ls[..end]
        .iter()
        .filter_map(|l| {
            names
                .iter()
                .find(|n| l.contains(&format!("main.{n} ")))
                .map(|n| n.to_string())
        })
        .collect()
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn press(state: &mut TopState, keys: &str) {
    for c in keys.chars() {
        state.on_key(key(c));
    }
}

fn connected_state(t: &Target) -> TopState {
    let mut s = TopState::new(t.url.clone());
    s.apply(Feed::Connection(Connection::Connected));
    s
}

#[test]
fn table_shows_real_groups_counts_and_states() {
    let t = Target::start(&["-n", "2000"]);
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut term = Terminal::new(TestBackend::new(150, 40)).unwrap();
    // debug=1 (what weft top polls) has counts but no wait reasons...
    let mut state = connected_state(&t);
    state.apply(Feed::Report(observe(&mut tracker, &t, DEBUG1)));
    let buf = render(&mut term, &state);
    let text = screen(&buf);
    assert!(text.contains("(debug=1)"), "{text}");
    for (func, count) in [
        ("main.parkedReceiver", "800"),
        ("main.parkedSelector", "600"),
        ("main.parkedSender", "400"),
        ("main.parkedWaiter", "200"),
    ] {
        let y = row_of(&buf, &format!("{func} "))
            .unwrap_or_else(|| panic!("no row for {func}:\n{text}"));
        assert!(
            lines(&buf)[y].trim_start().starts_with(count),
            "{func}: {}",
            lines(&buf)[y]
        );
    }
    // ...debug=2 has the runtime's own state names.
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut state = connected_state(&t);
    state.apply(Feed::Report(observe(&mut tracker, &t, DEBUG2)));
    let buf = render(&mut term, &state);
    let text = screen(&buf);
    assert!(text.contains("connected"), "{text}");
    assert!(text.contains("(debug=2)"), "{text}");
    // 2000 goroutines spread 4:3:2:1 over the four parking functions.
    for (func, count, st) in [
        ("main.parkedReceiver", "800", "chan receive"),
        ("main.parkedSelector", "600", "select"),
        ("main.parkedSender", "400", "chan send"),
        ("main.parkedWaiter", "200", "Wait"),
    ] {
        let y = row_of(&buf, &format!("{func} "))
            .unwrap_or_else(|| panic!("no row for {func}:\n{text}"));
        let line = &lines(&buf)[y];
        assert!(
            line.trim_start().starts_with(count),
            "row of {func} should start with {count}: {line:?}"
        );
        assert!(
            line.contains(st),
            "row of {func} should show state {st:?}: {line:?}"
        );
    }
    // Largest first by default.
    assert_eq!(
        table_order(&buf)[..4],
        [
            "parkedReceiver",
            "parkedSelector",
            "parkedSender",
            "parkedWaiter"
        ]
    );
    let ls = lines(&buf);
    let header = ls
        .iter()
        .find(|l| l.contains("count ▼"))
        .expect("sort arrow on count");
    for col in ["Δ", "rate", "state", "where", "created by"] {
        assert!(header.contains(col), "header lacks {col}: {header}");
    }
    assert!(text.contains("goroutines 20"), "total in header:\n{text}");
}

#[test]
fn leak_suspect_row_is_highlighted_and_explained() {
    let t = Target::start(&["-n", "1000", "-leak", "40"]);
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut state = connected_state(&t);
    // Poll as weft top does (every second) until the analysis flags the leak.
    let mut flagged = false;
    for _ in 0..15 {
        let r = observe(&mut tracker, &t, DEBUG1);
        flagged = r.groups.iter().any(|g| g.leak_suspect);
        state.apply(Feed::Report(r));
        if flagged {
            break;
        }
        sleep(Duration::from_millis(1000));
    }
    assert!(flagged, "the growing leakyHandler group was never flagged");
    let mut term = Terminal::new(TestBackend::new(150, 45)).unwrap();
    let buf = render(&mut term, &state);
    let text = screen(&buf);
    assert!(text.contains("leak suspects 1"), "{text}");

    let y = row_of(&buf, "main.leakyHandler ").expect("leaky row") as u16;
    let x = lines(&buf)[y as usize].find('!').expect("suspect mark") as u16;
    let cell = buf.cell((x, y)).unwrap();
    assert_eq!(cell.fg, Color::Red, "suspect row should be red");
    assert!(cell.modifier.contains(Modifier::BOLD));
    // A healthy row is not.
    let y2 = row_of(&buf, "main.parkedSelector ").unwrap() as u16;
    assert_ne!(buf.cell((2, y2)).unwrap().fg, Color::Red);

    // Select it (search) and the pane says why.
    press(&mut state, "/leaky");
    state.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let buf = render(&mut term, &state);
    let text = screen(&buf);
    assert!(text.contains("LEAK SUSPECT"), "{text}");
    assert!(text.contains("why: "), "{text}");
    assert!(
        text.contains("leak: "),
        "findings line in the header:\n{text}"
    );
}

#[test]
fn sort_filter_search_and_pause_keys_change_the_screen() {
    let t = Target::start(&["-n", "2000", "-leak", "20"]);
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut state = connected_state(&t);
    // Wait for the first leaked goroutines (one batch a second), then poll
    // again after more have leaked, so the leaking group has a positive Δ.
    for _ in 0..30 {
        let r = observe(&mut tracker, &t, DEBUG1);
        let leaking = r
            .groups
            .iter()
            .any(|g| g.where_text().contains("leakyHandler"));
        state.apply(Feed::Report(r));
        if leaking {
            break;
        }
        sleep(Duration::from_millis(200));
    }
    sleep(Duration::from_millis(2100));
    state.apply(Feed::Report(observe(&mut tracker, &t, DEBUG1)));
    let mut term = Terminal::new(TestBackend::new(150, 40)).unwrap();

    // Sort by where (key 4): alphabetical by function.
    assert_eq!(state.on_key(key('4')), Change::Redraw);
    let buf = render(&mut term, &state);
    assert!(screen(&buf).contains("where ▲"));
    assert_eq!(
        table_order(&buf),
        [
            "leakyHandler",
            "parkedReceiver",
            "parkedSelector",
            "parkedSender",
            "parkedWaiter"
        ]
    );
    // Reverse it.
    press(&mut state, "r");
    let buf = render(&mut term, &state);
    assert_eq!(table_order(&buf)[0], "parkedWaiter");
    // Sort by Δ: only the leaking group grew between the two polls.
    press(&mut state, "2");
    let buf = render(&mut term, &state);
    assert!(screen(&buf).contains("Δ ▼"));
    assert_eq!(table_order(&buf)[0], "leakyHandler", "{}", screen(&buf));
    // Back to count.
    press(&mut state, "1");
    assert_eq!(table_order(&render(&mut term, &state))[0], "parkedReceiver");

    // Text filter: only matching rows stay.
    press(&mut state, "tselect");
    state.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let buf = render(&mut term, &state);
    assert_eq!(table_order(&buf), ["parkedSelector"]);
    assert!(screen(&buf).contains("filter=\"select\""));
    state.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert_eq!(table_order(&render(&mut term, &state)).len(), 5);

    // State filter cycles: all -> blocked -> running; the program's own
    // groups are all blocked, none running.
    press(&mut state, "f");
    let buf = render(&mut term, &state);
    assert!(screen(&buf).contains("state=blocked"));
    assert_eq!(table_order(&buf).len(), 5);
    press(&mut state, "f");
    let buf = render(&mut term, &state);
    assert!(screen(&buf).contains("state=running"));
    assert!(table_order(&buf).is_empty(), "{}", screen(&buf));
    state.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));

    // Search moves the selection (reversed row) without hiding rows.
    press(&mut state, "/waiter");
    state.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let buf = render(&mut term, &state);
    assert_eq!(table_order(&buf).len(), 5);
    let y = row_of(&buf, "main.parkedWaiter ").unwrap() as u16;
    assert!(
        buf.cell((3, y))
            .unwrap()
            .modifier
            .contains(Modifier::REVERSED),
        "searched row is selected"
    );
    let y = row_of(&buf, "main.parkedReceiver ").unwrap() as u16;
    assert!(!buf
        .cell((3, y))
        .unwrap()
        .modifier
        .contains(Modifier::REVERSED));

    // Pause: new reports are held back until resumed.
    press(&mut state, "p");
    let before = state.report.total;
    sleep(Duration::from_millis(1100));
    state.apply(Feed::Report(observe(&mut tracker, &t, DEBUG1)));
    let buf = render(&mut term, &state);
    assert!(screen(&buf).contains("PAUSED"));
    assert_eq!(state.report.total, before, "paused screen must not change");
    press(&mut state, "p");
    let buf = render(&mut term, &state);
    assert!(!screen(&buf).contains("PAUSED"));
    assert!(state.report.total > before, "resume shows the held report");
    assert!(screen(&buf).contains(&format!("goroutines {}", state.report.total)));
    // The selection stayed on the searched group across the new report.
    assert_eq!(
        state.selected().unwrap().where_.as_ref().unwrap().func,
        "main.parkedWaiter"
    );

    assert_eq!(state.on_key(key('q')), Change::Quit);
    assert_eq!(
        state.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Change::Quit
    );
}

#[test]
fn detail_pane_shows_the_full_stack_and_requested_details() {
    let t = Target::start(&["-n", "500"]);
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut state = connected_state(&t);
    // debug=2 carries creation sites as well.
    state.apply(Feed::Report(observe(&mut tracker, &t, DEBUG2)));
    press(&mut state, "/parkedWaiter");
    state.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let mut term = Terminal::new(TestBackend::new(150, 50)).unwrap();
    let buf = render(&mut term, &state);
    let ls = lines(&buf);
    let pane = ls
        .iter()
        .position(|l| l.contains("stack of the selected group"))
        .expect("detail pane");
    let pane_text = ls[pane..].join("\n");
    // Every frame of the group's stack, in order, with its file.
    let g = state.selected().unwrap().clone();
    assert!(g.stack.len() >= 3, "{g:?}");
    let mut at = 0;
    for f in &g.stack {
        let pos = pane_text[at..]
            .find(&f.func)
            .unwrap_or_else(|| panic!("frame {} missing:\n{pane_text}", f.func));
        at += pos;
    }
    assert!(pane_text.contains("sync.(*WaitGroup).Wait"), "{pane_text}");
    assert!(pane_text.contains("main.go:"), "{pane_text}");
    assert!(pane_text.contains("created by main.park"), "{pane_text}");
    assert!(pane_text.contains("50 goroutine(s)"), "{pane_text}");

    // `d` asks for details; a refusal is shown as the source words it...
    assert_eq!(state.on_key(key('d')), Change::RequestDetails);
    assert!(screen(&render(&mut term, &state)).contains("details: fetching"));
    state.apply(Feed::Details(DetailsReply::Refused(
        "too many goroutines (150000 > 10000)".into(),
    )));
    assert!(screen(&render(&mut term, &state))
        .contains("details refused: too many goroutines (150000 > 10000)"));
    // ...and a dump is matched to the selected group's goroutines.
    assert_eq!(state.on_key(key('d')), Change::RequestDetails);
    let dump = snapshot(&t, DEBUG2);
    state.apply(Feed::Details(DetailsReply::Records(dump.records)));
    let buf = render(&mut term, &state);
    let text = screen(&buf);
    assert!(
        text.contains("details: 50 goroutine(s) in the last debug=2 dump"),
        "{text}"
    );
    assert!(
        text.contains("goroutine ") && text.contains("created by goroutine 1"),
        "{text}"
    );
}

#[test]
fn resize_lays_the_screen_out_again() {
    let t = Target::start(&["-n", "300"]);
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut state = connected_state(&t);
    state.apply(Feed::Report(observe(&mut tracker, &t, DEBUG2)));
    let mut term = Terminal::new(TestBackend::new(150, 40)).unwrap();
    let wide = render(&mut term, &state);
    assert!(screen(&wide).contains("created by"));
    assert!(screen(&wide).contains("stack of the selected group"));

    term.backend_mut().resize(70, 14);
    let narrow = render(&mut term, &state);
    assert_eq!(narrow.area.width, 70);
    let text = screen(&narrow);
    assert!(
        !lines(&narrow)[..6].iter().any(|l| l.contains("created by")),
        "no created-by column at 70 cols:\n{text}"
    );
    assert!(
        !text.contains("stack of the selected group"),
        "no detail pane on 14 lines:\n{text}"
    );
    assert!(text.contains("main.parkedReceiver"), "{text}");
    assert!(text.contains("q quit"), "footer stays:\n{text}");

    // Tiny terminals do not panic.
    for (w, h) in [(20, 5), (1, 1), (200, 60)] {
        term.backend_mut().resize(w, h);
        render(&mut term, &state);
    }
}

#[test]
fn scrolling_keeps_the_selected_row_on_screen() {
    let t = Target::start(&["-n", "400"]);
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut state = connected_state(&t);
    state.apply(Feed::Report(observe(&mut tracker, &t, DEBUG2)));
    let n = state.visible_len();
    assert!(n >= 6, "schedgap has at least 6 groups, got {n}");
    // 18 lines leave room for only a few table rows.
    let mut term = Terminal::new(TestBackend::new(120, 18)).unwrap();
    let first = render(&mut term, &state);
    assert!(row_of(&first, "main.parkedReceiver ").is_some());
    state.on_key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE));
    let buf = render(&mut term, &state);
    let last = state
        .selected()
        .unwrap()
        .where_
        .as_ref()
        .unwrap()
        .func
        .clone();
    let y = row_of(&buf, &last)
        .unwrap_or_else(|| panic!("selected {last:?} not on screen:\n{}", screen(&buf)))
        as u16;
    assert!(buf
        .cell((3, y))
        .unwrap()
        .modifier
        .contains(Modifier::REVERSED));
    assert!(
        row_of(&buf, "main.parkedReceiver ").is_none(),
        "the top rows scrolled away:\n{}",
        screen(&buf)
    );
    state.on_key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE));
    assert!(row_of(&render(&mut term, &state), "main.parkedReceiver ").is_some());
}
