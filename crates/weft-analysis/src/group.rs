//! Grouping goroutines by what they are doing: by stack signature (the
//! sequence of function names, without arguments or addresses) or by the
//! `go` statement that created them, plus the rule that picks the frame a
//! human cares about ("where").

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use weft_model::{Frame, Record, Snapshot, StateClass, WaitObject};

/// How many goroutine ids a group keeps as a sample.
pub const MAX_SAMPLE_IDS: usize = 64;
/// How many distinct values a group keeps per pprof label key.
pub const MAX_LABEL_VALUES: usize = 8;
/// How many distinct wait objects a group keeps.
pub const MAX_WAIT_OBJECTS: usize = 16;

/// Goroutines that share a stack signature (or a creation site).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Stable id: 16 hex digits of a 64-bit FNV-1a hash of the signature.
    /// The same code path gets the same key across polls, restarts and
    /// rebuilds, so a saved baseline can be compared with a later run.
    pub key: String,
    /// Goroutines in the group.
    pub count: u64,
    /// Goroutines per runtime status (`chan receive`, `running`, ...).
    pub states: BTreeMap<String, u64>,
    /// The most common status.
    pub state: String,
    /// Class of the most common status.
    pub class: StateClass,
    /// First frame outside the runtime and standard plumbing (see [`where_frame`]).
    #[serde(rename = "where")]
    pub where_: Option<Frame>,
    /// The `go` statement that created these goroutines.
    pub created_by: Option<Frame>,
    /// Representative stack, innermost first (from the largest record).
    pub stack: Vec<Frame>,
    /// A sample of goroutine ids (at most [`MAX_SAMPLE_IDS`]); empty for
    /// aggregated sources, which do not report ids.
    pub ids: Vec<u64>,
    /// Longest wait the runtime reported for a member, in minutes.
    pub max_wait_minutes: Option<u64>,
    /// Members the runtime itself reports as leaked.
    pub leaked: u64,
    /// pprof label values seen, per key (at most [`MAX_LABEL_VALUES`] each).
    pub labels: BTreeMap<String, Vec<String>>,
    /// Objects members are blocked on, when the source knows them.
    pub wait_on: Vec<WaitObject>,
}

impl Group {
    /// True when the group's dominant state is a wait (not running,
    /// runnable or in a system call).
    pub fn is_blocked(&self) -> bool {
        matches!(self.class, StateClass::Blocked | StateClass::Idle)
    }
}

/// Groups a snapshot's goroutines by stack signature: the sequence of
/// function names (no arguments, addresses or line numbers, so a rebuilt
/// binary still matches). Largest groups first; ties by key.
pub fn group(snapshot: &Snapshot) -> Vec<Group> {
    group_with(snapshot, |r| stack_signature(&r.stack), true)
}

/// Groups a snapshot's goroutines by the `go` statement that created them
/// (function, file and line of `created by`). Goroutines with no creator
/// (main, runtime-started ones) are grouped by their outermost frame.
pub fn group_by_creation_site(snapshot: &Snapshot) -> Vec<Group> {
    group_with(
        snapshot,
        |r| match &r.created_by {
            Some(f) => format!("created-by\n{}\n{}:{}", f.func, f.file, f.line),
            None => format!(
                "entry\n{}",
                r.stack.last().map(|f| f.func.as_str()).unwrap_or("")
            ),
        },
        false,
    )
}

/// The signature [`group`] hashes: function names, innermost first, one a
/// line, leaving out frames of package `runtime` (`runtime.gopark`,
/// `runtime.chanrecv1`, `runtime.goexit`...). Go's `debug=1` text hides
/// those frames while `debug=2`, pprof protobufs and process memory show
/// them, so leaving them out gives one code path the same key in every
/// form and Go version. A stack made only of runtime frames (GC workers)
/// keeps them all.
pub fn stack_signature(stack: &[Frame]) -> String {
    let mut sig = String::new();
    for f in stack.iter().filter(|f| package_of(&f.func) != "runtime") {
        sig.push_str(&f.func);
        sig.push('\n');
    }
    if sig.is_empty() {
        for f in stack {
            sig.push_str(&f.func);
            sig.push('\n');
        }
    }
    sig
}

/// Key of a stack, as [`group`] computes it.
pub fn stack_key(stack: &[Frame]) -> String {
    key_of(&stack_signature(stack))
}

fn key_of(signature: &str) -> String {
    // FNV-1a: tiny, and unlike std's hasher it is fixed forever, which the
    // saved-baseline comparison of `weft check` relies on.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in signature.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

struct Acc {
    group: Group,
    /// count of the record whose stack is the representative one
    best: u64,
    /// Goroutines per status, with the class of the last record seen in
    /// each; a handful per group, so a list beats a map.
    states: Vec<(String, u64, StateClass)>,
}

/// Folds records into groups by `signature`. With `per_stack`, the
/// signature depends on the stack only, so records sharing one
/// [`weft_model::Stack`] copy (a parser gives every goroutine of a code
/// path the same one) reuse the first one's group without recomputing it.
fn group_with(
    snapshot: &Snapshot,
    signature: impl Fn(&Record) -> String,
    per_stack: bool,
) -> Vec<Group> {
    let mut accs: Vec<Acc> = Vec::new();
    let mut by_sig: HashMap<String, usize> = HashMap::new();
    let mut by_stack: HashMap<usize, usize> = HashMap::new();
    for rec in &snapshot.records {
        if rec.count == 0 {
            continue;
        }
        let known = if per_stack {
            by_stack.get(&rec.stack.id()).copied()
        } else {
            None
        };
        let at = match known {
            Some(at) => at,
            None => {
                let sig = signature(rec);
                let at = match by_sig.get(&sig) {
                    Some(&at) => at,
                    None => {
                        accs.push(Acc {
                            group: Group {
                                key: key_of(&sig),
                                ..Group::default()
                            },
                            best: 0,
                            states: Vec::new(),
                        });
                        by_sig.insert(sig, accs.len() - 1);
                        accs.len() - 1
                    }
                };
                if per_stack {
                    by_stack.insert(rec.stack.id(), at);
                }
                at
            }
        };
        let acc = &mut accs[at];
        match acc.states.iter_mut().find(|s| s.0 == rec.status) {
            Some(s) => {
                s.1 += rec.count;
                s.2 = rec.class;
            }
            None => acc.states.push((rec.status.clone(), rec.count, rec.class)),
        }
        let g = &mut acc.group;
        g.count += rec.count;
        if rec.count > acc.best {
            acc.best = rec.count;
            g.stack = rec.stack.to_vec();
            g.where_ = where_frame(&rec.stack).cloned();
            g.created_by = rec.created_by.clone();
        }
        for id in &rec.ids {
            if g.ids.len() >= MAX_SAMPLE_IDS {
                break;
            }
            g.ids.push(*id);
        }
        if let Some(m) = rec.wait_minutes {
            g.max_wait_minutes = Some(g.max_wait_minutes.map_or(m, |x| x.max(m)));
        }
        if rec.leaked {
            g.leaked += rec.count;
        }
        for (k, v) in &rec.labels {
            let vals = g.labels.entry(k.clone()).or_default();
            if vals.len() < MAX_LABEL_VALUES && !vals.contains(v) {
                vals.push(v.clone());
            }
        }
        for w in &rec.wait_on {
            if g.wait_on.len() < MAX_WAIT_OBJECTS && !g.wait_on.contains(w) {
                g.wait_on.push(w.clone());
            }
        }
    }
    let mut groups: Vec<Group> = accs
        .into_iter()
        .map(|acc| {
            let mut g = acc.group;
            // Dominant state: the most goroutines, ties to the smaller name;
            // its class is that of the last record in it (the state's
            // class can only differ between sources, not within one).
            if let Some(d) = acc
                .states
                .iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            {
                g.state = d.0.clone();
                g.class = d.2;
            }
            g.states = acc.states.into_iter().map(|(s, n, _)| (s, n)).collect();
            g.ids.sort_unstable();
            g
        })
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    groups
}

/// Picks the frame a person reading "where is this goroutine?" wants: the
/// innermost frame that is not runtime or standard-library plumbing.
///
/// Plumbing is: the packages `runtime`, `internal/...`, `sync`,
/// `sync/atomic`, `syscall`, `time`, `net`, `bufio`, `io`, `os`,
/// `crypto/tls`, `net/textproto`, `vendor/...`, and net/http's
/// connection reader and body readers (`net/http.(*connReader)`,
/// `net/http.(*body)`, `net/http.(*bodyEOFSignal)`). So an idle HTTP
/// keep-alive connection is "at" `net/http.(*conn).serve`, a handler stuck
/// on a channel is "at" the handler, and a worker in `time.Sleep` is "at"
/// the worker. When every frame is plumbing (runtime-started goroutines
/// such as the GC workers), the outermost frame is used. `None` only for an
/// empty stack.
pub fn where_frame(stack: &[Frame]) -> Option<&Frame> {
    stack
        .iter()
        .find(|f| !is_plumbing(&f.func))
        .or_else(|| stack.last())
}

/// True for functions [`where_frame`] skips.
pub fn is_plumbing(func: &str) -> bool {
    const PACKAGES: &[&str] = &[
        "runtime",
        "sync",
        "sync/atomic",
        "syscall",
        "time",
        "net",
        "bufio",
        "io",
        "os",
        "crypto/tls",
        "net/textproto",
    ];
    const FUNC_PREFIXES: &[&str] = &[
        "net/http.(*connReader).",
        "net/http.(*body).",
        "net/http.(*bodyEOFSignal).",
        "net/http.(*http2pipe).",
    ];
    let pkg = package_of(func);
    pkg.starts_with("internal/")
        || pkg.starts_with("vendor/")
        || PACKAGES.contains(&pkg)
        || FUNC_PREFIXES.iter().any(|p| func.starts_with(p))
}

/// The import path of a Go function name: `net/http.(*conn).serve` →
/// `net/http`, `main.main.func1` → `main`, `example.com/x/y.F` → `example.com/x/y`.
pub fn package_of(func: &str) -> &str {
    let after_slash = func.rfind('/').map_or(0, |i| i + 1);
    match func[after_slash..].find('.') {
        Some(dot) => &func[..after_slash + dot],
        None => func,
    }
}

/// Goroutines per status across a snapshot.
pub fn by_state(snapshot: &Snapshot) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in &snapshot.records {
        *m.entry(r.status.clone()).or_default() += r.count;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(func: &str) -> Frame {
        Frame {
            func: func.into(),
            file: format!("/src/{}.go", func.len()),
            line: func.len() as u32,
            pc: None,
        }
    }

    fn rec(count: u64, status: &str, class: StateClass, funcs: &[&str]) -> Record {
        Record {
            count,
            status: status.into(),
            class,
            stack: funcs.iter().map(|f| fr(f)).collect(),
            ..Record::default()
        }
    }

    #[test]
    fn package_names() {
        assert_eq!(package_of("net/http.(*conn).serve"), "net/http");
        assert_eq!(package_of("main.main.func1"), "main");
        assert_eq!(package_of("example.com/x/y.(*T[...]).M"), "example.com/x/y");
        assert_eq!(package_of("runtime.gopark"), "runtime");
        assert_eq!(package_of("internal/poll.(*FD).Read"), "internal/poll");
    }

    #[test]
    fn where_skips_plumbing_and_keeps_user_frames() {
        let handler = [
            fr("runtime.gopark"),
            fr("runtime.chanrecv"),
            fr("runtime.chanrecv1"),
            fr("main.leak.func1"),
        ];
        assert_eq!(where_frame(&handler).unwrap().func, "main.leak.func1");

        let keepalive = [
            fr("runtime.gopark"),
            fr("runtime.netpollblock"),
            fr("internal/poll.runtime_pollWait"),
            fr("internal/poll.(*FD).Read"),
            fr("net.(*netFD).Read"),
            fr("net.(*conn).Read"),
            fr("net/http.(*connReader).Read"),
            fr("bufio.(*Reader).fill"),
            fr("bufio.(*Reader).Peek"),
            fr("net/http.(*conn).serve"),
        ];
        assert_eq!(
            where_frame(&keepalive).unwrap().func,
            "net/http.(*conn).serve"
        );

        let sleeper = [
            fr("runtime.gopark"),
            fr("time.Sleep"),
            fr("main.(*pool).worker"),
        ];
        assert_eq!(where_frame(&sleeper).unwrap().func, "main.(*pool).worker");

        let locked = [
            fr("runtime.gopark"),
            fr("runtime.goparkunlock"),
            fr("runtime.semacquire1"),
            fr("internal/sync.runtime_SemacquireMutex"),
            fr("internal/sync.(*Mutex).lockSlow"),
            fr("sync.(*Mutex).Lock"),
            fr("github.com/acme/db.(*Pool).Get"),
            fr("main.handler"),
        ];
        assert_eq!(
            where_frame(&locked).unwrap().func,
            "github.com/acme/db.(*Pool).Get"
        );

        // All plumbing: the outermost frame stands for the goroutine.
        let gc = [fr("runtime.gopark"), fr("runtime.gcBgMarkWorker")];
        assert_eq!(where_frame(&gc).unwrap().func, "runtime.gcBgMarkWorker");
        assert!(where_frame(&[]).is_none());
    }

    #[test]
    fn groups_by_function_sequence_ignoring_lines_and_labels() {
        let mut a = rec(
            3,
            "chan receive",
            StateClass::Blocked,
            &["runtime.gopark", "main.a"],
        );
        a.labels.insert("route".into(), "/x".into());
        let mut b = a.clone();
        b.count = 2;
        b.labels.insert("route".into(), "/y".into());
        b.stack[1].line = 999; // a different line in the same function
        let mut c = rec(1, "running", StateClass::Running, &["main.a", "main.main"]);
        c.ids = vec![9];
        let mut d = rec(
            1,
            "select",
            StateClass::Blocked,
            &["runtime.gopark", "main.a"],
        );
        d.ids = vec![4];
        d.wait_minutes = Some(12);
        d.leaked = true;
        let snap = Snapshot {
            records: vec![a, b, c, d],
            ..Snapshot::default()
        };
        let groups = group(&snap);
        assert_eq!(groups.len(), 2);
        let g = &groups[0];
        assert_eq!(g.count, 6);
        assert_eq!(g.state, "chan receive");
        assert_eq!(g.class, StateClass::Blocked);
        assert_eq!(g.states["chan receive"], 5);
        assert_eq!(g.states["select"], 1);
        assert_eq!(g.labels["route"], vec!["/x".to_string(), "/y".to_string()]);
        assert_eq!(g.where_.as_ref().unwrap().func, "main.a");
        assert_eq!(g.ids, vec![4]);
        assert_eq!(g.max_wait_minutes, Some(12));
        assert_eq!(g.leaked, 1);
        assert_eq!(groups[1].count, 1);
        assert_eq!(groups[1].class, StateClass::Running);
        // Keys are stable (FNV-1a of the signature) and differ per signature.
        assert_eq!(g.key, stack_key(&snap.records[0].stack));
        assert_eq!(g.key, key_of("main.a\n"));
        // The same code path seen with and without runtime frames (debug=1
        // hides them) has one key; an all-runtime stack keeps its frames.
        assert_eq!(
            stack_key(&[fr("runtime.gopark"), fr("main.a"), fr("runtime.goexit")]),
            g.key
        );
        assert_eq!(
            stack_signature(&[fr("runtime.gopark"), fr("runtime.bgsweep")]),
            "runtime.gopark\nruntime.bgsweep\n"
        );
        assert_ne!(g.key, groups[1].key);
        assert_eq!(key_of(""), "cbf29ce484222325");
    }

    #[test]
    fn dominant_class_follows_dominant_state() {
        let snap = Snapshot {
            records: vec![
                rec(1, "running", StateClass::Running, &["main.w"]),
                rec(5, "chan send", StateClass::Blocked, &["main.w"]),
            ],
            ..Snapshot::default()
        };
        let g = &group(&snap)[0];
        assert_eq!(g.state, "chan send");
        assert_eq!(g.class, StateClass::Blocked);
        assert!(g.is_blocked());
    }

    #[test]
    fn groups_by_creation_site() {
        let mut a = rec(2, "chan receive", StateClass::Blocked, &["main.x"]);
        a.created_by = Some(fr("main.spawn"));
        let mut b = rec(3, "select", StateClass::Blocked, &["main.y"]);
        b.created_by = Some(fr("main.spawn"));
        let c = rec(1, "running", StateClass::Running, &["main.main"]);
        let snap = Snapshot {
            records: vec![a, b, c],
            ..Snapshot::default()
        };
        let groups = group_by_creation_site(&snap);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].count, 5);
        assert_eq!(groups[0].created_by.as_ref().unwrap().func, "main.spawn");
        assert_eq!(groups[0].state, "select");
        assert_eq!(groups[1].count, 1);
    }

    #[test]
    fn ids_are_capped() {
        let mut r = rec(1000, "sleep", StateClass::Blocked, &["main.s"]);
        r.ids = (0..1000).collect();
        let snap = Snapshot {
            records: vec![r],
            ..Snapshot::default()
        };
        assert_eq!(group(&snap)[0].ids.len(), MAX_SAMPLE_IDS);
    }
}
