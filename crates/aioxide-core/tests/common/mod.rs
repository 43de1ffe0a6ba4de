//! A test payload: a label and a shared cancellation flag.

use std::cell::Cell;
use std::rc::Rc;

use aioxide_core::Cancellable;

#[derive(Clone, Debug)]
pub struct Job {
    pub label: &'static str,
    pub cancelled: Rc<Cell<bool>>,
    pub unscheduled: Rc<Cell<u32>>,
}

impl Job {
    pub fn new(label: &'static str) -> Job {
        Job {
            label,
            cancelled: Rc::new(Cell::new(false)),
            unscheduled: Rc::new(Cell::new(0)),
        }
    }
}

impl Cancellable for Job {
    fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }
    fn unscheduled(&self) {
        self.unscheduled.set(self.unscheduled.get() + 1);
    }
}

pub fn labels(items: impl IntoIterator<Item = Job>) -> Vec<&'static str> {
    items.into_iter().map(|j| j.label).collect()
}
