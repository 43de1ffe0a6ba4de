//! The lifecycle of `TLSCore` around the data: handshake, end of stream, loss of the
//! connection, shutdown and fatal errors, with the semantics of asyncio's
//! `sslproto.SSLProtocol` (reading and writing are in `tls_io.rs`).

use pyo3::exceptions::{PyConnectionResetError, PyException};
use pyo3::prelude::*;

use super::step::{CoreStep, Step as CoreStepKind};
use super::tls::{AppState, Phase, PyTlsCore};
use crate::stdlib::ssl_errors;

/// Cancel a timer handle taken out of the state.
fn cancel(py: Python<'_>, timer: Option<Py<PyAny>>) -> PyResult<()> {
    if let Some(timer) = timer {
        timer.bind(py).call_method0("cancel")?;
    }
    Ok(())
}

/// What a handshake or shutdown step of the `SSLObject` gave.
enum Step {
    Done,
    /// It needs more data from the peer (send what it produced and wait).
    Again,
    /// An `ssl.SSLError`: the step failed.
    Failed(PyErr),
}

impl Step {
    /// Any error that is not the `ssl` module's propagates.
    fn of(py: Python<'_>, result: PyResult<()>) -> PyResult<Step> {
        let Err(err) = result else {
            return Ok(Step::Done);
        };
        let errors = ssl_errors(py)?;
        if errors.is_again(py, &err) {
            Ok(Step::Again)
        } else if err.is_instance(py, errors.ssl_error.bind(py)) {
            Ok(Step::Failed(err))
        } else {
            Err(err)
        }
    }
}

impl PyTlsCore {
    /// `loop.call_later(delay, self.<method>)`: the handle of a timeout check.
    fn call_later(
        slf: &Bound<'_, Self>,
        delay: &Py<PyAny>,
        step: CoreStepKind,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let check = CoreStep::new(slf, step)?;
        let handle = slf
            .get()
            .loop_(py)
            .call_method1("call_later", (delay.bind(py), check))?;
        Ok(handle.unbind())
    }

    // -- handshake ----------------------------------------------------------------

    pub(crate) fn start_handshake(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let start = if this.debug(py)? {
            Self::debug_log(slf, "%r starts SSL handshake", None)?;
            Some(this.loop_(py).call_method0("time")?.extract::<f64>()?)
        } else {
            None
        };
        this.st(py).handshake_start = start;
        this.set_phase(py, Phase::Handshake)?;
        let timer = Self::call_later(slf, &this.handshake_timeout, CoreStepKind::HandshakeTimeout)?;
        let old = this.st(py).handshake_timer.replace(timer);
        drop(old);
        Self::do_handshake(slf)
    }

    pub(crate) fn do_handshake(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let result = slf.get().sslobj.bind(py).call_method0("do_handshake");
        match Step::of(py, result.map(drop))? {
            Step::Done => Self::on_handshake_complete(slf, None),
            Step::Again => Self::process_outgoing(slf),
            Step::Failed(err) => Self::on_handshake_complete(slf, Some(err)),
        }
    }

    fn on_handshake_complete(slf: &Bound<'_, Self>, failure: Option<PyErr>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let timer = this.st(py).handshake_timer.take();
        cancel(py, timer)?;
        let sslobj = this.sslobj.bind(py);
        let peercert = match failure {
            Some(err) => Err(err),
            None => this
                .set_phase(py, Phase::Wrapped)
                .and_then(|_| sslobj.call_method0("getpeercert")),
        };
        let peercert = match peercert {
            Ok(peercert) => peercert,
            Err(err) => {
                this.set_phase(py, Phase::Unwrapped)?;
                let exc = err.into_value(py).into_bound(py).into_any();
                let message = if exc.is_instance(ssl_errors(py)?.cert_error.bind(py))? {
                    "SSL handshake failed on verifying the certificate"
                } else {
                    "SSL handshake failed"
                };
                Self::fatal_error(slf, &exc, message)?;
                return Self::wakeup_waiter(slf, Some(&exc));
            }
        };
        if this.debug(py)? {
            // Copied out first: an `if let` keeps its scrutinee's borrow for the block.
            let start = this.st(py).handshake_start;
            if let Some(start) = start {
                let now: f64 = this.loop_(py).call_method0("time")?.extract()?;
                let ms = ((now - start) * 1e3).into_pyobject(py)?.into_any().unbind();
                Self::debug_log(slf, "%r: SSL handshake took %.1f ms", Some(ms))?;
            }
        }
        let extra = this.extra.bind(py);
        extra.set_item("peercert", peercert)?;
        extra.set_item("cipher", sslobj.call_method0("cipher")?)?;
        extra.set_item("compression", sslobj.call_method0("compression")?)?;
        extra.set_item("ssl_object", sslobj)?;
        let made = {
            let mut st = this.st(py);
            if st.app_state == AppState::Init {
                st.app_state = AppState::Made;
                st.app_protocol
                    .as_ref()
                    .map(|p| p.clone_ref(py))
                    .zip(st.face.as_ref().map(|f| f.clone_ref(py)))
            } else {
                None
            }
        };
        if let Some((protocol, face)) = made {
            protocol
                .bind(py)
                .call_method1(pyo3::intern!(py, "connection_made"), (face,))?;
        }
        Self::wakeup_waiter(slf, None)?;
        // The handshake's last flight goes out now; application data already received
        // waits one turn, after the waiter's callbacks: `start_tls()` hands the caller
        // the new transport before its protocol sees the first data (as uvloop does;
        // 3.11's asyncio delivers it at once, to a caller still holding the old one).
        Self::fatal_on_exception(slf, Self::process_outgoing(slf))?;
        let read = CoreStep::new(slf, CoreStepKind::TlsRead)?;
        this.loop_(py).call_method1("call_soon", (read,))?;
        Ok(())
    }

    /// Resolve the waiter of `create_connection`/`start_tls`, once.
    fn wakeup_waiter(slf: &Bound<'_, Self>, exc: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let Some(waiter) = slf.get().st(py).waiter.take() else {
            return Ok(());
        };
        let waiter = waiter.bind(py);
        if waiter.call_method0("cancelled")?.is_truthy()? {
            return Ok(());
        }
        match exc {
            Some(exc) if !exc.is_none() => waiter.call_method1("set_exception", (exc,))?,
            _ => waiter.call_method1("set_result", (py.None(),))?,
        };
        Ok(())
    }

    // -- end of stream and loss of the connection -----------------------------------

    /// The peer half-closed the stream underneath.
    pub(crate) fn on_eof(slf: &Bound<'_, Self>) -> PyResult<Option<bool>> {
        let py = slf.py();
        let this = slf.get();
        this.st(py).eof_received = true;
        let result = (|| -> PyResult<Option<bool>> {
            if this.debug(py)? {
                Self::debug_log(slf, "%r received EOF", None)?;
            }
            match this.phase(py) {
                Phase::Handshake => {
                    // asyncio fails the handshake with a bare ConnectionResetError.
                    Self::on_handshake_complete(slf, Some(PyConnectionResetError::new_err(())))?;
                }
                Phase::Wrapped => {
                    this.set_phase(py, Phase::Flushing)?;
                    if this.st(py).app_reading_paused {
                        return Ok(Some(true));
                    }
                    Self::do_flush(slf)?;
                }
                Phase::Flushing => {
                    Self::do_write(slf)?;
                    this.set_phase(py, Phase::Shutdown)?;
                    Self::do_shutdown(slf)?;
                }
                Phase::Shutdown => Self::do_shutdown(slf)?,
                Phase::Unwrapped => {}
            }
            Ok(None)
        })();
        if let Err(err) = &result {
            if err.is_instance_of::<PyException>(py) {
                if let Some(transport) = this.transport(py) {
                    transport.bind(py).call_method0("close")?;
                }
            }
        }
        result
    }

    pub(crate) fn on_connection_lost(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let backlog = std::mem::take(&mut this.st(py).backlog);
        drop(backlog);
        this.outgoing_read.bind(py).call0()?;
        let (lost_call, old, timers) = {
            let mut st = this.st(py);
            st.backlog_size = 0;
            st.life.lose();
            st.face_closed = true;
            let lost_call = if st.phase != Phase::Handshake
                && matches!(st.app_state, AppState::Made | AppState::Eof)
            {
                st.app_state = AppState::Lost;
                st.app_protocol.as_ref().map(|p| p.clone_ref(py))
            } else {
                None
            };
            st.phase = Phase::Unwrapped;
            let old = (
                st.transport.take(),
                st.transport_write.take(),
                st.face.take(),
                st.app_protocol.take(),
                st.app_data_received.take(),
            );
            (
                lost_call,
                old,
                (st.shutdown_timer.take(), st.handshake_timer.take()),
            )
        };
        if let Some(protocol) = lost_call {
            let callback = protocol.bind(py).getattr("connection_lost")?;
            this.loop_(py)
                .call_method1("call_soon", (callback, exc.clone_ref(py)))?;
        }
        drop(old);
        Self::wakeup_waiter(slf, Some(exc.bind(py)))?;
        cancel(py, timers.0)?;
        cancel(py, timers.1)
    }

    // -- shutdown -----------------------------------------------------------------

    pub(crate) fn start_shutdown(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let phase = this.phase(slf.py());
        if phase.is_closing() {
            return Ok(());
        }
        this.st(slf.py()).face_closed = true;
        if phase == Phase::Handshake {
            return Self::abort_with(slf, None);
        }
        this.set_phase(slf.py(), Phase::Flushing)?;
        Self::arm_shutdown_timer(slf)?;
        Self::do_flush(slf)
    }

    fn arm_shutdown_timer(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let timer = Self::call_later(slf, &this.shutdown_timeout, CoreStepKind::ShutdownTimeout)?;
        let old = this.st(slf.py()).shutdown_timer.replace(timer);
        drop(old);
        Ok(())
    }

    pub(crate) fn do_flush(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::do_read(slf)?;
        slf.get().set_phase(slf.py(), Phase::Shutdown)?;
        Self::do_shutdown(slf)
    }

    pub(crate) fn do_shutdown(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let eof = this.st(py).eof_received;
        let unwrapped = if eof {
            Ok(())
        } else {
            this.sslobj.bind(py).call_method0("unwrap").map(drop)
        };
        match Step::of(py, unwrapped)? {
            Step::Done => {
                Self::process_outgoing(slf)?;
                Self::call_eof_received(slf)?;
                Self::on_shutdown_complete(slf, None)
            }
            Step::Again => Self::process_outgoing(slf),
            Step::Failed(err) => Self::on_shutdown_complete(slf, Some(err)),
        }
    }

    /// The close_notify exchange ended. The shutdown timer keeps running (or starts, when
    /// the peer began the shutdown) until `connection_lost`: closing the transport
    /// underneath flushes its buffer first, which a peer that does not read delays
    /// forever (as asyncio 3.14.x does; earlier releases could hang there, so every
    /// version gets it).
    fn on_shutdown_complete(slf: &Bound<'_, Self>, failure: Option<PyErr>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if let Some(err) = failure {
            let timer = this.st(py).shutdown_timer.take();
            cancel(py, timer)?;
            let exc = err.into_value(py).into_bound(py).into_any();
            return Self::fatal_error(slf, &exc, "Fatal error on transport");
        }
        if this.st(py).shutdown_timer.is_none() {
            Self::arm_shutdown_timer(slf)?;
        }
        if let Some(transport) = this.transport(py) {
            let close = transport.bind(py).getattr("close")?;
            this.loop_(py).call_method1("call_soon", (close,))?;
        }
        Ok(())
    }

    /// Drop the connection now: `abort()` the transport underneath, or `_force_close(exc)`.
    pub(crate) fn abort_with(slf: &Bound<'_, Self>, exc: Option<Py<PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        this.set_phase(py, Phase::Unwrapped)?;
        let Some(transport) = this.transport(py) else {
            return Ok(());
        };
        match exc {
            Some(exc) if !exc.is_none(py) => transport
                .bind(py)
                .call_method1("_force_close", (exc,))
                .map(drop),
            _ => transport.bind(py).call_method0("abort").map(drop),
        }
    }

    // -- errors -------------------------------------------------------------------

    /// Force-close the transport underneath; report `exc` unless it only means the peer
    /// went away (`OSError`, logged in debug mode) or a cancellation.
    pub(crate) fn fatal_error(
        slf: &Bound<'_, Self>,
        exc: &Bound<'_, PyAny>,
        message: &str,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let transport = this.transport(py);
        if let Some(t) = &transport {
            t.bind(py).call_method1("_force_close", (exc,))?;
        }
        let who = super::FatalSubject {
            event_loop: this.loop_(py),
            debug: this.debug(py)?,
            shown: slf.as_any(),
            transport,
            protocol: Some(slf.as_any().clone().unbind()),
        };
        super::report_fatal(who, exc, message, super::PeerGone::AnyOsError)
    }
}
