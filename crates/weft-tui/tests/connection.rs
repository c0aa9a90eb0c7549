//! The connection state on screen follows a real target polled by the real
//! poller: connected, gone (disconnected, retrying), back as a new process
//! (restarted, new baseline).

mod support;

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use support::Target;
use weft_source::{parse_source, PollOptions};
use weft_tui::live::{FeedSource, PollerFeed};
use weft_tui::{ui, Connection, TopState};

fn screen(term: &mut Terminal<TestBackend>, state: &TopState) -> String {
    term.draw(|f| ui::draw(f, state)).unwrap();
    let buf = term.backend().buffer();
    let w = buf.area.width as usize;
    buf.content()
        .chunks(w)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Applies feeds until `done` holds for the state.
fn pump_until(
    feed: &mut PollerFeed,
    state: &mut TopState,
    what: &str,
    done: impl Fn(&TopState) -> bool,
) {
    let start = Instant::now();
    while !done(state) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never saw {what}; connection is {:?}",
            state.connection
        );
        match feed.try_next() {
            Some(f) => state.apply(f),
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn banners_follow_a_target_that_goes_away_and_comes_back() {
    let mut target = Target::start(&["-n", "200"]);
    let port = target.port();
    let mut feed = PollerFeed::spawn(parse_source(&target.url).unwrap(), PollOptions::default());
    let mut state = TopState::new(target.url.clone());
    let mut term = Terminal::new(TestBackend::new(150, 40)).unwrap();

    pump_until(&mut feed, &mut state, "a first report", |s| {
        s.reports_seen > 0
    });
    let text = screen(&mut term, &state);
    assert!(text.contains("● connected"), "{text}");
    assert!(text.contains("main.parkedReceiver"), "{text}");
    assert!(!text.contains("DISCONNECTED"), "{text}");

    // The target goes away.
    target.kill();
    pump_until(&mut feed, &mut state, "the disconnect", |s| {
        matches!(s.connection, Connection::Disconnected { .. })
    });
    let text = screen(&mut term, &state);
    assert!(text.contains("● disconnected, retrying in "), "{text}");
    assert!(text.contains("DISCONNECTED: "), "{text}");
    // The last data stays on screen meanwhile.
    assert!(text.contains("main.parkedReceiver"), "{text}");

    // A new process on the same port, with a different shape.
    let _back = Target::start(&["-n", "300", "-addr", &format!("127.0.0.1:{port}")]);
    pump_until(&mut feed, &mut state, "the restart", |s| {
        s.connection == Connection::Restarted
    });
    pump_until(&mut feed, &mut state, "a report of the new process", |s| {
        s.report.total >= 300
    });
    let text = screen(&mut term, &state);
    assert!(text.contains("● target restarted, new baseline"), "{text}");
    assert!(text.contains("TARGET RESTARTED"), "{text}");
    assert!(!text.contains("DISCONNECTED"), "{text}");
    // New baseline: the receivers' group shows the new count and no change
    // against the old process (80 -> 120 would read +40 otherwise).
    let row = text
        .lines()
        .find(|l| l.contains("main.parkedReceiver "))
        .expect("receiver row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..2], ["120", "0"], "{row}");
}
