//! `add_reader` / `remove_reader` / `add_writer` / `remove_writer`: level-triggered
//! callbacks for descriptors the loop does not own.

use std::collections::HashMap;
use std::os::fd::RawFd;

use aioxide_core::Interest;
use pyo3::exceptions::{PyAttributeError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyTuple};

use super::handle::PyHandle;
use super::handle_args::HandleArgs;
pub use super::state::Side;
use super::{LoopState, PyLoopCore, Watch};
use crate::errors;

/// selectors' rule: an int, or an object whose `fileno()` returns one; never negative.
/// `Ok(None)` for a number too big for a C `int`: no descriptor has it, so removing its
/// watcher finds nothing (`False`), and watching it raises `OverflowError`, as the
/// stdlib's epoll selector does.
pub fn fileobj_to_fd(obj: &Bound<'_, PyAny>) -> PyResult<Option<RawFd>> {
    let py = obj.py();
    let number = if obj.is_instance_of::<PyInt>() {
        obj.clone()
    } else {
        let fileno = obj
            .call_method0("fileno")
            .and_then(|f| f.cast_into::<PyInt>().map_err(PyErr::from));
        match fileno {
            Ok(fd) => fd.into_any(),
            Err(e)
                if e.is_instance_of::<PyAttributeError>(py)
                    || e.is_instance_of::<PyTypeError>(py)
                    || e.is_instance_of::<PyValueError>(py) =>
            {
                return Err(errors::invalid_fileobj(&obj.repr()?.to_string()))
            }
            Err(e) => return Err(e),
        }
    };
    let negative = match number.extract::<i64>() {
        Ok(fd) if fd >= 0 => return Ok(RawFd::try_from(fd).ok()),
        Ok(_) => true,
        Err(_) => number.lt(0)?,
    };
    if negative {
        return Err(PyValueError::new_err(format!(
            "Invalid file descriptor: {}",
            number.str()?
        )));
    }
    Ok(None)
}

/// [`fileobj_to_fd`] for watching: a number beyond a C `int` is an `OverflowError`.
fn fd_to_watch(obj: &Bound<'_, PyAny>) -> PyResult<RawFd> {
    fileobj_to_fd(obj)?
        .ok_or_else(|| PyOverflowError::new_err("Python int too large to convert to C int"))
}

/// What the descriptor to watch was read from.
#[derive(Clone, Copy)]
pub enum FdOf<'a, 'py> {
    /// A plain number, or a transport's own socket.
    Number,
    /// The object given to `add_reader`/`add_writer`: the watcher keeps it (see
    /// [`Watch`]).
    Object(&'a Bound<'py, PyAny>),
    /// The socket of a native `sock_*` call, which keeps it itself.
    Socket(&'a Bound<'py, PyAny>),
}

impl<'a, 'py> FdOf<'a, 'py> {
    fn object(self) -> Option<&'a Bound<'py, PyAny>> {
        match self {
            FdOf::Number => None,
            FdOf::Object(obj) | FdOf::Socket(obj) => Some(obj),
        }
    }
}

impl Side {
    /// `interest` with this side switched on or off.
    fn set(self, mut interest: Interest, on: bool) -> Interest {
        match self {
            Side::Read => interest.read = on,
            Side::Write => interest.write = on,
        }
        interest
    }
}

impl PyLoopCore {
    fn add_watcher(
        slf: &Bound<'_, Self>,
        side: Side,
        fileobj: &Bound<'_, PyAny>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyHandle>> {
        slf.get().check_closed()?;
        let fd = fd_to_watch(fileobj)?;
        let of = if fileobj.is_instance_of::<PyInt>() {
            FdOf::Number
        } else {
            FdOf::Object(fileobj)
        };
        Self::add_watcher_fd_for(slf, side, fd, callback, HandleArgs::from_tuple(args), of)
    }

    /// Watch `fd` on `side` with a new handle for `callback(*args)` (or the callback's
    /// `HandleArgs::Native` call), replacing (and
    /// cancelling) the previous watcher of that side. `of` says what `fd` was just read
    /// from: if this iteration parked a watcher of the same side for that very object
    /// (see [`park_watcher_fd`](Self::park_watcher_fd)), its registration is taken back
    /// with no system call.
    pub fn add_watcher_fd_for(
        slf: &Bound<'_, Self>,
        side: Side,
        fd: RawFd,
        callback: &Bound<'_, PyAny>,
        args: HandleArgs,
        of: FdOf<'_, '_>,
    ) -> PyResult<Py<PyHandle>> {
        let py = slf.py();
        let this = slf.get();
        this.check_closed()?;
        let handle = Self::new_handle(slf, callback, args, None)?;
        let reactor = this.reactor()?;
        let (replaced, unparked) = {
            let mut st = this.state.borrow_mut(py);
            // Same object, still open (the caller read `fd` from it just now): the same
            // file as when it was parked.
            let unparked = of.object().and_then(|sock| {
                let at = st
                    .parked
                    .iter()
                    .position(|p| p.fd == fd && p.side == side && p.sock.bind(py).is(sock))?;
                Some(st.parked.swap_remove(at))
            });
            let interest = side.set(reactor.interest(fd), true);
            let done = match unparked {
                Some(_) => reactor.reclaim(fd, interest),
                None => reactor.set_interest(fd, interest),
            };
            done.map_err(errors::os_error)?;
            let fileobj = match of {
                FdOf::Object(obj) => Some(obj.clone().unbind()),
                FdOf::Number | FdOf::Socket(_) => None,
            };
            let watch = Watch {
                handle: handle.clone_ref(py),
                fileobj,
            };
            (st.watches_mut(side).insert(fd, watch), unparked)
        };
        drop(unparked);
        if let Some(old) = replaced {
            PyHandle::cancel_handle(old.handle.bind(py))?;
        }
        Ok(handle)
    }

    fn remove_watcher(
        slf: &Bound<'_, Self>,
        side: Side,
        fileobj: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if slf.get().closed.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(false);
        }
        match Self::watched_fd(slf, fileobj)? {
            Some(fd) => Self::remove_watcher_fd(slf, side, fd),
            None => Ok(false),
        }
    }

    /// The descriptor of `fileobj` as [`fileobj_to_fd`] reads it; when that fails with
    /// `ValueError` (a socket closed while watched has `fileno()` -1), the descriptor a
    /// watcher holding that very object was registered under, as selectors look it up.
    fn watched_fd(slf: &Bound<'_, Self>, fileobj: &Bound<'_, PyAny>) -> PyResult<Option<RawFd>> {
        let err = match fileobj_to_fd(fileobj) {
            Err(e) if e.is_instance_of::<PyValueError>(slf.py()) => e,
            found => return found,
        };
        let st = slf.get().state.borrow_mut(slf.py());
        let mut watches = st.readers.iter().chain(st.writers.iter());
        match watches.find(|(_, w)| {
            w.fileobj
                .as_ref()
                .is_some_and(|o| o.bind(slf.py()).is(fileobj))
        }) {
            Some((fd, _)) => Ok(Some(*fd)),
            None => Err(err),
        }
    }

    /// Stop watching `fd` on `side`; true when a live watcher was removed.
    pub fn remove_watcher_fd(slf: &Bound<'_, Self>, side: Side, fd: RawFd) -> PyResult<bool> {
        Self::unwatch_fd(slf, side, fd, None)
    }

    /// Remove the `side` watcher of `fd`, the descriptor of socket object `sock`, but
    /// leave its registration in the poller until the end of this iteration: a
    /// `sock_recv` that waits again on the same socket in the same iteration (the usual
    /// request/response rhythm) takes it back without an `epoll_ctl`.
    pub fn park_watcher_fd(
        slf: &Bound<'_, Self>,
        side: Side,
        fd: RawFd,
        sock: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        Self::unwatch_fd(slf, side, fd, Some(sock))
    }

    fn unwatch_fd(
        slf: &Bound<'_, Self>,
        side: Side,
        fd: RawFd,
        park: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let this = slf.get();
        if this.closed.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(false);
        }
        let reactor = this.reactor()?;
        let removed = {
            let mut st = this.state.borrow_mut(py);
            let removed = st.watches_mut(side).remove(&fd);
            let interest = side.set(reactor.interest(fd), false);
            match park {
                Some(sock) => {
                    let _ = reactor.release(fd, interest);
                    let sock = sock.clone().unbind();
                    st.parked.push(super::Parked { fd, side, sock });
                }
                // Removing a watcher of a descriptor closed meanwhile must still succeed.
                None => drop(reactor.set_interest(fd, interest)),
            }
            removed
        };
        match removed {
            Some(old) => {
                let was_live = !old.handle.get().is_cancelled();
                PyHandle::cancel_handle(old.handle.bind(py))?;
                Ok(was_live)
            }
            None => Ok(false),
        }
    }
}

impl LoopState {
    fn watches(&self, side: Side) -> &HashMap<RawFd, Watch> {
        match side {
            Side::Read => &self.readers,
            Side::Write => &self.writers,
        }
    }

    fn watches_mut(&mut self, side: Side) -> &mut HashMap<RawFd, Watch> {
        match side {
            Side::Read => &mut self.readers,
            Side::Write => &mut self.writers,
        }
    }
}

impl PyLoopCore {
    fn has_watcher(
        slf: &Bound<'_, Self>,
        side: Side,
        fileobj: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let Some(fd) = Self::watched_fd(slf, fileobj)? else {
            return Ok(false);
        };
        let st = slf.get().state.borrow_mut(slf.py());
        let watch = st.watches(side).get(&fd);
        Ok(watch.is_some_and(|w| !w.handle.get().is_cancelled()))
    }
}

#[pymethods]
impl PyLoopCore {
    /// Watch `fd` for reading; returns the handle (asyncio's `_add_reader`).
    #[pyo3(signature = (fd, callback, *args))]
    fn _add_reader(
        slf: &Bound<'_, Self>,
        fd: &Bound<'_, PyAny>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyHandle>> {
        Self::add_watcher(slf, Side::Read, fd, callback, args)
    }

    #[pyo3(signature = (fd, callback, *args))]
    fn _add_writer(
        slf: &Bound<'_, Self>,
        fd: &Bound<'_, PyAny>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyHandle>> {
        Self::add_watcher(slf, Side::Write, fd, callback, args)
    }

    fn _remove_reader(slf: &Bound<'_, Self>, fd: &Bound<'_, PyAny>) -> PyResult<bool> {
        Self::remove_watcher(slf, Side::Read, fd)
    }

    fn _remove_writer(slf: &Bound<'_, Self>, fd: &Bound<'_, PyAny>) -> PyResult<bool> {
        Self::remove_watcher(slf, Side::Write, fd)
    }

    /// Whether a live reader / writer is registered for `fd` (for tests and transports).
    fn _has_reader(slf: &Bound<'_, Self>, fd: &Bound<'_, PyAny>) -> PyResult<bool> {
        Self::has_watcher(slf, Side::Read, fd)
    }

    fn _has_writer(slf: &Bound<'_, Self>, fd: &Bound<'_, PyAny>) -> PyResult<bool> {
        Self::has_watcher(slf, Side::Write, fd)
    }
}
