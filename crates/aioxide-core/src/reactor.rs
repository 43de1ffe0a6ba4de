//! The reactor: which descriptors the loop watches, and waiting for them.
//!
//! It keeps the interest set of every watched descriptor so that callers can add or
//! drop a reader or a writer independently (asyncio's `add_reader` / `remove_writer`),
//! and it folds the cross-thread [`Waker`] into the wait so callers only see descriptors.
//!
//! Registrations can be released lazily ([`Reactor::release`]) and taken back with no
//! system call ([`Reactor::reclaim`]) before the next [`Reactor::flush`]; see
//! `docs/architecture.md` (the socket coroutines) for why that is safe and when.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::sys::{fork_generation, Events, Poller, Waker};

/// The token reserved for the waker; descriptors use their own number as token.
const WAKER_TOKEN: u64 = u64::MAX;

/// What a descriptor is watched for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    pub read: bool,
    pub write: bool,
}

impl Interest {
    pub fn is_empty(self) -> bool {
        !self.read && !self.write
    }

    /// Everything this asks for, `other` asks for too.
    pub fn within(self, other: Interest) -> bool {
        (!self.read || other.read) && (!self.write || other.write)
    }
}

/// A descriptor that became ready for what it is watched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub fd: RawFd,
    pub readable: bool,
    pub writable: bool,
}

/// One watched descriptor.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// What the caller wants reported.
    wanted: Interest,
    /// What the kernel registration asks for. Wider than `wanted` only while a release
    /// waits for the next [`Reactor::flush`].
    armed: Interest,
    /// Tells this registration's events from those of an older one (see `token`).
    serial: u32,
}

impl Entry {
    fn lazy(&self) -> bool {
        self.armed != self.wanted
    }
}

/// An event's token: the descriptor in the low half, the registration's serial in the
/// high half. A registration whose file outlived its closed number (see `sys/epoll.rs`)
/// keeps its old serial, so its reports are recognised as stale instead of being taken
/// for the descriptor's current file.
fn token(fd: RawFd, serial: u32) -> u64 {
    (u64::from(serial) << 32) | u64::from(fd as u32)
}

#[derive(Default)]
struct Watched {
    entries: HashMap<RawFd, Entry>,
    /// Descriptors released since the last flush (some may have been reclaimed since).
    released: Vec<RawFd>,
    next_serial: u32,
}

impl Watched {
    fn serial(&mut self) -> u32 {
        self.next_serial = self.next_serial.wrapping_add(1);
        self.next_serial
    }
}

pub struct Reactor {
    poller: Poller,
    waker: Arc<Waker>,
    state: Mutex<Watched>,
    /// `entries.len()`, readable without the lock on every loop iteration.
    watched: AtomicUsize,
    /// Some registration was released since the last flush (checked without the lock).
    released: AtomicBool,
    /// The fork generation this reactor was made in (see `sys/fork.rs`).
    generation: u64,
}

impl Reactor {
    pub fn new() -> io::Result<Reactor> {
        let poller = Poller::new()?;
        let waker = Arc::new(Waker::new()?);
        poller.add(waker.as_raw_fd(), WAKER_TOKEN, true, false)?;
        Ok(Reactor {
            poller,
            waker,
            state: Mutex::new(Watched::default()),
            watched: AtomicUsize::new(0),
            released: AtomicBool::new(false),
            generation: fork_generation(),
        })
    }

    /// Whether this reactor was created before a `fork()` of this process: its epoll set is
    /// the parent's, so it must not be changed or waited on here.
    pub fn inherited(&self) -> bool {
        fork_generation() != self.generation
    }

    fn refuse_if_inherited(&self) -> io::Result<()> {
        if self.inherited() {
            return Err(io::Error::other(
                "this event loop was inherited across fork(); create a new one in the child",
            ));
        }
        Ok(())
    }

    pub fn waker(&self) -> &Arc<Waker> {
        &self.waker
    }

    /// Current interest of `fd` (empty when not watched).
    pub fn interest(&self, fd: RawFd) -> Interest {
        let st = self.state.lock();
        st.entries.get(&fd).map(|e| e.wanted).unwrap_or_default()
    }

    /// How many descriptors are watched (the waker not counted), including released ones
    /// the next flush drops.
    pub fn watched(&self) -> usize {
        self.watched.load(Ordering::Acquire)
    }

    fn count(&self, st: &Watched) {
        self.watched.store(st.entries.len(), Ordering::Release);
    }

    /// Register `fd` afresh under a new serial.
    fn add(&self, st: &mut Watched, fd: RawFd, interest: Interest) -> io::Result<()> {
        let serial = st.serial();
        self.poller
            .add(fd, token(fd, serial), interest.read, interest.write)?;
        let entry = Entry {
            wanted: interest,
            armed: interest,
            serial,
        };
        st.entries.insert(fd, entry);
        Ok(())
    }

    /// Watch `fd` for `interest`; an empty interest stops watching it. On error the
    /// recorded interest is left as it was, except that a descriptor found closed is
    /// forgotten.
    pub fn set_interest(&self, fd: RawFd, interest: Interest) -> io::Result<()> {
        self.refuse_if_inherited()?;
        let mut st = self.state.lock();
        let result = self.apply(&mut st, fd, interest);
        self.count(&st);
        result
    }

    fn apply(&self, st: &mut Watched, fd: RawFd, interest: Interest) -> io::Result<()> {
        let Some(entry) = st.entries.get(&fd).copied() else {
            return match interest.is_empty() {
                true => Ok(()),
                false => self.add(st, fd, interest),
            };
        };
        // A released descriptor may have been closed and its number reused since: only
        // the kernel knows, so a change to it always asks the kernel.
        if interest == entry.wanted && !entry.lazy() {
            return Ok(());
        }
        if interest.is_empty() {
            st.entries.remove(&fd);
            return self.poller.delete(fd);
        }
        match self
            .poller
            .modify(fd, token(fd, entry.serial), interest.read, interest.write)
        {
            Ok(()) => {
                st.entries.insert(
                    fd,
                    Entry {
                        wanted: interest,
                        armed: interest,
                        ..entry
                    },
                );
                Ok(())
            }
            // The number names a file the kernel has no registration for.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.add(st, fd, interest),
            Err(e) => {
                if e.raw_os_error() == Some(libc::EBADF) {
                    st.entries.remove(&fd);
                }
                Err(e)
            }
        }
    }

    /// Narrow the interest of `fd` to `interest` without a system call: its registration
    /// stays as it is until the next [`flush`](Self::flush), and events it reports
    /// meanwhile are not passed on. A watcher that is removed and re-added within one
    /// loop iteration (a `sock_recv` waited for again right after it was served) then
    /// costs no `epoll_ctl` at all. Widening is [`set_interest`](Self::set_interest).
    pub fn release(&self, fd: RawFd, interest: Interest) -> io::Result<()> {
        self.refuse_if_inherited()?;
        let mut st = self.state.lock();
        let Some(entry) = st.entries.get_mut(&fd) else {
            return Ok(());
        };
        if !interest.within(entry.wanted) {
            drop(st);
            return self.set_interest(fd, interest);
        }
        let was_lazy = entry.lazy();
        entry.wanted = interest;
        if entry.lazy() && !was_lazy {
            st.released.push(fd);
            self.released.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Watch `fd` for `interest` again after a [`release`](Self::release). The caller
    /// vouches that `fd` still names the file it named then (it holds the socket object
    /// and the socket was not closed): a registration that still asks for at least
    /// `interest` is then taken back as it is, with no system call.
    pub fn reclaim(&self, fd: RawFd, interest: Interest) -> io::Result<()> {
        self.refuse_if_inherited()?;
        let mut st = self.state.lock();
        if let Some(entry) = st.entries.get_mut(&fd) {
            if entry.lazy() && interest.within(entry.armed) && !interest.is_empty() {
                entry.wanted = interest;
                // Still lazy when it asks for less than armed: the flush narrows it.
                return Ok(());
            }
        }
        let result = self.apply(&mut st, fd, interest);
        self.count(&st);
        result
    }

    /// Bring every released registration in line with what is wanted of it: delete the
    /// ones nobody wants any more, narrow the rest. Errors are not reported: a
    /// descriptor closed since its release left the set by itself (or, if its file lives
    /// on elsewhere, is recognised as stale when it reports).
    pub fn flush(&self) {
        if !self.released.load(Ordering::Acquire) {
            return;
        }
        let mut st = self.state.lock();
        self.released.store(false, Ordering::Release);
        if st.released.is_empty() || self.inherited() {
            return;
        }
        let released = std::mem::take(&mut st.released);
        for fd in &released {
            let Some(entry) = st.entries.get(fd).copied() else {
                continue;
            };
            if !entry.lazy() {
                continue;
            }
            if entry.wanted.is_empty() {
                st.entries.remove(fd);
                let _ = self.poller.delete(*fd);
            } else {
                let (read, write) = (entry.wanted.read, entry.wanted.write);
                let _ = self
                    .poller
                    .modify(*fd, token(*fd, entry.serial), read, write);
                st.entries.insert(
                    *fd,
                    Entry {
                        armed: entry.wanted,
                        ..entry
                    },
                );
            }
        }
        st.released = released;
        st.released.clear();
        self.count(&st);
    }

    /// Replace the epoll instance with a fresh one holding exactly the registrations
    /// this reactor knows, each under a new serial: the only way to be rid of a stale
    /// registration (see `token`).
    fn rebuild(&self, st: &mut Watched) -> io::Result<()> {
        let fresh = Poller::new()?;
        fresh.add(self.waker.as_raw_fd(), WAKER_TOKEN, true, false)?;
        let fds: Vec<RawFd> = st.entries.keys().copied().collect();
        for fd in fds {
            let serial = st.serial();
            let Some(entry) = st.entries.get_mut(&fd) else {
                continue;
            };
            entry.serial = serial;
            let want = entry.armed;
            // A descriptor closed without being unwatched has nothing left to register.
            let _ = fresh.add(fd, token(fd, serial), want.read, want.write);
        }
        self.poller.replace(fresh)
    }

    /// Forget every descriptor (loop close); the descriptors themselves are not ours. In a
    /// forked child the shared epoll set is left as it is: it still serves the parent.
    pub fn clear(&self) {
        let inherited = self.inherited();
        let mut st = self.state.lock();
        for fd in st.entries.keys().filter(|_| !inherited) {
            // A descriptor closed behind our back is already gone from the set.
            let _ = self.poller.delete(*fd);
        }
        st.entries.clear();
        st.released.clear();
        self.watched.store(0, Ordering::Release);
    }

    /// Wait for readiness up to `timeout` seconds (`None`: no limit) and append to `out`
    /// each watched descriptor that is ready for what it is watched for. A wakeup from
    /// the waker ends the wait and is consumed here. Returns whether the waker fired.
    pub fn wait(
        &self,
        events: &mut Events,
        timeout: Option<f64>,
        out: &mut Vec<Readiness>,
    ) -> io::Result<bool> {
        self.refuse_if_inherited()?;
        self.flush();
        self.poller.wait(events, timeout)?;
        let mut woken = false;
        let mut stale = false;
        let mut st = self.state.lock();
        for ev in events.iter() {
            if ev.token == WAKER_TOKEN {
                woken = true;
                continue;
            }
            let fd = ev.token as u32 as RawFd;
            let serial = (ev.token >> 32) as u32;
            let entry = match st.entries.get(&fd) {
                Some(entry) if entry.serial == serial => entry,
                _ => {
                    stale = true;
                    continue;
                }
            };
            let readable = entry.wanted.read && (ev.readable || ev.error);
            let writable = entry.wanted.write && (ev.writable || ev.error);
            if readable || writable {
                out.push(Readiness {
                    fd,
                    readable,
                    writable,
                });
            }
        }
        if stale {
            // Level-triggered: left alone it would end every wait at once from now on.
            self.rebuild(&mut st)?;
        }
        drop(st);
        if woken {
            self.waker.reset();
        }
        Ok(woken)
    }
}
