//! A server's accounting of its connections (asyncio's `Server._attach`/`_detach`,
//! `_clients` and `_active_count`), native: a connection is counted when its transport
//! is made and uncounted when it is lost, with no Python frame. A closed server whose
//! last connection goes calls the `on_idle` it was handed (which wakes `wait_closed()`).

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyWeakrefMethods, PyWeakrefReference};
use pyo3::{PyTraverseError, PyVisit};

use crate::ffi::GilCell;

#[pyclass(module = "aioxide._aioxide", name = "ServerClients", frozen)]
pub struct PyServerClients {
    on_idle: Py<PyAny>,
    state: GilCell<Clients>,
}

#[derive(Default)]
struct Clients {
    /// Connections counted and not yet lost (asyncio's `_active_count`).
    active: isize,
    /// The transports among them, by identity, held weakly (asyncio's `_clients`).
    transports: HashMap<usize, Py<PyWeakrefReference>>,
    /// The server closed: the count reaching zero calls `on_idle`.
    closed: bool,
}

#[pymethods]
impl PyServerClients {
    #[new]
    fn new(on_idle: Py<PyAny>) -> Self {
        PyServerClients {
            on_idle,
            state: GilCell::new(Clients::default()),
        }
    }

    /// Count a connection, and keep its transport if given.
    #[pyo3(signature = (transport = None))]
    fn attach(&self, py: Python<'_>, transport: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let weak = match transport {
            Some(t) => Some((t.as_ptr() as usize, PyWeakrefReference::new(t)?.unbind())),
            None => None,
        };
        let mut st = self.state.borrow_mut(py);
        st.active += 1;
        // A key already there is the address of a transport that died uncounted, reused.
        let old = weak.and_then(|(key, weak)| st.transports.insert(key, weak));
        drop(st);
        drop(old);
        Ok(())
    }

    /// Uncount a connection; for a closed server, the last one calls `on_idle`.
    #[pyo3(signature = (transport = None))]
    fn detach(&self, py: Python<'_>, transport: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let idle = {
            let mut st = self.state.borrow_mut(py);
            let gone = transport.and_then(|t| st.transports.remove(&(t.as_ptr() as usize)));
            st.active -= 1;
            drop(gone);
            st.active == 0 && st.closed
        };
        if idle {
            self.on_idle.bind(py).call0()?;
        }
        Ok(())
    }

    /// The server closed; true when no connection is left.
    fn close(&self, py: Python<'_>) -> bool {
        let mut st = self.state.borrow_mut(py);
        st.closed = true;
        st.active == 0
    }

    #[getter]
    fn active(&self, py: Python<'_>) -> isize {
        self.state.borrow_mut(py).active
    }

    /// The transports of the connections still counted.
    fn transports(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        let weak: Vec<_> = {
            let st = self.state.borrow_mut(py);
            st.transports.values().map(|w| w.clone_ref(py)).collect()
        };
        weak.iter()
            .filter_map(|w| w.bind(py).upgrade().map(Bound::unbind))
            .collect()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.on_idle)?;
        if let Some(st) = self.state.traverse_borrow(&visit) {
            for weak in st.transports.values() {
                visit.call(weak)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        let taken = std::mem::take(&mut self.state.borrow_mut(py).transports);
        drop(taken);
    }
}
