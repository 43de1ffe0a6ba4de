//! What the last poll reported that may still hold.
//!
//! Watches are level-triggered: a descriptor the last poll reported ready is reported
//! again by the next one until it is drained, and epoll rings no bell for it (see
//! `Reactor::quiet`). So an iteration may skip its zero-timeout poll only when every
//! reported descriptor's callback has said it drained its side: a native reader whose
//! read came back short. Python callbacks say nothing, so their descriptors always get
//! the next poll, as in asyncio.

use std::os::fd::RawFd;

use crate::watchers::Side;

/// Past this many reports in one poll, they are not tracked: the next poll happens.
const TRACKED: usize = 64;

#[derive(Default)]
pub struct Reported {
    open: Vec<(RawFd, Side)>,
    untracked: bool,
}

impl Reported {
    /// A new poll: forget what the previous one reported.
    pub fn reset(&mut self) {
        self.open.clear();
        self.untracked = false;
    }

    pub fn add(&mut self, fd: RawFd, side: Side) {
        if self.open.len() < TRACKED {
            self.open.push((fd, side));
        } else {
            self.untracked = true;
        }
    }

    /// `side` of `fd` was drained by its callback.
    pub fn settle(&mut self, fd: RawFd, side: Side) {
        if let Some(at) = self.open.iter().position(|&r| r == (fd, side)) {
            self.open.swap_remove(at);
        }
    }

    /// Nothing the last poll reported can still be ready.
    pub fn all_settled(&self) -> bool {
        self.open.is_empty() && !self.untracked
    }
}
