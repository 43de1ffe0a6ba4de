//! Facts about regular-file I/O for the fs engine: positional reads and writes that
//! finish the whole request unless the file ends or the kernel reports an error, and the
//! memory those requests use.
//!
//! A request's memory belongs to an object the caller keeps alive (a Python `bytes` being
//! filled, or the `bytes` being written) until the engine hands the request back, so the
//! engine only ever sees a pointer and a length: [`RawBuf`].

use std::io;
use std::os::fd::RawFd;

use super::syscall;

/// A pointer and a length the engine may read from (writes) or write into (reads) until
/// it returns the request that carries it.
#[derive(Debug)]
pub struct RawBuf {
    ptr: *mut u8,
    len: usize,
    /// Memory the buffer owns itself (`RawBuf::owned`); `ptr` points into it.
    owned: Option<Box<[u8]>>,
}

// SAFETY: a RawBuf is only a description of memory; whoever made it (see `RawBuf::new`)
// promised that the memory stays valid and untouched by anyone else while the engine,
// on whichever thread it runs the request, uses it.
unsafe impl Send for RawBuf {}

impl RawBuf {
    /// # Safety
    /// `ptr..ptr+len` must stay valid, and must not be read or written by anyone but the
    /// engine, until the request carrying this buffer has been handed back by the engine.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> RawBuf {
        RawBuf {
            ptr,
            len,
            owned: None,
        }
    }

    /// A buffer that owns its memory; get it back with [`RawBuf::into_owned`].
    pub fn owned(data: Vec<u8>) -> RawBuf {
        let mut data = data.into_boxed_slice();
        RawBuf {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            owned: Some(data),
        }
    }

    /// The memory of an [`RawBuf::owned`] buffer (None for a borrowed one).
    pub fn into_owned(self) -> Option<Vec<u8>> {
        self.owned.map(Vec::from)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn ptr_at(&self, done: usize) -> *mut u8 {
        debug_assert!(done <= self.len);
        self.ptr.wrapping_add(done)
    }
}

/// The offset meaning "the file's own position" (used for `O_APPEND` writes).
pub const CURRENT_POSITION: i64 = -1;

fn one_read(fd: RawFd, buf: &RawBuf, done: usize, offset: i64) -> io::Result<usize> {
    let want = buf.len - done;
    let n = if offset == CURRENT_POSITION {
        // SAFETY: `buf` promises `want` writable bytes at `ptr_at(done)` (RawBuf::new).
        syscall!(read(fd, buf.ptr_at(done).cast(), want))?
    } else {
        // SAFETY: as above; the offset is non-negative, as pread requires.
        syscall!(pread(
            fd,
            buf.ptr_at(done).cast(),
            want,
            offset + done as i64
        ))?
    };
    Ok(n as usize)
}

fn one_write(fd: RawFd, buf: &RawBuf, done: usize, offset: i64) -> io::Result<usize> {
    let want = buf.len - done;
    let n = if offset == CURRENT_POSITION {
        // SAFETY: `buf` promises `want` readable bytes at `ptr_at(done)` (RawBuf::new).
        syscall!(write(fd, buf.ptr_at(done).cast_const().cast(), want))?
    } else {
        // SAFETY: as above; the offset is non-negative, as pwrite requires.
        syscall!(pwrite(
            fd,
            buf.ptr_at(done).cast_const().cast(),
            want,
            offset + done as i64
        ))?
    };
    Ok(n as usize)
}

/// Read until `buf` is full or the file ends; returns how many bytes arrived. An error
/// after some bytes arrived returns those bytes (the next read meets the error again).
pub fn read_full(fd: RawFd, buf: &RawBuf, offset: i64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len {
        match one_read(fd, buf, done, offset) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if done > 0 => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Write all of `buf`; a write the kernel keeps refusing (returns 0) is an error.
pub fn write_full(fd: RawFd, buf: &RawBuf, offset: i64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len {
        match one_write(fd, buf, done, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// `fsync`, or `fdatasync` when `datasync`.
pub fn sync(fd: RawFd, datasync: bool) -> io::Result<()> {
    if datasync {
        syscall!(fdatasync(fd))?;
    } else {
        syscall!(fsync(fd))?;
    }
    Ok(())
}

/// `poll(2)` on one descriptor, for tests that wait the way a loop does.
#[cfg(test)]
pub(crate) fn poll_for_tests(fds: &mut [libc::pollfd; 1], timeout_ms: i32) -> i32 {
    // SAFETY: `fds` is one live, initialised pollfd, and we pass its length (1).
    unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout_ms) }
}

/// Close a descriptor the caller owns, reporting the kernel's error (the descriptor is
/// gone either way, as close(2) says on Linux).
pub fn close(fd: RawFd) -> io::Result<()> {
    syscall!(close(fd)).map(|_| ())
}

pub fn ftruncate(fd: RawFd, size: i64) -> io::Result<()> {
    syscall!(ftruncate(fd, size)).map(|_| ())
}

/// `fstat` as the numbers `os.stat_result` is built from: mode, ino, dev, nlink, uid,
/// gid, size, atime, mtime, ctime (seconds), their nanoseconds, blksize, blocks, rdev.
pub fn fstat(fd: RawFd) -> io::Result<[i64; 16]> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is storage for one struct stat, which fstat fills on success.
    syscall!(fstat(fd, st.as_mut_ptr()))?;
    // SAFETY: fstat succeeded, so the struct is initialised (and it was zeroed anyway).
    let st = unsafe { st.assume_init() };
    Ok([
        i64::from(st.st_mode),
        st.st_ino as i64,
        st.st_dev as i64,
        st.st_nlink as i64,
        i64::from(st.st_uid),
        i64::from(st.st_gid),
        st.st_size,
        st.st_atime,
        st.st_mtime,
        st.st_ctime,
        st.st_atime_nsec,
        st.st_mtime_nsec,
        st.st_ctime_nsec,
        st.st_blksize,
        st.st_blocks,
        st.st_rdev as i64,
    ])
}
