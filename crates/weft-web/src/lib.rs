/*!
weft-web is weft's web UI server: `weft open FILE`, `weft watch URL` and
`weft demo` start it. It loads an execution trace into the concurrency model
([`weft_timeline::Model`]) on a background thread, or streams one live from
a program's `/debug/pprof/trace`, and answers the HTTP/WebSocket API that
the browser front draws from (`docs/web-api.md`): status, summary, groups,
wake flows, goroutine table and inspector, findings, and the timeline as
compact binary buffers at the resolution the view asks for.

The front (`assets/`: plain HTML, JavaScript and CSS, no build step) is
embedded into the binary by `build.rs`, so `cargo build` alone yields the
complete UI; no Node or npm is needed to build or run weft.

Only this crate uses an async runtime (tokio, for axum and WebSockets), on
its own threads. The server binds 127.0.0.1 by default, refuses requests
whose `Host` or `Origin` is not its own, and requires a token on other
addresses (see [`security`]).

```no_run
use weft_web::{Options, Server, Source};

let server = Server::start(Source::File("trace.out".into()), Options::default())?;
println!("open {}", server.url());
server.wait();
# Ok::<(), anyhow::Error>(())
```
*/

mod api;
pub mod index;
mod load;
pub mod rows;
mod sampled;
pub mod security;
mod server;
pub mod state;

pub use load::file_config;
pub use server::{asset_bytes, Options, Server, Source, DEMO_TRACE};
pub use state::{LoadState, Mode, Shared};
