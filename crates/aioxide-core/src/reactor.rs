//! The reactor: which descriptors the loop watches, and waiting for them.
//!
//! It keeps the interest set of every watched descriptor so that callers can add or
//! drop a reader or a writer independently (asyncio's `add_reader` / `remove_writer`),
//! and it folds the cross-thread [`Waker`] into the wait so callers only see descriptors.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
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
}

/// A descriptor that became ready for what it is watched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub fd: RawFd,
    pub readable: bool,
    pub writable: bool,
}

pub struct Reactor {
    poller: Poller,
    waker: Arc<Waker>,
    interests: Mutex<HashMap<RawFd, Interest>>,
    /// `interests.len()`, readable without the lock on every loop iteration.
    watched: AtomicUsize,
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
            interests: Mutex::new(HashMap::new()),
            watched: AtomicUsize::new(0),
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
        self.interests.lock().get(&fd).copied().unwrap_or_default()
    }

    /// How many descriptors are watched (the waker not counted).
    pub fn watched(&self) -> usize {
        self.watched.load(Ordering::Acquire)
    }

    /// Watch `fd` for `interest`; an empty interest stops watching it. On error the
    /// recorded interest is left as it was.
    pub fn set_interest(&self, fd: RawFd, interest: Interest) -> io::Result<()> {
        self.refuse_if_inherited()?;
        let mut map = self.interests.lock();
        let old = map.get(&fd).copied().unwrap_or_default();
        if old == interest {
            return Ok(());
        }
        if interest.is_empty() {
            self.poller.delete(fd)?;
            map.remove(&fd);
            self.watched.store(map.len(), Ordering::Release);
        } else {
            if old.is_empty() {
                self.poller
                    .add(fd, fd as u64, interest.read, interest.write)?;
            } else {
                self.poller
                    .modify(fd, fd as u64, interest.read, interest.write)?;
            }
            map.insert(fd, interest);
            self.watched.store(map.len(), Ordering::Release);
        }
        Ok(())
    }

    /// Forget every descriptor (loop close); the descriptors themselves are not ours. In a
    /// forked child the shared epoll set is left as it is: it still serves the parent.
    pub fn clear(&self) {
        let inherited = self.inherited();
        let mut map = self.interests.lock();
        for fd in map.keys().filter(|_| !inherited) {
            // A descriptor closed behind our back is already gone from the set.
            let _ = self.poller.delete(*fd);
        }
        map.clear();
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
        self.poller.wait(events, timeout)?;
        let mut woken = false;
        let map = self.interests.lock();
        for ev in events.iter() {
            if ev.token == WAKER_TOKEN {
                woken = true;
                continue;
            }
            let fd = ev.token as RawFd;
            let Some(interest) = map.get(&fd) else {
                continue;
            };
            let readable = interest.read && (ev.readable || ev.error);
            let writable = interest.write && (ev.writable || ev.error);
            if readable || writable {
                out.push(Readiness {
                    fd,
                    readable,
                    writable,
                });
            }
        }
        drop(map);
        if woken {
            self.waker.reset();
        }
        Ok(woken)
    }
}
