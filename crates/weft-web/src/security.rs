//! Who may talk to the server. A page on another site must not read a
//! program's goroutines through the user's browser, so:
//! - the `Host` header must name this server (loopback names with our port,
//!   or the `--listen` address): this defeats DNS rebinding;
//! - an `Origin` header, when present, must be `http://` + that host: this
//!   defeats cross-site fetches and WebSocket connections;
//! - on a non-loopback address a random token is also required (query
//!   `?token=` once, which sets a cookie; or the cookie; or
//!   `Authorization: Bearer`), since anyone on the network can reach it.
use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The access rules of one server.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Accepted `Host` values (`host:port`, lower case).
    hosts: Vec<String>,
    /// Listening on all interfaces: any host name with our port is
    /// accepted (the token protects it).
    any_host_port: Option<u16>,
    /// Required token, if any.
    pub token: Option<String>,
}

const COOKIE: &str = "weft_token";

impl Guard {
    /// Rules for a server bound to `addr`; a token is made when the address
    /// is not loopback (or when `force_token`).
    pub fn new(addr: SocketAddr, force_token: bool) -> Guard {
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        match addr.ip() {
            IpAddr::V4(ip) => hosts.push(format!("{ip}:{port}")),
            IpAddr::V6(ip) => hosts.push(format!("[{ip}]:{port}")),
        }
        let loopback = addr.ip().is_loopback();
        Guard {
            hosts,
            any_host_port: addr.ip().is_unspecified().then_some(port),
            token: (!loopback || force_token).then(new_token),
        }
    }

    fn host_ok(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.hosts.iter().any(|h| *h == host) {
            return true;
        }
        if let Some(port) = self.any_host_port {
            return host
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse() == Ok(port));
        }
        false
    }

    /// Checks one request: `Err` is the refusal to send.
    #[allow(clippy::result_large_err)]
    fn check(&self, req: &Request) -> Result<Option<String>, Response> {
        let h = req.headers();
        let host = h
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.host_ok(host) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!("weft: refused: Host {host:?} is not this server (DNS rebinding protection); use http://{}/\n", self.hosts[0]),
            ));
        }
        if let Some(origin) = h.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let same = origin
                .strip_prefix("http://")
                .is_some_and(|o| o.eq_ignore_ascii_case(host));
            if !same {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    format!("weft: refused: Origin {origin:?} is not this server (cross-site requests are not allowed)\n"),
                ));
            }
        }
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let query_token = req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(|t| t.to_string())
        });
        let bearer = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let cookie = h
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix("weft_token=").map(|t| t.to_string()));
        let matches = |t: &Option<String>| t.as_deref().is_some_and(|t| same_bytes(t, token));
        if matches(&query_token) {
            // Remember it, so links and the WebSocket need not carry it.
            return Ok(Some(format!(
                "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
            )));
        }
        if matches(&bearer) || matches(&cookie) {
            return Ok(None);
        }
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            "weft: a token is required on this address: open the URL weft printed (…/?token=…) or send Authorization: Bearer TOKEN\n".to_string(),
        ))
    }
}

/// Compares without stopping at the first difference.
fn same_bytes(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn refuse(code: StatusCode, text: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// 128 random bits from the OS, as hex.
fn new_token() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        // No /dev/urandom (not Linux): mix time and address-space entropy.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let s = std::collections::hash_map::RandomState::new();
        use std::hash::{BuildHasher, Hasher};
        let mut h = s.build_hasher();
        h.write_u128(t);
        let a = h.finish();
        let mut h = s.build_hasher();
        h.write_u64(a ^ 0x9e37_79b9_7f4a_7c15);
        b[..8].copy_from_slice(&a.to_le_bytes());
        b[8..].copy_from_slice(&h.finish().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The middleware: refuses or passes on (setting the token cookie when the
/// token came in the query).
pub async fn guard(State(g): State<std::sync::Arc<Guard>>, req: Request, next: Next) -> Response {
    match g.check(&req) {
        Err(r) => r,
        Ok(cookie) => {
            let mut resp = next.run(req).await;
            if let Some(c) = cookie {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    resp.headers_mut().insert(header::SET_COOKIE, v);
                }
            }
            resp
        }
    }
}
