//! The I/O callbacks of `StreamCore`: the reader callback (the core object itself is
//! registered, so a readable socket costs one native call), the writer callback that
//! flushes the backlog, end of stream, a write pipe's watch for its reader going away,
//! and `connection_lost`.

use std::io::ErrorKind;

use aioxide_core::sys::socket;
use pyo3::exceptions::{PyBrokenPipeError, PyRuntimeError};
use pyo3::prelude::*;

use super::lifecycle::{self, LifecycleCore};
use super::step::Step;
use super::stream::PyStreamCore;
use crate::errors;
use crate::event_loop::watchers::Side;
use crate::ffi;
use crate::sockets::read_bytes;
use crate::stdlib::asyncio_logger;

/// asyncio's `max_size` for one read of a socket transport.
const MAX_READ: usize = 256 * 1024;

/// What one read attempt gave.
enum Read {
    Data(usize),
    Eof,
    WouldBlock,
}

fn classify(result: std::io::Result<usize>) -> PyResult<Read> {
    match result {
        Ok(0) => Ok(Read::Eof),
        Ok(n) => Ok(Read::Data(n)),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Read::WouldBlock),
        Err(e) => Err(errors::os_error(e)),
    }
}

impl PyStreamCore {
    /// A protocol callback failed: propagate `SystemExit`/`KeyboardInterrupt`, make
    /// anything else a fatal transport error. (asyncio's pipe transports let it reach the
    /// loop's exception handler as an error of the callback, and stay open.)
    fn protocol_failed(slf: &Bound<'_, Self>, err: PyErr, message: &str) -> PyResult<()> {
        if slf.get().pipe {
            return Err(err);
        }
        lifecycle::fatal_error(slf, err, message)
    }

    fn read_error(slf: &Bound<'_, Self>, err: PyErr) -> PyResult<()> {
        let message = format!("Fatal read error on {} transport", slf.get().kind());
        lifecycle::fatal_error(slf, err, &message)
    }

    fn read_data(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let data = match read_bytes(py, this.source(), MAX_READ) {
            Ok(Ok(data)) => data,
            Ok(Err(e)) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Ok(Err(e)) => return Self::read_error(slf, errors::os_error(e)),
            Err(e) => return Self::read_error(slf, e),
        };
        if data.bind(py).as_bytes().is_empty() {
            return Self::on_eof(slf);
        }
        let callback = this
            .state
            .borrow_mut(py)
            .data_received
            .as_ref()
            .map(|c| c.clone_ref(py));
        let result = super::deliver_data(
            py,
            callback,
            || this.protocol(py),
            data.into_bound(py).into_any(),
        );
        if let Err(err) = result {
            return Self::protocol_failed(
                slf,
                err,
                "Fatal error: protocol.data_received() call failed.",
            );
        }
        Ok(())
    }

    fn read_into_buffer(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let Some(protocol) = this.protocol(py) else {
            return Ok(());
        };
        let protocol = protocol.bind(py);
        let buf = protocol
            .call_method1(pyo3::intern!(py, "get_buffer"), (-1,))
            .and_then(|buf| match buf.len()? {
                0 => Err(PyRuntimeError::new_err(
                    "get_buffer() returned an empty buffer",
                )),
                _ => Ok(buf),
            });
        let buf = match buf {
            Ok(buf) => buf,
            Err(err) => {
                return Self::protocol_failed(
                    slf,
                    err,
                    "Fatal error: protocol.get_buffer() call failed.",
                )
            }
        };
        let read = ffi::with_writable_buffer(&buf, |bytes| this.read_fd(bytes))
            .map_err(|_| not_writable(&buf))
            .and_then(classify);
        match read {
            Err(err) => Self::read_error(slf, err),
            Ok(Read::WouldBlock) => Ok(()),
            Ok(Read::Eof) => Self::on_eof(slf),
            Ok(Read::Data(n)) => {
                if let Err(err) = protocol.call_method1(pyo3::intern!(py, "buffer_updated"), (n,)) {
                    return Self::protocol_failed(
                        slf,
                        err,
                        "Fatal error: protocol.buffer_updated() call failed.",
                    );
                }
                Ok(())
            }
        }
    }

    /// End of stream: `eof_received()`; a true result keeps the transport open for
    /// writing (reading stops), anything else closes it.
    fn on_eof(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if this.pipe {
            this.debug_log(py, "info", "%r was closed by peer")?;
            return Self::pipe_eof(slf);
        }
        this.debug_log(py, "debug", "%r received EOF")?;
        let Some(protocol) = this.protocol(py) else {
            return Ok(());
        };
        let keep_open = match protocol
            .bind(py)
            .call_method0(pyo3::intern!(py, "eof_received"))
            .and_then(|r| r.is_truthy())
        {
            Ok(keep_open) => keep_open,
            Err(err) => {
                return Self::protocol_failed(
                    slf,
                    err,
                    "Fatal error: protocol.eof_received() call failed.",
                )
            }
        };
        if keep_open {
            this.unwatch(py, Side::Read)
        } else {
            Self::close_from_eof(slf)
        }
    }

    fn close_from_eof(slf: &Bound<'_, Self>) -> PyResult<()> {
        lifecycle::close(slf)
    }

    /// A read pipe's end of stream, asyncio's way: stop reading, then on the next
    /// iterations `eof_received()` (its result ignored) and `connection_lost(None)`.
    fn pipe_eof(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let protocol = {
            let mut st = this.state.borrow_mut(py);
            st.common.life.begin_closing();
            st.common.protocol.as_ref().map(|p| p.clone_ref(py))
        };
        this.unwatch(py, Side::Read)?;
        if let Some(protocol) = protocol {
            let eof_received = protocol
                .bind(py)
                .getattr(pyo3::intern!(py, "eof_received"))?;
            this.event_loop(py)
                .call_method1(pyo3::intern!(py, "call_soon"), (eof_received,))?;
        }
        lifecycle::schedule_connection_lost(slf, py.None())
    }

    /// In debug mode, log `message` (with the transport as `%r`) at `level`.
    fn debug_log(&self, py: Python<'_>, level: &str, message: &str) -> PyResult<()> {
        if !self.event_loop(py).call_method0("get_debug")?.is_truthy()? {
            return Ok(());
        }
        let transport = self.transport(py);
        asyncio_logger(py)?
            .call_method1(level, (message, transport))
            .map(drop)
    }

    /// The reader went away: close at once, with `BrokenPipeError` if data was lost.
    pub(crate) fn peer_closed(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        this.debug_log(py, "info", "%r was closed by peer")?;
        let exc = if this.state.borrow_mut(py).buf.is_empty() {
            py.None()
        } else {
            PyBrokenPipeError::new_err(())
                .value(py)
                .clone()
                .into_any()
                .unbind()
        };
        lifecycle::force_close(slf, exc)
    }

    /// The writer callback: flush the backlog; when it is gone, stop watching, wake a
    /// sendfile waiting for it, and finish a pending close or `write_eof`.
    pub(crate) fn write_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let fd = this.fd();
        let flushed = {
            let mut st = this.state.borrow_mut(py);
            if st.common.life.is_lost() || st.buf.is_empty() {
                return Ok(());
            }
            st.buf.flush_with(|bufs| socket::writev(fd, bufs))
        };
        let event = match flushed {
            Ok((_, event)) => event,
            Err(e) => {
                let waiter = {
                    let mut st = this.state.borrow_mut(py);
                    st.buf.clear();
                    st.writing = false;
                    st.empty_waiter.as_ref().map(|w| w.clone_ref(py))
                };
                this.unwatch(py, Side::Write)?;
                let err = errors::os_error(e);
                let exc = err.value(py).clone();
                let message = format!("Fatal write error on {} transport", this.kind());
                lifecycle::fatal_error(slf, err, &message)?;
                if let Some(waiter) = waiter {
                    waiter.bind(py).call_method1("set_exception", (exc,))?;
                }
                return Ok(());
            }
        };
        // resume_writing() may write more, so emptiness is checked after it.
        this.flow(py, event)?;
        let (waiter, closing, eof) = {
            let mut st = this.state.borrow_mut(py);
            if !st.buf.is_empty() || !st.writing {
                return Ok(());
            }
            st.writing = false;
            (
                st.empty_waiter.as_ref().map(|w| w.clone_ref(py)),
                st.common.life.is_closing(),
                st.eof,
            )
        };
        this.unwatch(py, Side::Write)?;
        if let Some(waiter) = waiter {
            waiter.bind(py).call_method1("set_result", (py.None(),))?;
        }
        if closing {
            if this.pipe {
                this.unwatch(py, Side::Read)?; // the watch for the reader going away
            }
            Self::call_connection_lost(slf, py.None())?;
        } else if eof {
            socket::shutdown_write(fd).map_err(errors::os_error)?;
        }
        Ok(())
    }

    /// `protocol.connection_lost(exc)`, then close the socket and drop every reference
    /// (see `lifecycle::call_connection_lost`); then fail a sendfile waiting for the
    /// buffer to empty, and call `on_lost` (a server's accounting).
    pub(crate) fn call_connection_lost(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let py = slf.py();
        let release = |this: &Self| {
            let mut st = this.state.borrow_mut(py);
            (
                st.data_received.take(),
                st.empty_waiter.take(),
                st.on_lost.take(),
            )
        };
        let Some((result, (data_received, waiter, on_lost))) =
            lifecycle::call_connection_lost(slf, exc, release)
        else {
            return Ok(());
        };
        if let Some(waiter) = &waiter {
            let w = waiter.bind(py);
            if !w.call_method0("done")?.is_truthy()? {
                let err =
                    pyo3::exceptions::PyConnectionError::new_err("Connection is closed by peer");
                w.call_method1("set_exception", (err.value(py),))?;
            }
        }
        let detached = match &on_lost {
            Some(on_lost) => on_lost.bind(py).call0().map(drop),
            None => Ok(()),
        };
        drop((data_received, on_lost, waiter));
        result.and(detached)
    }
}

/// What asyncio's `sock.recv_into(buf)` raises for a buffer it cannot read into
/// (read-only, not contiguous, not a buffer at all).
fn not_writable(buf: &Bound<'_, PyAny>) -> PyErr {
    let name = buf
        .get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string());
    pyo3::exceptions::PyTypeError::new_err(format!(
        "recv_into() argument 1 must be read-write bytes-like object, not {name}"
    ))
}

#[pymethods]
impl PyStreamCore {
    /// The reader callback: one read, delivered to the protocol.
    pub(crate) fn __call__(slf: &Bound<'_, Self>) -> PyResult<()> {
        let buffered = {
            let st = slf.get().state.borrow_mut(slf.py());
            if st.common.life.is_lost() {
                return Ok(());
            }
            st.buffered
        };
        if buffered {
            Self::read_into_buffer(slf)
        } else {
            Self::read_data(slf)
        }
    }

    /// A write pipe watches its own descriptor for reading: it becomes readable (an error
    /// or hang-up) once the reader has gone, which is noticed without writing. Scheduled
    /// after `connection_made`; nothing if the transport closed meanwhile.
    fn _watch_peer_close(slf: &Bound<'_, Self>) -> PyResult<()> {
        if slf
            .get()
            .state
            .borrow_mut(slf.py())
            .common
            .life
            .is_closing()
        {
            return Ok(());
        }
        Self::watch_step(slf, Side::Read, Step::PeerClosed)
    }
}
