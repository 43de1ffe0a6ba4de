//! The queue of a datagram transport: messages the kernel refused for now, kept whole
//! and in order, counted in bytes against asyncio's water marks. Generic over the
//! message (the bindings keep `(bytes, address)` objects), so the rules are tested
//! with plain values.

use std::collections::VecDeque;

use super::{Flow, FlowEvent, WaterMarks};

#[derive(Debug)]
pub struct DatagramQueue<T> {
    items: VecDeque<(T, usize)>,
    /// The bytes queued: asyncio's `_buffer_size`.
    size: usize,
    flow: Flow,
}

impl<T> DatagramQueue<T> {
    pub fn new(marks: WaterMarks) -> DatagramQueue<T> {
        DatagramQueue {
            items: VecDeque::new(),
            size: 0,
            flow: Flow::new(marks),
        }
    }

    /// The bytes queued.
    pub fn len(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queue a message of `size` bytes: `Pause` once above the high-water mark.
    pub fn push(&mut self, item: T, size: usize) -> FlowEvent {
        self.items.push_back((item, size));
        self.size += size;
        self.flow.grew(self.size)
    }

    /// The next message to send, taken off the queue; the flush ends with `settle`.
    pub fn pop(&mut self) -> Option<T> {
        let (item, size) = self.items.pop_front()?;
        self.size -= size;
        Some(item)
    }

    /// Put back a message the kernel refused, at the head, as it was.
    pub fn unpop(&mut self, item: T, size: usize) {
        self.items.push_front((item, size));
        self.size += size;
    }

    /// After a flush: `Resume` once at the low-water mark or below.
    pub fn settle(&mut self) -> FlowEvent {
        self.flow.shrank(self.size)
    }

    /// Everything queued, taken out (for the caller to drop or visit).
    pub fn take(&mut self) -> Vec<T> {
        self.size = 0;
        self.items.drain(..).map(|(item, _)| item).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter().map(|(item, _)| item)
    }
}

super::write_buffer::buffered_by_fields!(impl<T> for DatagramQueue<T>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Buffered;

    fn queue(high: usize, low: usize) -> DatagramQueue<&'static str> {
        DatagramQueue::new(WaterMarks { high, low })
    }

    #[test]
    fn messages_leave_whole_and_in_order() {
        let mut q = queue(100, 10);
        q.push("a", 3);
        q.push("bb", 5);
        assert_eq!(q.len(), 8);
        assert_eq!(q.pop(), Some("a"));
        q.unpop("a", 3);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), ["a", "bb"]);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some("a"), Some("bb"), None));
        assert_eq!(q.len(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn pauses_above_high_and_resumes_at_low_after_a_flush() {
        let mut q = queue(10, 4);
        assert_eq!(
            q.push("x", 10),
            FlowEvent::None,
            "at the mark is not above it"
        );
        assert_eq!(q.push("y", 1), FlowEvent::Pause);
        assert_eq!(q.push("z", 5), FlowEvent::None, "paused once");
        assert!(q.is_paused());
        q.pop();
        q.pop();
        assert_eq!(q.settle(), FlowEvent::None, "5 bytes left, above low");
        q.pop();
        assert_eq!(q.settle(), FlowEvent::Resume);
        assert!(!q.is_paused());
    }

    #[test]
    fn new_marks_apply_to_what_is_queued() {
        let mut q = queue(100, 10);
        q.push("m", 50);
        assert_eq!(
            q.set_marks(WaterMarks { high: 20, low: 5 }),
            FlowEvent::Pause
        );
        assert_eq!(q.take(), ["m"]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.settle(), FlowEvent::Resume);
    }
}
