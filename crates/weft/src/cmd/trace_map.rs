//! A trace file mapped into memory read-only, so `weft trace stats` reads it
//! in place: no copy into a buffer, and no fresh pages for the kernel to
//! clear (the file's pages are usually in the page cache already). Only for
//! regular files; anything else is read the ordinary way.
//!
//! A mapping shows the file as it changes: a file truncated while it is
//! being read would fault (SIGBUS), so this is only used for a file given
//! by name to a one-shot command, never for a live or growing trace.
use std::fs::File;
use std::os::fd::AsRawFd;

/// A private read-only mapping of a whole file.
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// The mapping is read-only and owned: sharing it between threads is safe.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps `f`, or `None` when it is not a non-empty regular file or the
    /// mapping fails (the caller then reads the file instead).
    pub fn new(f: &File) -> Option<Mapped> {
        let meta = f.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 || meta.len() > isize::MAX as u64 {
            return None;
        }
        let len = meta.len() as usize;
        // SAFETY: a fresh mapping of `len` bytes of an open file; the
        // pointer is checked and only used within `len`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        Some(Mapped { ptr, len })
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped, once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}
