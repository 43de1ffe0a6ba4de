//! `GilCell`: state shared between threads by holding the GIL.

use pyo3::prelude::*;

/// A value that threads share by holding the GIL, as the loop's queues and a handle's
/// references are: on an interpreter with a GIL, holding it (having a `Python` token)
/// already serializes every access, so the cell is a `RefCell` and takes no atomic
/// operation (a mutex's lock and unlock cost about 17 ns on the machines we measure on,
/// a `RefCell` borrow 2 ns). As with a mutex, a borrow must not be held across a call
/// into Python: another thread that takes the GIL meanwhile would find the cell borrowed
/// and panic (pyo3 turns that into `PanicException`), where a mutex would deadlock.
/// Free-threaded builds have no GIL: there the cell is a mutex, and a thread that must
/// wait for it detaches from the interpreter while it waits, so that a stop-the-world
/// pause (a collection, `sys.settrace`, a fork) never waits on a thread that waits on
/// the cell's holder, which may itself be stopped.
pub struct GilCell<T> {
    #[cfg(not(Py_GIL_DISABLED))]
    inner: std::cell::RefCell<T>,
    #[cfg(Py_GIL_DISABLED)]
    inner: parking_lot::Mutex<T>,
}

// SAFETY: every access to the value (and to the RefCell's borrow flag) goes through
// `borrow_mut`, which takes a `Python` token, so the calling thread holds the GIL; the
// GIL's hand-over from one thread to the next orders their accesses (a release and an
// acquire), so no two threads touch the cell at once. A `RefMut` cannot move to another
// thread (it is not `Send`), nor into a `Python::detach` closure (which must be `Send`).
// `T: Send` because the value is used and dropped by whichever thread holds the GIL.
#[cfg(not(Py_GIL_DISABLED))]
unsafe impl<T: Send> Sync for GilCell<T> {}

/// What [`GilCell::borrow_mut`] returns.
#[cfg(not(Py_GIL_DISABLED))]
pub type GilRef<'a, T> = std::cell::RefMut<'a, T>;
#[cfg(Py_GIL_DISABLED)]
pub type GilRef<'a, T> = parking_lot::MutexGuard<'a, T>;

impl<T> GilCell<T> {
    pub fn new(value: T) -> Self {
        GilCell {
            inner: value.into(),
        }
    }

    /// The value, borrowed while the GIL is held (see the type's notes).
    pub fn borrow_mut<'a>(&'a self, _py: Python<'_>) -> GilRef<'a, T> {
        #[cfg(not(Py_GIL_DISABLED))]
        return self.inner.borrow_mut();
        #[cfg(Py_GIL_DISABLED)]
        return pyo3::sync::MutexExt::lock_py_attached(&self.inner, _py);
    }

    /// The value, or `None` when it is borrowed right now.
    pub fn try_borrow_mut<'a>(&'a self, _py: Python<'_>) -> Option<GilRef<'a, T>> {
        #[cfg(not(Py_GIL_DISABLED))]
        return self.inner.try_borrow_mut().ok();
        #[cfg(Py_GIL_DISABLED)]
        return self.inner.try_lock();
    }

    /// The value, through the only reference there is (a drop, say).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// The value for a garbage-collector traversal, which runs with the GIL held but
    /// without a `Python` token (the visitor stands for it), or `None` when it is
    /// borrowed right now (a collection started by an allocation made during a borrow):
    /// the traversal then reports nothing, as it did with `try_lock`.
    pub fn traverse_borrow<'a>(&'a self, _visit: &pyo3::PyVisit<'_>) -> Option<GilRef<'a, T>> {
        #[cfg(not(Py_GIL_DISABLED))]
        return self.inner.try_borrow_mut().ok();
        #[cfg(Py_GIL_DISABLED)]
        return self.inner.try_lock();
    }
}
