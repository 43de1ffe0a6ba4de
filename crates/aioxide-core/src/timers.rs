//! The timer heap.
//!
//! A binary min-heap ordered by (deadline, sequence number): equal deadlines fire in the
//! order they were scheduled, and a negative delay is just an early deadline.
//!
//! Cancellation is lazy, as in asyncio: a cancelled timer stays in the heap and is
//! dropped when it reaches the top. The owner reports each cancellation of a scheduled
//! timer with [`Timers::note_cancelled`]; once more than 100 timers are scheduled and
//! over half of them are cancelled, the heap is rebuilt without them (O(n)), which bounds
//! the memory held by dead timers to about twice the live ones.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Below this many scheduled timers the heap is never compacted.
pub const MIN_SCHEDULED_FOR_COMPACTION: usize = 100;

/// A payload that can be cancelled after being scheduled.
pub trait Cancellable {
    fn is_cancelled(&self) -> bool;
    /// Called once when the payload leaves the heap (fired, dropped or compacted away).
    fn unscheduled(&self) {}
}

struct Entry<T> {
    when: f64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    // Reversed so that std's max-heap pops the earliest deadline first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .when
            .total_cmp(&self.when)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Where a NaN deadline sits in the heap: first, due at once.
fn heap_deadline(when: f64) -> f64 {
    if when.is_nan() {
        f64::NEG_INFINITY
    } else {
        when
    }
}

/// What one `pop_due` moved out, to tell later whether a given timer left the heap
/// without looking at every timer then (see [`Timers::pop_due`]).
#[derive(Clone, Copy, Debug)]
pub struct DueMark {
    end_time: f64,
    next_seq: u64,
}

impl Default for DueMark {
    fn default() -> Self {
        DueMark {
            end_time: f64::NEG_INFINITY,
            next_seq: 0,
        }
    }
}

impl DueMark {
    /// Whether the timer pushed with deadline `when` as number `seq` was moved out by the
    /// `pop_due` this mark describes (or by an earlier one).
    pub fn moved(&self, when: f64, seq: u64) -> bool {
        seq < self.next_seq && heap_deadline(when) < self.end_time
    }
}

/// Timers ordered by deadline, with lazy cancellation.
pub struct Timers<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
    cancelled: usize,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            next_seq: 0,
            cancelled: 0,
        }
    }
}

impl<T: Cancellable> Timers<T> {
    /// Schedule `item` at `when`. A NaN deadline is due at once (it compares as earlier
    /// than any other), which is what asyncio ends up doing with it.
    /// Returns the timer's sequence number (see [`Timers::moved_by`]).
    pub fn push(&mut self, when: f64, item: T) -> u64 {
        let when = heap_deadline(when);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { when, seq, item });
        seq
    }

    /// The mark a `pop_due(end_time, ..)` leaves: every timer in the heap then (sequence
    /// number below the mark's) with a deadline before `end_time` was moved out.
    pub fn due_mark(&self, end_time: f64) -> DueMark {
        DueMark {
            end_time,
            next_seq: self.next_seq,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// How many scheduled timers are known to be cancelled.
    pub fn cancelled_count(&self) -> usize {
        self.cancelled
    }

    /// Record that one scheduled timer was cancelled.
    pub fn note_cancelled(&mut self) {
        self.cancelled += 1;
    }

    /// Drop cancelled timers: all of them when they dominate the heap, else those on top.
    /// Returns the dropped payloads so the caller can release them outside its locks.
    pub fn prune(&mut self, dropped: &mut Vec<T>) {
        let n = self.heap.len();
        if n > MIN_SCHEDULED_FOR_COMPACTION && self.cancelled * 2 > n {
            let entries = std::mem::take(&mut self.heap).into_vec();
            let mut live = Vec::with_capacity(n - self.cancelled.min(n));
            for e in entries {
                if e.item.is_cancelled() {
                    e.item.unscheduled();
                    dropped.push(e.item);
                } else {
                    live.push(e);
                }
            }
            self.heap = BinaryHeap::from(live);
            self.cancelled = 0;
        } else {
            while self.heap.peek().is_some_and(|e| e.item.is_cancelled()) {
                let e = self.heap.pop().expect("peeked");
                self.cancelled = self.cancelled.saturating_sub(1);
                e.item.unscheduled();
                dropped.push(e.item);
            }
        }
    }

    /// Deadline of the earliest timer, cancelled or not.
    pub fn next_deadline(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.when)
    }

    /// Move every timer due before `end_time` into `ready`, in deadline order, cancelled
    /// or not, without looking at them: the consumer calls `unscheduled` on each as it
    /// reaches it, and reports a cancelled one counted by `note_cancelled` with
    /// [`Timers::forget_cancelled`]. (Looking here would touch every payload twice when
    /// many timers are due at once, and a payload is a cache miss.) Returns the deadline
    /// of the earliest timer moved (how late it runs is the loop's lag).
    pub fn pop_due(&mut self, end_time: f64, ready: &mut impl Extend<T>) -> Option<f64> {
        let mut earliest = None;
        while self.heap.peek().is_some_and(|e| e.when < end_time) {
            let e = self.heap.pop().expect("peeked");
            earliest.get_or_insert(e.when);
            ready.extend(std::iter::once(e.item));
        }
        earliest
    }

    /// A cancelled timer that `note_cancelled` counted has left the heap by `pop_due`.
    pub fn forget_cancelled(&mut self) {
        self.cancelled = self.cancelled.saturating_sub(1);
    }

    /// Remove every timer, returning the payloads.
    pub fn drain(&mut self) -> Vec<T> {
        self.cancelled = 0;
        let items: Vec<T> = std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .map(|e| e.item)
            .collect();
        for item in &items {
            item.unscheduled();
        }
        items
    }

    /// Visit every payload (for garbage-collector traversal).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.heap.iter().map(|e| &e.item)
    }
}
