//! A socket transport's opening, after its Python face has set its attributes: the
//! extra info (shared with the datagram transport: `socket_extra`), `TCP_NODELAY`, and
//! the next iteration's `connection_made`, start of reading and waiter result, queued
//! natively in asyncio's order.

use std::os::fd::RawFd;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::lifecycle::LifecycleCore;
use super::stream::PyStreamCore;
use crate::event_loop::handle_args::NativeCall;
use crate::event_loop::PyLoopCore;
use crate::{errors, sock_addr, stdlib};

#[pymethods]
impl PyStreamCore {
    /// Fill `extra` ("socket", "sockname", and "peername" unless given), set
    /// `TCP_NODELAY` on a TCP socket (asyncio's `_set_nodelay`), record that the
    /// transport owns its descriptor, then queue
    /// `protocol.connection_made(transport)`, the start of reading and, with a waiter,
    /// its result.
    #[pyo3(signature = (extra, waiter = None))]
    fn _open(
        slf: &Bound<'_, Self>,
        extra: &Bound<'_, PyDict>,
        waiter: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (Some(sock), Some(transport), Some(protocol)) =
            (this.sock(py), this.transport(py), this.protocol(py))
        else {
            return Ok(()); // closed before it opened: nothing to announce
        };
        let sock = sock.bind(py);
        let fd = this.fd();
        fill_extra(extra, sock, fd)?;
        set_nodelay(sock, fd)?;
        let event_loop = this.event_loop(py);
        event_loop.get().own_fd(fd, transport.bind(py))?;
        let made = protocol
            .bind(py)
            .getattr(pyo3::intern!(py, "connection_made"))?;
        PyLoopCore::soon_one(event_loop, &made, transport.bind(py))?;
        PyLoopCore::soon_native(event_loop, slf.as_any(), START_READING)?;
        if let Some(waiter) = waiter {
            PyLoopCore::soon_native(event_loop, waiter, RESOLVE_WAITER)?;
        }
        Ok(())
    }
}

/// asyncio's extra info of a socket transport: "socket" (a `TransportSocket`),
/// "sockname", and "peername" unless the caller gave it; a name the socket cannot tell
/// is `None`.
fn fill_extra(extra: &Bound<'_, PyDict>, sock: &Bound<'_, PyAny>, fd: RawFd) -> PyResult<()> {
    let py = sock.py();
    extra.set_item("socket", stdlib::transport_socket(py)?.call1((sock,))?)?;
    extra.set_item("sockname", sock_addr::socket_name(sock, fd, false)?)?;
    if !extra.contains("peername")? {
        extra.set_item("peername", sock_addr::socket_name(sock, fd, true)?)?;
    }
    Ok(())
}

/// `fill_extra` for a transport whose face is Python (the datagram transport).
#[pyfunction]
pub(crate) fn socket_extra(extra: &Bound<'_, PyDict>, sock: &Bound<'_, PyAny>) -> PyResult<()> {
    let fd = sock
        .call_method0(pyo3::intern!(sock.py(), "fileno"))?
        .extract()?;
    fill_extra(extra, sock, fd)
}

/// Start reading unless the protocol paused it first (`_start_reading`).
const START_READING: NativeCall = |core| {
    let core = core.cast::<PyStreamCore>()?;
    if core.get().with_lifecycle(core.py(), |l| l.is_reading()) {
        PyStreamCore::watch_read(core)?;
    }
    Ok(())
};

/// asyncio's `futures._set_result_unless_cancelled(waiter, None)`.
const RESOLVE_WAITER: NativeCall = |waiter| {
    let py = waiter.py();
    if !waiter
        .call_method0(pyo3::intern!(py, "cancelled"))?
        .is_truthy()?
    {
        waiter.call_method1(pyo3::intern!(py, "set_result"), (py.None(),))?;
    }
    Ok(())
};

/// `TCP_NODELAY` on a TCP socket: asyncio sets it when the family is `AF_INET` or
/// `AF_INET6`, the type `SOCK_STREAM` and the protocol `IPPROTO_TCP`. A plain socket
/// with that protocol is always such a socket, and is set natively.
fn set_nodelay(sock: &Bound<'_, PyAny>, fd: RawFd) -> PyResult<()> {
    let py = sock.py();
    let int_attr = |name| -> PyResult<Option<i32>> {
        Ok(sock.getattr(name).and_then(|v| v.extract::<i32>()).ok())
    };
    if int_attr(pyo3::intern!(py, "proto"))? != Some(libc::IPPROTO_TCP) {
        return Ok(());
    }
    if stdlib::socket_type(py).is_some_and(|t| sock.get_type().is(t)) {
        return aioxide_core::sys::socket::set_nodelay(fd).map_err(errors::os_error);
    }
    let family = int_attr(pyo3::intern!(py, "family"))?;
    let inet = family == Some(libc::AF_INET) || family == Some(libc::AF_INET6);
    if inet && int_attr(pyo3::intern!(py, "type"))? == Some(libc::SOCK_STREAM) {
        let args = (libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
        sock.call_method1(pyo3::intern!(py, "setsockopt"), args)?;
    }
    Ok(())
}
