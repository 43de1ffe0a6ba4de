//! `DatagramCore`: the state and operations of a datagram (UDP or Unix) transport, with
//! asyncio's `_SelectorDatagramTransport` semantics.
//!
//! Read path: the core object is the reader callback; one `recvfrom` into the per-thread
//! scratch buffer, one `bytes` of the datagram's size, the sender's address built in Rust
//! (and reused while the sender stays the same), one `datagram_received` call. (A
//! `socket.recvfrom(256 KiB)` allocates, and for such a size maps and unmaps, a 256 KiB
//! object per datagram.) Write path: a connected socket sends with `send(2)` directly,
//! and so does `sendto(data)` with no address; `sendto` to an address goes through the
//! socket's own `sendto`, which parses every address form Python accepts. What the
//! kernel refuses for now waits in a queue of `(bytes, address)` flushed when the socket
//! is writable, with asyncio's water marks.
//!
//! Locking follows `StreamCore`'s rule: `state` is never borrowed while Python code runs.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::os::fd::RawFd;

use aioxide_core::stream::{Flow, FlowEvent, WaterMarks};
use aioxide_core::sys::sockaddr::{recv_from, SockAddr};
use aioxide_core::sys::socket;
use pyo3::exceptions::{
    PyBlockingIOError, PyBufferError, PyInterruptedError, PyOSError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::must_propagate;
use super::step::{CoreStep, Step};
use super::stream::{copied_bytes, data_bytes, StdlibCheck};
use crate::errors;
use crate::event_loop::watchers::Side;
use crate::event_loop::PyLoopCore;
use crate::sock_addr::address_object;
use crate::sockets::with_scratch;
use crate::stdlib::asyncio_logger;

/// asyncio's `max_size` for one datagram read.
const MAX_SIZE: usize = 256 * 1024;
const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

struct DatagramState {
    /// The socket; `None` once the connection is lost and the socket closed.
    sock: Option<Py<PyAny>>,
    transport: Option<Py<PyAny>>,
    protocol: Option<Py<PyAny>>,
    /// Datagrams the kernel did not take yet, with their addresses (or None).
    queue: VecDeque<(Py<PyBytes>, Py<PyAny>)>,
    queued: usize,
    flow: Flow,
    flags: super::ReadFlags,
    conn_lost: u32,
    /// The last sender's address, raw and as a Python object.
    last_peer: Option<(Vec<u8>, Py<PyAny>)>,
}

#[pyclass(module = "aioxide._aioxide", name = "DatagramCore", frozen)]
pub struct PyDatagramCore {
    event_loop: Py<PyLoopCore>,
    fd: RawFd,
    /// The remote address given to `create_datagram_endpoint` (asyncio's `_address`).
    address: Option<Py<PyAny>>,
    /// The socket is connected: datagrams go out with `send(2)`.
    connected: bool,
    state: crate::ffi::GilCell<DatagramState>,
}

/// How a send attempt failed, in asyncio's terms.
enum SendError {
    WouldBlock,
    /// An `OSError`: goes to `protocol.error_received()`.
    Os(PyErr),
    /// Anything else: a fatal error of the transport (or it propagates).
    Other(PyErr),
}

fn classify(py: Python<'_>, err: PyErr) -> SendError {
    if err.is_instance_of::<PyBlockingIOError>(py) || err.is_instance_of::<PyInterruptedError>(py) {
        SendError::WouldBlock
    } else if err.is_instance_of::<PyOSError>(py) {
        SendError::Os(err)
    } else {
        SendError::Other(err)
    }
}

impl PyDatagramCore {
    fn loop_<'py>(&self, py: Python<'py>) -> &Bound<'py, PyLoopCore> {
        self.event_loop.bind(py)
    }

    fn protocol(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let st = self.state.borrow_mut(py);
        st.protocol.as_ref().map(|p| p.clone_ref(py))
    }

    fn transport(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let st = self.state.borrow_mut(py);
        st.transport.as_ref().map(|t| t.clone_ref(py))
    }

    fn sock(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let st = self.state.borrow_mut(py);
        st.sock.as_ref().map(|s| s.clone_ref(py))
    }

    fn unwatch(&self, py: Python<'_>, side: Side) -> PyResult<()> {
        super::unwatch_fd(self.loop_(py), side, self.fd)
    }

    fn watch(slf: &Bound<'_, Self>, side: Side, callback: &Bound<'_, PyAny>) -> PyResult<()> {
        super::watch_fd(slf.get().loop_(slf.py()), side, slf.get().fd, callback)
    }

    fn flow(&self, py: Python<'_>, event: FlowEvent) -> PyResult<()> {
        let event_loop = self.loop_(py).as_any();
        super::notify_flow(event_loop, self.protocol(py), self.transport(py), event)
    }

    fn error_received(&self, py: Python<'_>, err: PyErr) -> PyResult<()> {
        match self.protocol(py) {
            Some(p) => p
                .bind(py)
                .call_method1(pyo3::intern!(py, "error_received"), (err.value(py),))
                .map(drop),
            None => Ok(()),
        }
    }

    /// asyncio's `_fatal_error` (see `super::report_fatal`), then force-close; unless the
    /// error must propagate.
    fn fatal_error(slf: &Bound<'_, Self>, err: PyErr, message: &str) -> PyResult<()> {
        let py = slf.py();
        if must_propagate(py, &err) {
            return Err(err);
        }
        let this = slf.get();
        let (transport, protocol) = (this.transport(py), this.protocol(py));
        let gone = super::PeerGone::AnyOsError;
        let exc =
            super::report_core_fatal(this.loop_(py), transport, protocol, err, message, gone)?;
        Self::force_close(slf, exc)
    }

    /// One datagram to the kernel.
    fn send_one(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        addr: &Bound<'_, PyAny>,
    ) -> Result<(), SendError> {
        // No address to send to: `send(2)`, which also serves a socket connected in a
        // way `getpeername()` does not show (a Unix `socketpair`), as uvloop does.
        if self.connected || addr.is_none() {
            return match socket::send(self.fd, data.as_bytes()) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => Err(SendError::WouldBlock),
                // Not connected after all: asyncio's `sock.sendto(data, None)` and its
                // TypeError (a fatal error there), not an error_received.
                Err(e) if e.raw_os_error() == Some(libc::EDESTADDRREQ) && !self.connected => {
                    self.sendto_object(py, data, addr)
                }
                Err(e) => Err(classify(py, errors::os_error(e))),
            };
        }
        self.sendto_object(py, data, addr)
    }

    /// `sock.sendto(data, addr)` on the Python socket object.
    fn sendto_object(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        addr: &Bound<'_, PyAny>,
    ) -> Result<(), SendError> {
        let Some(sock) = self.sock(py) else {
            return Ok(()); // closed meanwhile: nothing to send on
        };
        sock.bind(py)
            .call_method1(pyo3::intern!(py, "sendto"), (data, addr))
            .map(drop)
            .map_err(|e| classify(py, e))
    }

    /// A send failed: error_received for an `OSError`, else a fatal error.
    fn send_failed(slf: &Bound<'_, Self>, err: SendError) -> PyResult<()> {
        match err {
            SendError::WouldBlock => Ok(()),
            SendError::Os(e) => slf.get().error_received(slf.py(), e),
            SendError::Other(e) => {
                Self::fatal_error(slf, e, "Fatal write error on datagram transport")
            }
        }
    }

    fn force_close(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (drop_writer, drop_reader, dropped) = {
            let mut st = this.state.borrow_mut(py);
            if st.conn_lost > 0 {
                return Ok(());
            }
            let drop_writer = !st.queue.is_empty();
            let dropped = std::mem::take(&mut st.queue);
            st.queued = 0;
            let drop_reader = !st.flags.closing;
            st.flags.closing = true;
            st.conn_lost += 1;
            (drop_writer, drop_reader, dropped)
        };
        drop(dropped);
        if drop_writer {
            this.unwatch(py, Side::Write)?;
        }
        if drop_reader {
            this.unwatch(py, Side::Read)?;
        }
        Self::schedule_connection_lost(slf, exc)
    }

    fn schedule_connection_lost(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let step = CoreStep::new(slf, Step::DatagramLost)?;
        super::schedule_connection_lost(slf.get().loop_(slf.py()), step, exc)
    }

    /// The sender's address as a Python object, reused while the sender stays the same.
    fn peer_object(&self, py: Python<'_>, from: &SockAddr) -> Option<Py<PyAny>> {
        let raw = from.as_bytes();
        {
            let st = self.state.borrow_mut(py);
            if let Some((last_raw, obj)) = &st.last_peer {
                if last_raw.as_slice() == raw {
                    return Some(obj.clone_ref(py));
                }
            }
        }
        let obj = address_object(py, from.parts())?;
        let old = self
            .state
            .borrow_mut(py)
            .last_peer
            .replace((raw.to_vec(), obj.clone_ref(py)));
        drop(old);
        Some(obj)
    }

    /// The writer callback: send queued datagrams until the kernel refuses one.
    pub(crate) fn sendto_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        loop {
            let Some((data, addr)) = ({
                let mut st = this.state.borrow_mut(py);
                let item = st.queue.pop_front();
                if let Some((data, _)) = &item {
                    st.queued -= data.bind(py).as_bytes().len();
                }
                item
            }) else {
                break;
            };
            match this.send_one(py, data.bind(py), addr.bind(py)) {
                Ok(()) => {}
                Err(SendError::WouldBlock) => {
                    let mut st = this.state.borrow_mut(py);
                    st.queued += data.bind(py).as_bytes().len();
                    st.queue.push_front((data, addr));
                    break;
                }
                Err(err) => return Self::send_failed(slf, err),
            }
        }
        let event = {
            let mut st = this.state.borrow_mut(py);
            let size = st.queued;
            st.flow.shrank(size)
        };
        this.flow(py, event)?; // resume_writing() may queue more
        let closing = {
            let st = this.state.borrow_mut(py);
            if !st.queue.is_empty() {
                return Ok(());
            }
            st.flags.closing
        };
        this.unwatch(py, Side::Write)?;
        if closing {
            Self::call_connection_lost(slf, py.None())?;
        }
        Ok(())
    }

    /// `protocol.connection_lost(exc)`, then close the socket and drop every reference.
    pub(crate) fn call_connection_lost(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if this.state.borrow_mut(py).sock.is_none() {
            return Ok(());
        }
        let lost = match this.protocol(py) {
            Some(p) => p
                .bind(py)
                .call_method1(pyo3::intern!(py, "connection_lost"), (exc,))
                .map(drop),
            None => Ok(()),
        };
        let taken = {
            let mut st = this.state.borrow_mut(py);
            (
                st.sock.take(),
                st.protocol.take(),
                st.transport.take(),
                st.last_peer.take(),
                std::mem::take(&mut st.queue),
            )
        };
        let closed = match &taken.0 {
            Some(sock) => sock.bind(py).call_method0("close").map(drop),
            None => Ok(()),
        };
        drop(taken);
        lost.and(closed)
    }
}

#[pymethods]
impl PyDatagramCore {
    /// `DatagramCore(loop, sock, transport, protocol, address=None, connected=False)`.
    #[new]
    #[pyo3(signature = (event_loop, sock, transport, protocol, address = None, connected = false))]
    fn new(
        event_loop: Bound<'_, PyLoopCore>,
        sock: &Bound<'_, PyAny>,
        transport: &Bound<'_, PyAny>,
        protocol: &Bound<'_, PyAny>,
        address: Option<Py<PyAny>>,
        connected: bool,
    ) -> PyResult<Self> {
        let fd: i64 = sock.call_method0("fileno")?.extract()?;
        let fd = RawFd::try_from(fd)
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| errors::invalid_fd(fd))?;
        Ok(PyDatagramCore {
            event_loop: event_loop.unbind(),
            fd,
            address: address.filter(|a| a.bind(sock.py()).is_truthy().unwrap_or(true)),
            connected,
            state: crate::ffi::GilCell::new(DatagramState {
                sock: Some(sock.clone().unbind()),
                transport: Some(transport.clone().unbind()),
                protocol: Some(protocol.clone().unbind()),
                queue: VecDeque::new(),
                queued: 0,
                flow: Flow::new(WaterMarks::default()),
                flags: super::ReadFlags::default(),
                conn_lost: 0,
                last_peer: None,
            }),
        })
    }

    fn _start_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let reading = slf.get().state.borrow_mut(slf.py()).flags.is_reading();
        if reading {
            Self::watch(slf, Side::Read, slf.as_any())?;
        }
        Ok(())
    }

    /// The reader callback: one datagram to `datagram_received(data, addr)`.
    fn __call__(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if this.state.borrow_mut(py).conn_lost > 0 {
            return Ok(());
        }
        let mut from = SockAddr::default();
        let read = with_scratch(MAX_SIZE, |buf| {
            recv_from(this.fd, buf, &mut from).map(|n| PyBytes::new(py, &buf[..n]))
        });
        let data = match read {
            Ok(data) => data,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return this.error_received(py, errors::os_error(e)),
        };
        let addr = match this.peer_object(py, &from) {
            Some(addr) => addr,
            None => {
                let err =
                    PyValueError::new_err("unsupported address family of a datagram's sender");
                return Self::fatal_error(slf, err, "Fatal read error on datagram transport");
            }
        };
        let Some(protocol) = this.protocol(py) else {
            return Ok(());
        };
        protocol
            .bind(py)
            .call_method1(pyo3::intern!(py, "datagram_received"), (data, addr))
            .map(drop)
    }

    #[pyo3(signature = (data, addr = None))]
    fn sendto(
        slf: &Bound<'_, Self>,
        data: &Bound<'_, PyAny>,
        addr: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        // A BufferError is asyncio's sendto() failing on the data: a fatal error if it is
        // sent at once; queued, it is copied (asyncio queues `bytes(data)`).
        let (data, unsendable) = match data_bytes(data, StdlibCheck::Sendto) {
            Ok(bytes) => (bytes, None),
            Err(err) if err.is_instance_of::<PyBufferError>(py) => (copied_bytes(data)?, Some(err)),
            Err(err) => return Err(err),
        };
        if data.as_bytes().is_empty() {
            return Ok(());
        }
        let none = py.None().into_bound(py);
        let addr = match (&this.address, addr) {
            (Some(address), Some(addr)) if !addr.is_none() => {
                let address = address.bind(py);
                if !(addr.is(address) || addr.eq(address)?) {
                    return Err(PyValueError::new_err(format!(
                        "Invalid address: must be None or {}",
                        address.str()?
                    )));
                }
                address.clone()
            }
            (Some(address), _) => address.bind(py).clone(),
            (None, Some(addr)) => addr.clone(),
            (None, None) => none,
        };
        let mut st = this.state.borrow_mut(py);
        if st.conn_lost > 0 && this.address.is_some() {
            let warn = st.conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES;
            st.conn_lost += 1;
            drop(st);
            if warn {
                asyncio_logger(py)?
                    .call_method1("warning", ("socket.send() raised exception.",))?;
            }
            return Ok(());
        }
        if st.sock.is_none() {
            return Ok(()); // the socket is closed: nothing may be sent on its number
        }
        if st.queue.is_empty() {
            drop(st);
            if let Some(err) = unsendable {
                return Self::send_failed(slf, SendError::Other(err));
            }
            match this.send_one(py, &data, &addr) {
                Ok(()) => return Ok(()),
                Err(SendError::WouldBlock) => {
                    let callback = CoreStep::new(slf, Step::SendtoReady)?;
                    Self::watch(slf, Side::Write, callback.as_any())?;
                }
                Err(err) => return Self::send_failed(slf, err),
            }
            st = this.state.borrow_mut(py);
        }
        st.queued += data.as_bytes().len();
        st.queue.push_back((data.unbind(), addr.unbind()));
        let size = st.queued;
        let event = st.flow.grew(size);
        drop(st);
        this.flow(py, event)
    }

    fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let lost_now = {
            let mut st = this.state.borrow_mut(py);
            if st.flags.closing {
                return Ok(());
            }
            st.flags.closing = true;
            let lost_now = st.queue.is_empty();
            if lost_now {
                st.conn_lost += 1;
            }
            lost_now
        };
        this.unwatch(py, Side::Read)?;
        if lost_now {
            this.unwatch(py, Side::Write)?;
            Self::schedule_connection_lost(slf, py.None())?;
        }
        Ok(())
    }

    fn abort(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::force_close(slf, slf.py().None())
    }

    #[pyo3(signature = (exc = None))]
    fn _force_close(slf: &Bound<'_, Self>, exc: Option<Py<PyAny>>) -> PyResult<()> {
        let exc = exc.unwrap_or_else(|| slf.py().None());
        Self::force_close(slf, exc)
    }

    fn is_closing(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).flags.closing
    }

    fn is_reading(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).flags.is_reading()
    }

    /// True when the reading state changed.
    fn pause_reading(&self, py: Python<'_>) -> PyResult<bool> {
        if !self.state.borrow_mut(py).flags.pause() {
            return Ok(false);
        }
        self.unwatch(py, Side::Read)?;
        Ok(true)
    }

    fn resume_reading(slf: &Bound<'_, Self>) -> PyResult<bool> {
        if !slf.get().state.borrow_mut(slf.py()).flags.resume() {
            return Ok(false);
        }
        Self::watch(slf, Side::Read, slf.as_any())?;
        Ok(true)
    }

    fn get_write_buffer_size(&self, py: Python<'_>) -> usize {
        self.state.borrow_mut(py).queued
    }

    fn get_write_buffer_limits(&self, py: Python<'_>) -> (usize, usize) {
        let marks = self.state.borrow_mut(py).flow.marks();
        (marks.low, marks.high)
    }

    #[pyo3(signature = (high = None, low = None))]
    fn set_write_buffer_limits(
        &self,
        py: Python<'_>,
        high: Option<&Bound<'_, PyAny>>,
        low: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let marks = super::water_marks(high, low)?;
        let event = {
            let mut st = self.state.borrow_mut(py);
            let size = st.queued;
            st.flow.set_marks(marks, size)
        };
        self.flow(py, event)
    }

    #[getter]
    fn protocol_paused(&self, py: Python<'_>) -> bool {
        self.state.borrow_mut(py).flow.is_paused()
    }

    fn set_protocol(&self, py: Python<'_>, protocol: Py<PyAny>) {
        let old = self.state.borrow_mut(py).protocol.replace(protocol);
        drop(old);
    }

    fn get_protocol(&self, py: Python<'_>) -> Py<PyAny> {
        self.protocol(py).unwrap_or_else(|| py.None())
    }

    /// Whether a writer callback is registered (the queue is not empty).
    fn is_writing(&self, py: Python<'_>) -> bool {
        !self.state.borrow_mut(py).queue.is_empty()
    }

    /// The socket while the transport owns it, else None.
    #[pyo3(name = "sock")]
    fn py_sock(&self, py: Python<'_>) -> Py<PyAny> {
        self.sock(py).unwrap_or_else(|| py.None())
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.event_loop)?;
        if let Some(address) = &self.address {
            visit.call(address)?;
        }
        // Never held while Python code runs (see `StreamCore`).
        if let Some(st) = self.state.traverse_borrow(&visit) {
            for obj in [&st.sock, &st.transport, &st.protocol]
                .into_iter()
                .flatten()
            {
                visit.call(obj)?;
            }
            for (data, addr) in &st.queue {
                visit.call(data)?;
                visit.call(addr)?;
            }
            if let Some((_, obj)) = &st.last_peer {
                visit.call(obj)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        let taken = self.state.try_borrow_mut(py).map(|mut st| {
            (
                st.transport.take(),
                st.protocol.take(),
                st.last_peer.take(),
                std::mem::take(&mut st.queue),
            )
        });
        drop(taken);
    }
}
