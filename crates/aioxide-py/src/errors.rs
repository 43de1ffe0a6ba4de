//! Where Rust errors become Python exceptions, with asyncio's types and messages.

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

pub fn loop_closed() -> PyErr {
    PyRuntimeError::new_err("Event loop is closed")
}

pub fn wrong_thread() -> PyErr {
    PyRuntimeError::new_err(
        "Non-thread-safe operation invoked on an event loop other than the current one",
    )
}

pub fn coroutine_callback(method: &str) -> PyErr {
    PyTypeError::new_err(format!("coroutines cannot be used with {method}()"))
}

pub fn not_callable(method: &str, repr: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "a callable object was expected by {method}(), got {repr}"
    ))
}

pub fn invalid_fd(fd: i64) -> PyErr {
    PyValueError::new_err(format!("Invalid file descriptor: {fd}"))
}

pub fn invalid_fileobj(repr: &str) -> PyErr {
    PyValueError::new_err(format!("Invalid file object: {repr}"))
}

/// An OS error as Python raises it: `OSError(errno, strerror)`, which Python turns into
/// the subclass for that errno (`BrokenPipeError`, `PermissionError`, ...) with `errno`
/// and `strerror` set, exactly as `socket.recv` or `select.epoll.register` would.
pub fn os_error(err: std::io::Error) -> PyErr {
    let Some(code) = err.raw_os_error() else {
        return PyErr::from(err);
    };
    Python::attach(|py| {
        let text = crate::stdlib::os_strerror(py)
            .and_then(|f| f.call1((code,)))
            .and_then(|t| t.extract::<String>())
            .unwrap_or_else(|_| err.to_string());
        PyOSError::new_err((code, text))
    })
}
