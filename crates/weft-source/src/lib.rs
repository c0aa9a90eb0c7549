/*!
Acquisition: turns what the user names as a source into goroutine
[`Snapshot`]s, once or continuously, without hurting the target.

- [`parse_source`] reads a source argument into a [`SourceSpec`]: a pprof base
  URL (`http://127.0.0.1:6060`, `:6060`), a dump file, `-` for stdin, or `pid:N`.
- [`fetch_once`] takes one snapshot; [`fetch_detail`] one `debug=2` dump,
  refused above a goroutine count unless forced.
- [`Poller`] polls on its own thread and sends [`PollEvent`]s over a std
  channel: `Connected`, `Snapshot`, `Detail`, `DetailRefused`, `Error`,
  `Disconnected`, `TargetRestarted`, `Notice`.

Why polling looks the way it does (see `shared/field-notes.md`): the
concurrent profile forms (`debug=0` default, `debug=1`) cost the target a
few milliseconds even at 100k goroutines, while `debug=2` stops the world
for hundreds. So live polling uses `debug=0` at 1 s (it keeps the runtime
frames that give exact states), requests are never
closer than [`PollOptions::min_interval`], `debug=2` only comes on request,
at most every 10 s and not above 10 000 goroutines unless forced. Bodies
are capped ([`PollOptions::max_body_bytes`]); every request has a timeout.
The goroutine-leak profile is opt-in ([`PollOptions::leak_profile`]): each
read runs a leak-finding GC cycle in the target, so it is read at most every
30 s, not above the `debug=2` goroutine limit unless forced, and never again
after a 404 until the target restarts.

```no_run
use weft_source::{parse_source, PollEvent, PollOptions, Poller};

let spec = parse_source("http://127.0.0.1:6060")?;
let poller = Poller::spawn(spec, PollOptions::default());
for ev in poller.events().iter().take(3) {
    match ev {
        PollEvent::Snapshot(s) => println!("{} goroutines", s.total()),
        PollEvent::Disconnected { message, retry_in } => eprintln!("{message} (retry in {retry_in:?})"),
        other => eprintln!("{other:?}"),
    }
}
# Ok::<(), weft_source::SourceError>(())
```
*/

mod error;
mod fetch;
mod poll;
mod spec;
pub mod trace_stream;

pub use error::SourceError;
pub use fetch::{fetch_detail, fetch_once, merge_leak_profile, ProfileForm, SYMBOL_REFRESH};
pub use poll::{PollEvent, PollOptions, Poller};
pub use spec::{parse_source, SourceSpec};
pub use trace_stream::{
    parse_trace_source, read_trace, TraceRing, TraceSink, TraceSourceError, TraceSpec, TraceStream,
    TraceStreamEvent, TraceStreamOptions,
};
pub use weft_model::Snapshot;
