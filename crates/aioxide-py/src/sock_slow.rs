//! `sock_recv`/`sock_sendall` for what the fast path (`sockets.rs`) does not take: a
//! socket subclass or mock, a blocking socket, an `n` that is not a plain `int`, data
//! that is not `bytes`. As asyncio does, every attempt calls the object's own
//! `recv`/`send`, looked up each time; a blocked attempt is retried when the descriptor
//! is ready, by a watcher removed once the future is done.

use std::os::fd::RawFd;

use pyo3::exceptions::{PyBlockingIOError, PyInterruptedError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use pyo3::types::{PyMemoryView, PySlice};

use crate::event_loop::handle_args::NativeCall;
use crate::event_loop::watchers::Side;
use crate::event_loop::PyLoopCore;
use crate::ffi::GilCell;

/// What each attempt does.
pub(crate) enum Attempt {
    /// `sock.recv(n)`.
    Recv(Py<PyAny>),
    /// `sock.send(data)`, then the rest through a byte view until all of it went out.
    SendAll {
        data: Py<PyAny>,
        view: Option<Py<PyAny>>,
        sent: usize,
    },
}

impl Attempt {
    fn side(&self) -> Side {
        match self {
            Attempt::Recv(_) => Side::Read,
            Attempt::SendAll { .. } => Side::Write,
        }
    }
}

/// The reader or writer callback that retries one attempt.
#[pyclass(module = "aioxide._aioxide", frozen)]
pub(crate) struct SlowStep {
    fut: Py<PyAny>,
    sock: Py<PyAny>,
    attempt: GilCell<Attempt>,
}

fn would_block(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PyBlockingIOError>(py) || err.is_instance_of::<PyInterruptedError>(py)
}

impl SlowStep {
    /// One attempt: its result when done, `None` when it would block.
    fn try_once<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let sock = self.sock.bind(py);
        // State is copied out and back: the calls below run arbitrary Python code.
        let (data, view, sent) = match &*self.attempt.borrow_mut(py) {
            Attempt::Recv(n) => {
                let n = n.clone_ref(py);
                return match sock.call_method1(pyo3::intern!(py, "recv"), (n,)) {
                    Ok(data) => Ok(Some(data)),
                    Err(e) if would_block(py, &e) => Ok(None),
                    Err(e) => Err(e),
                };
            }
            Attempt::SendAll { data, view, sent } => (
                data.clone_ref(py),
                view.as_ref().map(|v| v.clone_ref(py)),
                *sent,
            ),
        };
        let send = pyo3::intern!(py, "send");
        let (view, sent) = match view {
            // The first send takes `data` itself, as asyncio's does: socket.send's own
            // checks raise for what it cannot send, and empty data is still sent once.
            None => {
                let n = match sock.call_method1(send, (data.bind(py),)) {
                    Ok(n) => n.extract::<usize>()?,
                    Err(e) if would_block(py, &e) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let view = PyMemoryView::from(data.bind(py))?;
                (view.call_method1("cast", ("B",))?, n)
            }
            Some(view) => {
                let rest =
                    view.bind(py)
                        .get_item(PySlice::new(py, sent as isize, isize::MAX, 1))?;
                let n = match sock.call_method1(send, (rest,)) {
                    Ok(n) => n.extract::<usize>()?,
                    Err(e) if would_block(py, &e) => return Ok(None),
                    Err(e) => return Err(e),
                };
                (view.into_bound(py), sent + n)
            }
        };
        let done = sent >= view.len()?;
        *self.attempt.borrow_mut(py) = Attempt::SendAll {
            data,
            view: Some(view.unbind()),
            sent,
        };
        Ok(done.then(|| py.None().into_bound(py)))
    }
}

#[pymethods]
impl SlowStep {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let fut = self.fut.bind(py);
        if fut.call_method0(pyo3::intern!(py, "done"))?.is_truthy()? {
            return Ok(());
        }
        match self.try_once(py) {
            Ok(None) => Ok(()),
            Ok(Some(result)) => fut
                .call_method1(pyo3::intern!(py, "set_result"), (result,))
                .map(drop),
            Err(e) if crate::transport::must_propagate(py, &e) => Err(e),
            Err(e) => fut
                .call_method1(pyo3::intern!(py, "set_exception"), (e.value(py),))
                .map(drop),
        }
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.fut)?;
        visit.call(&self.sock)?;
        if let Some(attempt) = self.attempt.traverse_borrow(&visit) {
            match &*attempt {
                Attempt::Recv(n) => visit.call(n)?,
                Attempt::SendAll { data, view, .. } => {
                    visit.call(data)?;
                    if let Some(v) = view {
                        visit.call(v)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// asyncio's `_check_sock`: no `ssl.SSLSocket`; in debug mode, a non-blocking socket.
fn check_sock(event_loop: &Bound<'_, PyLoopCore>, sock: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = sock.py();
    if let Some(t) = crate::stdlib::ssl_socket(py) {
        if sock.is_instance(t)? {
            return Err(PyTypeError::new_err("Socket cannot be of type SSLSocket"));
        }
    }
    let debug = event_loop.get().debug_enabled();
    if debug && !sock.call_method0(pyo3::intern!(py, "gettimeout"))?.eq(0)? {
        return Err(PyValueError::new_err("the socket must be non-blocking"));
    }
    Ok(())
}

pub(crate) enum Slow<'py> {
    /// Done at once: the result.
    Done(Bound<'py, PyAny>),
    /// The future to await.
    Waiting(Bound<'py, PyAny>),
}

/// Try `attempt` on `sock` now; if it would block, a future that a watcher resolves.
pub(crate) fn start<'py>(
    event_loop: &Bound<'py, PyLoopCore>,
    sock: &Bound<'py, PyAny>,
    attempt: Attempt,
) -> PyResult<Slow<'py>> {
    let py = sock.py();
    check_sock(event_loop, sock)?;
    let side = attempt.side();
    let fut = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let step = Bound::new(
        py,
        SlowStep {
            fut: fut.clone().unbind(),
            sock: sock.clone().unbind(),
            attempt: GilCell::new(attempt),
        },
    )?;
    if let Some(result) = step.get().try_once(py)? {
        return Ok(Slow::Done(result));
    }
    let fd: RawFd = sock.call_method0(pyo3::intern!(py, "fileno"))?.extract()?;
    let step = step.into_any();
    let call: NativeCall = |step| step.cast::<SlowStep>()?.get().__call__(step.py());
    PyLoopCore::watch_until_done(event_loop, (side, sock, fd), &fut, (step, call), false)?;
    Ok(Slow::Waiting(fut))
}
