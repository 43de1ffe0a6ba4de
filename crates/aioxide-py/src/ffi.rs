//! The few CPython C-API calls pyo3 has no safe wrapper for. Every `unsafe` block of this
//! crate is here.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// `contextvars.copy_context()` without a Python-level call.
pub fn copy_context(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: the GIL is held (we have `py`); PyContext_CopyCurrent returns a new reference
    // or NULL with an exception set, which from_owned_ptr_or_err turns into a PyErr.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) }
}

/// `context.run(callback, *args)`: enter `context`, call, leave it, even when the call
/// raises. Entering a context that is already entered raises `RuntimeError`, as
/// `Context.run` does.
pub fn run_in_context<'py>(
    context: &Bound<'py, PyAny>,
    callback: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = context.py();
    // SAFETY: the GIL is held; `context` is a live object for the whole call. The C API
    // checks that it is a Context and raises TypeError otherwise (returning -1).
    if unsafe { ffi::PyContext_Enter(context.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    let result = if args.is_empty() {
        callback.call0()
    } else {
        callback.call1(args)
    };
    // SAFETY: the GIL is held and `context` was entered just above on this thread, and
    // every Enter inside the callback was balanced by its own Exit, so it is the current
    // context again and Exit succeeds.
    if unsafe { ffi::PyContext_Exit(context.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    result
}

/// `callable(*args, **dict(zip(kwnames, kwargs)))` through vectorcall, without building
/// a keyword dict: `asyncio.Future(loop=...)` and `asyncio.Task(...)` on the hot path.
pub fn call_with_keywords<'py>(
    callable: &Bound<'py, PyAny>,
    args: &[&Bound<'py, PyAny>],
    kwnames: &Bound<'py, PyTuple>,
    kwargs: &[&Bound<'py, PyAny>],
) -> PyResult<Bound<'py, PyAny>> {
    let py = callable.py();
    assert_eq!(kwnames.len(), kwargs.len(), "one value per keyword name");
    const MAX: usize = 8;
    assert!(args.len() + kwargs.len() <= MAX, "at most {MAX} arguments");
    let mut ptrs = [std::ptr::null_mut::<ffi::PyObject>(); MAX];
    for (slot, arg) in ptrs.iter_mut().zip(args.iter().chain(kwargs.iter())) {
        *slot = arg.as_ptr();
    }
    // SAFETY: GIL held; `ptrs` borrows objects `args`/`kwargs` keep alive for the call; the
    // first `args.len()` are positional, the rest match `kwnames` (a tuple of str) as
    // vectorcall requires; the result is a new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyObject_Vectorcall(
                callable.as_ptr(),
                ptrs.as_ptr(),
                args.len(),
                kwnames.as_ptr(),
            ),
        )
    }
}

/// The handle whose address the loop thread published as "running now"
/// (`WatchState::current`), as a new reference.
///
/// Only called, with the GIL held, by `_watch_current` after it checked that the loop is
/// busy and that no callback started since (the progress count is unchanged). Between two
/// callbacks the loop thread runs Rust code that holds the GIL; so while this thread holds
/// the GIL and sees the loop busy with the same progress count, the loop thread is inside
/// the call of that very handle, and its run loop holds a strong reference to it for the
/// whole call.
pub fn published_handle(py: Python<'_>, address: usize) -> Option<PyObject> {
    if address == 0 {
        return None;
    }
    let ptr = address as *mut ffi::PyObject;
    // SAFETY: see above: `ptr` is the handle being run by the loop thread, kept alive by
    // the run loop's reference while the GIL is held here; from_borrowed_ptr increments
    // its reference count, so the returned object stays valid after the GIL is released.
    Some(unsafe { Bound::from_borrowed_ptr(py, ptr) }.unbind())
}

/// Run `fill` on the writable bytes of `obj`'s buffer (a `bytearray`, a writable
/// `memoryview`, ...), as `socket.recv_into` sees them. An object without a writable
/// contiguous buffer raises what `PyObject_GetBuffer` raises (`TypeError`/`BufferError`).
pub fn with_writable_buffer<R>(
    obj: &Bound<'_, PyAny>,
    fill: impl FnOnce(&mut [u8]) -> R,
) -> PyResult<R> {
    let py = obj.py();
    let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
    // SAFETY: the GIL is held and `obj` is alive; `view` is storage for one Py_buffer that
    // GetBuffer fills in on success (return 0) and leaves untouched on failure.
    // PyBUF_WRITABLE without shape/strides flags asks for one writable contiguous block.
    if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_WRITABLE) } != 0
    {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: GetBuffer succeeded, so `view` is initialised.
    let mut view = unsafe { view.assume_init() };
    let len = usize::try_from(view.len).unwrap_or(0);
    let result = if len == 0 || view.buf.is_null() {
        fill(&mut [])
    } else {
        // SAFETY: the exporter guarantees `len` writable contiguous bytes at `buf` until
        // the buffer is released below; nothing else touches them meanwhile because the
        // GIL stays held and `fill` makes no Python call.
        fill(unsafe { std::slice::from_raw_parts_mut(view.buf.cast::<u8>(), len) })
    };
    // SAFETY: `view` was filled by a successful GetBuffer and is released exactly once.
    unsafe { ffi::PyBuffer_Release(&mut view) };
    Ok(result)
}
