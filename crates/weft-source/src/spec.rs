//! What the user named as a source, parsed once: a pprof URL, a file,
//! standard input, or a process id.

use std::path::PathBuf;

use crate::SourceError;

/// A source of goroutine snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// Base URL of a pprof server, without a trailing slash and without the
    /// `/debug/pprof/...` part (`http://127.0.0.1:6060`).
    Url(String),
    /// A saved dump or profile (any form `weft-profile` reads).
    File(PathBuf),
    /// A dump or profile piped in (`-`).
    Stdin,
    /// A live Go process read from outside (`pid:N`).
    Pid(u32),
}

impl SourceSpec {
    /// How the source is named in reports.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Url(u) => u.clone(),
            SourceSpec::File(p) => p.display().to_string(),
            SourceSpec::Stdin => "-".into(),
            SourceSpec::Pid(p) => format!("pid:{p}"),
        }
    }
}

/// Parses a source argument.
///
/// - `http://host:port`, with or without `/debug/pprof` or a full profile
///   path after it (`.../debug/pprof/goroutine?debug=2`): a pprof base URL;
/// - `host:port` or `:port` that is not an existing file: `http://` is assumed;
/// - `pid:N`: a process;
/// - `-`: standard input;
/// - anything else: a file path (it must exist).
pub fn parse_source(arg: &str) -> Result<SourceSpec, SourceError> {
    let bad = |why: &str| SourceError::BadSource {
        arg: arg.to_string(),
        why: why.to_string(),
    };
    let arg_t = arg.trim();
    if arg_t.is_empty() {
        return Err(bad(
            "empty source; give a pprof URL (http://127.0.0.1:6060), a file, `-` or pid:N",
        ));
    }
    if arg_t == "-" {
        return Ok(SourceSpec::Stdin);
    }
    if let Some(n) = arg_t.strip_prefix("pid:") {
        return match n.parse::<u32>() {
            Ok(p) if p > 0 => Ok(SourceSpec::Pid(p)),
            _ => Err(bad("pid:N needs a positive process id, e.g. pid:1234")),
        };
    }
    if arg_t.starts_with("https://") {
        return Err(bad(
            "https is not supported by this build; reach the pprof server over http (e.g. through `kubectl port-forward`)",
        ));
    }
    if let Some(rest) = arg_t.strip_prefix("http://") {
        return base_url(rest).map(SourceSpec::Url).map_err(|w| bad(&w));
    }
    let path = PathBuf::from(arg_t);
    if path.exists() {
        return Ok(SourceSpec::File(path));
    }
    if looks_like_host_port(arg_t) {
        let rest = if arg_t.starts_with(':') {
            format!("127.0.0.1{arg_t}")
        } else {
            arg_t.to_string()
        };
        return base_url(&rest).map(SourceSpec::Url).map_err(|w| bad(&w));
    }
    Err(bad(
        "no such file, and not a URL or pid:N; give a pprof URL (http://127.0.0.1:6060), a dump file, `-` for stdin, or pid:N",
    ))
}

/// `host:port/anything` → `http://host:port` (+ a path prefix before `/debug/pprof`).
fn base_url(after_scheme: &str) -> Result<String, String> {
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => (&after_scheme[..i], &after_scheme[i..]),
        None => (after_scheme, ""),
    };
    if authority.is_empty() {
        return Err("the URL has no host; e.g. http://127.0.0.1:6060".into());
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    // Keep a prefix the server may mount pprof under (`/admin/debug/pprof`).
    let prefix = match path.find("/debug/pprof") {
        Some(i) => &path[..i],
        None => path,
    };
    Ok(format!(
        "http://{authority}{}",
        prefix.trim_end_matches('/')
    ))
}

fn looks_like_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            let port = port.split('/').next().unwrap_or("");
            !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && !host.contains('/')
                && !host.contains(' ')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised_to_the_pprof_base() {
        for (arg, want) in [
            ("http://127.0.0.1:6060", "http://127.0.0.1:6060"),
            ("http://127.0.0.1:6060/", "http://127.0.0.1:6060"),
            ("http://h:1/debug/pprof", "http://h:1"),
            ("http://h:1/debug/pprof/goroutine?debug=2", "http://h:1"),
            ("http://h:1/admin/debug/pprof/", "http://h:1/admin"),
            ("localhost:6060", "http://localhost:6060"),
            (":6060", "http://127.0.0.1:6060"),
        ] {
            assert_eq!(
                parse_source(arg).unwrap(),
                SourceSpec::Url(want.into()),
                "{arg}"
            );
        }
    }

    #[test]
    fn pids_stdin_files_and_errors() {
        assert_eq!(parse_source("pid:42").unwrap(), SourceSpec::Pid(42));
        assert_eq!(parse_source("-").unwrap(), SourceSpec::Stdin);
        assert_eq!(
            parse_source("Cargo.toml").unwrap(),
            SourceSpec::File("Cargo.toml".into())
        );
        for bad in [
            "pid:x",
            "pid:0",
            "",
            "no/such/file.txt",
            "https://x:1",
            "http://",
        ] {
            let e = parse_source(bad).unwrap_err().to_string();
            assert!(e.contains(bad.trim()) || bad.is_empty(), "{e}");
        }
    }
}
