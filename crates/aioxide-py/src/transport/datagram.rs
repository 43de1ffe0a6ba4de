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
//! kernel refuses for now waits in a queue of `(bytes, address)` (aioxide-core's
//! `DatagramQueue`) flushed when the socket is writable, with asyncio's water marks.
//!
//! Locking follows `StreamCore`'s rule: `state` is never borrowed while Python code runs.

use std::io::ErrorKind;

use aioxide_core::sys::sockaddr::{recv_from, SockAddr};
use aioxide_core::sys::socket;
use aioxide_core::transport::{Buffered, DatagramQueue, Lifecycle, WaterMarks, Write};
use pyo3::exceptions::{
    PyBlockingIOError, PyBufferError, PyInterruptedError, PyOSError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::lifecycle::{self, CoreBase, CoreCommon, LifecycleCore};
use super::step::Step;
use super::stream::{copied_bytes, data_bytes, StdlibCheck};
use crate::errors;
use crate::event_loop::watchers::Side;
use crate::event_loop::PyLoopCore;
use crate::sock_addr::address_object;
use crate::sockets::with_scratch;
use crate::stdlib::asyncio_logger;

/// asyncio's `max_size` for one datagram read.
const MAX_SIZE: usize = 256 * 1024;

struct DatagramState {
    common: CoreCommon,
    /// Datagrams the kernel did not take yet, with their addresses (or None).
    queue: DatagramQueue<(Py<PyBytes>, Py<PyAny>)>,
    /// The last sender's address, raw and as a Python object.
    last_peer: Option<(Vec<u8>, Py<PyAny>)>,
}

#[pyclass(module = "aioxide._aioxide", name = "DatagramCore", frozen)]
pub struct PyDatagramCore {
    base: CoreBase,
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
    fn error_received(&self, py: Python<'_>, err: PyErr) -> PyResult<()> {
        match self.protocol(py) {
            Some(p) => p
                .bind(py)
                .call_method1(pyo3::intern!(py, "error_received"), (err.value(py),))
                .map(drop),
            None => Ok(()),
        }
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
            return match socket::send(self.base.fd, data.as_bytes()) {
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
                lifecycle::fatal_error(slf, e, "Fatal write error on datagram transport")
            }
        }
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
            let Some((data, addr)) = this.state.borrow_mut(py).queue.pop() else {
                break;
            };
            match this.send_one(py, data.bind(py), addr.bind(py)) {
                Ok(()) => {}
                Err(SendError::WouldBlock) => {
                    let size = data.bind(py).as_bytes().len();
                    this.state.borrow_mut(py).queue.unpop((data, addr), size);
                    break;
                }
                Err(err) => return Self::send_failed(slf, err),
            }
        }
        let event = this.state.borrow_mut(py).queue.settle();
        this.flow(py, event)?; // resume_writing() may queue more
        let closing = {
            let st = this.state.borrow_mut(py);
            if !st.queue.is_empty() {
                return Ok(());
            }
            st.common.life.is_closing()
        };
        this.unwatch(py, Side::Write)?;
        if closing {
            Self::call_connection_lost(slf, py.None())?;
        }
        Ok(())
    }

    /// `protocol.connection_lost(exc)`, then close the socket and drop every reference.
    pub(crate) fn call_connection_lost(slf: &Bound<'_, Self>, exc: Py<PyAny>) -> PyResult<()> {
        let release = |this: &Self| {
            let mut st = this.state.borrow_mut(slf.py());
            (st.last_peer.take(), st.queue.take())
        };
        match lifecycle::call_connection_lost(slf, exc, release) {
            Some((result, own)) => {
                drop(own);
                result
            }
            None => Ok(()),
        }
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
        let base = CoreBase::new(event_loop, sock)?;
        Ok(PyDatagramCore {
            base,
            address: address.filter(|a| a.bind(sock.py()).is_truthy().unwrap_or(true)),
            connected,
            state: crate::ffi::GilCell::new(DatagramState {
                common: CoreCommon::new(sock, transport, Some(protocol), Lifecycle::new(false)),
                queue: DatagramQueue::new(WaterMarks::default()),
                last_peer: None,
            }),
        })
    }

    /// The reader callback: one datagram to `datagram_received(data, addr)`.
    fn __call__(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if this.state.borrow_mut(py).common.life.is_lost() {
            return Ok(());
        }
        let mut from = SockAddr::default();
        let read = with_scratch(MAX_SIZE, |buf| {
            recv_from(this.base.fd, buf, &mut from).map(|n| PyBytes::new(py, &buf[..n]))
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
                return lifecycle::fatal_error(slf, err, "Fatal read error on datagram transport");
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
        // asyncio drops (and counts) writes after the loss only with a fixed address.
        if this.address.is_some() {
            if let Write::Drop { warn } = st.common.life.write() {
                drop(st);
                if warn {
                    asyncio_logger(py)?
                        .call_method1("warning", ("socket.send() raised exception.",))?;
                }
                return Ok(());
            }
        }
        if st.common.sock.is_none() {
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
                    Self::watch_step(slf, Side::Write, Step::SendtoReady)?;
                }
                Err(err) => return Self::send_failed(slf, err),
            }
            st = this.state.borrow_mut(py);
        }
        let size = data.as_bytes().len();
        let event = st.queue.push((data.unbind(), addr.unbind()), size);
        drop(st);
        this.flow(py, event)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.base.event_loop)?;
        if let Some(address) = &self.address {
            visit.call(address)?;
        }
        // Never held while Python code runs (see `StreamCore`).
        if let Some(st) = self.state.traverse_borrow(&visit) {
            st.common.traverse(&visit)?;
            for (data, addr) in st.queue.iter() {
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
        let taken = self
            .state
            .try_borrow_mut(py)
            .map(|mut st| (st.common.clear(), st.last_peer.take(), st.queue.take()));
        drop(taken);
    }
}

impl LifecycleCore for PyDatagramCore {
    lifecycle::core_accessors!(Step::DatagramLost);

    fn replace_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = protocol.py();
        let old = self
            .state
            .borrow_mut(py)
            .common
            .protocol
            .replace(protocol.clone().unbind());
        drop(old);
        Ok(())
    }

    fn with_buffer<R>(&self, py: Python<'_>, f: impl FnOnce(&mut dyn Buffered) -> R) -> R {
        f(&mut self.state.borrow_mut(py).queue)
    }

    fn is_writing(&self, py: Python<'_>) -> bool {
        !self.state.borrow_mut(py).queue.is_empty()
    }

    fn discard_writes(&self, py: Python<'_>) -> bool {
        let dropped = self.state.borrow_mut(py).queue.take();
        !dropped.is_empty()
    }
}

lifecycle::lifecycle_methods!(PyDatagramCore);
