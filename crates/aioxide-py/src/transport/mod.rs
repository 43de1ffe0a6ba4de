//! Native transports. A transport is two objects: a thin Python subclass of
//! `asyncio.Transport` (so `isinstance` checks and `get_extra_info` work, and the
//! `__slots__` of `asyncio.BaseTransport` do not clash with a native layout) and a native
//! core, defined here, that owns the state and does the I/O.
//!
//! The core's read path is the reader callback itself: one `recv` into a reused buffer,
//! one `bytes`, one `data_received` call (or `recv` straight into a `BufferedProtocol`'s
//! buffer). The write path tries `send` at once and keeps only what the kernel did not
//! take, flushed by `writev` when the socket is writable, with asyncio's water marks.
//! Rare paths are native too: one fatal-error policy for every core (`report_fatal`),
//! and readiness callbacks and deferred steps are `CoreStep`s (`step.rs`).

mod accept;
pub mod datagram;
mod lifecycle;
mod server_clients;
mod step;
pub mod stream;
mod stream_io;
mod stream_open;
pub mod tls;
mod tls_app;
mod tls_io;
mod tls_lifecycle;

use std::os::fd::RawFd;

pub(crate) use step::CoreStep;

use aioxide_core::transport::{FlowEvent, WaterMarks};
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PySystemExit, PyValueError};
use pyo3::prelude::*;

use pyo3::types::{PyDict, PyInt};

use crate::event_loop::handle_args::{HandleArgs, NativeCall};
use crate::event_loop::watchers::{FdOf, Side};
use crate::event_loop::PyLoopCore;
use crate::stdlib;

/// `SystemExit` and `KeyboardInterrupt` propagate out of transport callbacks; every other
/// exception a protocol raises becomes a fatal transport error (asyncio's rule).
pub(crate) fn must_propagate(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PySystemExit>(py) || err.is_instance_of::<PyKeyboardInterrupt>(py)
}

/// Give `data` to the protocol's `data_received`, looked up once per protocol
/// (`cached`). A protocol that had none then is asked again now, which gives asyncio's
/// `AttributeError` (or finds one set since).
pub(crate) fn deliver_data(
    py: Python<'_>,
    cached: Option<Py<PyAny>>,
    protocol: impl FnOnce() -> Option<Py<PyAny>>,
    data: Bound<'_, PyAny>,
) -> PyResult<()> {
    let callback = match cached {
        Some(callback) => callback.into_bound(py),
        None => match protocol() {
            Some(protocol) => protocol
                .bind(py)
                .getattr(pyo3::intern!(py, "data_received"))?,
            None => return Ok(()),
        },
    };
    callback.call1((data,)).map(drop)
}

/// Register `callback`, a native object that `call` runs, for `side` of `fd`: the loop
/// calls `call(callback)`, a Rust call, in the handle's context.
pub(crate) fn watch_fd(
    event_loop: &Bound<'_, PyLoopCore>,
    side: Side,
    fd: RawFd,
    callback: &Bound<'_, PyAny>,
    call: NativeCall,
) -> PyResult<()> {
    let args = HandleArgs::Native(call);
    PyLoopCore::add_watcher_fd_for(event_loop, side, fd, callback, args, FdOf::Number).map(drop)
}

pub(crate) fn unwatch_fd(
    event_loop: &Bound<'_, PyLoopCore>,
    side: Side,
    fd: RawFd,
) -> PyResult<()> {
    PyLoopCore::remove_watcher_fd(event_loop, side, fd).map(drop)
}

/// A core's `connection_lost` step (`StreamLost`/`DatagramLost`) with `exc`, on the
/// loop's next iteration.
pub(crate) fn schedule_connection_lost(
    event_loop: &Bound<'_, PyLoopCore>,
    step: Bound<'_, CoreStep>,
    exc: Py<PyAny>,
) -> PyResult<()> {
    let py = step.py();
    event_loop
        .call_method1(pyo3::intern!(py, "call_soon"), (step, exc))
        .map(drop)
}

/// The errors a transport reports only in debug mode, because they only mean that the
/// peer went away (asyncio's rule for each kind of transport).
#[derive(Clone, Copy)]
pub(crate) enum PeerGone {
    /// Sockets and TLS: any `OSError`.
    AnyOsError,
    /// Pipes: `EIO`, which is how a pty says that its other side closed.
    Eio,
}

impl PeerGone {
    fn matches(self, exc: &Bound<'_, PyAny>) -> PyResult<bool> {
        if !exc.is_instance_of::<PyOSError>() {
            return Ok(false);
        }
        Ok(match self {
            PeerGone::AnyOsError => true,
            PeerGone::Eio => exc
                .getattr(pyo3::intern!(exc.py(), "errno"))?
                .eq(libc::EIO)?,
        })
    }
}

/// Who a fatal error is about, as the report names it.
pub(crate) struct FatalSubject<'a, 'py> {
    pub event_loop: &'a Bound<'py, PyAny>,
    pub debug: bool,
    /// What the debug log's `%r` shows.
    pub shown: &'a Bound<'py, PyAny>,
    pub transport: Option<Py<PyAny>>,
    pub protocol: Option<Py<PyAny>>,
}

/// asyncio's `_fatal_error` report, the same for every transport core: an error that
/// only means the peer went away is logged in debug mode; anything else (a cancellation
/// aside) goes to the loop's exception handler. The caller then force-closes.
pub(crate) fn report_fatal(
    who: FatalSubject<'_, '_>,
    exc: &Bound<'_, PyAny>,
    message: &str,
    gone: PeerGone,
) -> PyResult<()> {
    let py = exc.py();
    if gone.matches(exc)? {
        if who.debug {
            let kwargs = PyDict::new(py);
            kwargs.set_item("exc_info", exc)?;
            let args = ("%r: %s", who.shown, message);
            stdlib::asyncio_logger(py)?.call_method("debug", args, Some(&kwargs))?;
        }
        return Ok(());
    }
    if exc.is_instance(stdlib::cancelled_error(py)?)? {
        return Ok(());
    }
    let context = PyDict::new(py);
    context.set_item("message", message)?;
    context.set_item("exception", exc)?;
    context.set_item("transport", who.transport)?;
    context.set_item("protocol", who.protocol)?;
    who.event_loop
        .call_method1(pyo3::intern!(py, "call_exception_handler"), (context,))
        .map(drop)
}

/// `report_fatal` for a socket or pipe core, whose loop is a `LoopCore` and whose debug
/// log shows the transport; returns the exception, for the caller's force-close.
pub(crate) fn report_core_fatal(
    event_loop: &Bound<'_, PyLoopCore>,
    transport: Option<Py<PyAny>>,
    protocol: Option<Py<PyAny>>,
    err: PyErr,
    message: &str,
    gone: PeerGone,
) -> PyResult<Py<PyAny>> {
    let py = event_loop.py();
    let exc = err.value(py).clone().into_any();
    let shown = match &transport {
        Some(t) => t.bind(py).clone(),
        None => py.None().into_bound(py),
    };
    let who = FatalSubject {
        event_loop: event_loop.as_any(),
        debug: event_loop.get().debug_enabled(),
        shown: &shown,
        transport,
        protocol,
    };
    report_fatal(who, &exc, message, gone)?;
    Ok(exc.unbind())
}

/// Tell `protocol` about a flow event (`pause_writing()`/`resume_writing()`); if that
/// raises, the error goes to the loop's exception handler, as asyncio does.
pub(crate) fn notify_flow(
    event_loop: &Bound<'_, PyAny>,
    protocol: Option<Py<PyAny>>,
    transport: Option<Py<PyAny>>,
    event: FlowEvent,
) -> PyResult<()> {
    let py = event_loop.py();
    let name = match event {
        FlowEvent::None => return Ok(()),
        FlowEvent::Pause => "pause_writing",
        FlowEvent::Resume => "resume_writing",
    };
    let (Some(protocol), Some(transport)) = (protocol, transport) else {
        return Ok(());
    };
    if let Err(err) = protocol.bind(py).call_method0(name) {
        if must_propagate(py, &err) {
            return Err(err);
        }
        let context = PyDict::new(py);
        context.set_item("message", format!("protocol.{name}() failed"))?;
        context.set_item("exception", err.value(py))?;
        context.set_item("transport", transport)?;
        context.set_item("protocol", protocol)?;
        event_loop.call_method1(pyo3::intern!(py, "call_exception_handler"), (context,))?;
    }
    Ok(())
}

/// `set_write_buffer_limits(high, low)`'s marks, with asyncio's checks and messages.
pub(crate) fn water_marks(
    high: Option<&Bound<'_, PyAny>>,
    low: Option<&Bound<'_, PyAny>>,
) -> PyResult<WaterMarks> {
    water_marks_or(high, low, aioxide_core::transport::DEFAULT_HIGH)
}

/// `water_marks` with another default high-water mark.
///
/// asyncio takes any number (it only compares the marks with buffer sizes), so the
/// missing mark is derived and the marks are checked as Python numbers, with asyncio's
/// arithmetic and message; they are then stored rounded down, which keeps every
/// comparison with a whole size the same (`size > 6.5` exactly when `size > 6`).
pub(crate) fn water_marks_or(
    high: Option<&Bound<'_, PyAny>>,
    low: Option<&Bound<'_, PyAny>>,
    default_high: usize,
) -> PyResult<WaterMarks> {
    if let (Some(h), Some(l)) = (high, low) {
        if let (Ok(h), Ok(l)) = (h.extract::<usize>(), l.extract::<usize>()) {
            return WaterMarks::from_limits_or(Some(h), Some(l), default_high)
                .map_err(PyValueError::new_err);
        }
    }
    let (high, low) = match (high, low) {
        (None, None) => {
            return WaterMarks::from_limits_or(None, None, default_high)
                .map_err(PyValueError::new_err)
        }
        (Some(h), l) => (h.clone(), l.cloned()),
        (None, Some(l)) => (l.mul(4)?, Some(l.clone())),
    };
    let low = match low {
        Some(l) => l,
        None => high.floor_div(4)?,
    };
    if !(high.ge(&low)? && low.ge(0)?) {
        return Err(PyValueError::new_err(format!(
            "high ({}) must be >= low ({}) must be >= 0",
            high.str()?,
            low.str()?
        )));
    }
    WaterMarks::from_limits_or(
        Some(size_mark(&high)?),
        Some(size_mark(&low)?),
        default_high,
    )
    .map_err(PyValueError::new_err)
}

/// A non-negative mark as a byte count, rounded down; beyond `usize` (a huge int,
/// infinity) it is `usize::MAX`, a mark no buffer reaches.
fn size_mark(mark: &Bound<'_, PyAny>) -> PyResult<usize> {
    if let Ok(n) = mark.extract::<usize>() {
        return Ok(n);
    }
    if mark.is_instance_of::<PyInt>() {
        return Ok(usize::MAX); // an int that is not a usize and is >= 0: too big
    }
    let value: f64 = mark.extract()?;
    Ok(if value >= usize::MAX as f64 {
        usize::MAX
    } else {
        value.floor() as usize
    })
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<accept::PyAcceptor>()?;
    m.add_class::<server_clients::PyServerClients>()?;
    m.add_function(wrap_pyfunction!(stream_open::socket_extra, m)?)?;
    m.add_class::<stream::PyStreamCore>()?;
    m.add_class::<datagram::PyDatagramCore>()?;
    m.add_class::<tls::PyTlsCore>()?;
    Ok(())
}
