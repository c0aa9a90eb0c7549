//! Optional stop of the target for a consistent snapshot: SIGSTOP, wait
//! until every thread is stopped, SIGCONT when dropped.

use std::time::{Duration, Instant};

use crate::error::{os_error, AttachError};

/// The target is stopped while this lives.
pub struct Stopped {
    pid: u32,
}

impl Stopped {
    pub fn stop(pid: u32) -> Result<Stopped, AttachError> {
        // SAFETY: kill(2) has no memory effects on us.
        if unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) } != 0 {
            return Err(os_error(
                pid,
                "stopping it (SIGSTOP)",
                std::io::Error::last_os_error(),
            ));
        }
        let guard = Stopped { pid };
        // Threads stop asynchronously; wait (bounded) until all report 'T'.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline && !all_stopped(pid) {
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(guard)
    }
}

fn all_stopped(pid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    dir.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(") ")
                    .map(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
            })
            .unwrap_or(true)
    })
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGCONT) };
    }
}
