//! The transport operations stream, pipe and datagram cores share, written once over
//! `LifecycleCore`: close, abort, the fatal-error policy, `connection_lost` scheduling,
//! reading pause and resume, and the write-buffer limits. The rules themselves are
//! `aioxide_core::transport::Lifecycle`; this file turns its steps into watcher changes
//! and protocol calls. `lifecycle_methods!` declares the Python methods on each core.

use std::os::fd::RawFd;

use aioxide_core::transport::{Buffered, Close, FlowEvent, ForceClose, Lifecycle, WaterMarks};
use pyo3::prelude::*;
use pyo3::PyClass;

use super::step::{CoreStep, Step};
use super::PeerGone;
use crate::event_loop::handle_args::NativeCall;
use crate::event_loop::watchers::Side;
use crate::event_loop::PyLoopCore;

/// What every core holds from construction to the end: its loop and its descriptor.
pub(crate) struct CoreBase {
    pub event_loop: Py<PyLoopCore>,
    pub fd: RawFd,
}

impl CoreBase {
    /// The base of a core serving `sock` (anything with a `fileno()`).
    pub fn new(event_loop: Bound<'_, PyLoopCore>, sock: &Bound<'_, PyAny>) -> PyResult<CoreBase> {
        let fd: i64 = sock.call_method0("fileno")?.extract()?;
        let fd = RawFd::try_from(fd)
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| crate::errors::invalid_fd(fd))?;
        Ok(CoreBase {
            event_loop: event_loop.unbind(),
            fd,
        })
    }
}

/// What every core keeps besides its own state: the objects it serves and its
/// lifecycle.
pub(crate) struct CoreCommon {
    /// The socket (or pipe) object; `None` once the connection is lost and it is closed.
    pub sock: Option<Py<PyAny>>,
    pub transport: Option<Py<PyAny>>,
    pub protocol: Option<Py<PyAny>>,
    pub life: Lifecycle,
}

impl CoreCommon {
    pub fn new(
        sock: &Bound<'_, PyAny>,
        transport: &Bound<'_, PyAny>,
        protocol: Option<&Bound<'_, PyAny>>,
        life: Lifecycle,
    ) -> CoreCommon {
        CoreCommon {
            sock: Some(sock.clone().unbind()),
            transport: Some(transport.clone().unbind()),
            protocol: protocol.map(|p| p.clone().unbind()),
            life,
        }
    }

    /// `(sock, protocol, transport)`, taken once the connection is lost (dropped by the
    /// caller outside any borrow).
    pub fn take(&mut self) -> [Option<Py<PyAny>>; 3] {
        [
            self.sock.take(),
            self.protocol.take(),
            self.transport.take(),
        ]
    }

    /// The references the collector may break (a core's `__clear__`): transport and
    /// protocol. The socket stays, so that its descriptor is still closed exactly once.
    pub fn clear(&mut self) -> [Option<Py<PyAny>>; 2] {
        [self.transport.take(), self.protocol.take()]
    }

    /// The collector's visit of the objects (the `__traverse__` of a core).
    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for obj in [&self.sock, &self.transport, &self.protocol]
            .into_iter()
            .flatten()
        {
            visit.call(obj)?;
        }
        Ok(())
    }
}

/// A transport core with the shared lifecycle. Implementations borrow their state only
/// for plain Rust work (no Python code runs inside any of these methods' borrows).
pub(crate) trait LifecycleCore:
    PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync
{
    /// The step that calls `connection_lost(exc)` on this core.
    const LOST_STEP: Step;
    /// The reader callback as a Rust call: the core is registered and this runs it.
    const READY: NativeCall;

    fn base(&self) -> &CoreBase;
    fn common<R>(&self, py: Python<'_>, f: impl FnOnce(&mut CoreCommon) -> R) -> R;
    fn replace_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()>;
    /// Run `f` on what waits to be written (no Python code may run inside).
    fn with_buffer<R>(&self, py: Python<'_>, f: impl FnOnce(&mut dyn Buffered) -> R) -> R;
    /// A writer callback is registered.
    fn is_writing(&self, py: Python<'_>) -> bool;
    /// Drop whatever waits to be written and stop writing; true when a writer callback
    /// was registered.
    fn discard_writes(&self, py: Python<'_>) -> bool;
    /// A closing transport keeps its reader registered (a write pipe watches its
    /// descriptor for the reader going away until the end).
    fn reads_while_closing(&self) -> bool {
        false
    }
    /// Which errors only mean that the peer went away.
    fn peer_gone(&self) -> PeerGone {
        PeerGone::AnyOsError
    }

    fn event_loop<'py>(&self, py: Python<'py>) -> &Bound<'py, PyLoopCore> {
        self.base().event_loop.bind(py)
    }

    fn fd(&self) -> RawFd {
        self.base().fd
    }

    /// Bytes waiting to be written.
    fn queued(&self, py: Python<'_>) -> usize {
        self.with_buffer(py, |b| b.size())
    }

    fn marks(&self, py: Python<'_>) -> WaterMarks {
        self.with_buffer(py, |b| b.marks())
    }

    fn flow_paused(&self, py: Python<'_>) -> bool {
        self.with_buffer(py, |b| b.is_paused())
    }

    fn set_marks(&self, py: Python<'_>, marks: WaterMarks) -> FlowEvent {
        self.with_buffer(py, |b| b.set_marks(marks))
    }

    fn with_lifecycle<R>(&self, py: Python<'_>, f: impl FnOnce(&mut Lifecycle) -> R) -> R {
        self.common(py, |c| f(&mut c.life))
    }

    /// The Python transport, while the core has one.
    fn transport(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.common(py, |c| c.transport.as_ref().map(|t| t.clone_ref(py)))
    }

    /// The protocol, while the core has one.
    fn protocol(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.common(py, |c| c.protocol.as_ref().map(|p| p.clone_ref(py)))
    }

    /// The socket while the transport owns it.
    fn sock(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.common(py, |c| c.sock.as_ref().map(|s| s.clone_ref(py)))
    }

    /// Register the core itself as the reader callback, run by `READY`.
    fn watch_read(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        super::watch_fd(
            this.event_loop(slf.py()),
            Side::Read,
            this.fd(),
            slf.as_any(),
            Self::READY,
        )
    }

    /// Register `step` of this core for `side` of the descriptor.
    fn watch_step(slf: &Bound<'_, Self>, side: Side, step: Step) -> PyResult<()> {
        let callback = CoreStep::new(slf, step)?;
        let this = slf.get();
        let event_loop = this.event_loop(slf.py());
        super::watch_fd(
            event_loop,
            side,
            this.fd(),
            callback.as_any(),
            CoreStep::fire,
        )
    }

    fn unwatch(&self, py: Python<'_>, side: Side) -> PyResult<()> {
        super::unwatch_fd(self.event_loop(py), side, self.fd())
    }

    /// Tell the protocol about a flow event (see `super::notify_flow`).
    fn flow(&self, py: Python<'_>, event: FlowEvent) -> PyResult<()> {
        let event_loop = self.event_loop(py).as_any();
        super::notify_flow(event_loop, self.protocol(py), self.transport(py), event)
    }
}

/// `connection_lost(exc)` on the loop's next iteration.
pub(crate) fn schedule_connection_lost<C: LifecycleCore>(
    slf: &Bound<'_, C>,
    exc: Py<PyAny>,
) -> PyResult<()> {
    let step = CoreStep::new(slf, C::LOST_STEP)?;
    super::schedule_connection_lost(slf.get().event_loop(slf.py()), step, exc)
}

/// `protocol.connection_lost(exc)`, then close the socket and drop the core's
/// references (the transport and protocol cycle ends here). `release` takes the core's
/// own references, returned for the caller to finish with; no Python code may run in
/// it. `None` when this ran already; else the result of the two calls.
pub(crate) fn call_connection_lost<C: LifecycleCore, X>(
    slf: &Bound<'_, C>,
    exc: Py<PyAny>,
    release: impl FnOnce(&C) -> X,
) -> Option<(PyResult<()>, X)> {
    let py = slf.py();
    let this = slf.get();
    let protocol = this.common(py, |c| {
        c.sock
            .is_some()
            .then(|| c.protocol.as_ref().map(|p| p.clone_ref(py)))
    })?;
    let lost = match &protocol {
        Some(p) => p
            .bind(py)
            .call_method1(pyo3::intern!(py, "connection_lost"), (exc,))
            .map(drop),
        None => Ok(()),
    };
    let objects = this.common(py, CoreCommon::take);
    let own = release(this);
    let closed = match &objects[0] {
        Some(sock) => sock.bind(py).call_method0("close").map(drop),
        None => Ok(()),
    };
    drop((objects, protocol));
    Some((lost.and(closed), own))
}

/// `close()`: stop reading; with nothing queued the connection is lost now, else the
/// writer loses it once the queue is flushed.
pub(crate) fn close<C: LifecycleCore>(slf: &Bound<'_, C>) -> PyResult<()> {
    let py = slf.py();
    let this = slf.get();
    let drained = this.queued(py) == 0;
    match this.with_lifecycle(py, |l| l.close(drained)) {
        Close::Already => Ok(()),
        Close::Drain if this.reads_while_closing() => Ok(()),
        Close::Drain => this.unwatch(py, Side::Read),
        Close::LostNow => {
            this.discard_writes(py);
            this.unwatch(py, Side::Read)?;
            this.unwatch(py, Side::Write)?;
            schedule_connection_lost(slf, py.None())
        }
    }
}

/// asyncio's `_force_close`: drop the queue, stop reading and writing, and call
/// `connection_lost(exc)` on the next iteration.
pub(crate) fn force_close<C: LifecycleCore>(slf: &Bound<'_, C>, exc: Py<PyAny>) -> PyResult<()> {
    let py = slf.py();
    let this = slf.get();
    let ForceClose::Lost { was_closing } = this.with_lifecycle(py, Lifecycle::force_close) else {
        return Ok(());
    };
    if this.discard_writes(py) {
        this.unwatch(py, Side::Write)?;
    }
    if !was_closing || this.reads_while_closing() {
        this.unwatch(py, Side::Read)?;
    }
    schedule_connection_lost(slf, exc)
}

/// asyncio's `_fatal_error`: report (see `super::report_fatal`), then force-close.
/// `SystemExit` and `KeyboardInterrupt` propagate instead, as asyncio's callers re-raise
/// them before they reach `_fatal_error`.
pub(crate) fn fatal_error<C: LifecycleCore>(
    slf: &Bound<'_, C>,
    err: PyErr,
    message: &str,
) -> PyResult<()> {
    let py = slf.py();
    if super::must_propagate(py, &err) {
        return Err(err);
    }
    let this = slf.get();
    let (transport, protocol) = (this.transport(py), this.protocol(py));
    let event_loop = this.event_loop(py);
    let exc = super::report_core_fatal(
        event_loop,
        transport,
        protocol,
        err,
        message,
        this.peer_gone(),
    )?;
    force_close(slf, exc)
}

/// `pause_reading()`: true when the reading state changed (the caller logs it in debug
/// mode).
pub(crate) fn pause_reading<C: LifecycleCore>(this: &C, py: Python<'_>) -> PyResult<bool> {
    if !this.with_lifecycle(py, Lifecycle::pause_reading) {
        return Ok(false);
    }
    this.unwatch(py, Side::Read)?;
    Ok(true)
}

pub(crate) fn resume_reading<C: LifecycleCore>(slf: &Bound<'_, C>) -> PyResult<bool> {
    if !slf
        .get()
        .with_lifecycle(slf.py(), Lifecycle::resume_reading)
    {
        return Ok(false);
    }
    C::watch_read(slf)?;
    Ok(true)
}

/// `set_write_buffer_limits(high, low)`, with asyncio's checks.
pub(crate) fn set_write_buffer_limits<C: LifecycleCore>(
    this: &C,
    py: Python<'_>,
    high: Option<&Bound<'_, PyAny>>,
    low: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let marks = super::water_marks(high, low)?;
    let event = this.set_marks(py, marks);
    this.flow(py, event)
}

/// The `LifecycleCore` items every core writes the same way: its loss step, its reader
/// (`__call__`), its `base` field and the `common` part of its `state`.
macro_rules! core_accessors {
    ($lost:expr) => {
        const LOST_STEP: $crate::transport::step::Step = $lost;
        const READY: $crate::event_loop::handle_args::NativeCall =
            |core| Self::__call__(core.cast()?);

        fn base(&self) -> &$crate::transport::lifecycle::CoreBase {
            &self.base
        }

        fn common<R>(
            &self,
            py: pyo3::Python<'_>,
            f: impl FnOnce(&mut $crate::transport::lifecycle::CoreCommon) -> R,
        ) -> R {
            f(&mut self.state.borrow_mut(py).common)
        }
    };
}
pub(crate) use core_accessors;

/// Declares the Python methods of the shared lifecycle on a `LifecycleCore` pyclass.
macro_rules! lifecycle_methods {
    ($core:ty) => {
        #[pyo3::pymethods]
        impl $core {
            /// Start reading (scheduled right after `connection_made`); nothing if the
            /// transport was paused or closed meanwhile (asyncio's `_add_reader`).
            fn _start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
                use $crate::transport::lifecycle::LifecycleCore;
                let reading = slf.get().with_lifecycle(slf.py(), |l| l.is_reading());
                if reading {
                    Self::watch_read(slf)?;
                }
                Ok(())
            }

            fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
                $crate::transport::lifecycle::close(slf)
            }

            fn abort(slf: &Bound<'_, Self>) -> PyResult<()> {
                $crate::transport::lifecycle::force_close(slf, slf.py().None())
            }

            #[pyo3(signature = (exc = None))]
            fn _force_close(slf: &Bound<'_, Self>, exc: Option<Py<PyAny>>) -> PyResult<()> {
                let exc = exc.unwrap_or_else(|| slf.py().None());
                $crate::transport::lifecycle::force_close(slf, exc)
            }

            fn is_closing(&self, py: Python<'_>) -> bool {
                use $crate::transport::lifecycle::LifecycleCore;
                self.with_lifecycle(py, |l| l.is_closing())
            }

            fn is_reading(&self, py: Python<'_>) -> bool {
                use $crate::transport::lifecycle::LifecycleCore;
                self.with_lifecycle(py, |l| l.is_reading())
            }

            /// True when the reading state changed (the caller logs it in debug mode).
            fn pause_reading(&self, py: Python<'_>) -> PyResult<bool> {
                $crate::transport::lifecycle::pause_reading(self, py)
            }

            fn resume_reading(slf: &Bound<'_, Self>) -> PyResult<bool> {
                $crate::transport::lifecycle::resume_reading(slf)
            }

            fn get_write_buffer_size(&self, py: Python<'_>) -> usize {
                use $crate::transport::lifecycle::LifecycleCore;
                self.queued(py)
            }

            /// `(low, high)`, as asyncio returns them.
            fn get_write_buffer_limits(&self, py: Python<'_>) -> (usize, usize) {
                use $crate::transport::lifecycle::LifecycleCore;
                let marks = self.marks(py);
                (marks.low, marks.high)
            }

            #[pyo3(signature = (high = None, low = None))]
            fn set_write_buffer_limits(
                &self,
                py: Python<'_>,
                high: Option<&Bound<'_, PyAny>>,
                low: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<()> {
                $crate::transport::lifecycle::set_write_buffer_limits(self, py, high, low)
            }

            /// The protocol was told to pause writing and not yet to resume.
            #[getter]
            fn protocol_paused(&self, py: Python<'_>) -> bool {
                use $crate::transport::lifecycle::LifecycleCore;
                self.flow_paused(py)
            }

            fn set_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
                use $crate::transport::lifecycle::LifecycleCore;
                self.replace_protocol(protocol)
            }

            fn get_protocol(&self, py: Python<'_>) -> Py<PyAny> {
                use $crate::transport::lifecycle::LifecycleCore;
                self.protocol(py).unwrap_or_else(|| py.None())
            }

            /// Whether a writer callback is registered (for the transport's repr).
            fn is_writing(&self, py: Python<'_>) -> bool {
                use $crate::transport::lifecycle::LifecycleCore;
                LifecycleCore::is_writing(self, py)
            }

            /// The socket while the transport owns it, else None.
            #[pyo3(name = "sock")]
            fn py_sock(&self, py: Python<'_>) -> Py<PyAny> {
                use $crate::transport::lifecycle::LifecycleCore;
                LifecycleCore::sock(self, py).unwrap_or_else(|| py.None())
            }
        }
    };
}

pub(crate) use lifecycle_methods;
