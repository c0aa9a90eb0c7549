//! The wire-format vocabulary: event type numbers, their argument layout and
//! which trace versions know them. Numbering follows the order of the
//! runtime's event list (experimental events start at 128).

/// A wire event type number.
pub type EventType = u8;

macro_rules! event_types {
    ($($name:ident = $val:expr),* $(,)?) => {
        $(#[allow(missing_docs)] pub const $name: EventType = $val;)*
    };
}

/// Wire event type numbers.
pub mod ev {
    use super::EventType;
    event_types! {
        NONE = 0, EVENT_BATCH = 1, STACKS = 2, STACK = 3, STRINGS = 4, STRING = 5,
        CPU_SAMPLES = 6, CPU_SAMPLE = 7, FREQUENCY = 8,
        PROCS_CHANGE = 9, PROC_START = 10, PROC_STOP = 11, PROC_STEAL = 12, PROC_STATUS = 13,
        GO_CREATE = 14, GO_CREATE_SYSCALL = 15, GO_START = 16, GO_DESTROY = 17,
        GO_DESTROY_SYSCALL = 18, GO_STOP = 19, GO_BLOCK = 20, GO_UNBLOCK = 21,
        GO_SYSCALL_BEGIN = 22, GO_SYSCALL_END = 23, GO_SYSCALL_END_BLOCKED = 24, GO_STATUS = 25,
        STW_BEGIN = 26, STW_END = 27,
        GC_ACTIVE = 28, GC_BEGIN = 29, GC_END = 30, GC_SWEEP_ACTIVE = 31, GC_SWEEP_BEGIN = 32,
        GC_SWEEP_END = 33, GC_MARK_ASSIST_ACTIVE = 34, GC_MARK_ASSIST_BEGIN = 35,
        GC_MARK_ASSIST_END = 36, HEAP_ALLOC = 37, HEAP_GOAL = 38,
        GO_LABEL = 39, USER_TASK_BEGIN = 40, USER_TASK_END = 41, USER_REGION_BEGIN = 42,
        USER_REGION_END = 43, USER_LOG = 44,
        GO_SWITCH = 45, GO_SWITCH_DESTROY = 46, GO_CREATE_BLOCKED = 47, GO_STATUS_STACK = 48,
        EXPERIMENTAL_BATCH = 49, SYNC = 50, CLOCK_SNAPSHOT = 51, END_OF_GENERATION = 52,
        SPAN = 128, SPAN_ALLOC = 129, SPAN_FREE = 130, HEAP_OBJECT = 131,
        HEAP_OBJECT_ALLOC = 132, HEAP_OBJECT_FREE = 133, GOROUTINE_STACK = 134,
        GOROUTINE_STACK_ALLOC = 135, GOROUTINE_STACK_FREE = 136,
    }
    /// Type used internally for the Sync events the reader synthesises.
    pub const SYNC_SYNTH: EventType = 255;
    /// Type used internally for a run of events handed over in place
    /// (see `order::Entries`); never seen outside the crate.
    pub(crate) const RUN_SYNTH: EventType = 254;
}

/// Experiment number of the alloc/free experiment (experimental batches).
pub const EXPERIMENT_ALLOC_FREE: u8 = 1;

/// Experiment names by number.
pub fn experiment_name(e: u8) -> &'static str {
    match e {
        0 => "None",
        1 => "AllocFree",
        _ => "",
    }
}

/// Layout of one wire event type.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Event name as the text format and Go's reader spell it.
    pub name: &'static str,
    /// Argument names, in wire order (the first is `dt` for timed events).
    pub args: &'static [&'static str],
    /// 1-based argument positions holding string ids.
    pub string_ids: &'static [usize],
    /// 1-based argument positions holding stack ids (first one is "the" stack).
    pub stack_ids: &'static [usize],
    /// For an "End"/"Active" event, the matching "Begin" event type.
    pub start_ev: EventType,
    /// Has a timestamp delta as first argument.
    pub timed: bool,
    /// Followed by a length-prefixed blob.
    pub has_data: bool,
    /// A stack table entry (followed by frames).
    pub is_stack: bool,
    /// Experiment number, 0 for none.
    pub experiment: u8,
}

const fn s(name: &'static str, args: &'static [&'static str]) -> Spec {
    Spec {
        name,
        args,
        string_ids: &[],
        stack_ids: &[],
        start_ev: 0,
        timed: false,
        has_data: false,
        is_stack: false,
        experiment: 0,
    }
}
const fn t(name: &'static str, args: &'static [&'static str]) -> Spec {
    let mut x = s(name, args);
    x.timed = true;
    x
}
const fn stk(mut x: Spec, ids: &'static [usize]) -> Spec {
    x.stack_ids = ids;
    x
}
const fn strs(mut x: Spec, ids: &'static [usize]) -> Spec {
    x.string_ids = ids;
    x
}
const fn start(mut x: Spec, e: EventType) -> Spec {
    x.start_ev = e;
    x
}
const fn exp(mut x: Spec) -> Spec {
    x.experiment = EXPERIMENT_ALLOC_FREE;
    x
}
const EMPTY: Spec = s("", &[]);

/// Number of entries in the spec table (one past the last experimental event).
pub const NUM_SPECS: usize = 137;

/// The full spec table, indexed by event type.
pub static SPECS: [Spec; NUM_SPECS] = SPECS_CONST;

const SPECS_CONST: [Spec; NUM_SPECS] = {
    use ev::*;
    let mut a = [EMPTY; NUM_SPECS];
    a[EVENT_BATCH as usize] = s("EventBatch", &["gen", "m", "time", "size"]);
    a[STACKS as usize] = s("Stacks", &[]);
    a[STACK as usize] = {
        let mut x = s("Stack", &["id", "nframes"]);
        x.is_stack = true;
        x
    };
    a[STRINGS as usize] = s("Strings", &[]);
    a[STRING as usize] = {
        let mut x = s("String", &["id"]);
        x.has_data = true;
        x
    };
    a[CPU_SAMPLES as usize] = s("CPUSamples", &[]);
    a[CPU_SAMPLE as usize] = stk(s("CPUSample", &["time", "m", "p", "g", "stack"]), &[4]);
    a[FREQUENCY as usize] = s("Frequency", &["freq"]);
    a[EXPERIMENTAL_BATCH as usize] = {
        let mut x = s("ExperimentalBatch", &["exp", "gen", "m", "time"]);
        x.has_data = true;
        x
    };
    a[SYNC as usize] = s("Sync", &[]);
    a[END_OF_GENERATION as usize] = s("EndOfGeneration", &[]);
    a[PROCS_CHANGE as usize] = stk(t("ProcsChange", &["dt", "procs_value", "stack"]), &[2]);
    a[PROC_START as usize] = t("ProcStart", &["dt", "p", "p_seq"]);
    a[PROC_STOP as usize] = t("ProcStop", &["dt"]);
    a[PROC_STEAL as usize] = t("ProcSteal", &["dt", "p", "p_seq", "m"]);
    a[PROC_STATUS as usize] = t("ProcStatus", &["dt", "p", "pstatus"]);
    a[GO_CREATE as usize] = stk(
        t("GoCreate", &["dt", "new_g", "new_stack", "stack"]),
        &[3, 2],
    );
    a[GO_CREATE_SYSCALL as usize] = t("GoCreateSyscall", &["dt", "new_g"]);
    a[GO_START as usize] = t("GoStart", &["dt", "g", "g_seq"]);
    a[GO_DESTROY as usize] = t("GoDestroy", &["dt"]);
    a[GO_DESTROY_SYSCALL as usize] = t("GoDestroySyscall", &["dt"]);
    a[GO_STOP as usize] = strs(
        stk(t("GoStop", &["dt", "reason_string", "stack"]), &[2]),
        &[1],
    );
    a[GO_BLOCK as usize] = strs(
        stk(t("GoBlock", &["dt", "reason_string", "stack"]), &[2]),
        &[1],
    );
    a[GO_UNBLOCK as usize] = stk(t("GoUnblock", &["dt", "g", "g_seq", "stack"]), &[3]);
    a[GO_SYSCALL_BEGIN as usize] = stk(t("GoSyscallBegin", &["dt", "p_seq", "stack"]), &[2]);
    a[GO_SYSCALL_END as usize] = start(t("GoSyscallEnd", &["dt"]), GO_SYSCALL_BEGIN);
    a[GO_SYSCALL_END_BLOCKED as usize] = start(t("GoSyscallEndBlocked", &["dt"]), GO_SYSCALL_BEGIN);
    a[GO_STATUS as usize] = t("GoStatus", &["dt", "g", "m", "gstatus"]);
    a[STW_BEGIN as usize] = strs(
        stk(t("STWBegin", &["dt", "kind_string", "stack"]), &[2]),
        &[1],
    );
    a[STW_END as usize] = start(t("STWEnd", &["dt"]), STW_BEGIN);
    a[GC_ACTIVE as usize] = start(t("GCActive", &["dt", "gc_seq"]), GC_BEGIN);
    a[GC_BEGIN as usize] = stk(t("GCBegin", &["dt", "gc_seq", "stack"]), &[2]);
    a[GC_END as usize] = start(t("GCEnd", &["dt", "gc_seq"]), GC_BEGIN);
    a[GC_SWEEP_ACTIVE as usize] = start(t("GCSweepActive", &["dt", "p"]), GC_SWEEP_BEGIN);
    a[GC_SWEEP_BEGIN as usize] = stk(t("GCSweepBegin", &["dt", "stack"]), &[1]);
    a[GC_SWEEP_END as usize] = start(
        t("GCSweepEnd", &["dt", "swept_value", "reclaimed_value"]),
        GC_SWEEP_BEGIN,
    );
    a[GC_MARK_ASSIST_ACTIVE as usize] =
        start(t("GCMarkAssistActive", &["dt", "g"]), GC_MARK_ASSIST_BEGIN);
    a[GC_MARK_ASSIST_BEGIN as usize] = stk(t("GCMarkAssistBegin", &["dt", "stack"]), &[1]);
    a[GC_MARK_ASSIST_END as usize] = start(t("GCMarkAssistEnd", &["dt"]), GC_MARK_ASSIST_BEGIN);
    a[HEAP_ALLOC as usize] = t("HeapAlloc", &["dt", "heapalloc_value"]);
    a[HEAP_GOAL as usize] = t("HeapGoal", &["dt", "heapgoal_value"]);
    a[GO_LABEL as usize] = strs(t("GoLabel", &["dt", "label_string"]), &[1]);
    a[USER_TASK_BEGIN as usize] = strs(
        stk(
            t(
                "UserTaskBegin",
                &["dt", "task", "parent_task", "name_string", "stack"],
            ),
            &[4],
        ),
        &[3],
    );
    a[USER_TASK_END as usize] = stk(t("UserTaskEnd", &["dt", "task", "stack"]), &[2]);
    a[USER_REGION_BEGIN as usize] = strs(
        stk(
            t("UserRegionBegin", &["dt", "task", "name_string", "stack"]),
            &[3],
        ),
        &[2],
    );
    a[USER_REGION_END as usize] = start(
        strs(
            stk(
                t("UserRegionEnd", &["dt", "task", "name_string", "stack"]),
                &[3],
            ),
            &[2],
        ),
        USER_REGION_BEGIN,
    );
    a[USER_LOG as usize] = strs(
        stk(
            t(
                "UserLog",
                &["dt", "task", "key_string", "value_string", "stack"],
            ),
            &[4],
        ),
        &[2, 3],
    );
    a[GO_SWITCH as usize] = t("GoSwitch", &["dt", "g", "g_seq"]);
    a[GO_SWITCH_DESTROY as usize] = t("GoSwitchDestroy", &["dt", "g", "g_seq"]);
    a[GO_CREATE_BLOCKED as usize] = stk(
        t("GoCreateBlocked", &["dt", "new_g", "new_stack", "stack"]),
        &[3, 2],
    );
    a[GO_STATUS_STACK as usize] = stk(
        t("GoStatusStack", &["dt", "g", "m", "gstatus", "stack"]),
        &[4],
    );
    a[CLOCK_SNAPSHOT as usize] = t("ClockSnapshot", &["dt", "mono", "sec", "nsec"]);
    a[SPAN as usize] = exp(t("Span", &["dt", "id", "npages_value", "kindclass"]));
    a[SPAN_ALLOC as usize] = exp(t("SpanAlloc", &["dt", "id", "npages_value", "kindclass"]));
    a[SPAN_FREE as usize] = exp(t("SpanFree", &["dt", "id"]));
    a[HEAP_OBJECT as usize] = exp(t("HeapObject", &["dt", "id", "type"]));
    a[HEAP_OBJECT_ALLOC as usize] = exp(t("HeapObjectAlloc", &["dt", "id", "type"]));
    a[HEAP_OBJECT_FREE as usize] = exp(t("HeapObjectFree", &["dt", "id"]));
    a[GOROUTINE_STACK as usize] = exp(t("GoroutineStack", &["dt", "id", "order"]));
    a[GOROUTINE_STACK_ALLOC as usize] = exp(t("GoroutineStackAlloc", &["dt", "id", "order"]));
    a[GOROUTINE_STACK_FREE as usize] = exp(t("GoroutineStackFree", &["dt", "id"]));
    a
};

/// The spec of any type number (an empty spec past the table's end).
#[inline]
pub fn spec_of(t: EventType) -> &'static Spec {
    static NONE: Spec = EMPTY;
    SPECS.get(t as usize).unwrap_or(&NONE)
}

/// A trace format version (the `NN` in `go 1.NN trace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Go 1.22's format.
    Go122 = 22,
    /// Go 1.23's format (also written by Go 1.24).
    Go123 = 23,
    /// Go 1.25's format: sync batches with clock snapshots.
    Go125 = 25,
    /// Go 1.26's format (also written by Go 1.27): end-of-generation markers.
    Go126 = 26,
}

impl Version {
    /// Maps the header's minor version number.
    pub fn from_minor(n: u64) -> Option<Version> {
        match n {
            22 => Some(Version::Go122),
            23 => Some(Version::Go123),
            25 => Some(Version::Go125),
            26 => Some(Version::Go126),
            _ => None,
        }
    }
    /// The minor version number.
    pub fn minor(self) -> u32 {
        self as u32
    }
    /// How many leading entries of [`SPECS`] this version knows.
    pub fn num_specs(self) -> usize {
        match self {
            Version::Go122 => ev::USER_LOG as usize + 1,
            Version::Go123 => ev::EXPERIMENTAL_BATCH as usize + 1,
            Version::Go125 => ev::CLOCK_SNAPSHOT as usize + 1,
            Version::Go126 => NUM_SPECS,
        }
    }
    /// The spec of `typ` if this version defines it.
    pub fn spec(self, typ: EventType) -> Option<&'static Spec> {
        let i = typ as usize;
        if i < self.num_specs() && !SPECS[i].name.is_empty() {
            Some(&SPECS[i])
        } else {
            None
        }
    }
    /// Event name as Go's reader prints it in errors (`Invalid(N)` when unknown).
    pub fn event_name(self, typ: EventType) -> String {
        match self.spec(typ) {
            Some(s) => s.name.to_string(),
            None => format!("Invalid({typ})"),
        }
    }
    /// Looks an event type up by name, within this version.
    pub fn type_by_name(self, name: &str) -> Option<EventType> {
        (0..self.num_specs())
            .find(|&i| !SPECS[i].name.is_empty() && SPECS[i].name == name)
            .map(|i| i as EventType)
    }
}

/// Maximum size of a batch's payload.
pub const MAX_BATCH_SIZE: u64 = 64 << 10;
/// Maximum number of frames in one stack.
pub const MAX_FRAMES_PER_STACK: u64 = 128;
/// Maximum length of a string table entry.
pub const MAX_STRING_SIZE: u64 = 1 << 10;

/// Goroutine status values on the wire.
pub mod gstatus {
    #![allow(missing_docs)]
    pub const BAD: u8 = 0;
    pub const RUNNABLE: u8 = 1;
    pub const RUNNING: u8 = 2;
    pub const SYSCALL: u8 = 3;
    pub const WAITING: u8 = 4;
    pub fn name(s: u8) -> &'static str {
        match s {
            RUNNABLE => "Runnable",
            RUNNING => "Running",
            SYSCALL => "Syscall",
            WAITING => "Waiting",
            _ => "Bad",
        }
    }
}

/// Proc status values on the wire.
pub mod pstatus {
    #![allow(missing_docs)]
    pub const BAD: u8 = 0;
    pub const RUNNING: u8 = 1;
    pub const IDLE: u8 = 2;
    pub const SYSCALL: u8 = 3;
    pub const SYSCALL_ABANDONED: u8 = 4;
    pub fn name(s: u8) -> &'static str {
        match s {
            RUNNING => "Running",
            IDLE => "Idle",
            SYSCALL => "Syscall",
            SYSCALL_ABANDONED => "SyscallAbandoned",
            _ => "Bad",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn versions_cut_the_table() {
        assert_eq!(Version::Go122.event_name(ev::USER_LOG), "UserLog");
        assert_eq!(Version::Go122.event_name(ev::GO_SWITCH), "Invalid(45)");
        assert_eq!(Version::Go123.event_name(ev::SYNC), "Invalid(50)");
        assert_eq!(Version::Go125.event_name(ev::SYNC), "Sync");
        assert_eq!(
            Version::Go126.event_name(ev::END_OF_GENERATION),
            "EndOfGeneration"
        );
        assert_eq!(Version::Go126.event_name(ev::SPAN_FREE), "SpanFree");
        assert_eq!(Version::Go126.event_name(60), "Invalid(60)");
        assert_eq!(Version::Go126.type_by_name("GoStatusStack"), Some(48));
    }
}

/// Per-type facts the hot decoding loop needs, packed small (the full
/// [`Spec`] is several cache lines of names and slices).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wire {
    /// Arguments after the timestamp; `INVALID` for types that cannot
    /// appear in an event batch (unknown or untimed).
    pub nargs: u8,
    /// Bit i set: `args[i]` is a stack id.
    pub stack_mask: u8,
    /// Bit i set: `args[i]` is a string id.
    pub string_mask: u8,
    /// Index in `args` of "the" stack id (the spec's first), `NONE` if none.
    pub first_stack: u8,
}

impl Wire {
    pub const INVALID: u8 = u8::MAX;
    pub const NONE: u8 = u8::MAX;
}

/// [`Wire`] facts for every byte value.
pub(crate) static WIRE: [Wire; 256] = {
    let mut w = [Wire {
        nargs: Wire::INVALID,
        stack_mask: 0,
        string_mask: 0,
        first_stack: Wire::NONE,
    }; 256];
    let mut t = 0;
    while t < NUM_SPECS {
        let s = &SPECS_CONST[t];
        let mut stack_mask = 0u8;
        let mut i = 0;
        while i < s.stack_ids.len() {
            stack_mask |= 1 << (s.stack_ids[i] - 1);
            i += 1;
        }
        let mut string_mask = 0u8;
        let mut i = 0;
        while i < s.string_ids.len() {
            string_mask |= 1 << (s.string_ids[i] - 1);
            i += 1;
        }
        w[t] = Wire {
            nargs: if !s.args.is_empty() && s.timed {
                (s.args.len() - 1) as u8
            } else {
                Wire::INVALID
            },
            stack_mask,
            string_mask,
            first_stack: if s.stack_ids.is_empty() {
                Wire::NONE
            } else {
                (s.stack_ids[0] - 1) as u8
            },
        };
        t += 1;
    }
    w
};
