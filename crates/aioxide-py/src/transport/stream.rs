//! `StreamCore`: the state and the public operations of a stream (TCP or Unix) socket
//! transport, and of a pipe transport (either end of a pipe, FIFO, pty or character
//! device: `pipe=True`, which reads with `read(2)` and follows asyncio's pipe rules where
//! they differ, noted at each place). The I/O callbacks are in `stream_io.rs`.
//!
//! Locking rule: `state` (a `GilCell`) is only borrowed for plain Rust work. Python
//! objects are cloned out (a reference-count increment, no allocation) and the borrow
//! ended before any call into Python or any drop of a Python object, so protocol
//! callbacks may re-enter the transport freely and the garbage collector never finds
//! it borrowed.

use std::os::fd::RawFd;

use aioxide_core::stream::{FlowEvent, WaterMarks, WriteBuffer};
use aioxide_core::sys::socket;
use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};

use super::step::{CoreStep, Step};
use super::PeerGone;
use crate::errors;
use crate::event_loop::watchers::Side;
use crate::event_loop::PyLoopCore;
use crate::sockets::Source;
use crate::stdlib;

/// asyncio's `constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES`.
const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

pub(crate) struct StreamState {
    /// The socket object; `None` once the connection is lost and the socket closed.
    pub sock: Option<Py<PyAny>>,
    pub transport: Option<Py<PyAny>>,
    pub protocol: Option<Py<PyAny>>,
    /// `protocol.data_received`, looked up once per protocol.
    pub data_received: Option<Py<PyAny>>,
    /// The protocol is an `asyncio.BufferedProtocol`.
    pub buffered: bool,
    pub buf: WriteBuffer,
    pub flags: super::ReadFlags,
    /// `write_eof()` was called.
    pub eof: bool,
    pub conn_lost: u32,
    /// Writes a closing pipe dropped. asyncio counts them in `_conn_lost` (for the
    /// warning after repeated writes) without stopping the flush; here they are apart.
    pub dropped_writes: u32,
    /// A writer callback is registered (the buffer is not empty).
    pub writing: bool,
    /// Resolved when the buffer is empty (`sendfile` waits for it before it takes over).
    pub empty_waiter: Option<Py<PyAny>>,
    /// Called once the connection is gone: the server's accounting of an accepted
    /// connection, handed over at construction.
    pub on_lost: Option<Py<PyAny>>,
}

#[pyclass(module = "aioxide._aioxide", name = "StreamCore", frozen)]
pub struct PyStreamCore {
    pub(crate) event_loop: Py<PyLoopCore>,
    pub(crate) fd: RawFd,
    /// A pipe transport's core (`read`/`write` instead of `recv`/`send`).
    pub(crate) pipe: bool,
    pub(crate) state: crate::ffi::GilCell<StreamState>,
}

/// The bytes of a `write()` argument, with asyncio's type check and message. A
/// memoryview that is not C-contiguous is asyncio's `send()` failure, a `BufferError`
/// (the callers make it the fatal write error asyncio's transports make it).
pub(crate) fn data_bytes<'py>(
    data: &Bound<'py, PyAny>,
    check: StdlibCheck,
) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(b) = data.cast_exact::<PyBytes>() {
        return Ok(b.clone());
    }
    if data.is_instance_of::<PyMemoryView>()
        && !data
            .getattr(pyo3::intern!(data.py(), "c_contiguous"))?
            .is_truthy()?
    {
        return Err(PyBufferError::new_err(
            "memoryview: underlying buffer is not C-contiguous",
        ));
    }
    if data.is_instance_of::<PyBytes>()
        || data.is_instance_of::<PyByteArray>()
        || data.is_instance_of::<PyMemoryView>()
    {
        return copied_bytes(data);
    }
    Err(stdlib_type_error(data, check))
}

/// The stdlib transport method whose argument check a native one repeats.
#[derive(Clone, Copy)]
pub(crate) enum StdlibCheck {
    Write,
    Sendto,
}

/// The `TypeError` the stdlib's selector transport raises for this `write()`/`sendto()`
/// argument. Its text changed within releases (3.13.x, 3.14), so it is asked for rather
/// than copied: the stdlib's methods check the type before they look at their transport.
fn stdlib_type_error(data: &Bound<'_, PyAny>, check: StdlibCheck) -> PyErr {
    let py = data.py();
    let stdlib_error = stdlib::selector_transport_method(py, matches!(check, StdlibCheck::Sendto))
        .and_then(|f| f.call1((py.None(), data)).map(|_| ()));
    match stdlib_error {
        Err(err) if err.is_instance_of::<PyTypeError>(py) => err,
        _ => {
            let name = data
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            PyTypeError::new_err(format!(
                "data argument must be a bytes-like object, not '{name}'"
            ))
        }
    }
}

/// `bytes(data)`: one copy, as asyncio's own buffers keep one.
pub(crate) fn copied_bytes<'py>(data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let py = data.py();
    Ok(py
        .get_type::<PyBytes>()
        .call1((data,))?
        .cast_into::<PyBytes>()?)
}

impl PyStreamCore {
    /// One read of the descriptor.
    pub(crate) fn source(&self) -> Source {
        if self.pipe {
            Source::Other(self.fd)
        } else {
            Source::Socket(self.fd)
        }
    }

    pub(crate) fn read_fd(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pipe {
            socket::read(self.fd, buf)
        } else {
            socket::recv(self.fd, buf)
        }
    }

    fn write_fd(&self, buf: &[u8]) -> std::io::Result<usize> {
        if self.pipe {
            socket::write(self.fd, buf)
        } else {
            socket::send(self.fd, buf)
        }
    }

    /// "socket" or "pipe", as asyncio's messages name the transport.
    pub(crate) fn kind(&self) -> &'static str {
        if self.pipe {
            "pipe"
        } else {
            "socket"
        }
    }

    /// The Python transport, while the core has one.
    pub(crate) fn transport(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let st = self.state.borrow_mut(py);
        st.transport.as_ref().map(|t| t.clone_ref(py))
    }

    /// The protocol, while the core has one.
    pub(crate) fn protocol(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let st = self.state.borrow_mut(py);
        st.protocol.as_ref().map(|p| p.clone_ref(py))
    }

    pub(crate) fn loop_<'py>(&self, py: Python<'py>) -> &Bound<'py, PyLoopCore> {
        self.event_loop.bind(py)
    }

    pub(crate) fn unwatch(&self, py: Python<'_>, side: Side) -> PyResult<()> {
        super::unwatch_fd(self.loop_(py), side, self.fd)
    }

    /// Register `callback` (called with no arguments) for `side` of the descriptor.
    pub(crate) fn watch(
        slf: &Bound<'_, Self>,
        side: Side,
        callback: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        super::watch_fd(slf.get().loop_(slf.py()), side, slf.get().fd, callback)
    }

    pub(crate) fn watch_write(slf: &Bound<'_, Self>) -> PyResult<()> {
        let callback = CoreStep::new(slf, Step::WriteReady)?;
        Self::watch(slf, Side::Write, callback.as_any())
    }

    /// The core object itself is the reader callback (its `__call__`).
    pub(crate) fn watch_read(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::watch(slf, Side::Read, slf.as_any())
    }

    /// asyncio's `_fatal_error`: report (see `super::report_fatal`), then force-close.
    pub(crate) fn fatal_error(slf: &Bound<'_, Self>, err: PyErr, message: &str) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let gone = if this.pipe {
            PeerGone::Eio
        } else {
            PeerGone::AnyOsError
        };
        let (transport, protocol) = (this.transport(py), this.protocol(py));
        let exc =
            super::report_core_fatal(this.loop_(py), transport, protocol, err, message, gone)?;
        Self::force_close(slf, exc)
    }

    /// Tell the protocol about a flow event (see `super::notify_flow`).
    pub(crate) fn flow(&self, py: Python<'_>, event: FlowEvent) -> PyResult<()> {
        let event_loop = self.loop_(py).as_any();
        super::notify_flow(event_loop, self.protocol(py), self.transport(py), event)
    }

    /// asyncio's `_force_close`: drop the buffer, stop reading and writing, and call
    /// `connection_lost(exc)` on the next iteration.
    pub(crate) fn force_close(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (drop_writer, drop_reader) = {
            let mut st = this.state.borrow_mut(py);
            if st.conn_lost > 0 {
                return Ok(());
            }
            let drop_writer = st.writing;
            st.buf.clear();
            st.writing = false;
            // A closing write pipe still watches its descriptor for the reader going away.
            let drop_reader = !st.flags.closing || this.pipe;
            st.flags.closing = true;
            st.conn_lost += 1;
            (drop_writer, drop_reader)
        };
        if drop_writer {
            this.unwatch(py, Side::Write)?;
        }
        if drop_reader {
            this.unwatch(py, Side::Read)?;
        }
        Self::schedule_connection_lost(slf, exc)
    }

    pub(crate) fn schedule_connection_lost(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let step = CoreStep::new(slf, Step::StreamLost)?;
        super::schedule_connection_lost(slf.get().loop_(slf.py()), step, exc)
    }

    fn set_protocol_inner(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = protocol.py();
        let buffered = protocol.is_instance(stdlib::buffered_protocol(py)?)?;
        let data_received = if buffered {
            None
        } else {
            protocol
                .getattr(pyo3::intern!(py, "data_received"))
                .ok()
                .map(Bound::unbind)
        };
        let old = {
            let mut st = self.state.borrow_mut(py);
            st.buffered = buffered;
            let old_cb = std::mem::replace(&mut st.data_received, data_received);
            let old = st.protocol.replace(protocol.clone().unbind());
            (old, old_cb)
        };
        drop(old);
        Ok(())
    }
}

#[pymethods]
impl PyStreamCore {
    /// `StreamCore(loop, sock, transport, protocol, pipe=False, on_lost=None)`: the core
    /// of `transport`, which owns `sock` (closed once the connection is lost): a socket,
    /// or with `pipe=True` a non-blocking pipe-like file object. `on_lost()` is called
    /// after `connection_lost` (a server's accounting).
    #[new]
    #[pyo3(signature = (event_loop, sock, transport, protocol, pipe = false, on_lost = None))]
    fn new(
        event_loop: Bound<'_, PyLoopCore>,
        sock: &Bound<'_, PyAny>,
        transport: &Bound<'_, PyAny>,
        protocol: &Bound<'_, PyAny>,
        pipe: bool,
        on_lost: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let fd: i64 = sock.call_method0("fileno")?.extract()?;
        let fd = RawFd::try_from(fd)
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| errors::invalid_fd(fd))?;
        let core = PyStreamCore {
            event_loop: event_loop.unbind(),
            fd,
            pipe,
            state: crate::ffi::GilCell::new(StreamState {
                sock: Some(sock.clone().unbind()),
                transport: Some(transport.clone().unbind()),
                protocol: None,
                data_received: None,
                buffered: false,
                buf: WriteBuffer::new(WaterMarks::default()),
                flags: super::ReadFlags::default(),
                eof: false,
                conn_lost: 0,
                dropped_writes: 0,
                writing: false,
                empty_waiter: None,
                on_lost: on_lost.filter(|f| !f.is_none(sock.py())),
            }),
        };
        core.set_protocol_inner(protocol)?;
        Ok(core)
    }

    #[getter]
    fn fd(&self) -> RawFd {
        self.fd
    }

    /// The protocol was told to pause writing and not yet to resume.
    #[getter]
    fn protocol_paused(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).buf.is_paused()
    }

    /// Start reading (scheduled right after `connection_made`); nothing if the transport
    /// was paused or closed meanwhile (asyncio's `_add_reader`).
    fn _start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let reading = slf.get().state.borrow_mut(slf.py()).flags.is_reading();
        if reading {
            Self::watch_read(slf)?;
        }
        Ok(())
    }

    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        // A BufferError is asyncio's send() failing on the data: a fatal error, once the
        // checks before its send() have passed.
        let (data, unsendable) = match data_bytes(data, StdlibCheck::Write) {
            Ok(bytes) => (Some(bytes), None),
            Err(err) if err.is_instance_of::<PyBufferError>(py) => (None, Some(err)),
            Err(err) => return Err(err),
        };
        let bytes = data.as_ref().map_or(&[][..], |b| b.as_bytes());
        let mut st = this.state.borrow_mut(py);
        if st.eof {
            return Err(PyRuntimeError::new_err(
                "Cannot call write() after write_eof()",
            ));
        }
        if st.empty_waiter.is_some() {
            return Err(PyRuntimeError::new_err(
                "unable to write; sendfile is in progress",
            ));
        }
        if bytes.is_empty() && unsendable.is_none() {
            return Ok(());
        }
        // asyncio's pipes also drop data written once they are closing.
        let dropping = this.pipe && st.flags.closing;
        if st.conn_lost > 0 || dropping {
            let warn = st.conn_lost + st.dropped_writes >= LOG_THRESHOLD_FOR_CONNLOST_WRITES;
            if st.conn_lost > 0 {
                st.conn_lost += 1;
            } else {
                st.dropped_writes += 1;
            }
            drop(st);
            if warn {
                let message = if this.pipe {
                    "pipe closed by peer or os.write(pipe, data) raised exception."
                } else {
                    "socket.send() raised exception."
                };
                stdlib::asyncio_logger(py)?.call_method1("warning", (message,))?;
            }
            return Ok(());
        }
        if let Some(err) = unsendable {
            drop(st);
            let message = format!("Fatal write error on {} transport", this.kind());
            return Self::fatal_error(slf, err, &message);
        }
        let mut rest = bytes;
        if st.buf.is_empty() {
            match this.write_fd(bytes) {
                Ok(n) if n >= bytes.len() => return Ok(()),
                Ok(n) => rest = &bytes[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    drop(st);
                    let message = format!("Fatal write error on {} transport", this.kind());
                    return Self::fatal_error(slf, errors::os_error(e), &message);
                }
            }
        }
        let event = st.buf.push(rest);
        let start_writer = !st.writing;
        st.writing = true;
        drop(st);
        if start_writer {
            Self::watch_write(slf)?;
        }
        this.flow(py, event)
    }

    fn writelines(slf: &Bound<'_, Self>, list_of_data: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let joined = PyBytes::new(py, b"").call_method1("join", (list_of_data,))?;
        Self::write(slf, &joined)
    }

    fn write_eof(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        if this.pipe {
            // A pipe has no half-close: its end of stream is closing the descriptor.
            return Self::close(slf);
        }
        let mut st = this.state.borrow_mut(slf.py());
        if st.flags.closing || st.eof {
            return Ok(());
        }
        st.eof = true;
        if st.buf.is_empty() {
            drop(st);
            socket::shutdown_write(this.fd).map_err(errors::os_error)?;
        }
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        true
    }

    fn is_closing(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).flags.closing
    }

    pub(crate) fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let lost_now = {
            let mut st = this.state.borrow_mut(py);
            if st.flags.closing {
                return Ok(());
            }
            st.flags.closing = true;
            let lost_now = st.buf.is_empty();
            if lost_now {
                st.conn_lost += 1;
                st.writing = false;
            }
            lost_now
        };
        // A write pipe with data still to flush keeps watching for its reader going away.
        if lost_now || !this.pipe {
            this.unwatch(py, Side::Read)?;
        }
        if lost_now {
            this.unwatch(py, Side::Write)?;
            Self::schedule_connection_lost(slf, py.None())?;
        }
        Ok(())
    }

    #[pyo3(signature = (exc = None))]
    fn _force_close(slf: &Bound<'_, Self>, exc: Option<Py<PyAny>>) -> PyResult<()> {
        let exc = exc.unwrap_or_else(|| slf.py().None());
        Self::force_close(slf, exc)
    }

    fn abort(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::force_close(slf, slf.py().None())
    }

    fn is_reading(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).flags.is_reading()
    }

    /// True when the reading state changed (the caller logs it in debug mode).
    fn pause_reading(&self, py: Python<'_>) -> PyResult<bool> {
        if !self.state.borrow_mut(py).flags.pause() {
            return Ok(false);
        }
        self.unwatch(py, Side::Read)?;
        Ok(true)
    }

    fn resume_reading(slf: &Bound<'_, Self>) -> PyResult<bool> {
        if !slf.get().state.borrow_mut(slf.py()).flags.resume() {
            return Ok(false);
        }
        Self::watch_read(slf)?;
        Ok(true)
    }

    fn get_write_buffer_size(&self, py: Python<'_>) -> usize {
        self.state.borrow_mut(py).buf.len()
    }

    /// `(low, high)`, as asyncio returns them.
    fn get_write_buffer_limits(&self, py: Python<'_>) -> (usize, usize) {
        let marks = self.state.borrow_mut(py).buf.marks();
        (marks.low, marks.high)
    }

    #[pyo3(signature = (high = None, low = None))]
    fn set_write_buffer_limits(
        &self,
        py: Python<'_>,
        high: Option<&Bound<'_, PyAny>>,
        low: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let marks = super::water_marks(high, low)?;
        let event = self.state.borrow_mut(py).buf.set_marks(marks);
        self.flow(py, event)
    }

    fn set_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set_protocol_inner(protocol)
    }

    fn get_protocol(&self, py: Python<'_>) -> Py<PyAny> {
        let st = self.state.borrow_mut(py);
        st.protocol
            .as_ref()
            .map_or_else(|| py.None(), |p| p.clone_ref(py))
    }

    /// Whether a writer callback is registered (for the transport's repr).
    fn is_writing(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).writing
    }

    /// The socket while the transport owns it, else None.
    fn sock(&self, py: Python<'_>) -> Py<PyAny> {
        let st = self.state.borrow_mut(py);
        st.sock
            .as_ref()
            .map_or_else(|| py.None(), |s| s.clone_ref(py))
    }

    /// Let go of the socket without closing it (what `transport._pipe = None` means to
    /// code written for asyncio's pipe transports: the caller closed it already).
    fn _forget_sock(&self, py: Python<'_>) {
        let old = self.state.borrow_mut(py).sock.take();
        drop(old);
    }

    /// `sendfile` support: a future resolved once the write buffer is empty; `write()`
    /// refuses data until `_reset_empty_waiter()`.
    fn _make_empty_waiter(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.state.borrow_mut(py).empty_waiter.is_some() {
            return Err(PyRuntimeError::new_err("Empty waiter is already set"));
        }
        let waiter = self.loop_(py).call_method0("create_future")?;
        let empty = {
            let mut st = self.state.borrow_mut(py);
            st.empty_waiter = Some(waiter.clone().unbind());
            st.buf.is_empty()
        };
        if empty {
            waiter.call_method1("set_result", (py.None(),))?;
        }
        Ok(waiter.unbind())
    }

    fn _reset_empty_waiter(&self, py: Python<'_>) {
        let old = self.state.borrow_mut(py).empty_waiter.take();
        drop(old);
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.event_loop)?;
        // Never held while Python code runs, so it is free whenever the collector runs;
        // skip rather than block if that invariant were ever broken.
        if let Some(st) = self.state.traverse_borrow(&visit) {
            for obj in [
                &st.sock,
                &st.transport,
                &st.protocol,
                &st.data_received,
                &st.empty_waiter,
                &st.on_lost,
            ]
            .into_iter()
            .flatten()
            {
                visit.call(obj)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        let taken = self.state.try_borrow_mut(py).map(|mut st| {
            (
                st.transport.take(),
                st.protocol.take(),
                st.data_received.take(),
                st.empty_waiter.take(),
                st.on_lost.take(),
            )
        });
        drop(taken);
    }
}
