//! Descriptors owned by transports: raw use of one (`add_reader`, `sock_recv`, ...) while
//! its transport is open is refused, as asyncio refuses it. The table (asyncio's
//! `_transports`, a `WeakValueDictionary`) is native: descriptor -> weak reference to its
//! transport. A socket transport enters itself when it opens (`stream_open.rs`); other
//! transports, and asyncio's own transport classes, through `loop._transports`, a
//! mapping view of the table. An entry whose transport is gone stays until its number
//! is owned again: the table never holds more entries than descriptor numbers.

use std::os::fd::RawFd;

use pyo3::exceptions::{PyAttributeError, PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyWeakrefMethods, PyWeakrefReference};

use super::PyLoopCore;

#[pymethods]
impl PyLoopCore {
    /// asyncio's `loop._transports`, as a mapping over this table.
    #[getter]
    fn _transports(slf: &Bound<'_, Self>) -> TransportTable {
        TransportTable {
            core: slf.clone().unbind(),
        }
    }

    /// `RuntimeError` if `fd` (a number or an object with `fileno()`) belongs to an open
    /// transport.
    fn _ensure_fd_no_transport(&self, fd: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ensure_fd_no_transport(fd)
    }
}

impl PyLoopCore {
    pub(crate) fn own_fd(&self, fd: RawFd, transport: &Bound<'_, PyAny>) -> PyResult<()> {
        let weak = PyWeakrefReference::new(transport)?.unbind();
        let old = self.fd_owners.borrow_mut(transport.py()).insert(fd, weak);
        drop(old);
        Ok(())
    }

    pub(crate) fn ensure_fd_no_transport(&self, fd: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = fd.py();
        if self.fd_owners.borrow_mut(py).is_empty() {
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
        let Ok(number) = fileno.extract::<RawFd>() else {
            return Ok(()); // no descriptor of that number can be owned
        };
        let weak = match self.fd_owners.borrow_mut(py).get(&number) {
            Some(weak) => weak.clone_ref(py),
            None => return Ok(()),
        };
        let Some(transport) = weak.bind(py).upgrade() else {
            return Ok(());
        };
        if transport
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

/// The live owner of `fd`, if any.
fn owner(core: &PyLoopCore, py: Python<'_>, fd: RawFd) -> Option<Py<PyAny>> {
    let weak = core.fd_owners.borrow_mut(py).get(&fd)?.clone_ref(py);
    weak.bind(py).upgrade().map(Bound::unbind)
}

/// `loop._transports`: the owners table as the `WeakValueDictionary` asyncio's own
/// transport classes write to (`loop._transports[fd] = self`) and read.
#[pyclass(module = "aioxide._aioxide", name = "TransportTable", frozen)]
pub struct TransportTable {
    core: Py<PyLoopCore>,
}

#[pymethods]
impl TransportTable {
    fn __setitem__(&self, fd: RawFd, transport: &Bound<'_, PyAny>) -> PyResult<()> {
        self.core.get().own_fd(fd, transport)
    }

    fn __getitem__(&self, py: Python<'_>, fd: RawFd) -> PyResult<Py<PyAny>> {
        owner(self.core.get(), py, fd).ok_or_else(|| PyKeyError::new_err(fd))
    }

    fn __delitem__(&self, py: Python<'_>, fd: RawFd) -> PyResult<()> {
        let removed = self.core.get().fd_owners.borrow_mut(py).remove(&fd);
        match removed.and_then(|weak| weak.bind(py).upgrade()) {
            Some(_) => Ok(()),
            None => Err(PyKeyError::new_err(fd)),
        }
    }

    fn __contains__(&self, py: Python<'_>, fd: RawFd) -> bool {
        owner(self.core.get(), py, fd).is_some()
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        let owners = self.core.get().fd_owners.borrow_mut(py);
        owners
            .values()
            .filter(|w| w.bind(py).upgrade().is_some())
            .count()
    }

    #[pyo3(signature = (fd, default = None))]
    fn get(&self, py: Python<'_>, fd: RawFd, default: Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        owner(self.core.get(), py, fd).or(default)
    }

    #[pyo3(signature = (fd, default = None))]
    fn pop(&self, py: Python<'_>, fd: RawFd, default: Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        let removed = self.core.get().fd_owners.borrow_mut(py).remove(&fd);
        removed
            .and_then(|weak| weak.bind(py).upgrade().map(Bound::unbind))
            .or(default)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.core)
    }
}

/// The errors asyncio turns into "Invalid file object".
fn is_bad_file_object(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PyAttributeError>(py)
        || err.is_instance_of::<PyTypeError>(py)
        || err.is_instance_of::<PyValueError>(py)
}
