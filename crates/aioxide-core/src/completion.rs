//! A queue that worker threads push results into and the loop thread drains.
//!
//! Each push wakes the loop's reactor through its [`Waker`], which coalesces: a burst of
//! pushes while the loop is busy costs one eventfd write.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::sys::Waker;

pub struct CompletionQueue<T> {
    items: Mutex<Vec<T>>,
    waker: Arc<Waker>,
}

impl<T> CompletionQueue<T> {
    pub fn new(waker: Arc<Waker>) -> Self {
        CompletionQueue {
            items: Mutex::new(Vec::new()),
            waker,
        }
    }

    /// Hand an item to the loop thread and wake it.
    pub fn push(&self, item: T) -> std::io::Result<()> {
        self.items.lock().push(item);
        self.waker.wake()
    }

    /// Move every queued item, in push order, into `out`.
    pub fn drain_into(&self, out: &mut Vec<T>) {
        out.append(&mut self.items.lock());
    }

    pub fn is_empty(&self) -> bool {
        self.items.lock().is_empty()
    }
}
