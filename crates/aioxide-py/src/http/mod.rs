//! `aioxide.http`'s native protocol: an `asyncio` protocol object that parses responses
//! as bytes arrive (`aioxide_core::http`), so no Python frame runs per read. It is a
//! plain protocol, so it runs on any loop through `create_connection`; the Python layer
//! (`aioxide.http`) builds requests, pools connections and maps these errors to aiohttp's.
//!
//! `state.rs` is the per-connection state machine (no Python calls); `connection.rs` the
//! pyclass, which runs the state machine's actions after releasing its lock, because a
//! protocol call into the transport may call straight back (`pause_writing`).

mod connection;
mod state;

use aioxide_core::http::{write_chunk, write_head, HttpError};
use pyo3::create_exception;
use pyo3::exceptions::{PyConnectionError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(
    _aioxide,
    HttpHeadError,
    PyValueError,
    "A response head that is not valid HTTP/1.1."
);
create_exception!(
    _aioxide,
    HttpPayloadError,
    PyValueError,
    "A response body that is cut short or malformed."
);
create_exception!(
    _aioxide,
    HttpDisconnected,
    PyConnectionError,
    "The server closed the connection before the response head."
);

pub(crate) fn to_pyerr(err: &HttpError) -> PyErr {
    match err {
        HttpError::BadRequest(why) => PyValueError::new_err(why.clone()),
        e if e.is_payload() => HttpPayloadError::new_err(e.to_string()),
        e => HttpHeadError::new_err(e.to_string()),
    }
}

/// The request head as bytes, with `body` appended (no copy of the body in Python).
#[pyfunction]
#[pyo3(signature = (method, target, headers, body=None))]
fn http_request_head<'py>(
    py: Python<'py>,
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    body: Option<&[u8]>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    write_head(method, target, &headers, &mut out).map_err(|e| to_pyerr(&e))?;
    out.extend_from_slice(body.unwrap_or_default());
    Ok(PyBytes::new(py, &out))
}

/// One chunk of a chunked request body (`b""` for an empty `data`).
#[pyfunction]
fn http_chunk<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(data.len() + 12);
    write_chunk(data, &mut out);
    PyBytes::new(py, &out)
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<connection::PyHttpConnection>()?;
    m.add_function(wrap_pyfunction!(http_request_head, m)?)?;
    m.add_function(wrap_pyfunction!(http_chunk, m)?)?;
    m.add("HttpHeadError", py.get_type::<HttpHeadError>())?;
    m.add("HttpPayloadError", py.get_type::<HttpPayloadError>())?;
    m.add("HttpDisconnected", py.get_type::<HttpDisconnected>())?;
    Ok(())
}
