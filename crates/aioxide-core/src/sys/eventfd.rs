//! Facts about eventfd: a 64-bit counter behind a descriptor; a write adds to it and makes
//! the descriptor readable, a read returns the count and resets it to zero. Non-blocking,
//! so neither side can stall; close-on-exec, so children do not inherit it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{direct_syscall, syscall};

/// Wakes a poller from another thread. Wakeups between two resets cost one write.
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
    pending: AtomicBool,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        // SAFETY: eventfd just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Waker {
            fd,
            pending: AtomicBool::new(false),
        })
    }

    /// Make the descriptor readable unless a wakeup is already pending.
    pub fn wake(&self) -> io::Result<()> {
        if self.pending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let one: u64 = 1;
        // Writes 8 bytes from a live u64 to a descriptor this struct owns.
        let res = direct_syscall!(libc::SYS_write, self.fd.as_raw_fd(), &one as *const u64, 8);
        if let Err(err) = res {
            // A full counter means the reader has plenty to wake for already.
            if err.kind() != io::ErrorKind::WouldBlock {
                self.pending.store(false, Ordering::Release);
                return Err(err);
            }
        }
        Ok(())
    }

    /// Consume pending wakeups. Call before looking at the work the wakeups announce, so
    /// that a wakeup racing with the reset is either seen now or leaves the fd readable.
    pub fn reset(&self) {
        let mut buf: u64 = 0;
        // Reads at most 8 bytes into a live u64 from a descriptor this struct owns; EAGAIN
        // (nothing pending) is the only expected failure and needs no handling.
        let _ = direct_syscall!(libc::SYS_read, self.fd.as_raw_fd(), &mut buf as *mut u64, 8);
        self.pending.store(false, Ordering::Release);
    }

    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }
}

impl AsRawFd for Waker {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
