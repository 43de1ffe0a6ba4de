//! Where Rust errors become Python exceptions, with asyncio's types and messages.

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

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

/// `io::Error` becomes the matching `OSError` subclass through pyo3's errno mapping.
pub fn os_error(err: std::io::Error) -> PyErr {
    PyErr::from(err)
}
