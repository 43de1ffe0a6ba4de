//! Contexts (`contextvars`) entered and left without a Python-level call, and the
//! handle the watchdog reads as running.

use pyo3::ffi;
use pyo3::prelude::*;

/// `contextvars.copy_context()` without a Python-level call.
pub fn copy_context(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: the GIL is held (we have `py`); PyContext_CopyCurrent returns a new reference
    // or NULL with an exception set, which from_owned_ptr_or_err turns into a PyErr.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) }
}

/// `context.run(call)`: enter `context`, make the call, leave it, even when the call
/// raises. Entering a context that is already entered raises `RuntimeError`, as
/// `Context.run` does.
pub fn run_in_context<'py>(
    context: &Bound<'py, PyAny>,
    call: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = context.py();
    // SAFETY: the GIL is held; `context` is a live object for the whole call. The C API
    // checks that it is a Context and raises TypeError otherwise (returning -1).
    if unsafe { ffi::PyContext_Enter(context.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    let result = call();
    // SAFETY: the GIL is held and `context` was entered just above on this thread, and
    // every Enter inside the callback was balanced by its own Exit, so it is the current
    // context again and Exit succeeds.
    if unsafe { ffi::PyContext_Exit(context.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    result
}

/// The handle the loop thread is running now, as the watchdog thread reads it
/// (`ProbeState::current`).
///
/// With a GIL, the loop thread publishes only the address: a store per callback. The
/// watchdog reads it only with the GIL held, after `_probe_current` checked that the loop
/// is busy and that no callback started since (the progress count is unchanged).
/// Between two callbacks the loop thread runs Rust code that holds the GIL; so while the
/// watchdog holds the GIL and sees the loop busy with the same progress count, the loop
/// thread is inside the call of that very handle, and its run loop holds a strong
/// reference to it for the whole call.
///
/// Without a GIL nothing stops the loop thread from finishing that call and freeing the
/// handle under the reader: there the slot holds a strong reference, behind a lock.
#[derive(Default)]
pub struct PublishedHandle {
    #[cfg(not(Py_GIL_DISABLED))]
    address: std::sync::atomic::AtomicUsize,
    #[cfg(Py_GIL_DISABLED)]
    handle: parking_lot::Mutex<Option<Py<PyAny>>>,
}

impl PublishedHandle {
    /// The loop thread starts running `handle`.
    pub fn publish(&self, handle: &Bound<'_, PyAny>) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.address.store(
            handle.as_ptr() as usize,
            std::sync::atomic::Ordering::Relaxed,
        );
        #[cfg(Py_GIL_DISABLED)]
        {
            use pyo3::sync::MutexExt;
            let old = self
                .handle
                .lock_py_attached(handle.py())
                .replace(handle.clone().unbind());
            drop(old);
        }
    }

    /// The published handle, as a new reference (see the type's notes for when the
    /// caller may ask).
    pub fn get(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            let address = self.address.load(std::sync::atomic::Ordering::Relaxed);
            if address == 0 {
                return None;
            }
            // SAFETY: the handle the loop thread runs (see the type's notes), alive while
            // the GIL is held here; from_borrowed_ptr takes a reference of our own.
            Some(unsafe { Bound::from_borrowed_ptr(py, address as *mut ffi::PyObject) }.unbind())
        }
        #[cfg(Py_GIL_DISABLED)]
        {
            use pyo3::sync::MutexExt;
            let slot = self.handle.lock_py_attached(py);
            slot.as_ref().map(|h| h.clone_ref(py))
        }
    }
}
