//! `call_soon`, `call_soon_threadsafe`, `call_later`, `call_at`: the loop's hot path.

use std::sync::atomic::Ordering;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyFunction, PyTuple};

use crate::errors;
use crate::ffi;
use crate::handle::{HandleRef, PyHandle, PyTimerHandle};
use crate::loop_core::PyLoopCore;

/// `CO_COROUTINE | CO_ITERABLE_COROUTINE`: code flags of `async def` functions and of
/// generator-based coroutines.
const CO_COROUTINE_FLAGS: i64 = 0x80 | 0x100;

/// Whether `obj` is a coroutine function, for the cases asyncio's check recognises
/// cheaply: plain and bound functions by their code flags, `functools.partial` through
/// asyncio's own predicate. Other callables (C functions, task steps) are not coroutine
/// functions and cost nothing here.
fn is_coroutine_function(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = obj.py();
    if obj.is_instance_of::<PyFunction>() {
        let flags: i64 = obj.getattr("__code__")?.getattr("co_flags")?.extract()?;
        return Ok(flags & CO_COROUTINE_FLAGS != 0);
    }
    static METHOD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    if obj.get_type().is(METHOD.import(py, "types", "MethodType")?) {
        return is_coroutine_function(&obj.getattr("__func__")?);
    }
    static PARTIAL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let partial = PARTIAL.import(py, "functools", "partial")?;
    if obj.get_type().is(partial) {
        static PREDICATE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let f = PREDICATE.import(py, "asyncio.coroutines", "iscoroutinefunction")?;
        return f.call1((obj,))?.is_truthy();
    }
    Ok(false)
}

/// asyncio's `_check_callback`, which asyncio runs in debug mode only: coroutines and
/// non-callables are refused with TypeError there. Outside debug mode anything is
/// accepted, as by asyncio and uvloop; a non-callable then fails when it runs, and the
/// exception handler gets the error (code such as Sanic's tests counts on that).
pub fn check_callback_mode(callback: &Bound<'_, PyAny>, method: &str, debug: bool) -> PyResult<()> {
    if debug {
        check_callback(callback, method)
    } else {
        Ok(())
    }
}

/// The check `check_callback_mode` runs in debug mode, whatever the mode.
pub fn check_callback(callback: &Bound<'_, PyAny>, method: &str) -> PyResult<()> {
    if !callback.is_callable() {
        static ISCORO: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let f = ISCORO.import(callback.py(), "asyncio.coroutines", "iscoroutine")?;
        if f.call1((callback,))?.is_truthy()? {
            return Err(errors::coroutine_callback(method));
        }
        return Err(errors::not_callable(method, &callback.repr()?.to_string()));
    }
    if is_coroutine_function(callback)? {
        return Err(errors::coroutine_callback(method));
    }
    Ok(())
}

/// Debug mode: the stack of the Python code that is creating a handle, as asyncio's
/// `format_helpers.extract_stack` gives it (the innermost Python frame is the caller of
/// `call_soon`, since this native code has no frame of its own).
fn creation_stack(py: Python<'_>) -> PyResult<Py<PyAny>> {
    static EXTRACT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static GETFRAME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let extract = EXTRACT.import(py, "asyncio.format_helpers", "extract_stack")?;
    let getframe = GETFRAME.import(py, "sys", "_getframe")?;
    Ok(extract.call1((getframe.call1((0,))?,))?.unbind())
}

impl PyLoopCore {
    /// A new (not yet queued) handle owned by the loop `slf`.
    pub fn new_handle(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyHandle>> {
        Py::new(slf.py(), Self::handle_value(slf, callback, args, context)?)
    }

    fn handle_value(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyHandle> {
        let py = slf.py();
        let context = match context {
            Some(c) if !c.is_none() => c.clone().unbind(),
            _ => ffi::copy_context(py)?.unbind(),
        };
        let handle = PyHandle::new(
            callback.clone().unbind(),
            args.clone().unbind(),
            context,
            slf.clone().into_any().unbind(),
        );
        if slf.get().debug.load(Ordering::Relaxed) {
            handle.set_source_traceback(py, creation_stack(py)?);
        }
        Ok(handle)
    }

    fn schedule_soon(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
        method: &str,
    ) -> PyResult<Py<PyHandle>> {
        let this = slf.get();
        this.check_closed()?;
        check_callback_mode(callback, method, this.debug.load(Ordering::Relaxed))?;
        let handle = Self::new_handle(slf, callback, args, context)?.into_bound(slf.py());
        let queued = HandleRef::queued_untracked(&handle);
        this.state.borrow_mut(slf.py()).sched.push_ready(queued);
        Ok(handle.unbind())
    }

    pub fn schedule_at(
        slf: &Bound<'_, PyLoopCore>,
        when: f64,
        when_obj: Py<PyAny>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTimerHandle>> {
        let py = slf.py();
        let this = slf.get();
        this.check_closed()?;
        this.check_thread()?;
        check_callback_mode(callback, "call_at", this.debug.load(Ordering::Relaxed))?;
        let base = Self::handle_value(slf, callback, args, context)?;
        base.set_scheduled();
        let init = PyClassInitializer::from(base).add_subclass(PyTimerHandle::new(when, when_obj));
        let timer = Py::new(py, init)?;
        let queued = HandleRef::queued_untracked(timer.bind(py).as_super());
        this.state.borrow_mut(py).sched.push_timer(when, queued);
        Ok(timer)
    }
}

fn extract_time(value: &Bound<'_, PyAny>, none_message: &str) -> PyResult<f64> {
    if value.is_none() {
        return Err(PyTypeError::new_err(none_message.to_string()));
    }
    value.extract::<f64>()
}

#[pymethods]
impl PyLoopCore {
    /// Run `callback(*args)` on the next iteration, in `context` (a copy of the current
    /// context by default).
    #[pyo3(signature = (callback, *args, context = None))]
    fn call_soon(
        slf: &Bound<'_, Self>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyHandle>> {
        slf.get().check_thread()?;
        Self::schedule_soon(slf, callback, args, context, "call_soon")
    }

    /// `call_soon` that may be called from any thread: it wakes the loop if it sleeps.
    #[pyo3(signature = (callback, *args, context = None))]
    fn call_soon_threadsafe(
        slf: &Bound<'_, Self>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyHandle>> {
        let handle = Self::schedule_soon(slf, callback, args, context, "call_soon_threadsafe")?;
        if let Ok(reactor) = slf.get().reactor() {
            reactor.waker().wake().map_err(errors::os_error)?;
        }
        Ok(handle)
    }

    /// Run `callback(*args)` at loop time `when`.
    #[pyo3(signature = (when, callback, *args, context = None))]
    fn call_at(
        slf: &Bound<'_, Self>,
        when: &Bound<'_, PyAny>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTimerHandle>> {
        let when_value = extract_time(when, "when cannot be None")?;
        Self::schedule_at(
            slf,
            when_value,
            when.clone().unbind(),
            callback,
            args,
            context,
        )
    }

    /// Run `callback(*args)` after `delay` seconds; a negative delay is a deadline in the
    /// past, ordered among other timers by that deadline.
    #[pyo3(signature = (delay, callback, *args, context = None))]
    fn call_later(
        slf: &Bound<'_, Self>,
        delay: &Bound<'_, PyAny>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTimerHandle>> {
        let delay = extract_time(delay, "delay must not be None")?;
        let when = slf.get().clock.borrow_mut(slf.py()).now() + delay;
        let when_obj = when.into_pyobject(slf.py())?.into_any().unbind();
        Self::schedule_at(slf, when, when_obj, callback, args, context)
    }
}

#[pymethods]
impl PyLoopCore {
    /// asyncio's `_check_callback(callback, method)`.
    fn _check_callback(&self, callback: &Bound<'_, PyAny>, method: &str) -> PyResult<()> {
        check_callback(callback, method)
    }
}
