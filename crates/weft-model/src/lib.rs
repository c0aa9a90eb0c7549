/*!
The one model of a Go program's concurrency that every weft source feeds.

Sources (goroutine dumps and profiles, execution traces, a process read by
PID) turn what they observe into plain data defined here; analyses turn the
model into findings; frontends only read it. This crate does no I/O.

The unit every goroutine-table source produces is a [`Snapshot`]: a list of
[`Record`]s, each a stack with how many goroutines share it. Sources that see
individual goroutines (`debug=2` dumps, tracebacks, process memory) emit one
record per goroutine with `count == 1` and its id; sources that only see
aggregated stacks (`debug=1`, `debug=0` protobuf) emit one record per stack
with its count and no ids.

```
use weft_model::{Frame, Record, Snapshot, SourceForm, StateClass};

let rec = Record {
    count: 1,
    ids: vec![7],
    status: "chan receive".into(),
    class: StateClass::Blocked,
    ..Record::default()
};
let snap = Snapshot { form: SourceForm::Debug2, records: vec![rec], ..Snapshot::default() };
assert_eq!(snap.total(), 1);
# let _ = Frame::default();
```
*/

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One stack frame, innermost first in a [`Record::stack`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Frame {
    /// Fully qualified function name as Go prints it, e.g. `main.(*pool).worker`
    /// or `sync.(*WaitGroup).Wait`. Arguments are never part of it.
    pub func: String,
    /// Source file path; empty when the source does not know it.
    pub file: String,
    /// Source line; 0 when unknown.
    pub line: u32,
    /// Program counter when the source knows it (pprof, traces, memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pc: Option<u64>,
}

/// Coarse class of a goroutine's state, for totals and colouring.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StateClass {
    Running,
    Runnable,
    Syscall,
    /// Parked waiting on something (channel, sync, I/O, sleep, select...).
    Blocked,
    /// Runtime-internal waits that are not the program's business
    /// (GC workers, finalizer wait, force gc idle...).
    Idle,
    Dead,
    #[default]
    Unknown,
}

/// An object a goroutine is blocked on, when the source can identify it
/// (process memory reading does; dumps and traces do not).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WaitObject {
    /// Address of the object in the target; stable for one object.
    pub addr: u64,
    /// `chan`, `mutex`, `waitgroup`, `cond`, `sema`, ...
    pub kind: String,
    /// `send`, `recv`, `select` for channels; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub direction: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
}

/// One stack and the goroutines that share it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// How many goroutines this record stands for (1 for per-goroutine sources).
    pub count: u64,
    /// Goroutine ids when the source knows them (empty for aggregated forms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<u64>,
    /// The runtime's own name for the state: `running`, `runnable`, `syscall`,
    /// or a wait reason such as `chan receive`, `select`, `sync.Mutex.Lock`,
    /// `IO wait`, `sleep`. For aggregated forms it is inferred from the top
    /// frames and `status_inferred` is set.
    pub status: String,
    #[serde(default)]
    pub status_inferred: bool,
    pub class: StateClass,
    /// Minutes the goroutine has been waiting, as the runtime reports it
    /// (`N minutes`); only present for waits of a minute or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_minutes: Option<u64>,
    /// Wait duration in nanoseconds when a source knows it precisely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ns: Option<u64>,
    #[serde(default)]
    pub locked_to_thread: bool,
    /// Reported leaked by the runtime itself (`(leaked)` or the goroutineleak profile).
    #[serde(default)]
    pub leaked: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Innermost frame first. Shared: the goroutines of one code path
    /// usually point at one copy (see [`Stack`]).
    pub stack: Stack,
    /// The source said frames were elided from this stack.
    #[serde(default)]
    pub frames_elided: bool,
    /// The `go` statement that created the goroutine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Frame>,
    /// Id of the creating goroutine (`created by X in goroutine N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_id: Option<u64>,
    /// Objects this goroutine is blocked on, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_on: Vec<WaitObject>,
}

/// A stack, innermost frame first, shared between the records that have it.
///
/// Most of a program's 100k goroutines sit in a few hundred distinct
/// stacks, so sources build each distinct one once and hand every record a
/// clone of it: cloning is a reference-count bump, and an analysis can tell
/// two records share a stack with [`Stack::ptr_eq`] before comparing frames.
/// It reads like a `&[Frame]` (it derefs to one), serializes as a list of
/// frames exactly as a `Vec<Frame>` does, and mutating it through
/// `DerefMut` copies it first when it is shared.
///
/// ```
/// use weft_model::{Frame, Stack};
///
/// let stack: Stack = vec![Frame { func: "main.worker".into(), ..Frame::default() }].into();
/// let other = stack.clone();
/// assert!(Stack::ptr_eq(&stack, &other));
/// assert_eq!(stack[0].func, "main.worker");
/// assert_eq!(stack.len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Stack(Option<Arc<[Frame]>>);

impl Stack {
    /// True when both are the same shared copy (or both empty); equal
    /// content in separate copies gives false.
    pub fn ptr_eq(a: &Stack, b: &Stack) -> bool {
        match (&a.0, &b.0) {
            (Some(x), Some(y)) => Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        }
    }

    /// Address of the shared copy, 0 when empty: a cheap identity for
    /// memoising per-stack work while the stack is alive.
    pub fn id(&self) -> usize {
        self.0.as_ref().map_or(0, |a| a.as_ptr() as usize)
    }
}

impl Deref for Stack {
    type Target = [Frame];
    fn deref(&self) -> &[Frame] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl DerefMut for Stack {
    fn deref_mut(&mut self) -> &mut [Frame] {
        let Some(arc) = self.0.as_mut() else {
            return &mut [];
        };
        if Arc::get_mut(arc).is_none() {
            *arc = Arc::from(arc.to_vec());
        }
        Arc::get_mut(arc).unwrap_or(&mut [])
    }
}

impl From<Vec<Frame>> for Stack {
    fn from(v: Vec<Frame>) -> Stack {
        if v.is_empty() {
            Stack(None)
        } else {
            Stack(Some(Arc::from(v)))
        }
    }
}

impl From<&[Frame]> for Stack {
    fn from(v: &[Frame]) -> Stack {
        if v.is_empty() {
            Stack(None)
        } else {
            Stack(Some(Arc::from(v)))
        }
    }
}

impl FromIterator<Frame> for Stack {
    fn from_iter<I: IntoIterator<Item = Frame>>(iter: I) -> Stack {
        Stack::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl<'a> IntoIterator for &'a Stack {
    type Item = &'a Frame;
    type IntoIter = std::slice::Iter<'a, Frame>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Stack {
    fn eq(&self, other: &Stack) -> bool {
        Stack::ptr_eq(self, other) || **self == **other
    }
}

impl Eq for Stack {}

impl PartialEq<[Frame]> for Stack {
    fn eq(&self, other: &[Frame]) -> bool {
        **self == *other
    }
}

impl PartialEq<Vec<Frame>> for Stack {
    fn eq(&self, other: &Vec<Frame>) -> bool {
        **self == **other
    }
}

impl std::hash::Hash for Stack {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl PartialOrd for Stack {
    fn partial_cmp(&self, other: &Stack) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stack {
    fn cmp(&self, other: &Stack) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl Serialize for Stack {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Stack {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Stack, D::Error> {
        Vec::<Frame>::deserialize(d).map(Stack::from)
    }
}

/// What kind of input a snapshot came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceForm {
    /// `/debug/pprof/goroutine?debug=2` or a panic/fatal traceback.
    Debug2,
    /// `/debug/pprof/goroutine?debug=1`.
    Debug1,
    /// `/debug/pprof/goroutine?debug=0` (gzipped pprof protobuf).
    Pprof,
    /// `/debug/pprof/goroutineleak` (any debug level).
    LeakProfile,
    /// A live process's memory read by PID.
    Memory,
    /// Derived from an execution trace.
    Trace,
    #[default]
    Unknown,
}

/// One observation of a program's goroutine table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Where it came from, as the user named it (URL, path, `pid:N`).
    pub source: String,
    /// Unix time of the observation, in milliseconds.
    pub taken_at_ms: u64,
    pub form: SourceForm,
    pub records: Vec<Record>,
}

impl Snapshot {
    /// Number of goroutines the snapshot stands for.
    pub fn total(&self) -> u64 {
        self.records.iter().map(|r| r.count).sum()
    }
}
