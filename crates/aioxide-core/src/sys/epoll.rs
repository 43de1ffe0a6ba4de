//! Facts about epoll, as this poller uses it:
//!
//! * Level-triggered (no `EPOLLET`): a descriptor is reported by every `epoll_wait` while
//!   it stays ready. That is asyncio's `add_reader` contract.
//! * Registration belongs to the open file description, not the number: closing the last
//!   descriptor of a file removes it silently, and a reused number must be added afresh
//!   (`ENOENT` from [`Poller::modify`]). A registration whose file is still open
//!   elsewhere (a `dup`, a forked child) outlives the closed number: it keeps reporting
//!   with its token and can no longer be deleted through that number.
//! * `EPOLLERR` and `EPOLLHUP` are always reported; they are surfaced so the caller can
//!   wake whoever waits on the descriptor, who then sees the error from its own call.
//! * `epoll_ctl` and `epoll_wait` may run concurrently from different threads.
//! * `epoll_wait` returns `EINTR` when a signal handler ran; Python's handlers are then
//!   due, and the caller must run them before waiting again.
//! * After `fork()` the child shares the epoll instance with the parent; a child that
//!   wants its own loop must create a new poller (it must not reuse this one).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::{direct_syscall, syscall};

/// One readiness report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub token: u64,
    pub readable: bool,
    pub writable: bool,
    /// Error or hang-up: wake readers and writers alike.
    pub error: bool,
}

/// A level-triggered epoll instance.
#[derive(Debug)]
pub struct Poller {
    epfd: OwnedFd,
}

fn event_mask(read: bool, write: bool) -> u32 {
    let mut mask = 0;
    if read {
        mask |= libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32;
    }
    if write {
        mask |= libc::EPOLLOUT as u32;
    }
    mask
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        // SAFETY: epoll_create1 just returned this descriptor and nothing else owns it.
        Ok(Poller {
            epfd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, mask: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: mask,
            u64: token,
        };
        // epoll_ctl reads `ev` (ignored for DEL) and retains nothing.
        syscall!(epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev))?;
        Ok(())
    }

    /// Start watching `fd`.
    pub fn add(&self, fd: RawFd, token: u64, read: bool, write: bool) -> io::Result<()> {
        match self.ctl(libc::EPOLL_CTL_ADD, fd, token, event_mask(read, write)) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.ctl(libc::EPOLL_CTL_MOD, fd, token, event_mask(read, write))
            }
            other => other,
        }
    }

    /// Change what an existing registration of `fd` asks for. `ENOENT` means the kernel
    /// has no registration for the file `fd` now names (the number was closed and
    /// reused); the caller decides whether to add it afresh.
    pub fn modify(&self, fd: RawFd, token: u64, read: bool, write: bool) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, event_mask(read, write))
    }

    /// Stop watching `fd`. A descriptor already closed is not an error: closing it
    /// removed it from the epoll set.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        match self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBADF) | Some(libc::ENOENT)) => Ok(()),
            other => other,
        }
    }

    /// Make this poller's descriptor name `fresh`'s epoll instance, dropping the old one
    /// and every registration in it (the reactor rebuilds its set this way when a stale
    /// registration it can no longer address keeps reporting). A wait already blocked
    /// on the old instance finishes there.
    pub fn replace(&self, fresh: Poller) -> io::Result<()> {
        // dup3 atomically closes our number and makes it a copy of `fresh`'s; both
        // descriptors are open and owned by the two pollers, and `fresh` then closes its
        // own copy when dropped.
        syscall!(dup3(
            fresh.epfd.as_raw_fd(),
            self.epfd.as_raw_fd(),
            libc::O_CLOEXEC
        ))?;
        Ok(())
    }

    /// Wait up to `timeout` seconds (`None`: until an event) and fill `events` with
    /// what became ready (replacing what it held).
    pub fn wait(&self, events: &mut Events, timeout: Option<f64>) -> io::Result<()> {
        let timeout_ms: libc::c_int = match timeout {
            None => -1,
            // Round up so a timer never wakes us a hair early and spins.
            Some(t) => (t * 1000.0).ceil().min(libc::c_int::MAX as f64) as libc::c_int,
        };
        events.raw.clear();
        let capacity = events.raw.capacity();
        // epoll_wait writes at most `capacity` entries into the spare capacity of `raw`.
        // epoll_pwait with no signal mask is epoll_wait (which some architectures lack),
        // entered directly: the loop waits once per iteration (see `direct_syscall!`).
        let no_mask = std::ptr::null::<libc::sigset_t>();
        let n = direct_syscall!(
            libc::SYS_epoll_pwait,
            self.epfd.as_raw_fd(),
            events.raw.as_mut_ptr(),
            capacity as libc::c_int,
            timeout_ms,
            no_mask,
            0usize
        )? as usize;
        // SAFETY: epoll_wait initialised exactly the first `n` entries and n <= capacity.
        unsafe { events.raw.set_len(n) };
        Ok(())
    }
}

/// A reusable buffer of readiness reports from [`Poller::wait`].
pub struct Events {
    raw: Vec<libc::epoll_event>,
}

impl Events {
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            raw: Vec::with_capacity(capacity.max(1)),
        }
    }

    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.raw.iter().map(|ev| {
            let bits = ev.events;
            Event {
                token: ev.u64,
                readable: bits & (libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32) != 0,
                writable: bits & libc::EPOLLOUT as u32 != 0,
                error: bits & (libc::EPOLLERR as u32 | libc::EPOLLHUP as u32) != 0,
            }
        })
    }
}

impl AsRawFd for Poller {
    fn as_raw_fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }
}
