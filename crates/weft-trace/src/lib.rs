/*!
weft-trace decodes Go execution traces (the v2 format written by Go 1.22 and
later) into a stream of typed events, in exactly the order Go's own reader
(`internal/trace`, behind `go tool trace`) produces them.

It is built for live use and big traces:
- **Incremental.** A [`Decoder`] takes bytes as they arrive ([`Decoder::feed`])
  and yields events generation by generation; a generation (about one second
  of trace) is decoded as soon as it is complete. [`Reader`] wraps any
  `io::Read`.
- **Bounded memory.** Only the current generation's bytes are kept; strings
  and stacks are byte ranges into them, resolved when asked for.
- **Exact ordering.** Per-thread batches are merged with the same scheduler
  state machine, sequence-number rules, heap and tie-breaking as the
  reference, including GoSwitch expansion, forced strictly increasing
  timestamps, CPU samples merged by time, traces that start mid-run and both
  ways a generation can end (1.26's marker, 1.22's look-ahead).
- **Two cores.** [`Reader::set_decode_thread`] decodes big generations on
  a helper thread; [`Reader::for_each_event_par`] also runs the consumer
  there, so the calling thread only orders (what `weft trace stats` does).
- **Hostile input.** Every varint, size, id and state change is checked;
  errors say what and where ([`Error`] has the byte offset and generation).

```
use weft_trace::{raw, Reader, EventKind};
// A tiny trace in the text form of Go's test corpus, turned into bytes.
let text = "Trace Go1.22
EventBatch gen=1 m=0 time=100 size=9
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
EventBatch gen=1 m=18446744073709551615 time=0 size=5
Frequency freq=15625000
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Stacks
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Strings
";
let bytes = raw::text_to_binary(text).unwrap();
let mut r = Reader::new(&bytes[..]);
let mut kinds = vec![];
while let Some(ev) = r.next_event().unwrap() {
    kinds.push(ev.kind());
}
assert_eq!(kinds, [EventKind::Sync, EventKind::StateTransition,
                   EventKind::StateTransition, EventKind::Sync]);
```

Known differences from the reference, all outside what real traces exercise:
- Pre-1.22 (v1) traces are refused with a clear error instead of converted.
- Sync's `Wall=` is printed in UTC (Go prints local time; equal when `TZ` is UTC).
- Ties are broken with stable sorts where Go uses its unstable pdqsort: CPU
  samples with identical timestamps, and the slow path when more than 12
  threads are stalled at once, could come out in another order.
- Errors that Go renders with random map order (the scheduler dump after
  "broken trace") are printed sorted.
*/
#![deny(missing_docs)]

mod ahead;
mod decoder;
mod error;
mod event;
pub mod fasthash;
mod generation;
mod gofmt;
mod order;
pub mod raw;
pub mod spec;
pub mod stats;
mod varint;

pub use decoder::{Decoder, Reader, Status};
pub use error::{Error, Result};
pub use event::{
    kind_of, ClockSnapshot, EventKind, EventRef, ExperimentalBatch, Frame, GoState, Log, Metric,
    ProcState, Range, RangeKind, RawEvent, Region, Scope, Stack, StateTransition, Task, Transition,
};
pub use gofmt::{quote_into as go_quote_into, rfc3339_nano_utc};
pub use varint::{put_uvarint, uvarint, Varint};
