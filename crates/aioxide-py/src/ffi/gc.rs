//! What the collector and the reference count say of an object: tracking, sole
//! references, weak references (the queues' `HandleRef` and handle reuse).

use pyo3::ffi;
use pyo3::prelude::*;

/// How the collector sees an object a loop queue refers to (see `HandleRef`).
pub enum GcShare {
    /// The collector tracks it: the queue reports its reference to the object itself.
    Tracked,
    /// Untracked, and the queue's reference is the only one: the queue reports the
    /// object's own references, as if it held them itself.
    Sole,
    /// Untracked and referred to from elsewhere too: nothing is reported (the collector
    /// then counts the object's references as coming from outside, which keeps what it
    /// refers to alive until the queue lets it go and it is tracked again).
    Shared,
}

/// Take a new object off the collector's lists (a handle about to be queued).
pub fn gc_untrack(obj: &Bound<'_, PyAny>) {
    // SAFETY: the GIL is held (`obj` is bound) and `obj` is live; untracking an object of
    // a GC type is always allowed (a no-op when it is not tracked).
    unsafe { ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) }
}

/// [`GcShare`] of `obj`, read during a traversal (which runs with the GIL held).
pub fn gc_share<T>(obj: &Py<T>, _visit: &pyo3::PyVisit<'_>) -> GcShare {
    let p = obj.as_ptr();
    // SAFETY: collections run with the GIL held, so nothing changes the object's count or
    // tracking state under us; `obj` is a live reference.
    let (tracked, count) = unsafe { (ffi::PyObject_GC_IsTracked(p) != 0, ffi::Py_REFCNT(p)) };
    match (tracked, count) {
        (true, _) => GcShare::Tracked,
        (false, 1) => GcShare::Sole,
        (false, _) => GcShare::Shared,
    }
}

/// A queue is about to drop its reference to `obj`: if the object is untracked and still
/// referred to from elsewhere, hand it back to the collector, so that a cycle through it
/// can be found again.
///
/// Called only with the GIL held: the references live in the loop's `GilCell` state and
/// whoever takes them out holds a `Python` token (see `HandleRef`).
pub fn gc_track_if_shared<T>(obj: &Py<T>) {
    let p = obj.as_ptr();
    // SAFETY: `obj` is live, and the GIL is held (see above), so the reads do not race.
    // Tracking needs the GIL: checked once more before, and it is only done for an object
    // that is not tracked (tracking a tracked object aborts the interpreter).
    unsafe {
        if ffi::PyObject_GC_IsTracked(p) == 0
            && ffi::Py_REFCNT(p) > 1
            && ffi::PyGILState_Check() != 0
        {
            ffi::PyObject_GC_Track(p.cast());
        }
    }
}

/// Whether the collector tracks `obj`.
pub fn is_tracked(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: the GIL is held (`obj` is bound) and `obj` is live.
    unsafe { ffi::PyObject_GC_IsTracked(obj.as_ptr()) != 0 }
}

/// Whether some weak reference to `obj` exists (its type's weak-reference list is not
/// empty); false for types without one. Without a GIL another thread may be adding one
/// right now, unless it has no reference to make it from: callers ask
/// [`is_sole_reference`] first.
pub fn has_weakrefs(obj: &Bound<'_, PyAny>) -> bool {
    // A positive `tp_weaklistoffset` is where, in every instance, the pointer to the
    // list of its weak references sits (NULL when there are none).
    // SAFETY: attached, and `obj` is live, so its type is; racy only without a GIL (above).
    unsafe {
        let offset = (*ffi::Py_TYPE(obj.as_ptr())).tp_weaklistoffset;
        if offset <= 0 {
            return false;
        }
        let list = obj
            .as_ptr()
            .cast::<u8>()
            .offset(offset)
            .cast::<*mut ffi::PyObject>();
        !(*list).is_null()
    }
}

/// Whether `obj` is the only reference to its object.
pub fn is_sole_reference<T>(obj: &Py<T>, _py: Python<'_>) -> bool {
    #[cfg(not(Py_GIL_DISABLED))]
    // SAFETY: the GIL is held (we have `py`) and `obj` is live.
    return unsafe { ffi::Py_REFCNT(obj.as_ptr()) == 1 };
    // Free-threaded objects split their count between the owning thread and the rest,
    // so `Py_REFCNT == 1` does not say "sole": the interpreter is asked, atomically.
    #[cfg(Py_GIL_DISABLED)]
    // SAFETY: the thread is attached (we have `py`) and `obj` is live.
    return unsafe { ffi::PyUnstable_Object_IsUniquelyReferenced(obj.as_ptr()) != 0 };
}
