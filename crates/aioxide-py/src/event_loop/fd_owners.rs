//! Descriptors owned by transports: raw use of one (`add_reader`, `sock_recv`, ...) while
//! its transport is open is refused, as asyncio refuses it. The table is the loop's
//! `_transports`, a `WeakValueDictionary` handed over once when the loop is made. The
//! check reads its `data` dict directly (fd -> weak reference), with no Python frame:
//! `sock_recv` and `sock_sendall` make it on every call.

use pyo3::exceptions::{PyAttributeError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt};

use super::PyLoopCore;

#[pymethods]
impl PyLoopCore {
    /// The Python side made its table of descriptors owned by transports: kept as the
    /// `WeakValueDictionary`'s `data` dict when it has one.
    fn _transport_table_made(&self, table: &Bound<'_, PyAny>) {
        let kept = match table.getattr(pyo3::intern!(table.py(), "data")) {
            Ok(data) if data.is_exact_instance_of::<PyDict>() => data,
            _ => table.clone(),
        };
        let old = self
            .transport_table
            .borrow_mut(table.py())
            .replace(kept.unbind());
        drop(old);
    }

    /// `RuntimeError` if `fd` (a number or an object with `fileno()`) belongs to an open
    /// transport.
    fn _ensure_fd_no_transport(&self, fd: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ensure_fd_no_transport(fd)
    }
}

impl PyLoopCore {
    pub(crate) fn ensure_fd_no_transport(&self, fd: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = fd.py();
        let Some(table) = self
            .transport_table
            .borrow_mut(py)
            .as_ref()
            .map(|t| t.clone_ref(py))
        else {
            return Ok(());
        };
        let table = table.bind(py);
        let weak = table.cast::<PyDict>().ok();
        if weak.is_some_and(|d| d.is_empty()) {
            return Ok(()); // no transport: nothing to refuse
        }
        let fileno = if fd.is_instance_of::<PyInt>() {
            fd.clone()
        } else {
            let number = fd.call_method0(pyo3::intern!(py, "fileno")).and_then(|f| {
                if f.is_exact_instance_of::<PyInt>() {
                    Ok(f)
                } else {
                    py.get_type::<PyInt>().call1((f,))
                }
            });
            match number {
                Ok(n) => n,
                Err(e) if is_bad_file_object(py, &e) => {
                    let message = format!("Invalid file object: {}", fd.repr()?);
                    return Err(PyValueError::new_err(message));
                }
                Err(e) => return Err(e),
            }
        };
        let transport = match weak {
            // `WeakValueDictionary.get`: the weak reference, called; None once dead.
            Some(data) => match data.get_item(&fileno)? {
                Some(weakref) => weakref.call0()?,
                None => return Ok(()),
            },
            None => table.call_method1(pyo3::intern!(py, "get"), (fileno,))?,
        };
        if transport.is_none()
            || transport
                .call_method0(pyo3::intern!(py, "is_closing"))?
                .is_truthy()?
        {
            return Ok(());
        }
        Err(PyRuntimeError::new_err(format!(
            "File descriptor {} is used by transport {}",
            fd.repr()?,
            transport.repr()?
        )))
    }
}

/// The errors asyncio turns into "Invalid file object".
fn is_bad_file_object(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PyAttributeError>(py)
        || err.is_instance_of::<PyTypeError>(py)
        || err.is_instance_of::<PyValueError>(py)
}
