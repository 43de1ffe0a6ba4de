//! What the loop calls back for a transport core: a readiness callback or a deferred
//! step. A `CoreStep` holds its core and names the step; calling it dispatches with a
//! Rust `match`, so no step is reached by looking up a Python attribute.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{PyTraverseError, PyVisit};

use super::datagram::PyDatagramCore;
use super::stream::PyStreamCore;
use super::tls::PyTlsCore;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    /// `StreamCore`: its descriptor is writable.
    WriteReady,
    /// `StreamCore` of a write pipe: the reader went away.
    PeerClosed,
    /// `StreamCore`: `protocol.connection_lost(exc)`, `exc` the one argument.
    StreamLost,
    /// `DatagramCore`: its socket is writable.
    SendtoReady,
    /// `DatagramCore`: as `StreamLost`.
    DatagramLost,
    /// `TLSCore`: read what has arrived.
    TlsRead,
    /// `TLSCore`: the application resumed reading.
    TlsResume,
    /// `TLSCore`: the handshake's or the shutdown's timer fired.
    HandshakeTimeout,
    ShutdownTimeout,
}

impl Step {
    /// The name debug-mode reprs show (`<Handle StreamCore._write_ready()>`).
    fn qualname(self) -> &'static str {
        match self {
            Step::WriteReady => "StreamCore._write_ready",
            Step::PeerClosed => "StreamCore._peer_closed",
            Step::StreamLost => "StreamCore._call_connection_lost",
            Step::SendtoReady => "DatagramCore._sendto_ready",
            Step::DatagramLost => "DatagramCore._call_connection_lost",
            Step::TlsRead => "TLSCore._do_read",
            Step::TlsResume => "TLSCore._resume",
            Step::HandshakeTimeout => "TLSCore._check_handshake_timeout",
            Step::ShutdownTimeout => "TLSCore._check_shutdown_timeout",
        }
    }
}

#[pyclass(module = "aioxide._aioxide", name = "CoreStep", frozen)]
pub struct CoreStep {
    core: Py<PyAny>,
    step: Step,
}

impl CoreStep {
    pub(crate) fn new<'py, T>(core: &Bound<'py, T>, step: Step) -> PyResult<Bound<'py, Self>> {
        let py = core.py();
        let core = core.as_any().clone().unbind();
        Bound::new(py, CoreStep { core, step })
    }

    /// A watcher's call of a step (see `HandleArgs::Native`): no arguments.
    pub(crate) fn fire(step: &Bound<'_, PyAny>) -> PyResult<()> {
        let empty = PyTuple::empty(step.py());
        step.cast::<CoreStep>()?.get().run(step.py(), &empty)
    }

    fn run(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let core = self.core.bind(py);
        let exc = || -> PyResult<Py<PyAny>> { Ok(args.get_item(0)?.unbind()) };
        match self.step {
            Step::WriteReady => PyStreamCore::write_ready(core.cast()?),
            Step::PeerClosed => PyStreamCore::peer_closed(core.cast()?),
            Step::StreamLost => PyStreamCore::call_connection_lost(core.cast()?, exc()?),
            Step::SendtoReady => PyDatagramCore::sendto_ready(core.cast()?),
            Step::DatagramLost => PyDatagramCore::call_connection_lost(core.cast()?, exc()?),
            Step::TlsRead => PyTlsCore::do_read(core.cast()?),
            Step::TlsResume => PyTlsCore::resume(core.cast()?),
            Step::HandshakeTimeout => PyTlsCore::check_handshake_timeout(core.cast()?),
            Step::ShutdownTimeout => PyTlsCore::check_shutdown_timeout(core.cast()?),
        }
    }
}

#[pymethods]
impl CoreStep {
    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.run(py, args)
    }

    #[getter]
    fn __qualname__(&self) -> &'static str {
        self.step.qualname()
    }

    fn __repr__(&self) -> String {
        format!("<{}>", self.step.qualname())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.core)
    }
}
