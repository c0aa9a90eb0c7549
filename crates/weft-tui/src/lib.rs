/*!
`weft top`: a live, full-screen terminal view of a Go program's goroutines.

The screen shows a header (source, connection state, totals, counts by state
class, a sparkline of the total), a table of goroutine groups (count, Δ,
rate, state, where, created by; leak suspects in red), and a pane with the
selected group's full stack and why it is suspected.

The crate keeps state apart from drawing, in the manner of tokio-console:
- [`view`]: the UI's own data types ([`ReportView`], [`Connection`],
  [`Feed`]); [`adapt`] converts analysis reports into them at the edge.
- [`state`]: [`TopState`], changed by [`Feed`]s from the source side and by
  key presses, each of which returns a small [`Change`] for the main loop.
- [`ui`]: draws a state into a ratatui frame, through the one generic
  [`table`] widget.
- [`live`]: [`live::PollerFeed`] runs a `weft-source` poller and a
  `weft-analysis` tracker and turns their output into [`Feed`]s.
- [`trace`]: [`trace::TraceFeed`] streams the execution trace of a URL
  source into a `weft-timeline` model and shows its findings (deadlocks,
  leaks) and group-to-group wake flows; `w` saves the last seconds of raw
  trace.
- [`app`]: the terminal guard (raw mode, alternate screen, restored on drop
  and on panic) and the main loop.

Because drawing is pure, the screen can be checked on ratatui's test backend:

```
use ratatui::{backend::TestBackend, Terminal};
use weft_tui::{ui, Connection, Feed, GroupView, ReportView, TopState};

let mut state = TopState::new("http://127.0.0.1:6060");
state.apply(Feed::Connection(Connection::Connected));
state.apply(Feed::Report(ReportView {
    total: 3,
    groups: vec![GroupView { key: "a".into(), count: 3, state: "chan receive".into(), ..Default::default() }],
    ..Default::default()
}));
let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
term.draw(|f| ui::draw(f, &state)).unwrap();
let screen: String = term.backend().buffer().content().iter().map(|c| c.symbol()).collect();
assert!(screen.contains("chan receive"));
assert!(screen.contains("connected"));
```
*/

pub mod adapt;
pub mod app;
pub mod live;
pub mod state;
pub mod table;
pub mod trace;
pub mod ui;
pub mod view;

pub use state::{Change, InputMode, SortKey, StateFilter, TopState};
pub use view::{
    Connection, DetailsReply, Feed, FindingView, GoroutineDetail, GroupView, ReportView,
};
