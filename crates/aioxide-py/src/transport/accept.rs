//! A plain (no TLS) server's accept path. The acceptor is the listening socket's reader
//! callback: on each readiness it takes up to `backlog` connections with `accept4`, and
//! gives each its socket object, its protocol (from the factory, in a context copied for
//! that connection, as asyncio makes each connection in a task of its own) and its
//! transport, all without a Python frame of aioxide's.
//!
//! What stays in Python is handed over once, at construction: the transport maker, the
//! debug-mode path (asyncio logs each connection then) and the handling of an `accept`
//! error other than "nothing waits" (out of descriptors: pause and retry).

use std::io::ErrorKind;
use std::os::fd::RawFd;

use aioxide_core::sys::sockaddr::{self, SockAddr};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::{PyTraverseError, PyVisit};

use super::must_propagate;
use crate::errors;
use crate::event_loop::handle_args::NativeCall;
use crate::event_loop::watchers::Side;
use crate::event_loop::PyLoopCore;
use crate::{ffi, sock_addr, stdlib};

#[pyclass(module = "aioxide._aioxide", name = "Acceptor", frozen)]
pub struct PyAcceptor {
    event_loop: Py<PyLoopCore>,
    listener: Py<PyAny>,
    fd: RawFd,
    /// The arguments of `socket.socket` for an accepted descriptor: the listener's
    /// family, type (with `SOCK_NONBLOCK`, which `accept4` set) and protocol.
    socket_args: (i32, i32, i32),
    protocol_factory: Py<PyAny>,
    /// `make_transport(sock, protocol, None, extra, server)`.
    make_transport: Py<PyAny>,
    server: Py<PyAny>,
    backlog: usize,
    /// Called instead in debug mode.
    debug_path: Py<PyAny>,
    /// `on_error(exc)` for an `accept` error other than "nothing waits".
    on_error: Py<PyAny>,
}

#[pymethods]
impl PyAcceptor {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        event_loop: Py<PyLoopCore>,
        listener: &Bound<'_, PyAny>,
        socket_args: (i32, i32, i32),
        protocol_factory: Py<PyAny>,
        make_transport: Py<PyAny>,
        server: Py<PyAny>,
        backlog: usize,
        debug_path: Py<PyAny>,
        on_error: Py<PyAny>,
    ) -> PyResult<Self> {
        let fd = listener
            .call_method0(pyo3::intern!(listener.py(), "fileno"))?
            .extract()?;
        let (family, type_, proto) = socket_args;
        Ok(PyAcceptor {
            event_loop,
            listener: listener.clone().unbind(),
            fd,
            socket_args: (family, type_ | libc::SOCK_NONBLOCK, proto),
            protocol_factory,
            make_transport,
            server,
            backlog: backlog.max(1),
            debug_path,
            on_error,
        })
    }

    /// Start serving: register as the listener's reader.
    fn watch(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let event_loop = this.event_loop.bind(slf.py());
        super::watch_fd(event_loop, Side::Read, this.fd, slf.as_any(), Self::READY)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("<Acceptor {}>", self.listener.bind(py).repr()?))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.event_loop)?;
        visit.call(&self.listener)?;
        visit.call(&self.protocol_factory)?;
        visit.call(&self.make_transport)?;
        visit.call(&self.server)?;
        visit.call(&self.debug_path)?;
        visit.call(&self.on_error)
    }
}

impl PyAcceptor {
    const READY: NativeCall = |acceptor| Self::ready(acceptor.cast()?);

    fn ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if this.event_loop.bind(py).get().debug_enabled() {
            return this.debug_path.bind(py).call0().map(drop);
        }
        for _ in 0..this.backlog {
            let mut from = SockAddr::default();
            let conn = match sockaddr::accept(this.fd, &mut from) {
                Ok(conn) => conn,
                Err(e) if gone_or_none(e.kind()) => return Ok(()),
                Err(e) => {
                    let exc = errors::os_error(e);
                    return this.on_error.bind(py).call1((exc.value(py),)).map(drop);
                }
            };
            let address = sock_addr::address_object(py, from.parts());
            this.open(py, conn, address.unwrap_or_else(|| py.None()))?;
        }
        Ok(())
    }

    /// The socket object, protocol and transport of the accepted descriptor `conn`. A
    /// factory or transport that fails closes the connection (asyncio reports that in
    /// debug mode only); `SystemExit` and `KeyboardInterrupt` propagate.
    fn open(&self, py: Python<'_>, conn: RawFd, address: Py<PyAny>) -> PyResult<()> {
        let (family, type_, proto) = self.socket_args;
        let made = match stdlib::socket_type(py) {
            Some(socket_type) => socket_type.call1((family, type_, proto, conn)),
            None => Err(PyRuntimeError::new_err(
                "socket.socket was not read at import",
            )),
        };
        let sock = match made {
            Ok(sock) => sock,
            Err(e) => {
                let _ = aioxide_core::sys::file::close(conn);
                return Err(e);
            }
        };
        let extra = PyDict::new(py);
        extra.set_item(pyo3::intern!(py, "peername"), address)?;
        let context = ffi::copy_context(py)?;
        let made = ffi::run_in_context(&context, || {
            let protocol = self.protocol_factory.bind(py).call0()?;
            let args = (&sock, protocol, py.None(), extra, &self.server);
            self.make_transport.bind(py).call1(args)
        });
        match made {
            Ok(_) => Ok(()),
            Err(err) => {
                sock.call_method0(pyo3::intern!(py, "close"))?;
                if must_propagate(py, &err) {
                    Err(err)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// `accept` found no connection, or one the peer already reset: asyncio stops taking
/// connections for this readiness on `BlockingIOError`, `InterruptedError` and
/// `ConnectionAbortedError`.
fn gone_or_none(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::WouldBlock | ErrorKind::Interrupted | ErrorKind::ConnectionAborted
    )
}
