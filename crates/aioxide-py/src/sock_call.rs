//! `loop.sock_recv(...)` and `loop.sock_sendall(...)` return a native coroutine object.
//!
//! A request/response server awaits one of these per message, so the Python coroutine
//! that used to wrap the native fast path (`sockets.rs`) was a frame to create, start and
//! finish every time. `SockCall` is that wrapper in Rust: the first step makes the same
//! checks and tries the operation at once; if it has to wait it hands the await on to
//! the future's own iterator (exactly what `await fut` does), and for sockets the native
//! path does not serve, to the Python coroutine of the general path. `await` drives it
//! through the `am_send` slot, one C call per step (see `ffi::install_coroutine_send`);
//! `send`, `throw` and `close` make it a coroutine for everything else (a task created
//! from it, `asyncio.iscoroutine`, which knows the type through
//! `collections.abc.Coroutine.register` in `_sockets.py`).

use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple, PyType};

use crate::event_loop::PyLoopCore;
use crate::ffi::{self, Sent};
use crate::sock_slow;

#[derive(Clone, Copy)]
enum Op {
    Recv,
    SendAll,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Recv => "sock_recv",
            Op::SendAll => "sock_sendall",
        }
    }
}

enum State {
    /// Not started: the call's arguments.
    Start {
        event_loop: Py<PyLoopCore>,
        sock: Py<PyAny>,
        arg: Py<PyAny>,
    },
    /// Waiting: the iterator the await was handed on to (a future's, or the coroutine
    /// of the general path).
    Awaiting(Py<PyAny>),
    /// A step is running (a re-entrant step is an error, as for any coroutine).
    Running,
    Done,
}

#[pyclass(module = "aioxide._aioxide", frozen)]
pub struct SockCall {
    op: Op,
    state: crate::ffi::GilCell<State>,
    /// `cr_origin`: where the call was made, when coroutine origin tracking was on.
    origin: Option<Py<PyAny>>,
}

impl SockCall {
    fn new(
        op: Op,
        event_loop: &Bound<'_, PyLoopCore>,
        sock: Py<PyAny>,
        arg: Py<PyAny>,
    ) -> PyResult<Self> {
        // Origin tracking is asyncio's debug mode: outside it, no per-call lookup.
        let origin = match event_loop.get().debug_enabled() {
            true => origin(event_loop.py())?,
            false => None,
        };
        let event_loop = event_loop.clone().unbind();
        Ok(SockCall {
            op,
            state: crate::ffi::GilCell::new(State::Start {
                event_loop,
                sock,
                arg,
            }),
            origin,
        })
    }

    fn step<'py>(&self, py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
        let state = std::mem::replace(&mut *self.state.borrow_mut(py), State::Running);
        let iter = match state {
            State::Start {
                event_loop,
                sock,
                arg,
            } => {
                if !value.is_none() {
                    // Still not started, as a Python coroutine stays.
                    *self.state.borrow_mut(py) = State::Start {
                        event_loop,
                        sock,
                        arg,
                    };
                    return Err(PyTypeError::new_err(
                        "can't send non-None value to a just-started coroutine",
                    ));
                }
                match self.start(event_loop.bind(py), sock.bind(py), arg.bind(py)) {
                    Ok(Started::Done(result)) => {
                        *self.state.borrow_mut(py) = State::Done;
                        return Ok(Sent::Return(result));
                    }
                    Ok(Started::Wait(iter)) => iter,
                    Err(err) => {
                        *self.state.borrow_mut(py) = State::Done;
                        return Err(err);
                    }
                }
            }
            State::Awaiting(iter) => iter.into_bound(py),
            other => {
                let running = matches!(other, State::Running);
                *self.state.borrow_mut(py) = other;
                return Err(match running {
                    true => PyValueError::new_err("coroutine already executing"),
                    false => PyRuntimeError::new_err("cannot reuse already awaited coroutine"),
                });
            }
        };
        let sent = ffi::iter_send(&iter, value);
        *self.state.borrow_mut(py) = match &sent {
            Ok(Sent::Next(_)) => State::Awaiting(iter.unbind()),
            _ => State::Done,
        };
        sent
    }

    /// The first step: asyncio's checks, then the operation at once.
    fn start<'py>(
        &self,
        event_loop: &Bound<'py, PyLoopCore>,
        sock: &Bound<'py, PyAny>,
        arg: &Bound<'py, PyAny>,
    ) -> PyResult<Started<'py>> {
        let py = event_loop.py();
        event_loop.get().ensure_fd_no_transport(sock)?;
        let pending = match self.op {
            Op::Recv => match PyLoopCore::_sock_recv_fast(event_loop, sock, arg)? {
                Some(data) if data.bind(py).is_exact_instance_of::<PyBytes>() => {
                    return Ok(Started::Done(data.into_bound(py)))
                }
                Some(fut) => fut.into_bound(py),
                None => {
                    let attempt = sock_slow::Attempt::Recv(arg.clone().unbind());
                    return Self::slow(event_loop, sock, attempt);
                }
            },
            Op::SendAll => {
                let fut = PyLoopCore::_sock_sendall_fast(event_loop, sock, arg)?.into_bound(py);
                if fut.is_none() {
                    return Ok(Started::Done(fut));
                }
                if fut.is_exact_instance_of::<pyo3::types::PyBool>() {
                    let attempt = sock_slow::Attempt::SendAll {
                        data: arg.clone().unbind(),
                        view: None,
                        sent: 0,
                    };
                    return Self::slow(event_loop, sock, attempt);
                }
                fut
            }
        };
        Ok(Started::Wait(ffi::await_iter(&pending)?))
    }

    /// What the fast path does not take (see `sock_slow.rs`).
    fn slow<'py>(
        event_loop: &Bound<'py, PyLoopCore>,
        sock: &Bound<'py, PyAny>,
        attempt: sock_slow::Attempt,
    ) -> PyResult<Started<'py>> {
        Ok(match sock_slow::start(event_loop, sock, attempt)? {
            sock_slow::Slow::Done(result) => Started::Done(result),
            sock_slow::Slow::Waiting(fut) => Started::Wait(ffi::await_iter(&fut)?),
        })
    }

    /// The exception `throw(typ, val, tb)` raises: an instance as given, else `typ(val)`.
    fn exception<'py>(typ: &Bound<'py, PyAny>, val: Option<&Bound<'py, PyAny>>) -> PyResult<PyErr> {
        if typ.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            return Ok(PyErr::from_value(typ.clone()));
        }
        if typ.cast::<PyType>().is_err() {
            return Err(PyTypeError::new_err(
                "exceptions must be classes or instances deriving from BaseException",
            ));
        }
        let exc = match val {
            Some(v) if v.is_instance_of::<pyo3::exceptions::PyBaseException>() => v.clone(),
            Some(v) if !v.is_none() => typ.call1((v,))?,
            _ => typ.call0()?,
        };
        Ok(PyErr::from_value(exc))
    }
}

enum Started<'py> {
    /// Done at once: the await's result.
    Done(Bound<'py, PyAny>),
    /// Has to wait: the iterator to hand the await on to (not stepped yet).
    Wait(Bound<'py, PyAny>),
}

impl ffi::Resumable for SockCall {
    fn resume<'py>(obj: &Bound<'py, PyAny>, arg: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
        obj.cast::<SockCall>()?.get().step(obj.py(), arg)
    }
}

/// A step's outcome as the Python-level protocol gives it: a yielded value, or
/// StopIteration carrying the result.
fn yielded(sent: PyResult<Sent<'_>>) -> PyResult<Py<PyAny>> {
    match sent? {
        Sent::Next(value) => Ok(value.unbind()),
        Sent::Return(value) => Err(PyStopIteration::new_err((value.unbind(),))),
    }
}

#[pymethods]
impl SockCall {
    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        yielded(self.step(py, value))
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        yielded(self.step(py, &py.None().into_bound(py)))
    }

    fn __await__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (typ, val = None, tb = None))]
    fn throw(
        &self,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let state = std::mem::replace(&mut *self.state.borrow_mut(py), State::Running);
        match state {
            State::Awaiting(iter) => {
                let iter = iter.into_bound(py);
                let thrown = match (val, tb) {
                    (None, None) => iter.call_method1("throw", (typ,)),
                    (val, None) => iter.call_method1("throw", (typ, val)),
                    (val, tb) => iter.call_method1("throw", (typ, val, tb)),
                };
                *self.state.borrow_mut(py) = match &thrown {
                    Ok(_) => State::Awaiting(iter.unbind()),
                    Err(_) => State::Done,
                };
                thrown.map(Bound::unbind)
            }
            State::Running => {
                *self.state.borrow_mut(py) = State::Running;
                Err(PyValueError::new_err("coroutine already executing"))
            }
            _ => {
                *self.state.borrow_mut(py) = State::Done;
                Err(Self::exception(typ, val)?)
            }
        }
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let state = std::mem::replace(&mut *self.state.borrow_mut(py), State::Done);
        match state {
            State::Awaiting(iter) => {
                let iter = iter.into_bound(py);
                if iter.hasattr("close")? {
                    iter.call_method0("close")?;
                }
                Ok(())
            }
            State::Running => {
                *self.state.borrow_mut(py) = State::Running;
                Err(PyValueError::new_err("coroutine already executing"))
            }
            _ => Ok(()),
        }
    }

    #[getter]
    fn __name__(&self) -> &'static str {
        self.op.name()
    }

    #[getter]
    fn __qualname__(&self) -> String {
        format!("Loop.{}", self.op.name())
    }

    fn __repr__(&self) -> String {
        format!("<coroutine object Loop.{}>", self.op.name())
    }

    /// As a Python coroutine's: `(filename, lineno, function)` of the frames that made
    /// the call, innermost first, when `sys.set_coroutine_origin_tracking_depth` was on
    /// (asyncio's debug mode turns it on); else None.
    #[getter]
    fn cr_origin(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.origin.as_ref().map(|o| o.clone_ref(py))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(state) = self.state.traverse_borrow(&visit) {
            match &*state {
                State::Start {
                    event_loop,
                    sock,
                    arg,
                } => {
                    visit.call(event_loop)?;
                    visit.call(sock)?;
                    visit.call(arg)?;
                }
                State::Awaiting(iter) => visit.call(iter)?,
                State::Running | State::Done => {}
            }
        }
        if let Some(origin) = &self.origin {
            visit.call(origin)?;
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        let state = std::mem::replace(&mut *self.state.borrow_mut(py), State::Done);
        self.warn_if_never_started(py, &state);
        drop(state);
    }
}

impl SockCall {
    /// A coroutine dropped before its first step was never awaited: say so, as Python
    /// does for its own coroutines (an exception being raised meanwhile is kept).
    ///
    /// The warning is made by the function CPython itself calls for its coroutines,
    /// which adds "Coroutine created at" and the origin's lines when there is one. The
    /// object may be going away, so that function gets a stand-in with the two
    /// attributes it reads.
    fn warn_if_never_started(&self, py: Python<'_>, state: &State) {
        if !matches!(state, State::Start { .. }) {
            return;
        }
        let pending = PyErr::take(py);
        let qualname = format!("Loop.{}", self.op.name());
        if let Err(err) = warn_unawaited(py, &qualname, self.origin.as_ref()) {
            err.write_unraisable(py, None);
        }
        if let Some(pending) = pending {
            pending.restore(py);
        }
    }
}

/// `cr_origin` for a call made now, or None when origin tracking is off: the calling
/// Python frames (this native code has none), innermost first, at most the tracking
/// depth of them.
fn origin(py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
    let sys = py.import("sys")?;
    let depth: usize = sys
        .call_method0("get_coroutine_origin_tracking_depth")?
        .extract()?;
    if depth == 0 {
        return Ok(None);
    }
    let mut frames = Vec::with_capacity(depth);
    let mut frame = sys.call_method1("_getframe", (0,))?;
    while !frame.is_none() && frames.len() < depth {
        let code = frame.getattr("f_code")?;
        frames.push((
            code.getattr("co_filename")?,
            frame.getattr("f_lineno")?,
            code.getattr("co_name")?,
        ));
        frame = frame.getattr("f_back")?;
    }
    Ok(Some(PyTuple::new(py, frames)?.into_any().unbind()))
}

/// Python's "coroutine ... was never awaited" RuntimeWarning for a coroutine called
/// `qualname` made at `origin`.
fn warn_unawaited(py: Python<'_>, qualname: &str, origin: Option<&Py<PyAny>>) -> PyResult<()> {
    let warnings = py.import("warnings")?;
    let stand_in = py
        .import("types")?
        .getattr("SimpleNamespace")?
        .call((), None)?;
    stand_in.setattr("__qualname__", qualname)?;
    stand_in.setattr(
        "cr_origin",
        origin.map_or_else(|| py.None(), |o| o.clone_ref(py)),
    )?;
    warnings
        .call_method1("_warn_unawaited_coroutine", (stand_in,))
        .map(drop)
}

impl Drop for SockCall {
    fn drop(&mut self) {
        let state = std::mem::replace(self.state.get_mut(), State::Done);
        if matches!(state, State::Start { .. }) {
            Python::attach(|py| self.warn_if_never_started(py, &state));
        }
    }
}

#[pymethods]
impl PyLoopCore {
    /// `await loop.sock_recv(sock, n)`: up to `n` bytes from `sock` (asyncio's contract).
    fn sock_recv(slf: &Bound<'_, Self>, sock: Py<PyAny>, n: Py<PyAny>) -> PyResult<Py<SockCall>> {
        Py::new(slf.py(), SockCall::new(Op::Recv, slf, sock, n)?)
    }

    /// `await loop.sock_sendall(sock, data)`: all of `data` sent (asyncio's contract).
    fn sock_sendall(
        slf: &Bound<'_, Self>,
        sock: Py<PyAny>,
        data: Py<PyAny>,
    ) -> PyResult<Py<SockCall>> {
        Py::new(slf.py(), SockCall::new(Op::SendAll, slf, sock, data)?)
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SockCall>()?;
    ffi::install_coroutine_send::<SockCall>(m.py());
    Ok(())
}
