//! asyncio's `_run_once` bookkeeping: what is ready, what is due, how long to sleep.

use std::collections::VecDeque;

use crate::timers::{Cancellable, DueMark, Timers};

/// Longest single sleep in the poller, as asyncio's `MAXIMUM_SELECT_TIMEOUT` (one day).
pub const MAX_POLL_TIMEOUT: f64 = 24.0 * 3600.0;

/// The ready queue and the timers of one loop.
pub struct Scheduler<T> {
    ready: VecDeque<T>,
    pub timers: Timers<T>,
    due_mark: DueMark,
}

impl<T> Default for Scheduler<T> {
    fn default() -> Self {
        Scheduler {
            ready: VecDeque::new(),
            timers: Timers::default(),
            due_mark: DueMark::default(),
        }
    }
}

impl<T: Cancellable> Scheduler<T> {
    pub fn push_ready(&mut self, item: T) {
        self.ready.push_back(item);
    }

    /// Returns the timer's sequence number (see `Timers::due_mark`).
    pub fn push_timer(&mut self, when: f64, item: T) -> u64 {
        self.timers.push(when, item)
    }

    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// How long the poller may sleep: `Some(0.0)` when work is ready (or `stopping`),
    /// the time to the next live timer, or `None` to sleep until an event.
    /// Cancelled timers at the top are pruned first and handed back in `dropped`.
    pub fn poll_timeout(&mut self, now: f64, stopping: bool, dropped: &mut Vec<T>) -> Option<f64> {
        self.poll_timeout_with(|| now, stopping, dropped)
    }

    /// `poll_timeout` reading the clock only when a timer decides the answer.
    pub fn poll_timeout_with(
        &mut self,
        now: impl FnOnce() -> f64,
        stopping: bool,
        dropped: &mut Vec<T>,
    ) -> Option<f64> {
        self.timers.prune(dropped);
        if !self.ready.is_empty() || stopping {
            return Some(0.0);
        }
        self.timers
            .next_deadline()
            .map(|when| (when - now()).clamp(0.0, MAX_POLL_TIMEOUT))
    }

    /// Move timers due before `end_time` to the ready queue (cancelled ones too, see
    /// [`Timers::pop_due`]); returns the deadline of the earliest one moved. Records the
    /// mark of what it moved (see `due_mark`).
    pub fn collect_due(&mut self, end_time: f64) -> Option<f64> {
        self.due_mark = self.timers.due_mark(end_time);
        self.timers.pop_due(end_time, &mut self.ready)
    }

    /// `collect_due` reading the clock only when there are timers; returns the end time
    /// used and the earliest deadline moved.
    pub fn collect_due_with(&mut self, end_time: impl FnOnce() -> f64) -> Option<(f64, f64)> {
        if self.timers.is_empty() {
            return None;
        }
        let end = end_time();
        self.collect_due(end).map(|when| (end, when))
    }

    /// What the last `collect_due` moved out of the heap (see `Timers::due_mark`).
    pub fn due_mark(&self) -> DueMark {
        self.due_mark
    }

    /// Take every callback that is ready now, leaving an empty queue for callbacks that
    /// these schedule. `spare` is an empty queue to reuse (its allocation is kept).
    pub fn take_batch(&mut self, spare: VecDeque<T>) -> VecDeque<T> {
        std::mem::replace(&mut self.ready, spare)
    }

    /// Put back what a batch did not run (an exception stopped it), ahead of anything
    /// scheduled since, so the next run resumes in order.
    pub fn restore_unrun(&mut self, mut unrun: VecDeque<T>) {
        unrun.append(&mut self.ready);
        self.ready = unrun;
    }

    /// Remove everything (loop close).
    pub fn drain(&mut self) -> Vec<T> {
        let mut all: Vec<T> = self.ready.drain(..).collect();
        // Due timers moved here by `collect_due` are still marked scheduled.
        for item in &all {
            item.unscheduled();
        }
        all.extend(self.timers.drain());
        all
    }

    pub fn iter_ready(&self) -> impl Iterator<Item = &T> {
        self.ready.iter()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.ready.iter().chain(self.timers.iter())
    }
}
