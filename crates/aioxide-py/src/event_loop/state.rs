//! The loop's data types that its files share: the clock, the queues and watcher
//! tables behind one lock, a watcher and a parked watcher. A leaf: it imports no other
//! file of the loop.

use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;

use aioxide_core::{Clock, ManualClock, MonotonicClock, Scheduler};
use pyo3::prelude::*;

use super::handle::{HandleRef, PyHandle};

/// Which side of a descriptor a watcher watches.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Read,
    Write,
}

/// The loop's time source: the monotonic clock, or (for deterministic tests, like
/// asyncio's test `TestLoop`) a manual clock that only moves when told to; with it the
/// poller never sleeps.
pub enum LoopClock {
    Monotonic(MonotonicClock),
    Manual(ManualClock),
}

impl LoopClock {
    pub fn now(&self) -> f64 {
        match self {
            LoopClock::Monotonic(c) => c.now(),
            LoopClock::Manual(c) => c.now(),
        }
    }

    pub fn resolution(&self) -> f64 {
        match self {
            LoopClock::Monotonic(c) => c.resolution(),
            LoopClock::Manual(c) => c.resolution(),
        }
    }
}

pub struct LoopState {
    pub(super) sched: Scheduler<HandleRef>,
    pub(super) readers: HashMap<RawFd, Watch>,
    pub(super) writers: HashMap<RawFd, Watch>,
    /// An empty ready queue kept for its allocation (see `Scheduler::take_batch`).
    pub(super) spare: VecDeque<HandleRef>,
    /// Watchers the native `sock_*` paths removed this iteration whose registrations
    /// wait for the end of it (see `PyLoopCore::park_watcher_fd`).
    pub(super) parked: Vec<Parked>,
    /// Handles that ran and that nothing else refers to, emptied, for `call_soon` to
    /// fill again instead of allocating (see `HandleRef::recycle`).
    pub(super) reusable: Vec<Py<PyHandle>>,
}

/// A watcher of one side of a descriptor: its handle, and the object it was asked to
/// watch when that was not a plain number. Like a selector's key, the object is kept so
/// that removing the watcher still finds it by identity once the object has no valid
/// `fileno()` any more (a socket closed while watched).
pub struct Watch {
    pub(super) handle: Py<PyHandle>,
    pub(super) fileobj: Option<Py<PyAny>>,
}

/// A parked watcher: its descriptor and side, and the socket object whose being the
/// same (and still open) shows the descriptor still names the same file.
pub struct Parked {
    pub(super) fd: RawFd,
    pub(super) side: Side,
    pub(super) sock: Py<PyAny>,
}
