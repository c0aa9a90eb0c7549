//! Goroutine states: classifying the runtime's status strings, and inferring
//! a status from the stack for forms that carry none (`debug=1`, `debug=0`).
//!
//! ## Inference table
//!
//! Frames are examined innermost first. Scheduler plumbing
//! (`runtime.gopark`, `runtime.goparkunlock`, `runtime.mcall`, ...) is
//! skipped; the first frame that matches a row decides. Semaphore frames
//! only give a tentative `semacquire`: the walk continues to the `sync`
//! method that called them, which names the real wait.
//!
//! | innermost matching frame | status |
//! |---|---|
//! | `runtime.chanrecv`, `runtime.chanrecv1`, `runtime.chanrecv2` | `chan receive` |
//! | `runtime.chansend`, `runtime.chansend1` | `chan send` |
//! | `runtime.selectgo` | `select` |
//! | `runtime.block` | `select (no cases)` |
//! | `sync.(*Mutex).Lock`, `sync.(*Mutex).lockSlow`, `internal/sync.(*Mutex).Lock`/`lockSlow` | `sync.Mutex.Lock` |
//! | `sync.(*RWMutex).RLock` | `sync.RWMutex.RLock` |
//! | `sync.(*RWMutex).Lock` | `sync.RWMutex.Lock` |
//! | `sync.(*WaitGroup).Wait` | `sync.WaitGroup.Wait` |
//! | `sync.(*Cond).Wait`, `sync.runtime_notifyListWait` | `sync.Cond.Wait` |
//! | `sync.runtime_Semacquire*`, `runtime.semacquire*`, `internal/sync.runtime_Semacquire*` (nothing better above) | `semacquire` |
//! | `runtime.netpollblock`, `internal/poll.runtime_pollWait`, `internal/poll.(*pollDesc).wait*` | `IO wait` |
//! | `time.Sleep`, `runtime.timeSleep` | `sleep` |
//! | `runtime.gcBgMarkWorker` | `GC worker (idle)` |
//! | `runtime.forcegchelper` | `force gc (idle)` |
//! | `runtime.bgsweep` | `GC sweep wait` |
//! | `runtime.bgscavenge` | `GC scavenge wait` |
//! | `runtime.runfinq`, `runtime.runFinalizers` | `finalizer wait` |
//! | `runtime.runCleanups`, `runtime.(*cleanupQueue).dequeue` | `cleanup wait` |
//! | `runtime.updateMaxProcsGoroutine` | `GOMAXPROCS updater (idle)` |
//! | `runtime.traceReader`, `runtime.(*wakeableSleep).sleep` | `trace reader (blocked)` |
//! | `runtime.goroutineProfileWithLabels*`, `runtime/pprof.runtime_goroutineProfileWithLabels`, `runtime/pprof.writeRuntimeProfile`, `runtime.Stack` | `running` (the goroutine taking the profile) |
//! | `runtime.Gosched`, `runtime.goschedImpl`, `runtime.gopreempt_m`, `runtime.asyncPreempt` | `runnable` |
//! | `syscall.Syscall*`, `syscall.RawSyscall*`, `syscall.syscall*`, `internal/runtime/syscall.*`, `runtime.cgocall`, `runtime.entersyscall*`, `runtime.notetsleepg`, `os/signal.signal_recv` | `syscall` |
//! | `runtime.gopark` with nothing above it recognised | `waiting` |
//! | no runtime frame at the top at all | `running` |
//!
//! `debug=1` text hides the runtime frames at the top of each stack (the
//! pprof writer drops a leading run of `runtime.*` frames), so a stack
//! whose top is user code may still be parked in `runtime.chanrecv` or
//! `runtime.selectgo`. The `debug=1` parser notices the hidden frames (its
//! `@` line has more PCs than the frames it prints) and then reports
//! `waiting` rather than `running`.

use weft_model::{Frame, StateClass};

/// Classifies a status string as the runtime prints it in `debug=2` headers.
pub fn classify(status: &str) -> StateClass {
    let s = status.strip_suffix(" (durable)").unwrap_or(status);
    match s {
        "running"
        | "copystack"
        | "GC worker (active)"
        | "GC assist marking"
        | "garbage collection"
        | "garbage collection scan"
        | "stopping the world"
        | "flushing proc caches"
        | "GC mark termination"
        | "trace goroutine status"
        | "trace proc status"
        | "page trace flush"
        | "dumping heap"
        | "debug call" => StateClass::Running,
        "runnable" | "preempted" => StateClass::Runnable,
        "syscall" => StateClass::Syscall,
        "dead" => StateClass::Dead,
        "idle"
        | "GC worker (idle)"
        | "force gc (idle)"
        | "GOMAXPROCS updater (idle)"
        | "finalizer wait"
        | "GC sweep wait"
        | "GC scavenge wait"
        | "cleanup wait"
        | "trace reader (blocked)"
        | "waiting for cgo callback" => StateClass::Idle,
        "chan receive"
        | "chan send"
        | "chan receive (nil chan)"
        | "chan send (nil chan)"
        | "select"
        | "select (no cases)"
        | "sync.Mutex.Lock"
        | "sync.RWMutex.RLock"
        | "sync.RWMutex.Lock"
        | "sync.WaitGroup.Wait"
        | "sync.Cond.Wait"
        | "semacquire"
        | "IO wait"
        | "sleep"
        | "GC assist wait"
        | "wait for GC cycle"
        | "panicwait"
        | "coroutine"
        | "GC weak to strong wait"
        | "synctest.Run"
        | "synctest.Wait"
        | "waiting"
        | "leaked" => StateClass::Blocked,
        _ => StateClass::Unknown,
    }
}

/// Infers a status from a stack (innermost frame first) for forms that
/// carry no state. See the module documentation for the table.
pub fn infer_status(stack: &[Frame]) -> (String, StateClass) {
    let status = infer_name(stack, false);
    (status.to_string(), classify(status))
}

/// `top_hidden`: the source dropped runtime frames from the top, so a stack
/// with no recognised frame is parked somewhere, not running.
pub(crate) fn infer_name(stack: &[Frame], top_hidden: bool) -> &'static str {
    let mut tentative: Option<&'static str> = None;
    let mut parked = top_hidden;
    for (depth, f) in stack.iter().enumerate() {
        let name = f.func.as_str();
        if let Some(s) = sync_wait(name) {
            return s;
        }
        if is_sema(name) {
            tentative.get_or_insert("semacquire");
            continue;
        }
        if tentative.is_some() {
            // A semaphore frame deeper in than anything `sync`-ish: keep looking a little.
            if depth > 6 {
                break;
            }
            continue;
        }
        if let Some(s) = direct(name) {
            return s;
        }
        if matches!(
            name,
            "runtime.gopark" | "runtime.goparkunlock" | "runtime.park_m" | "runtime.mcall"
        ) {
            parked = true;
            continue;
        }
        if name.starts_with("runtime.") || name.starts_with("internal/runtime/") {
            continue;
        }
        // First non-runtime frame and nothing recognised.
        break;
    }
    if let Some(s) = tentative {
        return s;
    }
    if parked {
        "waiting"
    } else if stack.is_empty() {
        "unknown"
    } else {
        "running"
    }
}

fn sync_wait(name: &str) -> Option<&'static str> {
    Some(match name {
        "sync.(*Mutex).Lock"
        | "sync.(*Mutex).lockSlow"
        | "internal/sync.(*Mutex).Lock"
        | "internal/sync.(*Mutex).lockSlow" => "sync.Mutex.Lock",
        "sync.(*RWMutex).RLock" => "sync.RWMutex.RLock",
        "sync.(*RWMutex).Lock" => "sync.RWMutex.Lock",
        "sync.(*WaitGroup).Wait" => "sync.WaitGroup.Wait",
        "sync.(*Cond).Wait" | "sync.runtime_notifyListWait" | "runtime.notifyListWait" => {
            "sync.Cond.Wait"
        }
        _ => return None,
    })
}

fn is_sema(name: &str) -> bool {
    name.starts_with("sync.runtime_Semacquire")
        || name.starts_with("internal/sync.runtime_Semacquire")
        || name.starts_with("runtime.semacquire")
        || name.starts_with("sync.runtime_SemacquireWaitGroup")
}

fn direct(name: &str) -> Option<&'static str> {
    Some(match name {
        "runtime.chanrecv" | "runtime.chanrecv1" | "runtime.chanrecv2" => "chan receive",
        "runtime.chansend" | "runtime.chansend1" => "chan send",
        "runtime.selectgo" => "select",
        "runtime.block" => "select (no cases)",
        "runtime.netpollblock" | "internal/poll.runtime_pollWait" => "IO wait",
        "time.Sleep" | "runtime.timeSleep" => "sleep",
        "runtime.gcBgMarkWorker" => "GC worker (idle)",
        "runtime.forcegchelper" => "force gc (idle)",
        "runtime.bgsweep" => "GC sweep wait",
        "runtime.bgscavenge" => "GC scavenge wait",
        "runtime.runfinq" | "runtime.runFinalizers" => "finalizer wait",
        "runtime.runCleanups" | "runtime.(*cleanupQueue).dequeue" => "cleanup wait",
        "runtime.updateMaxProcsGoroutine" => "GOMAXPROCS updater (idle)",
        "runtime.traceReader" | "runtime.(*wakeableSleep).sleep" => "trace reader (blocked)",
        "runtime/pprof.runtime_goroutineProfileWithLabels"
        | "runtime/pprof.writeRuntimeProfile"
        | "runtime/pprof.runtime_goroutineLeakProfileWithLabels"
        | "runtime.Stack" => "running",
        "runtime.Gosched"
        | "runtime.goschedImpl"
        | "runtime.gopreempt_m"
        | "runtime.asyncPreempt" => "runnable",
        "runtime.cgocall" | "runtime.notetsleepg" | "os/signal.signal_recv" => "syscall",
        _ => {
            if name.starts_with("runtime.goroutineProfileWithLabels") {
                return Some("running");
            }
            if name.starts_with("internal/poll.(*pollDesc).wait") {
                return Some("IO wait");
            }
            if name.starts_with("syscall.Syscall")
                || name.starts_with("syscall.RawSyscall")
                || name.starts_with("syscall.syscall")
                || name.starts_with("syscall.rawSyscall")
                || name.starts_with("internal/runtime/syscall.")
                || name.starts_with("runtime.entersyscall")
            {
                return Some("syscall");
            }
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(names: &[&str]) -> Vec<Frame> {
        names
            .iter()
            .map(|n| Frame {
                func: n.to_string(),
                ..Frame::default()
            })
            .collect()
    }

    #[test]
    fn table() {
        assert_eq!(
            infer_status(&st(&[
                "runtime.gopark",
                "runtime.chanrecv",
                "runtime.chanrecv1",
                "main.f"
            ]))
            .0,
            "chan receive"
        );
        assert_eq!(
            infer_status(&st(&[
                "runtime.gopark",
                "runtime.goparkunlock",
                "runtime.semacquire1",
                "sync.runtime_SemacquireWaitGroup",
                "sync.(*WaitGroup).Wait",
                "main.f"
            ])),
            ("sync.WaitGroup.Wait".into(), StateClass::Blocked)
        );
        assert_eq!(
            infer_status(&st(&[
                "runtime.gopark",
                "runtime.semacquire1",
                "sync.runtime_SemacquireMutex",
                "internal/sync.(*Mutex).lockSlow",
                "internal/sync.(*Mutex).Lock",
                "sync.(*Mutex).Lock"
            ]))
            .0,
            "sync.Mutex.Lock"
        );
        assert_eq!(
            infer_status(&st(&["main.spin", "main.main"])),
            ("running".into(), StateClass::Running)
        );
        assert_eq!(
            infer_status(&st(&["runtime.gopark", "main.weird"])).0,
            "waiting"
        );
        assert_eq!(
            infer_status(&st(&[
                "runtime.gopark",
                "runtime.gcBgMarkWorker",
                "runtime.goexit"
            ]))
            .1,
            StateClass::Idle
        );
        assert_eq!(classify("chan receive (durable)"), StateClass::Blocked);
        assert_eq!(classify("bogus"), StateClass::Unknown);
    }
}
