//! Socket addresses in the form Python's `socket` module gives them, and the native
//! `accept` of a listening socket.

use std::io::ErrorKind;
use std::os::fd::RawFd;

use aioxide_core::sys::sockaddr::{self, AddrParts, SockAddr};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors;

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(accept, m)?)?;
    m.add_function(wrap_pyfunction!(connect_succeeded, m)?)?;
    Ok(())
}

/// One connection from the listening socket `fd`: `(fd, address)`, the new descriptor
/// already non-blocking and close-on-exec, or `None` when none waits. Errors are the
/// `OSError`s `socket.accept()` raises. For AF_INET, AF_INET6 and AF_UNIX listeners
/// (another family's address comes back as `None`).
#[pyfunction]
fn accept(py: Python<'_>, fd: RawFd) -> PyResult<Option<(RawFd, Py<PyAny>)>> {
    let mut from = SockAddr::default();
    match sockaddr::accept(fd, &mut from) {
        Ok(conn) => {
            let address = address_object(py, from.parts()).unwrap_or_else(|| py.None());
            Ok(Some((conn, address)))
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(errors::os_error(e)),
    }
}

/// After `connect` said it would block: whether the connection is made already
/// (false while it is being made, when it failed, or when the check itself fails: the
/// caller then waits for writability as before).
#[pyfunction]
fn connect_succeeded(fd: RawFd) -> bool {
    aioxide_core::sys::socket::connect_succeeded(fd).unwrap_or(false)
}

/// `sock.getsockname()` (or, with `peer`, `getpeername()`), `None` when it fails, as a
/// transport's extra info holds it. A plain `socket.socket` of a family taken apart
/// here is asked natively, with no Python call.
pub(crate) fn socket_name(sock: &Bound<'_, PyAny>, fd: RawFd, peer: bool) -> PyResult<Py<PyAny>> {
    let py = sock.py();
    let plain = crate::stdlib::socket_type(py).is_some_and(|t| sock.get_type().is(t));
    if plain {
        let mut name = SockAddr::default();
        match sockaddr::socket_name(fd, peer, &mut name) {
            Ok(()) => {
                if let Some(obj) = address_object(py, name.parts()) {
                    return Ok(obj);
                }
            }
            Err(_) => return Ok(py.None()),
        }
    }
    let method = if peer {
        pyo3::intern!(py, "getpeername")
    } else {
        pyo3::intern!(py, "getsockname")
    };
    match sock.call_method0(method) {
        Ok(name) => Ok(name.unbind()),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyOSError>(py) => Ok(py.None()),
        Err(e) => Err(e),
    }
}

/// The Python form of an address, as `socket.recvfrom` and `socket.accept` give it;
/// `None` for a family taken apart nowhere here.
pub(crate) fn address_object(py: Python<'_>, parts: AddrParts<'_>) -> Option<Py<PyAny>> {
    let obj = match parts {
        AddrParts::None => py.None(),
        AddrParts::V4 { ip, port } => (ip, port).into_pyobject(py).ok()?.into_any().unbind(),
        AddrParts::V6 {
            ip,
            port,
            flowinfo,
            scope_id,
        } => (ip, port, flowinfo, scope_id)
            .into_pyobject(py)
            .ok()?
            .into_any()
            .unbind(),
        AddrParts::Unix { path, is_abstract } => {
            if is_abstract {
                PyBytes::new(py, path).into_any().unbind()
            } else {
                // The file-system encoding, as the socket module decodes paths.
                let os = py.import("os").ok()?;
                os.call_method1("fsdecode", (PyBytes::new(py, path),))
                    .ok()?
                    .cast_into::<PyString>()
                    .ok()?
                    .into_any()
                    .unbind()
            }
        }
        AddrParts::Other => return None,
    };
    Some(obj)
}
