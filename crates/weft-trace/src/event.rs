//! Events as the decoder hands them out: a small copyable record plus a
//! borrowed view of the generation tables that resolves strings and stacks
//! on demand, and the typed accessors built on them.
use std::io::{self, Write};

use crate::generation::{Generation, Span};
use crate::gofmt::{rfc3339_nano_utc, write_quoted};
use crate::order::{go_status_to_state, gostate, proc_status_to_state, procstate, NO_TASK};
use crate::spec::{ev, experiment_name, pstatus, spec_of, EventType};

/// The fixed-size record behind every event. `args` hold the wire
/// arguments after the timestamp (some rewritten by ordering, as Go's reader does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawEvent {
    /// Wire event type ([`crate::spec::ev`]), or `ev::SYNC_SYNTH` for Sync.
    pub typ: EventType,
    /// Nanoseconds (trace clock), strictly increasing along the stream.
    pub time: i64,
    /// Arguments after the timestamp delta.
    pub args: [u64; 4],
    /// Goroutine running on the thread when the event happened (-1: none).
    pub g: i64,
    /// Proc held by the thread (-1: none).
    pub p: i64,
    /// Thread (M) the event happened on (-1: none).
    pub m: i64,
    /// Byte offset in the trace of the wire event this came from (0 if synthesised).
    pub offset: u64,
    pub(crate) flags: u8,
}

pub(crate) const FLAG_TABLE: u8 = 1;

/// What an event is about, as Go's `trace.EventKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum EventKind {
    Bad,
    Sync,
    Metric,
    Label,
    StackSample,
    RangeBegin,
    RangeActive,
    RangeEnd,
    TaskBegin,
    TaskEnd,
    RegionBegin,
    RegionEnd,
    Log,
    StateTransition,
    Experimental,
}

impl EventKind {
    /// The name Go prints.
    pub fn name(self) -> &'static str {
        use EventKind::*;
        match self {
            Bad => "Bad",
            Sync => "Sync",
            Metric => "Metric",
            Label => "Label",
            StackSample => "StackSample",
            RangeBegin => "RangeBegin",
            RangeActive => "RangeActive",
            RangeEnd => "RangeEnd",
            TaskBegin => "TaskBegin",
            TaskEnd => "TaskEnd",
            RegionBegin => "RegionBegin",
            RegionEnd => "RegionEnd",
            Log => "Log",
            StateTransition => "StateTransition",
            Experimental => "Experimental",
        }
    }
}

/// Kind of a wire event type.
pub fn kind_of(typ: EventType) -> EventKind {
    use ev::*;
    use EventKind::*;
    match typ {
        CPU_SAMPLE => StackSample,
        PROCS_CHANGE | HEAP_ALLOC | HEAP_GOAL => Metric,
        PROC_START..=GO_STATUS => StateTransition,
        GO_SWITCH..=GO_STATUS_STACK => StateTransition,
        STW_BEGIN | GC_BEGIN | GC_SWEEP_BEGIN | GC_MARK_ASSIST_BEGIN => RangeBegin,
        STW_END | GC_END | GC_SWEEP_END | GC_MARK_ASSIST_END => RangeEnd,
        GC_ACTIVE | GC_SWEEP_ACTIVE | GC_MARK_ASSIST_ACTIVE => RangeActive,
        GO_LABEL => Label,
        USER_TASK_BEGIN => TaskBegin,
        USER_TASK_END => TaskEnd,
        USER_REGION_BEGIN => RegionBegin,
        USER_REGION_END => RegionEnd,
        USER_LOG => Log,
        SPAN..=GOROUTINE_STACK_FREE => Experimental,
        SYNC_SYNTH => Sync,
        _ => Bad,
    }
}

/// Goroutine states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum GoState {
    Undetermined,
    NotExist,
    Runnable,
    Running,
    Waiting,
    Syscall,
}

impl GoState {
    fn from_u8(s: u8) -> GoState {
        match s {
            gostate::NOT_EXIST => GoState::NotExist,
            gostate::RUNNABLE => GoState::Runnable,
            gostate::RUNNING => GoState::Running,
            gostate::WAITING => GoState::Waiting,
            gostate::SYSCALL => GoState::Syscall,
            _ => GoState::Undetermined,
        }
    }
    /// Name as Go prints it.
    pub fn name(self) -> &'static str {
        match self {
            GoState::Undetermined => "Undetermined",
            GoState::NotExist => "NotExist",
            GoState::Runnable => "Runnable",
            GoState::Running => "Running",
            GoState::Waiting => "Waiting",
            GoState::Syscall => "Syscall",
        }
    }
}

/// Proc states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ProcState {
    Undetermined,
    NotExist,
    Running,
    Idle,
}

impl ProcState {
    fn from_u8(s: u8) -> ProcState {
        match s {
            procstate::NOT_EXIST => ProcState::NotExist,
            procstate::RUNNING => ProcState::Running,
            procstate::IDLE => ProcState::Idle,
            _ => ProcState::Undetermined,
        }
    }
    /// Name as Go prints it.
    pub fn name(self) -> &'static str {
        match self {
            ProcState::Undetermined => "Undetermined",
            ProcState::NotExist => "NotExist",
            ProcState::Running => "Running",
            ProcState::Idle => "Idle",
        }
    }
}

/// A state change of a goroutine or a proc.
#[derive(Debug, Clone, Copy)]
pub enum Transition {
    /// Goroutine `id` moved `from` -> `to`.
    Goroutine {
        #[allow(missing_docs)]
        id: i64,
        #[allow(missing_docs)]
        from: GoState,
        #[allow(missing_docs)]
        to: GoState,
    },
    /// Proc `id` moved `from` -> `to`.
    Proc {
        #[allow(missing_docs)]
        id: i64,
        #[allow(missing_docs)]
        from: ProcState,
        #[allow(missing_docs)]
        to: ProcState,
    },
}

/// A state transition with its reason and the stack of the resource
/// that changed (for GoCreate: the new goroutine's start stack).
#[derive(Debug, Clone, Copy)]
pub struct StateTransition<'a> {
    /// What changed.
    pub transition: Transition,
    /// Why ("chan receive", "sleep", "preempted", ...); empty when not given.
    pub reason: &'a [u8],
    /// Stack of the transitioning resource, if known.
    pub stack: Option<Stack<'a>>,
    go_has_stack: bool,
}

/// What a range event measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeKind<'a> {
    /// "GC concurrent mark phase" (global).
    GcMark,
    /// "GC incremental sweep" (per proc).
    GcSweep,
    /// "GC mark assist" (per goroutine).
    GcMarkAssist,
    /// "stop-the-world (kind)" (per goroutine).
    StopTheWorld(&'a [u8]),
}

/// Whose range it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Global.
    None,
    /// A goroutine.
    Goroutine(i64),
    /// A proc.
    Proc(i64),
}

/// A range begin/active/end.
#[derive(Debug, Clone, Copy)]
pub struct Range<'a> {
    #[allow(missing_docs)]
    pub kind: RangeKind<'a>,
    #[allow(missing_docs)]
    pub scope: Scope,
    /// For the end of a sweep: (bytes swept, bytes reclaimed).
    pub sweep: Option<(u64, u64)>,
}

/// A runtime metric sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Go's runtime/metrics name, e.g. `/sched/gomaxprocs:threads`.
    pub name: &'static str,
    #[allow(missing_docs)]
    pub value: u64,
}

/// User task begin/end (`trace.NewTask`).
#[derive(Debug, Clone, Copy)]
pub struct Task<'a> {
    #[allow(missing_docs)]
    pub id: u64,
    /// Parent task, `u64::MAX` when none.
    pub parent: u64,
    /// Task type (name).
    pub typ: &'a [u8],
}

/// User region begin/end.
#[derive(Debug, Clone, Copy)]
pub struct Region<'a> {
    #[allow(missing_docs)]
    pub task: u64,
    #[allow(missing_docs)]
    pub typ: &'a [u8],
}

/// User log message (`trace.Log`).
#[derive(Debug, Clone, Copy)]
pub struct Log<'a> {
    #[allow(missing_docs)]
    pub task: u64,
    #[allow(missing_docs)]
    pub category: &'a [u8],
    #[allow(missing_docs)]
    pub message: &'a [u8],
}

/// The trace clock, monotonic clock and wall clock read at one instant (Go 1.25+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSnapshot {
    /// Trace time in nanoseconds.
    pub trace: i64,
    /// Monotonic clock in nanoseconds.
    pub mono: u64,
    /// Wall clock: Unix seconds.
    pub wall_sec: i64,
    /// Wall clock: nanoseconds within the second.
    pub wall_nsec: i64,
}

/// An experimental batch passed through as bytes.
#[derive(Debug, Clone, Copy)]
pub struct ExperimentalBatch<'a> {
    /// Experiment name ("AllocFree").
    pub experiment: &'static str,
    /// Thread that wrote it.
    pub thread: i64,
    /// Payload.
    pub data: &'a [u8],
}

/// A frame of a stack.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    #[allow(missing_docs)]
    pub pc: u64,
    /// Function name.
    pub func: &'a [u8],
    /// File name.
    pub file: &'a [u8],
    #[allow(missing_docs)]
    pub line: u64,
}

/// A stack (id into the generation's table), resolved lazily.
#[derive(Debug, Clone, Copy)]
pub struct Stack<'a> {
    /// Id in the generation's stack table (ids are per generation).
    pub id: u64,
    gen: &'a Generation,
    buf: &'a [u8],
    base: usize,
}

impl<'a> Stack<'a> {
    /// Frames, innermost first.
    pub fn frames(&self) -> impl Iterator<Item = Frame<'a>> + 'a {
        let (start, len) = self.gen.stacks.get(self.id).unwrap_or((0, 0));
        let (buf, base) = (self.buf, self.base);
        self.gen.frames[start as usize..(start + len) as usize]
            .iter()
            .map(move |f| Frame {
                pc: f.pc,
                func: span(buf, base, f.func),
                file: span(buf, base, f.file),
                line: f.line,
            })
    }
    /// Number of frames.
    #[inline]
    pub fn len(&self) -> usize {
        self.gen
            .stacks
            .get(self.id)
            .map(|x| x.1 as usize)
            .unwrap_or(0)
    }
    /// True when the stack has no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[inline]
fn span(buf: &[u8], base: usize, s: Span) -> &[u8] {
    if s.len == 0 {
        return &[];
    }
    &buf[s.off - base..s.off - base + s.len as usize]
}

/// An event with access to its generation's tables. Cheap to copy; valid
/// until the decoder is advanced.
#[derive(Clone, Copy)]
pub struct EventRef<'a> {
    raw: &'a RawEvent,
    gen: Option<&'a Generation>,
    // The generation's task-end names (read only with `gen`).
    extra: &'a [Box<[u8]>],
    buf: &'a [u8],
    base: usize,
}

impl std::fmt::Debug for EventRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.raw.fmt(f)
    }
}

impl<'a> EventRef<'a> {
    pub(crate) fn new(
        raw: &'a RawEvent,
        gen: Option<&'a Generation>,
        extra: &'a [Box<[u8]>],
        buf: &'a [u8],
        base: usize,
    ) -> Self {
        EventRef {
            raw,
            gen,
            extra,
            buf,
            base,
        }
    }
    /// The underlying record.
    #[inline]
    pub fn raw(&self) -> &'a RawEvent {
        self.raw
    }
    /// Event kind.
    #[inline]
    pub fn kind(&self) -> EventKind {
        kind_of(self.raw.typ)
    }
    /// Time in nanoseconds on the trace clock.
    #[inline]
    pub fn time(&self) -> i64 {
        self.raw.time
    }
    /// Goroutine running where the event happened (-1: none).
    #[inline]
    pub fn goroutine(&self) -> i64 {
        self.raw.g
    }
    /// Proc (-1: none).
    #[inline]
    pub fn proc(&self) -> i64 {
        self.raw.p
    }
    /// Thread (-1: none).
    #[inline]
    pub fn thread(&self) -> i64 {
        self.raw.m
    }
    /// Byte offset in the trace of the wire event behind this one (0 for
    /// Sync events and CPU samples).
    #[inline]
    pub fn offset(&self) -> u64 {
        self.raw.offset
    }
    /// Generation number this event came from (0 for the closing Sync).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.gen.map(|g| g.num).unwrap_or(0)
    }

    /// A string from the generation's table (empty if unknown).
    #[inline]
    pub fn string(&self, id: u64) -> &'a [u8] {
        match self.gen {
            Some(g) if id != 0 => g
                .strings
                .get(id)
                .map(|s| span(self.buf, self.base, s))
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    #[inline]
    fn stack_of(&self, id: u64) -> Option<Stack<'a>> {
        let gen = self.gen?;
        Some(Stack {
            id,
            gen,
            buf: self.buf,
            base: self.base,
        })
    }

    // The stack id the event's own stack argument holds, as Go's Event.Stack
    // (CPU samples report theirs even when it is 0).
    #[inline]
    fn go_stack_id(&self) -> Option<u64> {
        let t = self.raw.typ;
        if t == ev::SYNC_SYNTH {
            return None;
        }
        if t == ev::CPU_SAMPLE {
            return Some(self.raw.args[0]);
        }
        let i = crate::spec::WIRE[t as usize].first_stack;
        if i == crate::spec::Wire::NONE {
            return None;
        }
        let id = self.raw.args[i as usize];
        (id != 0).then_some(id)
    }

    /// The stack where the event happened, if recorded.
    #[inline]
    pub fn stack(&self) -> Option<Stack<'a>> {
        match self.go_stack_id() {
            Some(0) | None => None,
            Some(id) => self.stack_of(id),
        }
    }

    /// For state transitions: what changed.
    #[inline]
    pub fn state_transition(&self) -> Option<StateTransition<'a>> {
        use ev::*;
        let a = self.raw.args;
        let g = self.raw.g;
        let gt = |id: i64, from: u8, to: u8| Transition::Goroutine {
            id,
            from: GoState::from_u8(from),
            to: GoState::from_u8(to),
        };
        let pt = |id: i64, from: u8, to: u8| Transition::Proc {
            id,
            from: ProcState::from_u8(from),
            to: ProcState::from_u8(to),
        };
        let mut reason: &[u8] = &[];
        let mut stack = None;
        let mut go_has_stack = false;
        // The first slot after the wire arguments (where ordering puts extras).
        let x = || spec_of(self.raw.typ).args.len().saturating_sub(1);
        let t = match self.raw.typ {
            PROC_START => pt(a[0] as i64, procstate::IDLE, procstate::RUNNING),
            PROC_STOP => pt(self.raw.p, procstate::RUNNING, procstate::IDLE),
            PROC_STEAL => {
                let before = if a[x()] as u8 == pstatus::SYSCALL_ABANDONED {
                    procstate::IDLE
                } else {
                    procstate::RUNNING
                };
                pt(a[0] as i64, before, procstate::IDLE)
            }
            PROC_STATUS => pt(a[0] as i64, a[x()] as u8, proc_status_to_state(a[1])),
            GO_CREATE | GO_CREATE_BLOCKED => {
                let to = if self.raw.typ == GO_CREATE_BLOCKED {
                    gostate::WAITING
                } else {
                    gostate::RUNNABLE
                };
                go_has_stack = self.gen.is_some();
                stack = if a[1] != 0 { self.stack_of(a[1]) } else { None };
                gt(a[0] as i64, gostate::NOT_EXIST, to)
            }
            GO_CREATE_SYSCALL => gt(a[0] as i64, gostate::NOT_EXIST, gostate::SYSCALL),
            GO_START => gt(a[0] as i64, gostate::RUNNABLE, gostate::RUNNING),
            GO_DESTROY => gt(g, gostate::RUNNING, gostate::NOT_EXIST),
            GO_DESTROY_SYSCALL => gt(g, gostate::SYSCALL, gostate::NOT_EXIST),
            GO_STOP | GO_BLOCK => {
                reason = self.string(a[0]);
                stack = self.stack();
                go_has_stack = stack.is_some();
                let to = if self.raw.typ == GO_STOP {
                    gostate::RUNNABLE
                } else {
                    gostate::WAITING
                };
                gt(g, gostate::RUNNING, to)
            }
            GO_UNBLOCK | GO_SWITCH | GO_SWITCH_DESTROY => {
                gt(a[0] as i64, gostate::WAITING, gostate::RUNNABLE)
            }
            GO_SYSCALL_BEGIN => {
                stack = self.stack();
                go_has_stack = stack.is_some();
                gt(g, gostate::RUNNING, gostate::SYSCALL)
            }
            GO_SYSCALL_END => gt(g, gostate::SYSCALL, gostate::RUNNING),
            GO_SYSCALL_END_BLOCKED => gt(g, gostate::SYSCALL, gostate::RUNNABLE),
            GO_STATUS | GO_STATUS_STACK => {
                stack = self.stack();
                go_has_stack = stack.is_some();
                let packed = a[2];
                gt(
                    a[0] as i64,
                    (packed >> 32) as u8,
                    go_status_to_state(packed & 0xffff_ffff),
                )
            }
            _ => return None,
        };
        Some(StateTransition {
            transition: t,
            reason,
            stack,
            go_has_stack,
        })
    }

    /// For metrics: name and value.
    #[inline]
    pub fn metric(&self) -> Option<Metric> {
        let name = match self.raw.typ {
            ev::PROCS_CHANGE => "/sched/gomaxprocs:threads",
            ev::HEAP_ALLOC => "/memory/classes/heap/objects:bytes",
            ev::HEAP_GOAL => "/gc/heap/goal:bytes",
            _ => return None,
        };
        Some(Metric {
            name,
            value: self.raw.args[0],
        })
    }

    /// For labels: the label and the goroutine it applies to.
    #[inline]
    pub fn label(&self) -> Option<(&'a [u8], i64)> {
        (self.raw.typ == ev::GO_LABEL).then(|| (self.string(self.raw.args[0]), self.raw.g))
    }

    /// For range begin/active/end events.
    pub fn range(&self) -> Option<Range<'a>> {
        use ev::*;
        let a = self.raw.args;
        let (kind, scope) = match self.raw.typ {
            STW_BEGIN | STW_END => (
                RangeKind::StopTheWorld(self.string(a[0])),
                Scope::Goroutine(self.raw.g),
            ),
            GC_BEGIN | GC_ACTIVE | GC_END => (RangeKind::GcMark, Scope::None),
            GC_SWEEP_ACTIVE => (RangeKind::GcSweep, Scope::Proc(a[0] as i64)),
            GC_SWEEP_BEGIN | GC_SWEEP_END => (RangeKind::GcSweep, Scope::Proc(self.raw.p)),
            GC_MARK_ASSIST_ACTIVE => (RangeKind::GcMarkAssist, Scope::Goroutine(a[0] as i64)),
            GC_MARK_ASSIST_BEGIN | GC_MARK_ASSIST_END => {
                (RangeKind::GcMarkAssist, Scope::Goroutine(self.raw.g))
            }
            _ => return None,
        };
        Some(Range {
            kind,
            scope,
            sweep: (self.raw.typ == GC_SWEEP_END).then_some((a[0], a[1])),
        })
    }

    /// For task begin/end.
    pub fn task(&self) -> Option<Task<'a>> {
        let a = self.raw.args;
        match self.raw.typ {
            ev::USER_TASK_BEGIN => Some(Task {
                id: a[0],
                parent: a[1],
                typ: self.string(a[2]),
            }),
            ev::USER_TASK_END => {
                let name: &'a [u8] = match self.gen {
                    Some(_) if a[3] != 0 => self
                        .extra
                        .get(a[3] as usize - 1)
                        .map(|s| &s[..])
                        .unwrap_or(&[]),
                    _ => &[],
                };
                Some(Task {
                    id: a[0],
                    parent: a[2],
                    typ: name,
                })
            }
            _ => None,
        }
    }

    /// For region begin/end.
    #[inline]
    pub fn region(&self) -> Option<Region<'a>> {
        matches!(self.raw.typ, ev::USER_REGION_BEGIN | ev::USER_REGION_END).then(|| Region {
            task: self.raw.args[0],
            typ: self.string(self.raw.args[1]),
        })
    }

    /// For user logs.
    #[inline]
    pub fn log(&self) -> Option<Log<'a>> {
        (self.raw.typ == ev::USER_LOG).then(|| Log {
            task: self.raw.args[0],
            category: self.string(self.raw.args[1]),
            message: self.string(self.raw.args[2]),
        })
    }

    /// For Sync events: their number (1-based) and, from Go 1.25, the clock snapshot.
    pub fn sync(&self) -> Option<(u64, Option<ClockSnapshot>)> {
        if self.raw.typ != ev::SYNC_SYNTH {
            return None;
        }
        let snap = match self.gen {
            Some(g) if self.raw.flags & FLAG_TABLE != 0 && g.has_clock => {
                let sec = g.snap_sec as i64;
                let nsec = g.snap_nsec as i64;
                Some(ClockSnapshot {
                    trace: g.mul(g.snap_time),
                    mono: g.snap_mono,
                    wall_sec: sec,
                    wall_nsec: nsec,
                })
            }
            _ => None,
        };
        Some((self.raw.args[0], snap))
    }

    /// For the Sync that opens a generation: its experimental batches, raw.
    pub fn experimental_batches(&self) -> impl Iterator<Item = ExperimentalBatch<'a>> + 'a {
        let (gen, buf, base) = (self.gen, self.buf, self.base);
        let list = match gen {
            Some(g) if self.raw.typ == ev::SYNC_SYNTH && self.raw.flags & FLAG_TABLE != 0 => {
                &g.exp_batches[..]
            }
            _ => &[],
        };
        list.iter().map(move |b| ExperimentalBatch {
            experiment: experiment_name(b.exp),
            thread: b.m,
            data: span(buf, base, b.data),
        })
    }

    /// For experimental events: name, experiment and (arg name, value) pairs.
    pub fn experimental(&self) -> Option<(&'static str, &'static str, Vec<(&'static str, u64)>)> {
        if kind_of(self.raw.typ) != EventKind::Experimental {
            return None;
        }
        let spec = &spec_of(self.raw.typ);
        let args = spec.args[1..]
            .iter()
            .zip(self.raw.args.iter())
            .map(|(n, v)| (*n, *v))
            .collect();
        Some((spec.name, experiment_name(spec.experiment), args))
    }

    /// Writes the event exactly as Go's `Event.String()` formats it (no trailing newline).
    pub fn write_go<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        let r = self.raw;
        let kind = self.kind();
        w.write_all(b"M=")?;
        write_int(w, r.m)?;
        w.write_all(b" P=")?;
        write_int(w, r.p)?;
        w.write_all(b" G=")?;
        write_int(w, r.g)?;
        w.write_all(b" ")?;
        w.write_all(kind.name().as_bytes())?;
        w.write_all(b" Time=")?;
        write_int(w, r.time)?;
        match kind {
            EventKind::Metric => {
                let m = self.metric().expect("metric");
                w.write_all(b" Name=")?;
                write_quoted(w, m.name.as_bytes())?;
                w.write_all(b" Value=Value{Uint64(")?;
                write_uint(w, m.value)?;
                w.write_all(b")}")?;
            }
            EventKind::Label => {
                let (l, g) = self.label().expect("label");
                w.write_all(b" Label=")?;
                write_quoted(w, l)?;
                w.write_all(b" Resource=Goroutine(")?;
                write_int(w, g)?;
                w.write_all(b")")?;
            }
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                let rg = self.range().expect("range");
                w.write_all(b" Name=")?;
                match rg.kind {
                    RangeKind::GcMark => w.write_all(b"\"GC concurrent mark phase\"")?,
                    RangeKind::GcSweep => w.write_all(b"\"GC incremental sweep\"")?,
                    RangeKind::GcMarkAssist => w.write_all(b"\"GC mark assist\"")?,
                    RangeKind::StopTheWorld(k) => {
                        let mut s = Vec::with_capacity(k.len() + 20);
                        s.extend_from_slice(b"stop-the-world (");
                        s.extend_from_slice(k);
                        s.push(b')');
                        write_quoted(w, &s)?;
                    }
                }
                w.write_all(b" Scope=")?;
                match rg.scope {
                    Scope::None => w.write_all(b"None")?,
                    Scope::Goroutine(g) => {
                        w.write_all(b"Goroutine(")?;
                        write_int(w, g)?;
                        w.write_all(b")")?;
                    }
                    Scope::Proc(p) => {
                        w.write_all(b"Proc(")?;
                        write_int(w, p)?;
                        w.write_all(b")")?;
                    }
                }
                if kind == EventKind::RangeEnd {
                    w.write_all(b" Attributes=[")?;
                    if let Some((swept, recl)) = rg.sweep {
                        w.write_all(b"\"bytes swept\"=Value{Uint64(")?;
                        write_uint(w, swept)?;
                        w.write_all(b")} \"bytes reclaimed\"=Value{Uint64(")?;
                        write_uint(w, recl)?;
                        w.write_all(b")}")?;
                    }
                    w.write_all(b"]")?;
                }
            }
            EventKind::TaskBegin | EventKind::TaskEnd => {
                let t = self.task().expect("task");
                w.write_all(b" ID=")?;
                write_uint(w, t.id)?;
                w.write_all(b" Parent=")?;
                write_uint(w, t.parent)?;
                w.write_all(b" Type=")?;
                write_quoted(w, t.typ)?;
            }
            EventKind::RegionBegin | EventKind::RegionEnd => {
                let rg = self.region().expect("region");
                w.write_all(b" Task=")?;
                write_uint(w, rg.task)?;
                w.write_all(b" Type=")?;
                write_quoted(w, rg.typ)?;
            }
            EventKind::Log => {
                let l = self.log().expect("log");
                w.write_all(b" Task=")?;
                write_uint(w, l.task)?;
                w.write_all(b" Category=")?;
                write_quoted(w, l.category)?;
                w.write_all(b" Message=")?;
                write_quoted(w, l.message)?;
            }
            EventKind::StateTransition => {
                let st = self.state_transition().expect("transition");
                match st.transition {
                    Transition::Goroutine { id, from, to } => {
                        w.write_all(b" GoID=")?;
                        write_int(w, id)?;
                        write!(w, " {}->{}", from.name(), to.name())?;
                    }
                    Transition::Proc { id, from, to } => {
                        w.write_all(b" ProcID=")?;
                        write_int(w, id)?;
                        write!(w, " {}->{}", from.name(), to.name())?;
                    }
                }
                w.write_all(b" Reason=")?;
                write_quoted(w, st.reason)?;
                if st.go_has_stack {
                    w.write_all(b"\nTransitionStack=\n")?;
                    if let Some(s) = st.stack {
                        write_frames(w, &s)?;
                    }
                }
            }
            EventKind::Experimental => {
                let (name, _, args) = self.experimental().expect("experimental");
                write!(w, " Name={name} Args=[")?;
                for (i, (n, v)) in args.iter().enumerate() {
                    if i != 0 {
                        w.write_all(b", ")?;
                    }
                    if n.ends_with("string") {
                        write!(w, "{n}=")?;
                        w.write_all(self.string(*v))?;
                    } else {
                        write!(w, "{n}=Value{{Uint64({v})}}")?;
                    }
                }
                w.write_all(b"]")?;
            }
            EventKind::Sync => {
                let (n, snap) = self.sync().expect("sync");
                w.write_all(b" N=")?;
                write_uint(w, n)?;
                if let Some(c) = snap {
                    write!(
                        w,
                        " Trace={} Mono={} Wall={}",
                        c.trace,
                        c.mono,
                        rfc3339_nano_utc(c.wall_sec, c.wall_nsec)
                    )?;
                }
            }
            EventKind::StackSample | EventKind::Bad => {}
        }
        if let Some(id) = self.go_stack_id() {
            if let Some(s) = self.stack_of(id) {
                w.write_all(b"\nStack=\n")?;
                write_frames(w, &s)?;
            }
        }
        Ok(())
    }
}

fn write_frames<W: Write + ?Sized>(w: &mut W, s: &Stack<'_>) -> io::Result<()> {
    for f in s.frames() {
        w.write_all(b"\t")?;
        w.write_all(f.func)?;
        w.write_all(b" @ 0x")?;
        write!(w, "{:x}", f.pc)?;
        w.write_all(b"\n\t\t")?;
        w.write_all(f.file)?;
        w.write_all(b":")?;
        write_uint(w, f.line)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[inline]
fn write_uint<W: Write + ?Sized>(w: &mut W, mut v: u64) -> io::Result<()> {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    w.write_all(&b[i..])
}

#[inline]
fn write_int<W: Write + ?Sized>(w: &mut W, v: i64) -> io::Result<()> {
    if v < 0 {
        w.write_all(b"-")?;
        write_uint(w, v.unsigned_abs())
    } else {
        write_uint(w, v as u64)
    }
}

impl std::fmt::Display for EventRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = Vec::new();
        self.write_go(&mut v).map_err(|_| std::fmt::Error)?;
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

#[allow(dead_code)]
const _: u64 = NO_TASK;
