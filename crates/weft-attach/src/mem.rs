//! The target's memory, read from outside with batched `process_vm_readv`.
//!
//! Every address here belongs to the other process: never dereference one.

use std::io;

/// Reads another address space. The unwinder and the goroutine walk are
/// written against this so that a test could feed them recorded memory.
pub trait Memory {
    /// Fills each buffer from its address; returns, per request, whether it
    /// was read completely. Requests are batched into as few syscalls as the
    /// kernel allows.
    fn read_many(&self, reqs: &mut [(u64, &mut [u8])]) -> io::Result<Vec<bool>>;

    /// Like `read_many`, for requests known to be far apart.
    fn read_many_unmerged(&self, reqs: &mut [(u64, &mut [u8])]) -> io::Result<Vec<bool>> {
        self.read_many(reqs)
    }

    /// Reads one buffer; an error if any byte of it is unreadable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> io::Result<()> {
        let ok = self.read_many(&mut [(addr, buf)])?;
        if ok[0] {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("could not read {} bytes at {addr:#x}", buf.len()),
            ))
        }
    }

    fn read_u64(&self, addr: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// A live process, read with `process_vm_readv(2)`.
pub struct ProcessMemory {
    pub pid: u32,
    /// Kept between calls: large buffers freed and reallocated every sample
    /// cost more in the allocator than the reads themselves.
    pub scratch: std::cell::RefCell<Vec<u8>>,
    /// Threads a large batch of reads is split over (see
    /// `AttachOptions::read_threads`); 1 reads on the caller's thread.
    pub threads: usize,
}

/// Batches smaller than this are read on one thread: a thread costs more
/// than the kernel takes to copy them.
const SPLIT_MIN_BYTES: usize = 4 << 20;

/// The kernel's limit on iovecs per call (IOV_MAX on Linux).
const IOV_MAX: usize = 1024;

/// Requests closer than this are read as one range: the kernel's cost is
/// per iovec and per page pinned far more than per byte copied.
const MERGE_GAP: u64 = 2048;

impl Memory for ProcessMemory {
    fn read_many(&self, reqs: &mut [(u64, &mut [u8])]) -> io::Result<Vec<bool>> {
        if reqs.len() < 8 {
            return self.read_direct(reqs);
        }
        // Sort by address and merge neighbours into ranges read into one
        // scratch buffer, then copy each request out of it.
        let mut order: Vec<usize> = (0..reqs.len()).collect();
        order.sort_unstable_by_key(|&i| reqs[i].0);
        let mut ranges: Vec<(u64, u64, Vec<usize>)> = Vec::new();
        for &i in &order {
            let (addr, len) = (reqs[i].0, reqs[i].1.len() as u64);
            match ranges.last_mut() {
                Some(r)
                    if addr <= r.1.saturating_add(MERGE_GAP)
                        && addr.saturating_add(len) - r.0 <= 1 << 20 =>
                {
                    r.1 = r.1.max(addr + len);
                    r.2.push(i);
                }
                _ => ranges.push((addr, addr.saturating_add(len), vec![i])),
            }
        }
        let total: u64 = ranges.iter().map(|r| r.1 - r.0).sum();
        let mut scratch = std::mem::take(&mut *self.scratch.borrow_mut());
        // Only grown, never zeroed: each range's bytes are read before use.
        if scratch.len() < total as usize {
            scratch.resize(total as usize, 0);
        }
        let mut merged: Vec<(u64, &mut [u8])> = Vec::with_capacity(ranges.len());
        let mut rest: &mut [u8] = &mut scratch;
        for r in &ranges {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut((r.1 - r.0) as usize);
            rest = tail;
            merged.push((r.0, head));
        }
        let ok_ranges = self.read_direct(&mut merged)?;
        drop(merged);
        let mut ok = vec![false; reqs.len()];
        let mut base = 0usize;
        for (k, r) in ranges.iter().enumerate() {
            let size = (r.1 - r.0) as usize;
            for &i in &r.2 {
                let off = base + (reqs[i].0 - r.0) as usize;
                let len = reqs[i].1.len();
                if ok_ranges[k] {
                    reqs[i].1.copy_from_slice(&scratch[off..off + len]);
                    ok[i] = true;
                } else if len > 0 {
                    // The merged range crossed an unmapped hole: read alone.
                    ok[i] = self.read_direct(&mut [(reqs[i].0, &mut *reqs[i].1)])?[0];
                }
            }
            base += size;
        }
        *self.scratch.borrow_mut() = scratch;
        Ok(ok)
    }

    fn read_many_unmerged(&self, reqs: &mut [(u64, &mut [u8])]) -> io::Result<Vec<bool>> {
        self.read_direct(reqs)
    }
}

/// Plans a gathered read: requests sorted by address (`order`), merged
/// into `ranges`, request `order[k]` inside `ranges[range_of[k]]`.
fn plan(
    addrs: &[u64],
    len: u64,
    order: &mut Vec<(u64, u32)>,
    ranges: &mut Vec<(u64, u64)>,
    range_of: &mut Vec<u32>,
) {
    order.clear();
    order.extend(
        addrs
            .iter()
            .enumerate()
            .filter(|(_, &a)| a != 0)
            .map(|(i, &a)| (a, i as u32)),
    );
    order.sort_unstable();
    ranges.clear();
    range_of.clear();
    for &(addr, _) in order.iter() {
        let end = addr.saturating_add(len);
        match ranges.last_mut() {
            Some(r) if addr <= r.1.saturating_add(MERGE_GAP) && end - r.0 <= 1 << 20 => {
                r.1 = r.1.max(end)
            }
            _ => ranges.push((addr, end)),
        }
        range_of.push(ranges.len() as u32 - 1);
    }
}

/// Reusable buffers of [`ProcessMemory::read_gathered`].
#[derive(Default)]
pub struct Gathered {
    /// The bytes read: merged ranges back to back.
    pub buf: Vec<u8>,
    /// Per request, where its bytes start in `buf` (`u32::MAX`: unreadable).
    pub at: Vec<u32>,
    order: Vec<(u64, u32)>,
    ranges: Vec<(u64, u64)>,
    range_of: Vec<u32>,
    /// The request of the previous call, with `len`: when a call asks for
    /// the same (as samples of one `allgs` do), its plan is reused.
    last: (Vec<u64>, usize),
}

impl Gathered {
    /// Request `i`'s `len` bytes, if they were read.
    pub fn get(&self, i: usize, len: usize) -> Option<&[u8]> {
        let at = *self.at.get(i)?;
        (at != u32::MAX).then(|| &self.buf[at as usize..at as usize + len])
    }
}

impl ProcessMemory {
    /// Reads `len` bytes at each of `addrs` (0 = skip) the way
    /// [`Memory::read_many`] does, neighbours merged into one range, but
    /// leaves the bytes where the kernel put them: request `i` is
    /// `out.get(i, len)`. For the 100k `g`s of a sample this saves copying
    /// every one out of a scratch buffer. Returns the bytes copied.
    pub fn read_gathered(&self, addrs: &[u64], len: usize, out: &mut Gathered) -> io::Result<u64> {
        let Gathered {
            buf,
            at,
            order,
            ranges,
            range_of,
            last,
        } = out;
        let len64 = len as u64;
        if last.1 != len || last.0 != addrs {
            plan(addrs, len64, order, ranges, range_of);
            last.0.clear();
            last.0.extend_from_slice(addrs);
            last.1 = len;
        }
        let total: u64 = ranges.iter().map(|r| r.1 - r.0).sum();
        if total > u32::MAX as u64 / 2 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "read_gathered: more than 4 GiB requested",
            ));
        }
        // Only grown, never zeroed: each byte used is read first.
        if buf.len() < total as usize {
            buf.resize(total as usize, 0);
        }
        let mut base = Vec::with_capacity(ranges.len());
        let ok = {
            let mut reqs: Vec<(u64, &mut [u8])> = Vec::with_capacity(ranges.len());
            let mut rest: &mut [u8] = &mut buf[..];
            let mut off = 0u32;
            for r in ranges.iter() {
                let n = (r.1 - r.0) as usize;
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
                rest = tail;
                reqs.push((r.0, head));
                base.push(off);
                off += n as u32;
            }
            self.read_direct(&mut reqs)?
        };
        at.clear();
        at.resize(addrs.len(), u32::MAX);
        let mut failed: Vec<u32> = Vec::new();
        for (k, &(addr, i)) in order.iter().enumerate() {
            let r = range_of[k] as usize;
            if ok[r] {
                at[i as usize] = base[r] + (addr - ranges[r].0) as u32;
            } else {
                failed.push(i);
            }
        }
        let mut copied = total;
        // A merged range crossed an unmapped hole: read its requests alone.
        let mut tail = total as usize;
        for chunk in failed.chunks(64) {
            let start = tail;
            tail += chunk.len() * len;
            if tail > u32::MAX as usize {
                break;
            }
            if buf.len() < tail {
                buf.resize(tail, 0);
            }
            let mut reqs: Vec<(u64, &mut [u8])> = chunk
                .iter()
                .zip(buf[start..tail].chunks_mut(len))
                .map(|(&i, b)| (addrs[i as usize], b))
                .collect();
            let ok = self.read_direct(&mut reqs)?;
            for (k, &i) in chunk.iter().enumerate() {
                if ok[k] {
                    at[i as usize] = (start + k * len) as u32;
                    copied += len64;
                }
            }
        }
        Ok(copied)
    }

    /// One iovec per request, `IOV_MAX` per syscall; large batches split
    /// over `threads` threads (the kernel's copy and page pinning are most
    /// of a sample's cost, and they run in parallel).
    fn read_direct(&self, reqs: &mut [(u64, &mut [u8])]) -> io::Result<Vec<bool>> {
        let threads = self.threads.clamp(1, 8);
        let bytes: usize = reqs.iter().map(|r| r.1.len()).sum();
        if threads == 1 || bytes < SPLIT_MIN_BYTES || reqs.len() < 2 {
            return read_serial(self.pid, reqs);
        }
        // Split into parts of about equal bytes.
        let per = bytes.div_ceil(threads);
        let mut parts: Vec<&mut [(u64, &mut [u8])]> = Vec::with_capacity(threads);
        let mut rest = reqs;
        while !rest.is_empty() {
            let mut n = 0;
            let mut sum = 0;
            while n < rest.len() && (sum < per || n == 0) {
                sum += rest[n].1.len();
                n += 1;
            }
            if parts.len() + 1 == threads {
                n = rest.len();
            }
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            parts.push(head);
            rest = tail;
        }
        let results: Vec<io::Result<Vec<bool>>> = std::thread::scope(|scope| {
            let mut parts = parts.into_iter();
            let first = parts.next();
            let handles: Vec<_> = parts
                .map(|part| {
                    let pid = self.pid;
                    scope.spawn(move || read_serial(pid, part))
                })
                .collect();
            let mut out = vec![first.map_or(Ok(Vec::new()), |p| read_serial(self.pid, p))];
            for h in handles {
                out.push(
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a read thread panicked"))),
                );
            }
            out
        });
        let mut ok = Vec::with_capacity(results.len());
        for r in results {
            ok.extend(r?);
        }
        Ok(ok)
    }
}

/// [`ProcessMemory::read_direct`] on the caller's thread.
fn read_serial(pid: u32, reqs: &mut [(u64, &mut [u8])]) -> io::Result<Vec<bool>> {
    let mut ok = vec![false; reqs.len()];
    let mut start = 0;
    while start < reqs.len() {
        let end = (start + IOV_MAX).min(reqs.len());
        let chunk = &mut reqs[start..end];
        let local: Vec<libc::iovec> = chunk
            .iter_mut()
            .map(|(_, b)| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let remote: Vec<libc::iovec> = chunk
            .iter()
            .map(|(a, b)| libc::iovec {
                iov_base: *a as usize as *mut libc::c_void,
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: `local` describes buffers we own for the duration of the
        // call; `remote` is only interpreted by the kernel, in the target.
        let n = unsafe {
            libc::process_vm_readv(
                pid as libc::pid_t,
                local.as_ptr(),
                local.len() as _,
                remote.as_ptr(),
                remote.len() as _,
                0,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EFAULT) {
                // The first remote iovec is unmapped: mark it bad and go on.
                start += 1;
                continue;
            }
            return Err(err);
        }
        // The kernel stops at the first iovec it cannot read fully: the
        // ones before it are complete, that one is bad, retry after it.
        let mut left = n as usize;
        let mut i = 0;
        while i < chunk.len() && left >= chunk[i].1.len() {
            left -= chunk[i].1.len();
            ok[start + i] = true;
            i += 1;
        }
        if i == chunk.len() {
            start = end;
        } else {
            start += i + 1;
        }
    }
    Ok(ok)
}

/// One line of `/proc/PID/maps`.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub offset: u64,
    pub path: String,
}

/// Parses `/proc/PID/maps`.
pub fn read_maps(pid: u32) -> io::Result<Vec<Mapping>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms), Some(off)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(offset)) = (
            u64::from_str_radix(a, 16),
            u64::from_str_radix(b, 16),
            u64::from_str_radix(off, 16),
        ) else {
            continue;
        };
        let path = parts.nth(2).unwrap_or("").to_string();
        out.push(Mapping {
            start,
            end,
            readable: perms.starts_with('r'),
            offset,
            path,
        });
    }
    Ok(out)
}

/// Readable address ranges, sorted, to reject wild pointers before reading.
#[derive(Clone, Debug, Default)]
pub struct AddrSpace {
    ranges: Vec<(u64, u64)>,
}

impl AddrSpace {
    pub fn from_maps(maps: &[Mapping]) -> AddrSpace {
        let mut ranges: Vec<(u64, u64)> = maps
            .iter()
            .filter(|m| m.readable)
            .map(|m| (m.start, m.end))
            .collect();
        ranges.sort_unstable();
        AddrSpace { ranges }
    }

    /// Whether `[addr, addr+len)` lies in one readable mapping.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        if addr == 0 {
            return false;
        }
        let i = self.ranges.partition_point(|r| r.0 <= addr);
        i > 0 && {
            let (s, e) = self.ranges[i - 1];
            addr >= s && addr.saturating_add(len) <= e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads of our own memory, split over threads or not, with unmapped
    /// addresses among them: same bytes, same flags, in request order.
    #[test]
    fn split_reads_match_serial_reads() {
        let src: Vec<u8> = (0..12 << 20).map(|i: u32| (i % 251) as u8).collect();
        let base = src.as_ptr() as u64;
        // Requests of varied sizes across the buffer, and unmapped ones.
        let mut want: Vec<(u64, usize)> = Vec::new();
        let mut off = 0u64;
        let mut k = 0u64;
        while off + 70_000 < src.len() as u64 {
            let len = 100 + (k * 7919 % 60_000) as usize;
            want.push((base + off, len));
            if k % 97 == 5 {
                want.push((8, 16)); // page zero: never mapped
            }
            off += len as u64 + k % 3 * 512;
            k += 1;
        }
        let run = |threads: usize| {
            let mem = ProcessMemory {
                pid: std::process::id(),
                scratch: Default::default(),
                threads,
            };
            let mut bufs: Vec<Vec<u8>> = want.iter().map(|r| vec![0u8; r.1]).collect();
            let mut reqs: Vec<(u64, &mut [u8])> = want
                .iter()
                .zip(bufs.iter_mut())
                .map(|(r, b)| (r.0, b.as_mut_slice()))
                .collect();
            let ok = mem.read_direct(&mut reqs).unwrap();
            drop(reqs);
            (ok, bufs)
        };
        let (ok1, bufs1) = run(1);
        for threads in [2, 3] {
            let (ok, bufs) = run(threads);
            assert_eq!(ok, ok1, "{threads} threads");
            assert!(bufs == bufs1, "{threads} threads: bytes differ");
        }
        for (i, r) in want.iter().enumerate() {
            if r.0 == 8 {
                assert!(!ok1[i]);
            } else {
                let at = (r.0 - base) as usize;
                assert!(ok1[i] && bufs1[i] == src[at..at + r.1], "request {i}");
            }
        }
    }
}
