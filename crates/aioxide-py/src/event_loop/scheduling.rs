//! `call_soon`, `call_soon_threadsafe`, `call_later`, `call_at`: the loop's hot path.

use std::ffi::CStr;
use std::sync::atomic::Ordering;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;

use pyo3::types::PyFloat;

use super::handle::{HandleRef, PyHandle, PyTimerHandle};
use super::handle_args::{HandleArgs, NativeCall};
use super::PyLoopCore;
use crate::errors;
use crate::ffi::{self, FastArgs, FastcallMethod};
use crate::stdlib;

/// asyncio's own test for a coroutine function (it also knows `markcoroutinefunction`
/// and asyncio's legacy marker): `_iscoroutinefunction` from 3.12 on, where the public
/// name warns from 3.14; `iscoroutinefunction` before. Only debug mode asks.
fn is_coroutine_function(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    stdlib::iscoroutinefunction(obj.py())?
        .call1((obj,))?
        .is_truthy()
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
        if stdlib::iscoroutine(callback.py())?
            .call1((callback,))?
            .is_truthy()?
        {
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
    let frame = stdlib::getframe(py)?.call1((0,))?;
    Ok(stdlib::extract_stack(py)?.call1((frame,))?.unbind())
}

impl PyLoopCore {
    /// A new (not yet queued) handle owned by the loop `slf`.
    pub fn new_handle(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        args: HandleArgs,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyHandle>> {
        Py::new(slf.py(), Self::handle_value(slf, callback, args, context)?)
    }

    /// A queued handle for `call_soon`: an emptied one the loop kept (see
    /// `HandleRef::recycle`) filled again, or a new one. Debug mode always makes new
    /// ones.
    fn soon_handle(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        args: HandleArgs,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Py<PyHandle>, HandleRef)> {
        let py = slf.py();
        let this = slf.get();
        let reusable = if this.debug.load(Ordering::Relaxed) {
            None
        } else {
            this.state.borrow_mut(py).reusable.pop()
        };
        let Some(handle) = reusable else {
            let handle = Self::new_handle(slf, callback, args, context)?;
            let queued = HandleRef::queued_untracked(handle.bind(py));
            return Ok((handle, queued));
        };
        let context = handle_context(py, context)?;
        handle.get().refill(
            py,
            callback.clone().unbind(),
            args,
            context,
            slf.clone().into_any().unbind(),
        );
        let queued = HandleRef::queued_reused(handle.clone_ref(py));
        Ok((handle, queued))
    }

    fn handle_value(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        args: HandleArgs,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyHandle> {
        let py = slf.py();
        let context = handle_context(py, context)?;
        let handle = PyHandle::new(
            callback.clone().unbind(),
            args,
            context,
            slf.clone().into_any().unbind(),
        );
        if slf.get().debug.load(Ordering::Relaxed) {
            handle.set_source_traceback(py, creation_stack(py)?);
        }
        Ok(handle)
    }

    /// `call_soon(callback, arg)` for the loop's own code.
    pub(crate) fn soon_one(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        arg: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let args = HandleArgs::One(arg.clone().unbind());
        Self::schedule_soon(slf, callback, args, None, "call_soon").map(drop)
    }

    /// Queue `call(obj)`, a step of aioxide's own (no user callback to check), for the
    /// next iteration, in a copy of the current context.
    pub(crate) fn soon_native(
        slf: &Bound<'_, PyLoopCore>,
        obj: &Bound<'_, PyAny>,
        call: NativeCall,
    ) -> PyResult<()> {
        let this = slf.get();
        this.check_closed()?;
        let (_, queued) = Self::soon_handle(slf, obj, HandleArgs::Native(call), None)?;
        this.state.borrow_mut(slf.py()).sched.push_ready(queued);
        Ok(())
    }

    fn schedule_soon(
        slf: &Bound<'_, PyLoopCore>,
        callback: &Bound<'_, PyAny>,
        args: HandleArgs,
        context: Option<&Bound<'_, PyAny>>,
        method: &str,
    ) -> PyResult<Py<PyHandle>> {
        let this = slf.get();
        this.check_closed()?;
        check_callback_mode(callback, method, this.debug.load(Ordering::Relaxed))?;
        let (handle, queued) = Self::soon_handle(slf, callback, args, context)?;
        this.state.borrow_mut(slf.py()).sched.push_ready(queued);
        Ok(handle)
    }

    pub fn schedule_at(
        slf: &Bound<'_, PyLoopCore>,
        when: f64,
        when_obj: Option<Py<PyAny>>,
        callback: &Bound<'_, PyAny>,
        args: HandleArgs,
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
        let seq = this.state.borrow_mut(py).sched.push_timer(when, queued);
        timer.get().set_seq(seq);
        Ok(timer)
    }
}

/// The context a new handle runs its callback in: `context`, or a copy of the current
/// one when it is None or not given.
fn handle_context(py: Python<'_>, context: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    Ok(match context {
        Some(c) if !c.is_none() => c.clone().unbind(),
        _ => ffi::copy_context(py)?.unbind(),
    })
}

fn extract_time(value: &Bound<'_, PyAny>, none_message: &str) -> PyResult<f64> {
    if value.is_none() {
        return Err(PyTypeError::new_err(none_message.to_string()));
    }
    value.extract::<f64>()
}

/// The arguments of the scheduling methods: `N` named parameters (`when`, `callback`),
/// then `*args` and the keyword `context`, bound as Python binds a signature such as
/// `call_at(when, callback, *args, context=None)`, with its error messages.
struct CallArgs<'py, const N: usize> {
    named: [Bound<'py, PyAny>; N],
    args: HandleArgs,
    context: Option<Bound<'py, PyAny>>,
}

/// The positional arguments after the `N` named ones: `*args`.
fn star_args<const N: usize>(fast: &FastArgs<'_, '_>) -> PyResult<HandleArgs> {
    Ok(if fast.nargs() == N + 1 {
        HandleArgs::One(fast.value(N).to_owned().unbind())
    } else {
        HandleArgs::Tuple(fast.tuple_from(N)?.unbind())
    })
}

fn bind_call<'py, const N: usize>(
    fast: &FastArgs<'_, 'py>,
    method: &str,
    names: [&str; N],
) -> PyResult<CallArgs<'py, N>> {
    let py = fast.py();
    let nargs = fast.nargs();
    if fast.kwnames().is_none() && nargs >= N {
        // Positional arguments only, enough of them: the usual call.
        return Ok(CallArgs {
            named: std::array::from_fn(|i| fast.value(i).to_owned()),
            args: star_args::<N>(fast)?,
            context: None,
        });
    }
    let mut named: [Option<Bound<'py, PyAny>>; N] =
        std::array::from_fn(|i| (i < nargs).then(|| fast.value(i).to_owned()));
    let mut context = None;
    if let Some(kwnames) = fast.kwnames() {
        for (j, name) in kwnames.iter().enumerate() {
            let value = fast.value(nargs + j).to_owned();
            let name = name.cast_into::<pyo3::types::PyString>()?;
            let name = name.to_str()?;
            if name == "context" {
                context = Some(value);
            } else if let Some(k) = names.iter().position(|n| *n == name) {
                if named[k].is_some() {
                    return Err(PyTypeError::new_err(format!(
                        "LoopCore.{method}() got multiple values for argument '{name}'"
                    )));
                }
                named[k] = Some(value);
            } else {
                return Err(PyTypeError::new_err(format!(
                    "LoopCore.{method}() got an unexpected keyword argument '{name}'"
                )));
            }
        }
    }
    let missing: Vec<String> = (0..N)
        .filter(|&k| named[k].is_none())
        .map(|k| format!("'{}'", names[k]))
        .collect();
    if !missing.is_empty() {
        let plural = if missing.len() == 1 { "" } else { "s" };
        return Err(PyTypeError::new_err(format!(
            "LoopCore.{method}() missing {} required positional argument{plural}: {}",
            missing.len(),
            missing.join(" and ")
        )));
    }
    let args = star_args::<N>(fast)?;
    let named = named.map(|v| v.unwrap_or_else(|| py.None().into_bound(py)));
    Ok(CallArgs {
        named,
        args,
        context,
    })
}

/// `call_soon(callback, *args, context=None)`: run `callback(*args)` on the next
/// iteration, in `context` (a copy of the current context by default).
struct CallSoon;

impl FastcallMethod for CallSoon {
    type Class = PyLoopCore;
    const NAME: &'static CStr = c"call_soon";
    const DOC: &'static CStr = c"call_soon($self, callback, *args, context=None)\n--\n\nRun `callback(*args)` on the next iteration, in `context` (a copy of the current\ncontext by default).";

    fn call<'py>(
        slf: &Bound<'py, PyLoopCore>,
        fast: &FastArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.get().check_thread()?;
        let handle = schedule_soon_call(slf, fast, "call_soon")?;
        Ok(handle.into_bound(slf.py()).into_any())
    }
}

/// `call_soon` that may be called from any thread: it wakes the loop if it sleeps.
struct CallSoonThreadsafe;

impl FastcallMethod for CallSoonThreadsafe {
    type Class = PyLoopCore;
    const NAME: &'static CStr = c"call_soon_threadsafe";
    const DOC: &'static CStr = c"call_soon_threadsafe($self, callback, *args, context=None)\n--\n\n`call_soon` that may be called from any thread: it wakes the loop if it sleeps.";

    fn call<'py>(
        slf: &Bound<'py, PyLoopCore>,
        fast: &FastArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let handle = schedule_soon_call(slf, fast, "call_soon_threadsafe")?;
        if let Ok(reactor) = slf.get().reactor() {
            reactor.waker().wake().map_err(errors::os_error)?;
        }
        Ok(handle.into_bound(slf.py()).into_any())
    }
}

/// `call_at(when, callback, *args, context=None)`: run `callback(*args)` at loop time
/// `when`.
struct CallAt;

impl FastcallMethod for CallAt {
    type Class = PyLoopCore;
    const NAME: &'static CStr = c"call_at";
    const DOC: &'static CStr = c"call_at($self, when, callback, *args, context=None)\n--\n\nRun `callback(*args)` at loop time `when`.";

    fn call<'py>(
        slf: &Bound<'py, PyLoopCore>,
        fast: &FastArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        schedule_timer_call(slf, fast, "call_at", "when", |when| {
            Ok((
                extract_time(when, "when cannot be None")?,
                (!when.is_exact_instance_of::<PyFloat>()).then(|| when.clone().unbind()),
            ))
        })
    }
}

/// `call_later(delay, callback, *args, context=None)`: run `callback(*args)` after
/// `delay` seconds; a negative delay is a deadline in the past, ordered among other
/// timers by that deadline.
struct CallLater;

impl FastcallMethod for CallLater {
    type Class = PyLoopCore;
    const NAME: &'static CStr = c"call_later";
    const DOC: &'static CStr = c"call_later($self, delay, callback, *args, context=None)\n--\n\nRun `callback(*args)` after `delay` seconds; a negative delay is a deadline in the\npast, ordered among other timers by that deadline.";

    fn call<'py>(
        slf: &Bound<'py, PyLoopCore>,
        fast: &FastArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        schedule_timer_call(slf, fast, "call_later", "delay", |delay| {
            let delay = extract_time(delay, "delay must not be None")?;
            let when = slf.get().clock.borrow_mut(py).now() + delay;
            Ok((when, None))
        })
    }
}

/// `call_soon` and `call_soon_threadsafe`: bind `(callback, *args, context=None)` and
/// queue the handle.
fn schedule_soon_call(
    slf: &Bound<'_, PyLoopCore>,
    fast: &FastArgs<'_, '_>,
    method: &str,
) -> PyResult<Py<PyHandle>> {
    let CallArgs {
        named: [callback],
        args,
        context,
    } = bind_call(fast, method, ["callback"])?;
    PyLoopCore::schedule_soon(slf, &callback, args, context.as_ref(), method)
}

/// `call_at` and `call_later`: bind `(first, callback, *args, context=None)`, turn the
/// first argument into the deadline (a float, and the object `TimerHandle.when()`
/// returns unless that is the same float) with `deadline`, and schedule the timer.
fn schedule_timer_call<'py>(
    slf: &Bound<'py, PyLoopCore>,
    fast: &FastArgs<'_, 'py>,
    method: &str,
    first: &str,
    deadline: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<(f64, Option<Py<PyAny>>)>,
) -> PyResult<Bound<'py, PyAny>> {
    let CallArgs {
        named: [first_value, callback],
        args,
        context,
    } = bind_call(fast, method, [first, "callback"])?;
    let (when, when_obj) = deadline(&first_value)?;
    let timer = PyLoopCore::schedule_at(slf, when, when_obj, &callback, args, context.as_ref())?;
    Ok(timer.into_bound(slf.py()).into_any())
}

/// Install the scheduling methods on `LoopCore` (see `ffi::install_fastcall_method`):
/// they are the loop's hottest calls, made once or twice per callback.
pub fn install_methods(py: Python<'_>) -> PyResult<()> {
    ffi::install_fastcall_method::<CallSoon>(py)?;
    ffi::install_fastcall_method::<CallSoonThreadsafe>(py)?;
    ffi::install_fastcall_method::<CallAt>(py)?;
    ffi::install_fastcall_method::<CallLater>(py)
}

#[pymethods]
impl PyLoopCore {
    /// asyncio's `_check_callback(callback, method)`.
    fn _check_callback(&self, callback: &Bound<'_, PyAny>, method: &str) -> PyResult<()> {
        check_callback(callback, method)
    }
}
