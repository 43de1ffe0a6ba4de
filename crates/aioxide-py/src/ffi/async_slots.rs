//! The `am_send`/`am_await`/`am_anext` slots pyo3 cannot declare, and stepping an
//! await from Rust.

use pyo3::ffi;
use pyo3::prelude::*;

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
    // resume returns errors instead of panicking, so no panic unwinds across this C frame
    // (and pyo3 aborts rather than unwinding if one did).
    // SAFETY: CPython calls am_send with the GIL held, a live `iter` of our type, a live
    // `arg` (None when nothing is sent) and a valid `result` slot, all borrowed.
    unsafe {
        let py = Python::assume_attached();
        let obj = Borrowed::from_ptr(py, iter);
        let arg = Borrowed::from_ptr(py, arg);
        send_outcome(py, T::resume(&obj, &arg), result)
    }
}

/// `tp_iternext` of a [`Resumable`]: from 3.12, `await` steps an awaitable that is not a
/// generator or coroutine with `tp_iternext` (`send(None)`), not `am_send`. pyo3's
/// `__next__` wrapper checks the type, takes a borrow and raises StopIteration even for
/// a `None` result; this calls `resume` directly and returns NULL with no exception set
/// for `None` (exhausted, which `await` reads as a `None` result), so only a real value
/// costs a StopIteration.
unsafe extern "C" fn coroutine_iternext<T: Resumable>(
    iter: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_iternext with the thread attached and a live `iter` of our
    // type, borrowed for the call; None is immortal. Errors are restored and signalled by
    // NULL, as the slot's contract says, and resume returns them instead of panicking.
    unsafe {
        let py = Python::assume_attached();
        let obj = Borrowed::from_ptr(py, iter);
        let none = Borrowed::from_ptr(py, ffi::Py_None());
        match T::resume(&obj, &none) {
            Ok(Sent::Next(value)) => value.into_ptr(),
            Ok(Sent::Return(value)) => {
                if !value.is_none() {
                    pyo3::exceptions::PyStopIteration::new_err((value.unbind(),)).restore(py);
                }
                std::ptr::null_mut()
            }
            Err(err) => {
                err.restore(py);
                std::ptr::null_mut()
            }
        }
    }
}

/// A [`ReadyAwaitable`] driven as a [`Resumable`] of one step: the first send returns
/// the value it holds.
struct Ready<T>(std::marker::PhantomData<T>);

impl<T: ReadyAwaitable> Resumable for Ready<T> {
    fn resume<'py>(obj: &Bound<'py, PyAny>, _arg: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
        T::take_ready(obj).map(|value| Sent::Return(value.into_bound(obj.py())))
    }
}

/// Set the `am_*` slots of `T`'s heap type that pyo3 cannot declare, and a
/// `tp_iternext` that skips pyo3's wrapper (the type's `__next__` stays pyo3's).
fn set_async_slots<T: pyo3::PyClass>(
    py: Python<'_>,
    send: ffi::sendfunc,
    iternext: ffi::iternextfunc,
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
            (*ptr).tp_iternext = Some(iternext);
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
    set_async_slots::<T>(
        py,
        coroutine_send::<Ready<T>>,
        coroutine_iternext::<Ready<T>>,
        Some(ready_anext::<T>),
    );
}

/// Give the type of `T` the `am_send` and `am_await` slots of a coroutine: `await obj`
/// steps it with [`Resumable::resume`] in one C call per step, and a result is returned,
/// not raised as StopIteration.
pub fn install_coroutine_send<T: Resumable + pyo3::PyClass>(py: Python<'_>) {
    set_async_slots::<T>(py, coroutine_send::<T>, coroutine_iternext::<T>, None);
}
