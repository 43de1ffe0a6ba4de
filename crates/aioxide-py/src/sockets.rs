//! Native fast paths for `sock_recv` and `sock_sendall` on plain `socket.socket`
//! objects (the Python layer chooses them; anything else takes the Python path).
//!
//! Same algorithm as the Python path: try the call at once; if it would block, register
//! a reader/writer whose callback retries it and resolves a future, and remove the
//! watcher when the future is done, however it got done. Natively, "would block" is a
//! return value instead of a `BlockingIOError` object, and the retry and removal
//! callbacks are Rust objects instead of Python frames.

use std::cell::{Cell, RefCell};
use std::io::ErrorKind;
use std::os::fd::RawFd;

use aioxide_core::sys::socket;
use pyo3::prelude::*;

use pyo3::types::{PyBytes, PyInt};

use crate::errors;
use crate::event_loop::handle::PyHandle;
use crate::event_loop::handle_args::{HandleArgs, NativeCall};
use crate::event_loop::watchers::{FdOf, Side};
use crate::event_loop::PyLoopCore;
use crate::ffi;

/// Reads up to this size use the per-thread scratch buffer; larger ones allocate.
const SCRATCH_LIMIT: usize = 256 * 1024;

/// Larger `sock_recv` sizes take the Python path (which allocates what it is asked for).
const NATIVE_RECV_MAX: usize = 1 << 20;

/// Read `socket.socket` now, while it is the real class: a test that patches it later
/// (with a function, say) must not turn every `sock_recv` into a `TypeError`.
pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::stdlib::read_socket_type(m.py())?;
    m.add_function(wrap_pyfunction!(sendfile, m)?)?;
    Ok(())
}

/// `os.sendfile(out_fd, in_fd, offset, count)` for `sock_sendfile`, with the GIL released
/// as `os.sendfile` does; `BlockingIOError` when the socket is full.
#[pyfunction]
fn sendfile(
    py: Python<'_>,
    out_fd: RawFd,
    in_fd: RawFd,
    offset: i64,
    count: usize,
) -> PyResult<usize> {
    py.detach(|| socket::sendfile(out_fd, in_fd, offset, count))
        .map_err(errors::os_error)
}

/// The descriptor of `sock` when the native path may serve it: a plain `socket.socket`
/// (a subclass or a mock may override `recv`/`send`) in non-blocking mode (a blocking
/// socket keeps Python's own blocking behaviour). `None` sends the caller to the Python
/// path.
fn native_fd(sock: &Bound<'_, PyAny>) -> PyResult<Option<RawFd>> {
    let py = sock.py();
    // Set when the module was imported (`init_pymodule` fails the import otherwise).
    let Some(socket_type) = crate::stdlib::socket_type(py) else {
        return Ok(None);
    };
    if !sock.get_type().is(socket_type) {
        return Ok(None);
    }
    let timeout = sock.call_method0(pyo3::intern!(py, "gettimeout"))?;
    if timeout.is_none() || timeout.extract::<f64>()? != 0.0 {
        return Ok(None);
    }
    let fd: i64 = sock.call_method0(pyo3::intern!(py, "fileno"))?.extract()?;
    Ok(RawFd::try_from(fd).ok().filter(|fd| *fd >= 0))
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` on an `n`-byte buffer: the per-thread scratch buffer up to `SCRATCH_LIMIT`,
/// a fresh allocation above it.
pub(crate) fn with_scratch<R>(n: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    if n <= SCRATCH_LIMIT {
        SCRATCH.with(|s| {
            let mut buf = s.borrow_mut();
            if buf.len() < n {
                buf.resize(n, 0);
            }
            f(&mut buf[..n])
        })
    } else {
        f(&mut vec![0; n])
    }
}

/// Reads that return more than this are worth receiving straight into the result.
const DIRECT_MIN: usize = 16 * 1024;

thread_local! {
    /// The last read on this thread returned more than `DIRECT_MIN` bytes.
    static BIG_READS: Cell<bool> = const { Cell::new(false) };
}

/// A descriptor to read from: `recv(2)` for a socket, `read(2)` for anything else.
#[derive(Clone, Copy)]
pub(crate) enum Source {
    Socket(RawFd),
    Other(RawFd),
}

/// One read of up to `n` bytes from `src` as a new `bytes` (`Ok(0)`-sized at end of
/// stream).
///
/// A read usually goes to the per-thread scratch buffer and is copied into a `bytes` of
/// the size received: allocating the full `n` bytes (256 KiB, say) for a 1 KiB message
/// costs more than copying it. When the last read was big, it goes straight into a
/// `bytes` of `n` bytes that is then cut to size: no copy of the payload (and a read that
/// would block costs one allocation, less than copying a big read).
pub(crate) fn read_bytes(
    py: Python<'_>,
    src: Source,
    n: usize,
) -> PyResult<std::io::Result<Py<PyBytes>>> {
    let got = if n > DIRECT_MIN && BIG_READS.get() {
        ffi::fill_new_bytes(py, n, |buf| match src {
            Source::Socket(fd) => socket::recv_uninit(fd, buf),
            Source::Other(fd) => socket::read_uninit(fd, buf),
        })?
    } else {
        with_scratch(n, |buf| {
            match src {
                Source::Socket(fd) => socket::recv(fd, buf),
                Source::Other(fd) => socket::read(fd, buf),
            }
            .map(|k| PyBytes::new(py, &buf[..k]).unbind())
        })
    };
    if let Ok(data) = &got {
        BIG_READS.set(data.bind(py).as_bytes().len() > DIRECT_MIN);
    }
    Ok(got)
}

/// One `recv`: `Some(bytes)`, or `None` when it would block.
fn recv_nowait(py: Python<'_>, fd: RawFd, n: usize) -> PyResult<Option<Py<PyBytes>>> {
    match read_bytes(py, Source::Socket(fd), n)? {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(errors::os_error(e)),
    }
}

/// One `send` of `data[pos..]`: `Some(sent)`, or `None` when it would block.
fn send_nowait(data: &Bound<'_, PyBytes>, fd: RawFd, pos: usize) -> PyResult<Option<usize>> {
    match socket::send(fd, &data.as_bytes()[pos..]) {
        Ok(k) => Ok(Some(k)),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(errors::os_error(e)),
    }
}

fn new_future<'py>(loop_: &Bound<'py, PyLoopCore>) -> PyResult<Bound<'py, PyAny>> {
    loop_.call_method0("create_future")
}

/// Reader callback of a pending `sock_recv`.
#[pyclass(module = "aioxide._aioxide", frozen)]
struct RecvStep {
    fut: Py<PyAny>,
    fd: RawFd,
    n: usize,
}

#[pymethods]
impl RecvStep {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let fut = self.fut.bind(py);
        if fut.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        match recv_nowait(py, self.fd, self.n) {
            Ok(None) => Ok(()),
            Ok(Some(data)) => fut.call_method1("set_result", (data,)).map(drop),
            Err(e) => fut.call_method1("set_exception", (e.value(py),)).map(drop),
        }
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.fut)
    }
}

/// Writer callback of a pending `sock_sendall`: sends what is left, resolves when all of
/// it went out.
#[pyclass(module = "aioxide._aioxide", frozen)]
struct SendStep {
    fut: Py<PyAny>,
    data: Py<PyBytes>,
    fd: RawFd,
    pos: parking_lot::Mutex<usize>,
}

#[pymethods]
impl SendStep {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let fut = self.fut.bind(py);
        if fut.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        let data = self.data.bind(py);
        let pos = *self.pos.lock();
        match send_nowait(data, self.fd, pos) {
            Ok(None) => Ok(()),
            Ok(Some(k)) => {
                let pos = pos + k;
                *self.pos.lock() = pos;
                if pos >= data.as_bytes().len() {
                    fut.call_method1("set_result", (py.None(),))?;
                }
                Ok(())
            }
            Err(e) => fut.call_method1("set_exception", (e.value(py),)).map(drop),
        }
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.fut)?;
        visit.call(&self.data)
    }
}

/// Done callback of the future: drop the watcher unless it was replaced meanwhile. The
/// registration is parked, not deleted: the next `sock_recv` on the same socket usually
/// comes within the same iteration and takes it back.
#[pyclass(module = "aioxide._aioxide", frozen)]
struct Unwatch {
    event_loop: Py<PyLoopCore>,
    handle: Py<PyHandle>,
    sock: Py<PyAny>,
    fd: RawFd,
    side: Side,
    /// Park the registration (the fast path's sockets), or remove it outright.
    park: bool,
}

#[pymethods]
impl Unwatch {
    fn __call__(&self, py: Python<'_>, _fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.handle.get().is_cancelled() {
            let event_loop = self.event_loop.bind(py);
            if self.park {
                let sock = self.sock.bind(py);
                PyLoopCore::park_watcher_fd(event_loop, self.side, self.fd, sock)?;
            } else {
                PyLoopCore::remove_watcher_fd(event_loop, self.side, self.fd)?;
            }
        }
        Ok(())
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.event_loop)?;
        visit.call(&self.handle)?;
        visit.call(&self.sock)
    }
}

impl PyLoopCore {
    /// Register `step` as the watcher of `fd`, the descriptor of `sock`, and remove it
    /// when `fut` is done: parked until the end of the iteration for the fast path's
    /// plain sockets (`park`), at once for any other object.
    pub(crate) fn watch_until_done(
        slf: &Bound<'_, Self>,
        (side, sock, fd): (Side, &Bound<'_, PyAny>, RawFd),
        fut: &Bound<'_, PyAny>,
        (step, call): (Bound<'_, PyAny>, NativeCall),
        park: bool,
    ) -> PyResult<()> {
        let py = slf.py();
        let args = HandleArgs::Native(call);
        let of = if park {
            FdOf::Socket(sock)
        } else {
            FdOf::Number
        };
        let handle = Self::add_watcher_fd_for(slf, side, fd, &step, args, of)?;
        let unwatch = Unwatch {
            event_loop: slf.clone().unbind(),
            handle,
            sock: sock.clone().unbind(),
            fd,
            side,
            park,
        };
        fut.call_method1("add_done_callback", (Py::new(py, unwatch)?,))?;
        Ok(())
    }
}

#[pymethods]
impl PyLoopCore {
    /// `sock_recv(sock, n)` natively when `sock` qualifies (see `native_fd`): the data,
    /// or a future for it; `None` when the Python path must serve the call.
    pub(crate) fn _sock_recv_fast(
        slf: &Bound<'_, Self>,
        sock: &Bound<'_, PyAny>,
        n: &Bound<'_, PyAny>,
    ) -> PyResult<Option<Py<PyAny>>> {
        if !n.is_exact_instance_of::<PyInt>() {
            return Ok(None);
        }
        let n: i64 = n.extract()?;
        if n <= 0 || n as usize > NATIVE_RECV_MAX {
            return Ok(None);
        }
        match native_fd(sock)? {
            Some(fd) => Self::sock_recv_native(slf, sock, fd, n as usize).map(Some),
            None => Ok(None),
        }
    }

    /// `sock_sendall(sock, data)` natively when `sock` qualifies and `data` is `bytes`:
    /// `None` when all went out, a future for the rest, or `False` when the Python path
    /// must serve the call.
    pub(crate) fn _sock_sendall_fast(
        slf: &Bound<'_, Self>,
        sock: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let (Ok(bytes), Some(fd)) = (data.cast_exact::<PyBytes>(), native_fd(sock)?) else {
            return Ok(false.into_pyobject(py)?.to_owned().into_any().unbind());
        };
        Ok(Self::sock_sendall_native(slf, sock, fd, bytes)?.unwrap_or_else(|| py.None()))
    }
}

impl PyLoopCore {
    /// `sock_recv` on `sock`, whose descriptor is `fd`: the data, or a future for it.
    fn sock_recv_native(
        slf: &Bound<'_, Self>,
        sock: &Bound<'_, PyAny>,
        fd: RawFd,
        n: usize,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        slf.get().check_closed()?;
        if let Some(data) = recv_nowait(py, fd, n)? {
            return Ok(data.into_any());
        }
        let fut = new_future(slf)?;
        let step = Py::new(
            py,
            RecvStep {
                fut: fut.clone().unbind(),
                fd,
                n,
            },
        )?;
        let step = step.into_bound(py).into_any();
        let call: NativeCall = |step| step.cast::<RecvStep>()?.get().__call__(step.py());
        Self::watch_until_done(slf, (Side::Read, sock, fd), &fut, (step, call), true)?;
        Ok(fut.unbind())
    }

    /// `sock_sendall` of `data` on `sock`, whose descriptor is `fd`: `None` when all
    /// went out at once, else a future resolved when the rest has.
    fn sock_sendall_native(
        slf: &Bound<'_, Self>,
        sock: &Bound<'_, PyAny>,
        fd: RawFd,
        data: &Bound<'_, PyBytes>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let py = slf.py();
        slf.get().check_closed()?;
        let len = data.as_bytes().len();
        let sent = send_nowait(data, fd, 0)?.unwrap_or(0);
        if sent >= len {
            return Ok(None);
        }
        let fut = new_future(slf)?;
        let step = SendStep {
            fut: fut.clone().unbind(),
            data: data.clone().unbind(),
            fd,
            pos: parking_lot::Mutex::new(sent),
        };
        let step = Py::new(py, step)?;
        let step = step.into_bound(py).into_any();
        let call: NativeCall = |step| step.cast::<SendStep>()?.get().__call__(step.py());
        Self::watch_until_done(slf, (Side::Write, sock, fd), &fut, (step, call), true)?;
        Ok(Some(fut.unbind()))
    }
}
