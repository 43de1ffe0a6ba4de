//! `TLSCore`: the TLS record layer. It is the protocol of the transport underneath (a
//! native socket transport, or any transport `start_tls` is given) and the core of the
//! TLS transport the application sees (the Python face in `_transports/tls.py`).
//!
//! Ciphertext goes through the stdlib's `ssl.MemoryBIO` pair and `SSLObject`, so any
//! `ssl.SSLContext` works; the state machine that drives them (handshake, reads, writes,
//! flushing, shutdown, both directions of flow control) is here, with the semantics of
//! asyncio's `sslproto.SSLProtocol`. A read from the socket costs one native call, one
//! `MemoryBIO.write`, the `SSLObject.read` calls that drain it and the application's
//! `data_received`; no Python frame of ours runs.
//!
//! This file holds the state and the protocol side (what the transport underneath
//! calls); `tls_app.rs` has the application's transport, `tls_lifecycle.rs` the handshake,
//! shutdown and errors, `tls_io.rs` reading, writing and flow control. Locking follows
//! `StreamCore`'s rule: `state` is never borrowed while Python code runs.

use std::collections::VecDeque;

use aioxide_core::transport::{Lifecycle, WaterMarks};
use pyo3::prelude::*;

use pyo3::types::PyDict;

use crate::stdlib;

/// asyncio's `FLOW_CONTROL_HIGH_WATER_SSL_READ` and `_WRITE`.
pub(crate) const READ_HIGH_WATER: usize = 256 * 1024;
pub(crate) const WRITE_HIGH_WATER: usize = 512 * 1024;

/// The record layer's state (asyncio's `SSLProtocolState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Unwrapped,
    Handshake,
    Wrapped,
    Flushing,
    Shutdown,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Unwrapped => "UNWRAPPED",
            Phase::Handshake => "DO_HANDSHAKE",
            Phase::Wrapped => "WRAPPED",
            Phase::Flushing => "FLUSHING",
            Phase::Shutdown => "SHUTDOWN",
        }
    }

    /// Shutting down or done: application data is no longer accepted.
    pub(crate) fn is_closing(self) -> bool {
        matches!(self, Phase::Flushing | Phase::Shutdown | Phase::Unwrapped)
    }
}

/// Where the application protocol is in its life: `connection_made`, then data, maybe
/// `eof_received`, then `connection_lost`, each called once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AppState {
    Init,
    Made,
    Eof,
    Lost,
}

pub(crate) struct TlsState {
    pub phase: Phase,
    pub app_state: AppState,
    pub app_protocol: Option<Py<PyAny>>,
    /// `app_protocol.data_received`, or None for a `BufferedProtocol`.
    pub app_data_received: Option<Py<PyAny>>,
    /// The application protocol is a `BufferedProtocol`.
    pub app_buffered: bool,
    /// The transport underneath, and its `write`, from `connection_made` until
    /// `connection_lost`.
    pub transport: Option<Py<PyAny>>,
    pub transport_write: Option<Py<PyAny>>,
    /// The application's transport (the Python face) until `connection_lost`.
    pub face: Option<Py<PyAny>>,
    pub face_created: bool,
    /// The face was closed (its `is_closing()`).
    pub face_closed: bool,
    /// `close()` was called on a closed face: it no longer acts on the connection.
    pub face_detached: bool,
    pub waiter: Option<Py<PyAny>>,
    /// Application data not yet taken by `SSLObject.write`, and its size in bytes.
    pub backlog: VecDeque<Py<PyAny>>,
    pub backlog_size: usize,
    /// The loss and the writes dropped after closing began (the phase says closing).
    pub life: Lifecycle,
    pub eof_received: bool,
    /// The transport underneath asked us to pause writing.
    pub ssl_writing_paused: bool,
    /// The application paused reading.
    pub app_reading_paused: bool,
    /// We paused the transport underneath because the incoming BIO is full.
    pub ssl_reading_paused: bool,
    /// We asked the application to pause writing.
    pub app_writing_paused: bool,
    pub read_marks: WaterMarks,
    pub write_marks: WaterMarks,
    pub handshake_timer: Option<Py<PyAny>>,
    pub shutdown_timer: Option<Py<PyAny>>,
    pub handshake_start: Option<f64>,
}

#[pyclass(module = "aioxide._aioxide", name = "TLSCore", frozen)]
pub struct PyTlsCore {
    pub(crate) event_loop: Py<PyAny>,
    pub(crate) sslobj: Py<PyAny>,
    pub(crate) incoming: Py<PyAny>,
    pub(crate) outgoing: Py<PyAny>,
    /// Bound methods of the hot path, looked up once (`ssl_*`: see `record_object`).
    pub(crate) incoming_write: Py<PyAny>,
    pub(crate) outgoing_read: Py<PyAny>,
    pub(crate) ssl_read: Py<PyAny>,
    pub(crate) ssl_write: Py<PyAny>,
    pub(crate) ssl_pending: Py<PyAny>,
    pub(crate) extra: Py<PyDict>,
    /// The timeouts as given (a number of seconds), for `call_later` and messages.
    pub(crate) handshake_timeout: Py<PyAny>,
    pub(crate) shutdown_timeout: Py<PyAny>,
    pub(crate) state: crate::ffi::GilCell<TlsState>,
}

/// The object whose `read`, `write` and `pending` the record layer calls. The stdlib's
/// `SSLObject` methods only forward to the `_ssl._SSLSocket` it wraps (`_sslobj`), one
/// Python frame per call; for an exact `SSLObject` the wrapped object's C methods are
/// called instead. A subclass (`SSLContext.sslobject_class`) keeps its own methods.
fn record_object<'py>(sslobj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = sslobj.py();
    if sslobj.get_type().is(stdlib::ssl_object(py)?) {
        if let Ok(inner) = sslobj.getattr(pyo3::intern!(py, "_sslobj")) {
            return Ok(inner);
        }
    }
    Ok(sslobj.clone())
}

/// `(hi, lo)` flow control: pause at the high-water mark or above, resume at the low one
/// or below (the TLS layer's rule, inclusive at both ends). Returns Some(pause?) when the
/// state changes.
pub(crate) fn flow_change(paused: &mut bool, size: usize, marks: WaterMarks) -> Option<bool> {
    if size >= marks.high && !*paused {
        *paused = true;
        Some(true)
    } else if size <= marks.low && *paused {
        *paused = false;
        Some(false)
    } else {
        None
    }
}

impl PyTlsCore {
    pub(crate) fn st(&self, py: Python<'_>) -> crate::ffi::GilRef<'_, TlsState> {
        self.state.borrow_mut(py)
    }

    pub(crate) fn loop_<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.event_loop.bind(py)
    }

    pub(crate) fn debug(&self, py: Python<'_>) -> PyResult<bool> {
        self.loop_(py).call_method0("get_debug")?.is_truthy()
    }

    pub(crate) fn debug_log(
        slf: &Bound<'_, Self>,
        message: &str,
        extra: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let logger = stdlib::asyncio_logger(py)?;
        match extra {
            Some(arg) => logger.call_method1("debug", (message, slf, arg))?,
            None => logger.call_method1("debug", (message, slf))?,
        };
        Ok(())
    }

    pub(crate) fn transport(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.st(py).transport.as_ref().map(|t| t.clone_ref(py))
    }

    pub(crate) fn app_protocol(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.st(py).app_protocol.as_ref().map(|p| p.clone_ref(py))
    }

    pub(crate) fn phase(&self, py: Python<'_>) -> Phase {
        self.st(py).phase
    }

    /// A change of state, refused as asyncio refuses it.
    pub(crate) fn set_phase(&self, py: Python<'_>, new: Phase) -> PyResult<()> {
        let mut st = self.st(py);
        let allowed = matches!(
            (st.phase, new),
            (_, Phase::Unwrapped)
                | (Phase::Unwrapped, Phase::Handshake)
                | (Phase::Handshake, Phase::Wrapped)
                | (Phase::Wrapped, Phase::Flushing)
                | (Phase::Flushing, Phase::Shutdown)
        );
        if !allowed {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "cannot switch state from SSLProtocolState.{} to SSLProtocolState.{}",
                st.phase.name(),
                new.name()
            )));
        }
        st.phase = new;
        Ok(())
    }

    pub(crate) fn set_app_protocol_inner(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = protocol.py();
        let buffered = protocol.hasattr(pyo3::intern!(py, "get_buffer"))?
            && protocol.is_instance(stdlib::buffered_protocol(py)?)?;
        let data_received = if buffered {
            None
        } else {
            protocol
                .getattr(pyo3::intern!(py, "data_received"))
                .ok()
                .map(Bound::unbind)
        };
        let old = {
            let mut st = self.st(py);
            st.app_buffered = buffered;
            (
                st.app_protocol.replace(protocol.clone().unbind()),
                std::mem::replace(&mut st.app_data_received, data_received),
            )
        };
        drop(old);
        Ok(())
    }

    /// Application data and backlog not yet handed to the transport underneath.
    pub(crate) fn write_buffer_size(&self, py: Python<'_>) -> PyResult<usize> {
        let pending: usize = self.outgoing.bind(py).getattr("pending")?.extract()?;
        Ok(pending + self.st(py).backlog_size)
    }

    pub(crate) fn read_buffer_size(&self, py: Python<'_>) -> PyResult<usize> {
        self.incoming
            .bind(py)
            .getattr(pyo3::intern!(py, "pending"))?
            .extract()
    }

    pub(crate) fn check_handshake_timeout(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        if this.phase(slf.py()) != Phase::Handshake {
            return Ok(());
        }
        let message = format!(
            "SSL handshake is taking longer than {} seconds: aborting the connection",
            this.handshake_timeout.bind(slf.py()).str()?
        );
        let exc = pyo3::exceptions::PyConnectionAbortedError::new_err(message);
        Self::fatal_error(
            slf,
            exc.value(slf.py()).as_any(),
            "Fatal error on transport",
        )
    }

    pub(crate) fn check_shutdown_timeout(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        if !matches!(slf.get().phase(py), Phase::Flushing | Phase::Shutdown) {
            return Ok(());
        }
        if let Some(transport) = slf.get().transport(py) {
            let exc = pyo3::exceptions::PyTimeoutError::new_err("SSL shutdown timed out");
            transport
                .bind(py)
                .call_method1("_force_close", (exc.value(py),))?;
        }
        Ok(())
    }

    /// Resume after the application resumed reading (scheduled by `resume_reading`).
    pub(crate) fn resume(slf: &Bound<'_, Self>) -> PyResult<()> {
        match slf.get().phase(slf.py()) {
            Phase::Wrapped => Self::do_read(slf),
            Phase::Flushing => Self::do_flush(slf),
            Phase::Shutdown => Self::do_shutdown(slf),
            _ => Ok(()),
        }
    }
}

#[pymethods]
impl PyTlsCore {
    /// Built by `aioxide._tls.ssl_protocol`, which checks the arguments and makes the
    /// `SSLObject` over its two `MemoryBIO`s.
    #[new]
    #[pyo3(signature = (event_loop, app_protocol, sslobj, incoming, outgoing, extra, waiter,
                        handshake_timeout, shutdown_timeout, call_connection_made))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        event_loop: &Bound<'_, PyAny>,
        app_protocol: &Bound<'_, PyAny>,
        sslobj: &Bound<'_, PyAny>,
        incoming: &Bound<'_, PyAny>,
        outgoing: &Bound<'_, PyAny>,
        extra: Bound<'_, PyDict>,
        waiter: Option<Py<PyAny>>,
        handshake_timeout: Py<PyAny>,
        shutdown_timeout: Py<PyAny>,
        call_connection_made: bool,
    ) -> PyResult<Self> {
        let record = record_object(sslobj)?;
        let core = PyTlsCore {
            event_loop: event_loop.clone().unbind(),
            sslobj: sslobj.clone().unbind(),
            incoming: incoming.clone().unbind(),
            outgoing: outgoing.clone().unbind(),
            incoming_write: incoming.getattr("write")?.unbind(),
            outgoing_read: outgoing.getattr("read")?.unbind(),
            ssl_read: record.getattr("read")?.unbind(),
            ssl_write: record.getattr("write")?.unbind(),
            ssl_pending: record.getattr("pending")?.unbind(),
            extra: extra.unbind(),
            handshake_timeout,
            shutdown_timeout,
            state: crate::ffi::GilCell::new(TlsState {
                phase: Phase::Unwrapped,
                app_state: if call_connection_made {
                    AppState::Init
                } else {
                    AppState::Made
                },
                app_protocol: None,
                app_data_received: None,
                app_buffered: false,
                transport: None,
                transport_write: None,
                face: None,
                face_created: false,
                face_closed: false,
                face_detached: false,
                waiter,
                backlog: VecDeque::new(),
                backlog_size: 0,
                life: Lifecycle::new(false),
                eof_received: false,
                ssl_writing_paused: false,
                app_reading_paused: false,
                ssl_reading_paused: false,
                app_writing_paused: false,
                read_marks: WaterMarks::from_limits_or(None, None, READ_HIGH_WATER)
                    .map_err(pyo3::exceptions::PyValueError::new_err)?,
                write_marks: WaterMarks::from_limits_or(None, None, WRITE_HIGH_WATER)
                    .map_err(pyo3::exceptions::PyValueError::new_err)?,
                handshake_timer: None,
                shutdown_timer: None,
                handshake_start: None,
            }),
        };
        core.set_app_protocol_inner(app_protocol)?;
        Ok(core)
    }

    /// The application's transport is made once, right after the core.
    fn _set_app_transport(&self, py: Python<'_>, face: Py<PyAny>) -> PyResult<()> {
        let mut st = self.st(py);
        if st.face_created {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "Creating _SSLProtocolTransport twice",
            ));
        }
        st.face_created = true;
        st.face = Some(face);
        Ok(())
    }

    /// The application's transport until the connection is lost (asyncio's name).
    #[getter]
    fn _app_transport(&self, py: Python<'_>) -> Py<PyAny> {
        let st = self.st(py);
        st.face
            .as_ref()
            .map_or_else(|| py.None(), |f| f.clone_ref(py))
    }

    #[getter]
    fn _transport(&self, py: Python<'_>) -> Py<PyAny> {
        self.transport(py).unwrap_or_else(|| py.None())
    }

    #[getter]
    fn _sslobj(&self, py: Python<'_>) -> Py<PyAny> {
        self.sslobj.clone_ref(py)
    }

    #[getter]
    fn _state(&self, py: Python<'_>) -> &'static str {
        self.phase(py).name()
    }

    // -- the protocol of the transport underneath -----------------------------------

    fn connection_made(slf: &Bound<'_, Self>, transport: &Bound<'_, PyAny>) -> PyResult<()> {
        let write = transport
            .getattr(pyo3::intern!(slf.py(), "write"))?
            .unbind();
        let old = {
            let mut st = slf.get().st(slf.py());
            (
                st.transport.replace(transport.clone().unbind()),
                st.transport_write.replace(write),
            )
        };
        drop(old);
        Self::start_handshake(slf)
    }

    fn data_received(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        slf.get().incoming_write.bind(slf.py()).call1((data,))?;
        match slf.get().phase(slf.py()) {
            Phase::Handshake => Self::do_handshake(slf),
            Phase::Wrapped => Self::do_read(slf),
            Phase::Flushing => Self::do_flush(slf),
            Phase::Shutdown => Self::do_shutdown(slf),
            Phase::Unwrapped => Ok(()),
        }
    }

    fn eof_received(slf: &Bound<'_, Self>) -> PyResult<Option<bool>> {
        Self::on_eof(slf)
    }

    #[pyo3(signature = (exc = None))]
    fn connection_lost(slf: &Bound<'_, Self>, exc: Option<Py<PyAny>>) -> PyResult<()> {
        Self::on_connection_lost(slf, exc.unwrap_or_else(|| slf.py().None()))
    }

    /// The transport underneath is over its high-water mark.
    fn pause_writing(&self, py: Python<'_>) {
        self.st(py).ssl_writing_paused = true;
    }

    fn resume_writing(slf: &Bound<'_, Self>) -> PyResult<()> {
        slf.get().st(slf.py()).ssl_writing_paused = false;
        Self::process_outgoing(slf)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for obj in [
            &self.event_loop,
            &self.sslobj,
            &self.incoming,
            &self.outgoing,
            &self.incoming_write,
            &self.outgoing_read,
            &self.ssl_read,
            &self.ssl_write,
            &self.ssl_pending,
            &self.handshake_timeout,
            &self.shutdown_timeout,
        ] {
            visit.call(obj)?;
        }
        visit.call(&self.extra)?;
        if let Some(st) = self.state.traverse_borrow(&visit) {
            for obj in [
                &st.app_protocol,
                &st.app_data_received,
                &st.transport,
                &st.transport_write,
                &st.face,
                &st.waiter,
                &st.handshake_timer,
                &st.shutdown_timer,
            ]
            .into_iter()
            .flatten()
            {
                visit.call(obj)?;
            }
            for obj in &st.backlog {
                visit.call(obj)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        let taken = self.state.try_borrow_mut(py).map(|mut st| {
            (
                st.app_protocol.take(),
                st.app_data_received.take(),
                st.transport.take(),
                st.transport_write.take(),
                st.face.take(),
                st.waiter.take(),
                std::mem::take(&mut st.backlog),
            )
        });
        drop(taken);
    }
}
