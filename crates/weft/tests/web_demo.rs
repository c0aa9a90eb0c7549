//! `weft demo --no-browser` and `weft open --no-browser FILE`, the real
//! binary: run from `/` (the demo capture is embedded, no file needed),
//! print the URL, serve `/api/status` until `ready`, refuse a foreign Host.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(hostport: &str, path: &str, host: &str) -> (u16, String) {
    let mut s = TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = String::new();
    let _ = s.read_to_string(&mut r);
    let code = r
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        code,
        r.split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default(),
    )
}

/// Starts weft with `args` in `/`, returns it and `host:port` from the URL it prints.
fn start(args: &[&str]) -> (Kill, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = c.stderr.take().unwrap();
    let k = Kill(c);
    let mut r = BufReader::new(err);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "weft exited without a URL"
        );
        if let Some(u) = line.trim().strip_prefix("weft: serving http://") {
            let hp = u.trim_end_matches('/').to_string();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut r, &mut std::io::sink());
            });
            return (k, hp);
        }
    }
}

fn wait_ready(hp: &str) -> String {
    let t0 = Instant::now();
    loop {
        let (code, body) = get(hp, "/api/status", hp);
        assert_eq!(code, 200, "{body}");
        if body.contains("\"state\":\"ready\"") {
            return body;
        }
        assert!(!body.contains("\"state\":\"error\""), "{body}");
        assert!(t0.elapsed() < Duration::from_secs(60), "not ready: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn weft_demo_serves_the_bundled_capture_from_any_directory() {
    let (_weft, hp) = start(&["demo", "--no-browser"]);
    assert!(
        hp.starts_with("127.0.0.1:"),
        "binds loopback by default: {hp}"
    );
    let st = wait_ready(&hp);
    assert!(st.contains("\"mode\":\"demo\""), "{st}");
    let (code, body) = get(&hp, "/api/groups", &hp);
    assert_eq!(code, 200);
    assert!(body.contains("main.askReplica"), "{body}");
    let (code, _) = get(&hp, "/api/status", "evil.example:80");
    assert_eq!(code, 403);
}

#[test]
fn weft_open_serves_a_file_and_refuses_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("weft-web-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("demo.trace");
    // The bundled capture, as a file.
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/demo/demo.trace"
        ),
        &f,
    )
    .unwrap();
    let (_weft, hp) = start(&["open", "--no-browser", f.to_str().unwrap()]);
    let st = wait_ready(&hp);
    assert!(st.contains("\"mode\":\"file\""), "{st}");
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["open", "--no-browser", "/nonexistent/x.trace"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/x.trace"), "{err}");
    // A goroutine dump given to `weft open` is refused before serving,
    // with the commands that read dumps.
    let dump = dir.join("goroutines.txt");
    std::fs::write(
        &dump,
        "goroutine 1 [chan receive]:\nmain.main()\n\t/src/main.go:12 +0x1d\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["open", "--no-browser", dump.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is a goroutine dump")
            && err.contains("weft snapshot")
            && !err.contains("serving"),
        "{err}"
    );
    // `weft watch pid:N` on a process that is not a Go program fails at
    // once with the reason, instead of serving a page that never loads.
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["watch", "--no-browser", &format!("pid:{}", sleeper.id())])
        .output()
        .unwrap();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a Go program"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
