//! `FsEngine`: one per event loop. Python hands it requests with the future to resolve;
//! the loop polls [`PyFsEngine::fileno`] and calls [`PyFsEngine::reap`], which resolves
//! the futures of every finished request on the loop thread.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use aioxide_core::fs::{Backend, Completion, Engine, Outcome, Request};
use parking_lot::Mutex;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use pyo3::types::{PyBytes, PyList, PyTuple};

use super::calls::{self, Opened, Stat};
use crate::ffi;

/// What a request keeps alive until it completes.
enum Keep {
    Nothing,
    /// A bytes object the engine is filling (a read).
    Filling(Py<PyBytes>),
    /// A bytes object the engine is writing out.
    Writing(#[allow(dead_code)] Py<PyBytes>),
}

struct Pending {
    future: Py<PyAny>,
    keep: Keep,
    filename: Option<Py<PyAny>>,
    filename2: Option<Py<PyAny>>,
}

#[pyclass(module = "aioxide._aioxide", name = "FsEngine", frozen, weakref)]
pub struct PyFsEngine {
    /// None once closed (with its loop).
    engine: Mutex<Option<Engine<Pending>>>,
}

fn closed() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("Event loop is closed")
}

fn path_of(raw: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(raw))
}

fn os_error(py: Python<'_>, err: std::io::Error, pending: &Pending) -> PyErr {
    let Some(code) = err.raw_os_error() else {
        return PyOSError::new_err(err.to_string());
    };
    let text = crate::stdlib::os_strerror(py)
        .and_then(|f| f.call1((code,)))
        .map(Bound::unbind)
        .unwrap_or_else(|_| {
            err.to_string()
                .into_pyobject(py)
                .unwrap()
                .into_any()
                .unbind()
        });
    match (&pending.filename, &pending.filename2) {
        (Some(f1), Some(f2)) => {
            PyOSError::new_err((code, text, f1.clone_ref(py), py.None(), f2.clone_ref(py)))
        }
        (Some(f1), None) => PyOSError::new_err((code, text, f1.clone_ref(py))),
        _ => PyOSError::new_err((code, text)),
    }
}

impl PyFsEngine {
    fn submit(&self, request: Request, pending: Pending) -> PyResult<()> {
        self.engine
            .lock()
            .as_mut()
            .ok_or_else(closed)?
            .submit(request, pending)
            .map_err(crate::errors::os_error)
    }

    fn call(
        &self,
        call: impl FnOnce() -> std::io::Result<Outcome> + Send + 'static,
        future: Py<PyAny>,
        filename: Option<Py<PyAny>>,
        filename2: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let pending = Pending {
            future,
            keep: Keep::Nothing,
            filename,
            filename2,
        };
        self.submit(Request::Call(Box::new(call)), pending)
    }

    /// The Python value of a finished request.
    fn value(py: Python<'_>, outcome: Outcome, keep: Keep) -> PyResult<Py<PyAny>> {
        Ok(match outcome {
            Outcome::Bytes(n) => match keep {
                Keep::Filling(bytes) => ffi::shrink_filled_bytes(py, bytes, n)?.into_any(),
                _ => n.into_pyobject(py)?.into_any().unbind(),
            },
            Outcome::Done => py.None(),
            Outcome::Value(any) => {
                let any = match any.downcast::<Opened>() {
                    Ok(o) => return Ok(o.into_parts().into_pyobject(py)?.into_any().unbind()),
                    Err(any) => any,
                };
                let any = match any.downcast::<Stat>() {
                    Ok(st) => return Ok(PyTuple::new(py, st.0)?.into_any().unbind()),
                    Err(any) => any,
                };
                let any = match any.downcast::<Vec<Vec<u8>>>() {
                    Ok(names) => {
                        let list = PyList::empty(py);
                        for name in names.iter() {
                            list.append(PyBytes::new(py, name))?;
                        }
                        return Ok(list.into_any().unbind());
                    }
                    Err(any) => any,
                };
                match any.downcast::<Vec<u8>>() {
                    Ok(data) => PyBytes::new(py, &data).into_any().unbind(),
                    Err(_) => py.None(),
                }
            }
        })
    }

    fn resolve(py: Python<'_>, done: Completion<Pending>) -> PyResult<()> {
        let Completion {
            payload, result, ..
        } = done;
        let future = payload.future.bind(py).clone();
        if future
            .call_method0(pyo3::intern!(py, "done"))?
            .is_truthy()?
        {
            // Nobody waits: the outcome is dropped here (an opened descriptor closed).
            return Ok(());
        }
        let outcome = match result {
            Ok(outcome) => Self::value(py, outcome, payload.keep),
            Err(err) => Err(os_error(py, err, &payload)),
        };
        match outcome {
            Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,))?,
            Err(err) => {
                future.call_method1(pyo3::intern!(py, "set_exception"), (err.value(py),))?
            }
        };
        Ok(())
    }
}

#[pymethods]
impl PyFsEngine {
    /// `backend`: "auto" (io_uring where allowed, else threads) or "threads".
    #[new]
    #[pyo3(signature = (backend = "auto"))]
    fn new(backend: &str) -> PyResult<Self> {
        let backend = match backend {
            "auto" | "io_uring" => Backend::Auto,
            "threads" => Backend::Threads,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown fs backend {other:?} (expected 'auto', 'io_uring' or 'threads')"
                )))
            }
        };
        let engine = Engine::new(backend).map_err(crate::errors::os_error)?;
        Ok(PyFsEngine {
            engine: Mutex::new(Some(engine)),
        })
    }

    /// The descriptor that becomes readable when requests have finished.
    fn fileno(&self) -> PyResult<i32> {
        Ok(self.engine.lock().as_ref().ok_or_else(closed)?.fd())
    }

    /// Release the ring and the eventfd now (the loop is closing), after the kernel is
    /// done with every request on the ring; later requests raise RuntimeError.
    fn close(&self) {
        let engine = self.engine.lock().take();
        drop(engine);
    }

    /// "io_uring" or "threads".
    #[getter]
    fn backend(&self) -> &'static str {
        self.engine
            .lock()
            .as_ref()
            .map_or("closed", Engine::backend_name)
    }

    /// True in a forked child: this engine belongs to the parent.
    #[getter]
    fn stale(&self) -> bool {
        self.engine.lock().as_ref().is_none_or(Engine::is_stale)
    }

    /// Every request takes the future to resolve as its last argument.
    ///
    /// Read up to `size` bytes at `offset` (-1: the file position); resolves `future`
    /// with the bytes (shorter only at the end of the file).
    fn pread(
        &self,
        py: Python<'_>,
        fd: i32,
        size: usize,
        offset: i64,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let (bytes, buf) = ffi::bytes_for_filling(py, size)?;
        let pending = Pending {
            future,
            keep: Keep::Filling(bytes),
            filename: None,
            filename2: None,
        };
        self.submit(Request::Read { fd, buf, offset }, pending)
    }

    /// Write all of `data` at `offset` (-1: the file position, as O_APPEND needs);
    /// resolves `future` with the byte count.
    fn pwrite(
        &self,
        fd: i32,
        data: Bound<'_, PyBytes>,
        offset: i64,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let buf = ffi::bytes_to_write(&data);
        let pending = Pending {
            future,
            keep: Keep::Writing(data.unbind()),
            filename: None,
            filename2: None,
        };
        self.submit(Request::Write { fd, buf, offset }, pending)
    }

    /// fsync, or fdatasync with `datasync`.
    fn sync(&self, fd: i32, datasync: bool, future: Py<PyAny>) -> PyResult<()> {
        let pending = Pending {
            future,
            keep: Keep::Nothing,
            filename: None,
            filename2: None,
        };
        self.submit(Request::Sync { fd, datasync }, pending)
    }

    /// open(2); resolves with (fd, blksize, position).
    fn open(
        &self,
        path: &[u8],
        flags: i32,
        mode: u32,
        filename: Py<PyAny>,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let path = path_of(path);
        self.call(
            move || calls::open(path, flags, mode),
            future,
            Some(filename),
            None,
        )
    }

    fn close_fd(&self, fd: i32, future: Py<PyAny>) -> PyResult<()> {
        self.call(move || calls::close(fd), future, None, None)
    }

    fn ftruncate(&self, fd: i32, size: i64, future: Py<PyAny>) -> PyResult<()> {
        self.call(move || calls::ftruncate(fd, size), future, None, None)
    }

    /// Resolves with the 16 numbers of `fstat` (see `stat`).
    fn fstat(&self, fd: i32, future: Py<PyAny>) -> PyResult<()> {
        self.call(move || calls::fstat(fd), future, None, None)
    }

    /// Resolves with mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime, their
    /// nanoseconds, blksize, blocks, rdev.
    fn stat(
        &self,
        path: &[u8],
        follow_symlinks: bool,
        filename: Py<PyAny>,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let path = path_of(path);
        self.call(
            move || calls::stat(path, follow_symlinks),
            future,
            Some(filename),
            None,
        )
    }

    fn remove(&self, path: &[u8], filename: Py<PyAny>, future: Py<PyAny>) -> PyResult<()> {
        let path = path_of(path);
        self.call(move || calls::remove(path), future, Some(filename), None)
    }

    fn rename(
        &self,
        src: &[u8],
        dst: &[u8],
        filename: Py<PyAny>,
        filename2: Py<PyAny>,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let (src, dst) = (path_of(src), path_of(dst));
        self.call(
            move || calls::rename(src, dst),
            future,
            Some(filename),
            Some(filename2),
        )
    }

    fn makedirs(
        &self,
        path: &[u8],
        mode: u32,
        exist_ok: bool,
        filename: Py<PyAny>,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let path = path_of(path);
        self.call(
            move || calls::makedirs(path, mode, exist_ok),
            future,
            Some(filename),
            None,
        )
    }

    /// Resolves with the entries' names as bytes.
    fn listdir(&self, path: &[u8], filename: Py<PyAny>, future: Py<PyAny>) -> PyResult<()> {
        let path = path_of(path);
        self.call(move || calls::listdir(path), future, Some(filename), None)
    }

    /// Resolves with the whole content of the file.
    fn read_file(&self, path: &[u8], filename: Py<PyAny>, future: Py<PyAny>) -> PyResult<()> {
        let path = path_of(path);
        self.call(move || calls::read_file(path), future, Some(filename), None)
    }

    /// Create or truncate, then write `data`; resolves with the byte count.
    fn write_file(
        &self,
        path: &[u8],
        data: &[u8],
        filename: Py<PyAny>,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let (path, data) = (path_of(path), data.to_vec());
        self.call(
            move || calls::write_file(path, data),
            future,
            Some(filename),
            None,
        )
    }

    /// Resolve the futures of every finished request; returns how many finished.
    fn reap(&self, py: Python<'_>) -> PyResult<usize> {
        let mut done = Vec::new();
        if let Some(engine) = self.engine.lock().as_mut() {
            engine.reap(&mut done);
        }
        let count = done.len();
        let mut first_error = None;
        for completion in done {
            if let Err(err) = Self::resolve(py, completion) {
                first_error.get_or_insert(err);
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(count),
        }
    }
}
