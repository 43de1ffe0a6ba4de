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

use aioxide_core::sys::socket;
use aioxide_core::transport::{Buffered, Lifecycle, WaterMarks, Write, WriteBuffer};
use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};

use super::lifecycle::{self, CoreBase, CoreCommon, LifecycleCore};
use super::step::Step;
use super::PeerGone;
use crate::errors;
use crate::event_loop::watchers::Side;
use crate::event_loop::PyLoopCore;
use crate::sockets::Source;
use crate::stdlib;

pub(crate) struct StreamState {
    /// The socket, transport, protocol and lifecycle. A pipe drops writes once closing.
    pub common: CoreCommon,
    /// `protocol.data_received`, looked up once per protocol.
    pub data_received: Option<Py<PyAny>>,
    /// The protocol is an `asyncio.BufferedProtocol`.
    pub buffered: bool,
    pub buf: WriteBuffer,
    /// `write_eof()` was called.
    pub eof: bool,
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
    base: CoreBase,
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
            Source::Other(self.base.fd)
        } else {
            Source::Socket(self.base.fd)
        }
    }

    pub(crate) fn read_fd(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pipe {
            socket::read(self.base.fd, buf)
        } else {
            socket::recv(self.base.fd, buf)
        }
    }

    fn write_fd(&self, buf: &[u8]) -> std::io::Result<usize> {
        if self.pipe {
            socket::write(self.base.fd, buf)
        } else {
            socket::send(self.base.fd, buf)
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

    pub(crate) fn watch_write(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::watch_step(slf, Side::Write, Step::WriteReady)
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
            let old = st.common.protocol.replace(protocol.clone().unbind());
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
        let base = CoreBase::new(event_loop, sock)?;
        let core = PyStreamCore {
            base,
            pipe,
            state: crate::ffi::GilCell::new(StreamState {
                common: CoreCommon::new(sock, transport, None, Lifecycle::new(pipe)),
                data_received: None,
                buffered: false,
                buf: WriteBuffer::new(WaterMarks::default()),
                eof: false,
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
        self.base.fd
    }

    /// The protocol was told to pause writing and not yet to resume.
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
        if let Write::Drop { warn } = st.common.life.write() {
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
            return lifecycle::fatal_error(slf, err, &message);
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
                    return lifecycle::fatal_error(slf, errors::os_error(e), &message);
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
            return lifecycle::close(slf);
        }
        let mut st = this.state.borrow_mut(slf.py());
        if st.common.life.is_closing() || st.eof {
            return Ok(());
        }
        st.eof = true;
        if st.buf.is_empty() {
            drop(st);
            socket::shutdown_write(this.base.fd).map_err(errors::os_error)?;
        }
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        true
    }

    /// Let go of the socket without closing it (what `transport._pipe = None` means to
    /// code written for asyncio's pipe transports: the caller closed it already).
    fn _forget_sock(&self, py: Python<'_>) {
        let old = self.state.borrow_mut(py).common.sock.take();
        drop(old);
    }

    /// `sendfile` support: a future resolved once the write buffer is empty; `write()`
    /// refuses data until `_reset_empty_waiter()`.
    fn _make_empty_waiter(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.state.borrow_mut(py).empty_waiter.is_some() {
            return Err(PyRuntimeError::new_err("Empty waiter is already set"));
        }
        let waiter = self.event_loop(py).call_method0("create_future")?;
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
        visit.call(&self.base.event_loop)?;
        // Never held while Python code runs, so it is free whenever the collector runs;
        // skip rather than block if that invariant were ever broken.
        if let Some(st) = self.state.traverse_borrow(&visit) {
            st.common.traverse(&visit)?;
            for obj in [&st.data_received, &st.empty_waiter, &st.on_lost]
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
                st.common.clear(),
                st.data_received.take(),
                st.empty_waiter.take(),
                st.on_lost.take(),
            )
        });
        drop(taken);
    }
}

impl LifecycleCore for PyStreamCore {
    lifecycle::core_accessors!(Step::StreamLost);

    fn replace_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set_protocol_inner(protocol)
    }

    fn with_buffer<R>(&self, py: Python<'_>, f: impl FnOnce(&mut dyn Buffered) -> R) -> R {
        f(&mut self.state.borrow_mut(py).buf)
    }

    fn is_writing(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).writing
    }

    fn discard_writes(&self, py: Python<'_>) -> bool {
        let mut st = self.state.borrow_mut(py);
        st.buf.clear();
        std::mem::take(&mut st.writing)
    }

    fn reads_while_closing(&self) -> bool {
        self.pipe
    }

    fn peer_gone(&self) -> PeerGone {
        if self.pipe {
            PeerGone::Eio
        } else {
            PeerGone::AnyOsError
        }
    }
}

lifecycle::lifecycle_methods!(PyStreamCore);
