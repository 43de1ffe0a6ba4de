//! The few CPython C-API calls pyo3 has no safe wrapper for. Every `unsafe` block of this
//! crate is here.

use std::mem::MaybeUninit;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use aioxide_core::fs::RawBuf;

// CPython exports `_PyBytes_Resize` (outside the limited API; the stable way to shrink a
// bytes object nobody else has seen yet). pyo3 stopped declaring it in 0.29.
unsafe extern "C" {
    fn _PyBytes_Resize(
        bytes: *mut *mut ffi::PyObject,
        size: ffi::Py_ssize_t,
    ) -> std::os::raw::c_int;
}

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

/// The handle whose address the loop thread published as "running now"
/// (`WatchState::current`), as a new reference.
///
/// Only called, with the GIL held, by `_watch_current` after it checked that the loop is
/// busy and that no callback started since (the progress count is unchanged). Between two
/// callbacks the loop thread runs Rust code that holds the GIL; so while this thread holds
/// the GIL and sees the loop busy with the same progress count, the loop thread is inside
/// the call of that very handle, and its run loop holds a strong reference to it for the
/// whole call.
pub fn published_handle(py: Python<'_>, address: usize) -> Option<Py<PyAny>> {
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

/// A new `bytes` object of `len` bytes whose content the caller fills before anyone else
/// sees the object, and the buffer the fs engine fills it through.
pub fn bytes_for_filling(py: Python<'_>, len: usize) -> PyResult<(Py<PyBytes>, RawBuf)> {
    let size = ffi::Py_ssize_t::try_from(len)
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("read size too large"))?;
    // SAFETY: a NULL source asks CPython for an uninitialised bytes object of `size`
    // bytes; the GIL is held. A NULL result means MemoryError is set.
    let ptr = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), size) };
    if ptr.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `ptr` is a new (owned) reference to a bytes object, so the unchecked
    // downcast to PyBytes is exact.
    let obj: Py<PyBytes> = unsafe { Bound::from_owned_ptr(py, ptr).cast_into_unchecked() }.unbind();
    // Only the engine writes these bytes: the object is known only to the caller, which
    // keeps it alive in the request's payload until the engine hands it back, and shows
    // it to Python code only after that.
    // SAFETY: the data of a live bytes object is `len` bytes; see above for exclusivity.
    let buf = unsafe { RawBuf::new(ffi::PyBytes_AsString(obj.as_ptr()).cast(), len) };
    Ok((obj, buf))
}

/// The buffer the fs engine writes a `bytes` object's content from.
pub fn bytes_to_write(data: &Bound<'_, PyBytes>) -> RawBuf {
    let bytes = data.as_bytes();
    // SAFETY: bytes objects are immutable, so the engine only ever reads this memory and
    // nobody writes it; the caller keeps `data` alive in the request's payload until the
    // engine hands the request back.
    unsafe { RawBuf::new(bytes.as_ptr().cast_mut(), bytes.len()) }
}

/// Cut a `bytes` object made by [`bytes_for_filling`] to its first `len` bytes, after the
/// engine handed it back having filled only that much.
pub fn shrink_filled_bytes(py: Python<'_>, obj: Py<PyBytes>, len: usize) -> PyResult<Py<PyBytes>> {
    if len >= obj.bind(py).as_bytes().len() {
        return Ok(obj);
    }
    if len == 0 {
        return Ok(PyBytes::new(py, b"").unbind());
    }
    let mut ptr = obj.into_ptr();
    // SAFETY: the object came from bytes_for_filling and was never shown to Python code,
    // so this is its only reference, which _PyBytes_Resize requires; on failure it frees
    // the object, sets `ptr` to NULL and sets an exception.
    let rc = unsafe { _PyBytes_Resize(&mut ptr, len as ffi::Py_ssize_t) };
    if rc != 0 {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: on success `ptr` is an owned reference to the (possibly moved) bytes object.
    Ok(unsafe { Bound::from_owned_ptr(py, ptr).cast_into_unchecked() }.unbind())
}

/// A new `bytes` object made by `fill`, which gets `len` bytes of uninitialised memory,
/// writes the first `k` of them and returns `k <= len` (or an error, and the object is
/// dropped unseen). Only those `k` bytes make up the result: one allocation and no copy,
/// where filling a scratch buffer and copying it out would cost a copy per byte.
pub fn fill_new_bytes<E>(
    py: Python<'_>,
    len: usize,
    fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<usize, E>,
) -> PyResult<Result<Py<PyBytes>, E>> {
    let (obj, _) = bytes_for_filling(py, len)?;
    // SAFETY: the object's data is `len` writable bytes that nobody else can reach (the
    // object is new and not shown to Python code yet); MaybeUninit bytes may hold
    // anything, so the slice is valid before anything is written.
    let buf = unsafe {
        let data = ffi::PyBytes_AsString(obj.as_ptr()).cast::<MaybeUninit<u8>>();
        std::slice::from_raw_parts_mut(data, len)
    };
    match fill(buf) {
        Ok(k) => {
            assert!(k <= len, "filled past the end of the buffer");
            Ok(Ok(shrink_filled_bytes(py, obj, k)?))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// The code units of a `str`, in the width CPython stores them.
pub enum Units<'a> {
    One(&'a [u8]),
    Two(&'a [u16]),
    Four(&'a [u32]),
}

/// Run `look` on the code units of `s` (one per character).
pub fn with_units<R>(s: &Bound<'_, PyString>, look: impl FnOnce(Units<'_>) -> R) -> R {
    let ptr = s.as_ptr();
    // A str in CPython 3.3+ is "ready": its data is one array of GET_LENGTH units of the
    // width KIND names, and str objects are immutable.
    // SAFETY: `s` is a live str (GIL held, borrowed for this call); see above.
    unsafe {
        let len = ffi::PyUnicode_GET_LENGTH(ptr) as usize;
        let data = ffi::PyUnicode_DATA(ptr);
        match ffi::PyUnicode_KIND(ptr) {
            ffi::PyUnicode_1BYTE_KIND => {
                look(Units::One(std::slice::from_raw_parts(data.cast(), len)))
            }
            ffi::PyUnicode_2BYTE_KIND => {
                look(Units::Two(std::slice::from_raw_parts(data.cast(), len)))
            }
            _ => look(Units::Four(std::slice::from_raw_parts(data.cast(), len))),
        }
    }
}

/// `s[start:end]` (character indexes, already within bounds).
pub fn substring<'py>(
    s: &Bound<'py, PyString>,
    start: usize,
    end: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let py = s.py();
    // SAFETY: the GIL is held and `s` is a live str; Substring returns a new reference or
    // NULL with an exception set.
    let ptr = unsafe {
        ffi::PyUnicode_Substring(s.as_ptr(), start as ffi::Py_ssize_t, end as ffi::Py_ssize_t)
    };
    if ptr.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `ptr` is a new, owned reference.
    Ok(unsafe { Bound::from_owned_ptr(py, ptr) })
}

/// An awaitable that completes at once with a value it already holds (see
/// [`install_ready_send`]).
pub trait ReadyAwaitable {
    /// The value that completes the await (None when there is none).
    fn take_ready(obj: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>>;

    /// `__anext__`: an awaitable (the object itself, or a coroutine).
    fn anext(obj: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>>;
}

unsafe extern "C" fn ready_await(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls am_await with the GIL held and a live object; returning it
    // with a new reference is what `__await__` returning self means.
    unsafe { ffi::Py_NewRef(obj) }
}

unsafe extern "C" fn ready_anext<T: ReadyAwaitable>(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls am_anext with the GIL held and a live object of our type;
    // errors are restored and signalled by NULL, as the slot's contract says, and
    // `anext` returns errors instead of panicking.
    unsafe {
        let py = Python::assume_attached();
        match T::anext(&Bound::from_borrowed_ptr(py, obj)) {
            Ok(value) => value.into_ptr(),
            Err(err) => {
                err.restore(py);
                std::ptr::null_mut()
            }
        }
    }
}

/// What one step of an iterator-based await gave: a value to yield to the event loop, or
/// the await's result.
pub enum Sent<'py> {
    Next(Bound<'py, PyAny>),
    Return(Bound<'py, PyAny>),
}

/// `PyIter_Send`: step `iter` (a generator, a coroutine, a future's iterator, or any
/// iterator) with `arg`, as `await` does.
pub fn iter_send<'py>(iter: &Bound<'py, PyAny>, arg: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
    let py = iter.py();
    let mut result = std::ptr::null_mut();
    // SAFETY: the GIL is held and both objects are alive; PyIter_Send stores a new
    // reference in `result` for NEXT and RETURN and sets an exception for ERROR.
    unsafe {
        match ffi::PyIter_Send(iter.as_ptr(), arg.as_ptr(), &mut result) {
            ffi::PySendResult::PYGEN_ERROR => Err(PyErr::fetch(py)),
            ffi::PySendResult::PYGEN_RETURN => Ok(Sent::Return(Bound::from_owned_ptr(py, result))),
            ffi::PySendResult::PYGEN_NEXT => Ok(Sent::Next(Bound::from_owned_ptr(py, result))),
        }
    }
}

/// The iterator `await obj` steps (`obj.__await__()`), through the type's `am_await`
/// slot when it has one (an asyncio future's, in C): no attribute lookup.
pub fn await_iter<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    // SAFETY: the GIL is held and `obj` is alive, so its type object is too; the slot,
    // when set, is a C function taking the object and returning a new reference or NULL
    // with an exception set.
    unsafe {
        let slots = (*ffi::Py_TYPE(obj.as_ptr())).tp_as_async;
        if !slots.is_null() {
            if let Some(am_await) = (*slots).am_await {
                return Bound::from_owned_ptr_or_err(py, am_await(obj.as_ptr()));
            }
        }
    }
    obj.call_method0(pyo3::intern!(py, "__await__"))
}

/// Hand the outcome of a step to CPython the way `am_send` returns it.
///
/// # Safety
/// The GIL is held and `result` is the valid slot CPython passed to `am_send`.
unsafe fn send_outcome(
    py: Python<'_>,
    outcome: PyResult<Sent<'_>>,
    result: *mut *mut ffi::PyObject,
) -> ffi::PySendResult {
    // SAFETY: see the function's contract; the value's reference moves to CPython.
    unsafe {
        match outcome {
            Ok(Sent::Return(value)) => {
                *result = value.into_ptr();
                ffi::PySendResult::PYGEN_RETURN
            }
            Ok(Sent::Next(value)) => {
                *result = value.into_ptr();
                ffi::PySendResult::PYGEN_NEXT
            }
            Err(err) => {
                err.restore(py);
                *result = std::ptr::null_mut();
                ffi::PySendResult::PYGEN_ERROR
            }
        }
    }
}

unsafe extern "C" fn ready_send<T: ReadyAwaitable>(
    iter: *mut ffi::PyObject,
    _arg: *mut ffi::PyObject,
    result: *mut *mut ffi::PyObject,
) -> ffi::PySendResult {
    // SAFETY: CPython calls am_send with the GIL held, a live `iter` of our type and a
    // valid `result` slot. take_ready returns errors instead of panicking, so no panic
    // unwinds across this C frame (and pyo3 aborts rather than unwinding if one did).
    unsafe {
        let py = Python::assume_attached();
        let obj = Bound::from_borrowed_ptr(py, iter);
        let outcome = T::take_ready(&obj).map(|v| Sent::Return(v.into_bound(py)));
        send_outcome(py, outcome, result)
    }
}

/// A native object that `await` drives step by step, as a coroutine (see
/// [`install_coroutine_send`]).
pub trait Resumable {
    /// One step with `arg` sent in: the value to yield to the event loop (`Next`) or
    /// the result of the await (`Return`).
    fn resume<'py>(obj: &Bound<'py, PyAny>, arg: &Bound<'py, PyAny>) -> PyResult<Sent<'py>>;
}

unsafe extern "C" fn coroutine_send<T: Resumable>(
    iter: *mut ffi::PyObject,
    arg: *mut ffi::PyObject,
    result: *mut *mut ffi::PyObject,
) -> ffi::PySendResult {
    // SAFETY: CPython calls am_send with the GIL held, a live `iter` of our type, a live
    // `arg` and a valid `result` slot; resume returns errors instead of panicking.
    unsafe {
        let py = Python::assume_attached();
        let obj = Bound::from_borrowed_ptr(py, iter);
        let arg = Bound::from_borrowed_ptr(py, arg);
        send_outcome(py, T::resume(&obj, &arg), result)
    }
}

/// Set the `am_*` slots of `T`'s heap type that pyo3 cannot declare.
fn set_async_slots<T: pyo3::PyClass>(
    py: Python<'_>,
    send: ffi::sendfunc,
    anext: Option<ffi::unaryfunc>,
) {
    let ty = py.get_type::<T>();
    let ptr = ty.as_type_ptr();
    // Heap types always point tp_as_async at their own writable PyAsyncMethods; the slots
    // are set once at import, before any instance exists; PyType_Modified drops caches.
    // SAFETY: `ptr` is T's heap type object, alive as long as the interpreter; see above.
    unsafe {
        let slots = (*ptr).tp_as_async;
        if !slots.is_null() {
            (*slots).am_send = Some(send);
            (*slots).am_await = Some(ready_await);
            if anext.is_some() {
                (*slots).am_anext = anext;
            }
            ffi::PyType_Modified(ptr);
        }
    }
}

/// Give the type of `T` an `am_send` slot, so `await obj` completes in one C call with
/// the value `take_ready` returns, without raising StopIteration (CPython's `SEND`
/// tries am_send first), and plain C `am_anext`/`am_await` slots (pyo3's generated
/// ones re-check the type and borrow flags on every call). pyo3 has no way to declare
/// `am_send`.
pub fn install_ready_send<T: ReadyAwaitable + pyo3::PyClass>(py: Python<'_>) {
    set_async_slots::<T>(py, ready_send::<T>, Some(ready_anext::<T>));
}

/// Give the type of `T` the `am_send` and `am_await` slots of a coroutine: `await obj`
/// steps it with [`Resumable::resume`] in one C call per step, and a result is returned,
/// not raised as StopIteration.
pub fn install_coroutine_send<T: Resumable + pyo3::PyClass>(py: Python<'_>) {
    set_async_slots::<T>(py, coroutine_send::<T>, None);
}

/// A value that threads share by holding the GIL, as the loop's queues and a handle's
/// references are: on an interpreter with a GIL, holding it (having a `Python` token)
/// already serializes every access, so the cell is a `RefCell` and takes no atomic
/// operation (a mutex's lock and unlock cost about 17 ns on the machines we measure on,
/// a `RefCell` borrow 2 ns). As with a mutex, a borrow must not be held across a call
/// into Python: another thread that takes the GIL meanwhile would find the cell borrowed
/// and panic (pyo3 turns that into `PanicException`), where a mutex would deadlock.
/// Free-threaded builds have no GIL: there the cell is a mutex.
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
        return self.inner.lock();
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

/// The arguments of a vectorcall: the positional ones, then the values of the keywords
/// `kwnames` names. Only made by [`fastcall_method`], for the length of one call.
pub struct FastArgs<'a, 'py> {
    py: Python<'py>,
    values: &'a [*mut ffi::PyObject],
    nargs: usize,
    kwnames: Option<Borrowed<'a, 'py, PyTuple>>,
}

impl<'a, 'py> FastArgs<'a, 'py> {
    pub fn py(&self) -> Python<'py> {
        self.py
    }

    /// How many positional arguments there are.
    pub fn nargs(&self) -> usize {
        self.nargs
    }

    /// Positional argument `i` (`i < nargs()`), or the value of keyword `i - nargs()`.
    pub fn value(&self, i: usize) -> Borrowed<'a, 'py, PyAny> {
        // SAFETY: the caller of the vectorcall keeps every value alive for the call, and
        // `FastArgs` does not outlive it; a slice index out of range panics, it does not
        // read past the array.
        unsafe { Borrowed::from_ptr(self.py, self.values[i]) }
    }

    /// The keyword names, in the order of their values after the positional arguments.
    pub fn kwnames(&self) -> Option<Borrowed<'a, 'py, PyTuple>> {
        self.kwnames
    }

    /// The positional arguments from `start` on, as a tuple.
    pub fn tuple_from(&self, start: usize) -> PyResult<Bound<'py, PyTuple>> {
        if start >= self.nargs {
            return Ok(PyTuple::empty(self.py));
        }
        PyTuple::new(self.py, (start..self.nargs).map(|i| self.value(i)))
    }
}

/// A method called through vectorcall with no argument parsing of pyo3's in between
/// (see [`install_fastcall_method`]). pyo3 does not count the thread as attached inside
/// unless a pyo3 call is under way (as it is while the loop runs): a `Py` dropped there
/// is then released at pyo3's next entry, so the methods work on `Bound`s.
pub trait FastcallMethod {
    /// The class the method belongs to.
    type Class: pyo3::PyClass;
    /// The attribute name, and the docstring with its text signature
    /// (`name($self, ...)\n--\n\n...`), which `inspect.signature` reads.
    const NAME: &'static std::ffi::CStr;
    const DOC: &'static std::ffi::CStr;

    fn call<'py>(
        slf: &Bound<'py, Self::Class>,
        args: &FastArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>>;
}

unsafe extern "C" fn fastcall_method<M: FastcallMethod>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // CPython calls a METH_FASTCALL | METH_KEYWORDS method with the GIL held, and `slf`
    // is an instance of `M::Class`: the method descriptor checks that before the call
    // (see `install_fastcall_method`). A panic is caught and becomes PanicException.
    // SAFETY: see above; `args` holds `nargs` positional values, then one per name in
    // `kwnames` (a tuple, or NULL), all alive for the call; errors go back as NULL.
    unsafe {
        let py = Python::assume_attached();
        let nargs = ffi::PyVectorcall_NARGS(nargsf as usize) as usize;
        let kwnames = Borrowed::from_ptr_or_opt(py, kwnames).map(|k| k.cast_unchecked::<PyTuple>());
        let total = nargs + kwnames.map_or(0, |k| k.len());
        let values: &[*mut ffi::PyObject] = if total == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(args, total)
        };
        let fast = FastArgs {
            py,
            values,
            nargs,
            kwnames,
        };
        let slf = Borrowed::from_ptr(py, slf).cast_unchecked::<M::Class>();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| M::call(&slf, &fast)));
        let result = match outcome {
            Ok(result) => result,
            Err(_) => Err(pyo3::panic::PanicException::new_err(format!(
                "panic in {}",
                M::NAME.to_string_lossy()
            ))),
        };
        match result {
            Ok(value) => value.into_ptr(),
            Err(err) => {
                err.restore(py);
                std::ptr::null_mut()
            }
        }
    }
}

/// Make `M` the method `M::NAME` of `M::Class` (a method descriptor, as C types have),
/// in place of pyo3's wrapper: a call costs no argument parsing beyond `M`'s own and no
/// thread-local bookkeeping. Done once per import, before any subclass exists; the
/// method table it points to is leaked, as C method tables are static.
pub fn install_fastcall_method<M: FastcallMethod>(py: Python<'_>) -> PyResult<()> {
    let ty = py.get_type::<M::Class>();
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: M::NAME.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: fastcall_method::<M>,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: M::DOC.as_ptr(),
    }));
    // SAFETY: the GIL is held; `ty` is a live type object and `def` lives forever.
    // PyDescr_NewMethod returns a new reference or NULL with an exception set.
    let descr = unsafe {
        Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))?
    };
    ty.setattr(M::NAME.to_str().expect("method names are ASCII"), descr)
}

/// Whether the collector tracks `obj`.
pub fn is_tracked(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: the GIL is held (`obj` is bound) and `obj` is live.
    unsafe { ffi::PyObject_GC_IsTracked(obj.as_ptr()) != 0 }
}

/// Whether some weak reference to `obj` exists (its type's weak-reference list is not
/// empty); false for types without one.
pub fn has_weakrefs(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: the GIL is held and `obj` is live, so its type is; a positive
    // `tp_weaklistoffset` is the offset, inside every instance, of the pointer to the
    // list of its weak references (NULL when there are none).
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
    // SAFETY: the GIL is held (we have `py`) and `obj` is live.
    unsafe { ffi::Py_REFCNT(obj.as_ptr()) == 1 }
}
