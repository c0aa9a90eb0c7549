//! The HTTP server: routes, embedded assets, the live WebSocket, and the
//! [`Server`] handle that starts it on its own thread (a small tokio
//! runtime) and stops it on drop.
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use weft_timeline::{GroupId, Model};

use crate::api::{self, App};
use crate::load;
use crate::security::{self, Guard};
use crate::state::{LoadState, Mode, Shared, Status};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// The bundled demo capture (see `testdata/demo/README.md`).
pub static DEMO_TRACE: &[u8] = include_bytes!("../../../testdata/demo/demo.trace");

/// Where the data comes from.
pub enum Source {
    /// A trace file, read once.
    File(PathBuf),
    /// A trace held in memory (the bundled demo).
    Bytes { name: String, data: &'static [u8] },
    /// A pprof base URL: `/debug/pprof/trace` streamed live.
    Live(String),
    /// A process: its goroutine table read from memory every `interval`.
    Pid { pid: u32, interval: Duration },
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct Options {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Require a token even on loopback (tests).
    pub force_token: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            force_token: false,
        }
    }
}

/// A running server. Dropping it stops the server, the loader's output is
/// discarded and a live stream is stopped.
pub struct Server {
    addr: SocketAddr,
    token: Option<String>,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    _live: Option<load::Live>,
    _sampling: Option<crate::sampled::Sampling>,
}

impl Server {
    /// Binds, starts answering at once (`/api/status` says `loading`), and
    /// starts reading the source in the background.
    pub fn start(source: Source, opts: Options) -> anyhow::Result<Server> {
        let source_pid = match &source {
            Source::Pid { pid, interval } => Some((*pid, *interval)),
            _ => None,
        };
        let (mode, name, total, collecting, cost) = match &source {
            Source::File(p) => {
                let len = std::fs::metadata(p)
                    .with_context(|| format!("cannot open {}", p.display()))?
                    .len();
                (Mode::File, p.display().to_string(), len, vec!["trace file".to_string()], "none: reading a file".to_string())
            }
            Source::Bytes { name, data } => (
                Mode::Demo,
                name.clone(),
                data.len() as u64,
                vec!["bundled demo capture".to_string()],
                "none: a recorded capture".to_string(),
            ),
            Source::Live(url) => (
                Mode::Live,
                url.clone(),
                0,
                vec!["execution trace (/debug/pprof/trace, renewed back to back, one request at a time)".to_string()],
                "runtime tracing on while connected: typically a few percent CPU for a busy program; no stop-the-world polling".to_string(),
            ),
            Source::Pid { pid, interval } => (
                Mode::Live,
                format!("pid:{pid}"),
                0,
                vec![format!(
                    "goroutine table read from process memory every {:.1}s (process_vm_readv; states, stacks, the channels goroutines wait on; no wake edges)",
                    interval.as_secs_f64()
                )],
                "no stop and no code change: reads of its memory, about 0.2 s of weft's CPU per read at 100k goroutines".to_string(),
            ),
        };
        let model_cfg = match mode {
            Mode::Live => weft_timeline::Config::default(),
            _ => load::file_config(),
        };
        let shared = Shared::new(
            Model::new(model_cfg),
            Status {
                state: LoadState::Loading,
                error: None,
                mode,
                source: name,
                total_bytes: total,
                collecting,
                target_cost: cost,
                streams: 0,
                stream_errors: 0,
                last_error: None,
                load_secs: None,
            },
        );
        let listener = TcpListener::bind(opts.listen)
            .with_context(|| format!("cannot listen on {}", opts.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let guard = Arc::new(Guard::new(addr, opts.force_token));
        let token = guard.token.clone();

        let live = match source {
            Source::File(p) => {
                crate::index::attach(&shared, p.clone());
                load::spawn_file_loader(
                    shared.clone(),
                    Box::new(move || {
                        Ok(Box::new(std::fs::File::open(&p)?) as Box<dyn std::io::Read + Send>)
                    }),
                );
                None
            }
            Source::Bytes { data, .. } => {
                load::spawn_file_loader(
                    shared.clone(),
                    Box::new(move || Ok(Box::new(data) as Box<dyn std::io::Read + Send>)),
                );
                None
            }
            Source::Live(url) => Some(load::spawn_live(shared.clone(), &url)),
            Source::Pid { .. } => None,
        };
        let sampling = match source_pid {
            Some((pid, interval)) => Some(crate::sampled::spawn_pid(shared.clone(), pid, interval)),
            None => None,
        };

        let app = router(shared.clone(), guard);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("weft-web-http".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("weft-web")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("weft: cannot start the web server runtime: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    let l = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("weft: cannot serve: {e}");
                            return;
                        }
                    };
                    let _ = axum::serve(l, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
                // Open WebSockets must not hold the process up.
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .context("cannot start the web server thread")?;
        Ok(Server {
            addr,
            token,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
            _live: live,
            _sampling: sampling,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token required on this server, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The URL to open (with the token when one is required). A server on
    /// all interfaces is shown as loopback.
    pub fn url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", self.addr.port())
        } else {
            self.addr.to_string()
        };
        match &self.token {
            Some(t) => format!("http://{host}/?token={t}"),
            None => format!("http://{host}/"),
        }
    }

    /// Shared state (status, model), e.g. for a progress bar.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Blocks until the server stops (it does not on its own).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn router(shared: Arc<Shared>, guard: Arc<Guard>) -> Router {
    Router::new()
        .route("/api/status", get(api::status))
        .route("/api/summary", get(api::summary))
        .route("/api/groups", get(api::groups))
        .route("/api/group/:id", get(api::group))
        .route("/api/flows", get(api::flows))
        .route("/api/goroutines", get(api::goroutines))
        .route("/api/goroutine/:id", get(api::goroutine))
        .route("/api/findings", get(api::findings))
        .route("/api/rows", get(api::rows_list))
        .route("/api/timeline", get(api::timeline))
        .route("/api/bands", get(api::bands))
        .route("/api/wakes", get(api::wakes))
        .route("/api/procs", get(api::procs))
        .route("/api/proc_lanes", get(api::proc_lanes))
        .route("/api/objects", get(crate::sampled::objects))
        .route("/api/live", get(live))
        .route("/api/*rest", get(unknown_api))
        .fallback(asset)
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(guard, security::guard))
}

async fn unknown_api(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            json!({"error": format!("no such endpoint {}; see docs/web-api.md", uri.path())}),
        ),
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Looks up an embedded UI file.
pub fn asset_bytes(path: &str) -> Option<&'static [u8]> {
    let a = embedded::ASSETS;
    a.binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| a[i].1)
}

async fn asset(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match asset_bytes(path) {
        Some(b) => ([(header::CONTENT_TYPE, content_type(path)), (header::CACHE_CONTROL, "no-cache")], b).into_response(),
        None if path == "index.html" => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><title>weft</title><p>This weft was built without its web UI files (crates/weft-web/assets/ was empty). The API is at <a href=\"/api/status\">/api/status</a>.</p>",
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("weft: no file /{path}\n")).into_response(),
    }
}

async fn live(ws: WebSocketUpgrade, State(app): State<App>) -> Response {
    ws.on_upgrade(move |sock| live_loop(sock, app))
}

/// Group counts the client has seen, to tell it which groups changed.
type Seen = HashMap<GroupId, [u32; 4]>;

fn update_message(app: &Shared, seen: &mut Seen) -> Value {
    let status = api::status_json(app);
    let summary = api::summary_json(app).ok();
    let (mut changed, mut new) = (Vec::new(), Vec::new());
    if summary.is_some() {
        let m = app.model();
        for g in m.groups_raw().iter().filter(|g| g.created > 0) {
            match seen.insert(g.id, g.counts) {
                None => new.push(g.id),
                Some(old) if old != g.counts => changed.push(g.id),
                _ => {}
            }
        }
    }
    json!({
        "type": "update",
        "version": status["model_version"],
        "status": status,
        "summary": summary.map(|s| (*s).clone()),
        "changed_groups": changed,
        "new_groups": new,
    })
}

/// Pushes an update at most every 100 ms when the model changed, and once a
/// second while loading (progress).
async fn live_loop(mut sock: WebSocket, app: App) {
    let mut seen = Seen::new();
    let mut last_version = u64::MAX;
    let mut last_sent = Instant::now() - Duration::from_secs(10);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            msg = sock.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                _ => continue,
            },
        }
        let (state, version) = {
            let st = app.status().state;
            let v = if st == LoadState::Ready {
                app.model().version()
            } else {
                0
            };
            (st, v)
        };
        let due = match state {
            LoadState::Ready => version != last_version,
            _ => last_sent.elapsed() >= Duration::from_secs(1),
        };
        if !due {
            continue;
        }
        let app2 = app.clone();
        let mut seen2 = std::mem::take(&mut seen);
        let built = tokio::task::spawn_blocking(move || {
            let m = update_message(&app2, &mut seen2);
            (m, seen2)
        })
        .await;
        let Ok((msg, s)) = built else { return };
        seen = s;
        last_version = version;
        last_sent = Instant::now();
        if sock.send(Message::Text(msg.to_string())).await.is_err() {
            return;
        }
    }
}
