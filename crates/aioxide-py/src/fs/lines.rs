//! `LineBuffer`: the read buffer of an `aioxide.fs` file, filled by large reads and
//! emptied a line (or a few characters) at a time without a trip to the engine.
//!
//! It holds one Python object, the `str` (decoded by Python's incremental decoder, so
//! every encoding and error handler behaves as built-in `open`) or `bytes` last fed,
//! and an index into it; lines are cut out of it with one search and one copy. It is
//! also the iterator behind `async for line in f`: when a whole line is buffered,
//! `__anext__` hands it out through an awaitable that completes at once (no coroutine,
//! no engine trip); otherwise it returns the file's refill coroutine.

use memchr::{memchr, memchr2};
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::{PyTraverseError, PyVisit};

use crate::ffi::{self, Units};

/// Where lines end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// `\n` only (binary files, text with newline=None after translation, or "\n").
    Lf,
    /// `\r` only (newline="\r").
    Cr,
    /// `\r\n` only (newline="\r\n").
    CrLf,
    /// `\n`, `\r\n` or a lone `\r` (newline="").
    Any,
}

#[pyclass(module = "aioxide._aioxide", name = "LineBuffer")]
pub struct LineBuffer {
    /// The `str`/`bytes` being consumed; `pos..len` is unread.
    data: Option<Py<PyAny>>,
    pos: usize,
    len: usize,
    text: bool,
    ending: Ending,
    eof: bool,
    /// The line `__anext__` found, handed out by the next `__next__`.
    ready: Option<Py<PyAny>>,
    /// The file's coroutine function that refills and returns the next line.
    refill: Option<Py<PyAny>>,
}

/// Offset (from the start of `units`) just past the first line end in `units`, given as
/// the unit values of `\r` and `\n`; `eof` says a final `\r` cannot be followed by `\n`.
fn find_end<T: Copy + PartialEq + From<u8>>(
    units: &[T],
    ending: Ending,
    eof: bool,
) -> Option<usize> {
    let (cr, lf) = (T::from(b'\r'), T::from(b'\n'));
    match ending {
        Ending::Lf => units.iter().position(|&u| u == lf).map(|i| i + 1),
        Ending::Cr => units.iter().position(|&u| u == cr).map(|i| i + 1),
        Ending::CrLf => units
            .windows(2)
            .position(|w| w[0] == cr && w[1] == lf)
            .map(|i| i + 2),
        Ending::Any => {
            let i = units.iter().position(|&u| u == cr || u == lf)?;
            any_end(units, i, eof, lf)
        }
    }
}

fn any_end<T: Copy + PartialEq>(units: &[T], i: usize, eof: bool, lf: T) -> Option<usize> {
    if units[i] == lf {
        Some(i + 1)
    } else if i + 1 < units.len() {
        Some(if units[i + 1] == lf { i + 2 } else { i + 1 })
    } else if eof {
        Some(i + 1)
    } else {
        None // a `\r` at the end may be the first half of `\r\n`
    }
}

/// The same for bytes and 1-byte strings, with memchr.
fn find_end_bytes(units: &[u8], ending: Ending, eof: bool) -> Option<usize> {
    match ending {
        Ending::Lf => memchr(b'\n', units).map(|i| i + 1),
        Ending::Cr => memchr(b'\r', units).map(|i| i + 1),
        Ending::CrLf => {
            let mut from = 0;
            while let Some(i) = memchr(b'\n', &units[from..]) {
                let at = from + i;
                if at > 0 && units[at - 1] == b'\r' {
                    return Some(at + 1);
                }
                from = at + 1;
            }
            None
        }
        Ending::Any => {
            let i = memchr2(b'\r', b'\n', units)?;
            any_end(units, i, eof, b'\n')
        }
    }
}

impl LineBuffer {
    fn available(&self) -> usize {
        self.len - self.pos
    }

    /// Length of the next complete line in the unread data, if there is one.
    fn line_len(&self, py: Python<'_>) -> Option<usize> {
        let data = self.data.as_ref()?.bind(py);
        let (pos, len, ending, eof) = (self.pos, self.len, self.ending, self.eof);
        if self.text {
            let s = data.cast::<PyString>().ok()?;
            ffi::with_units(s, |units| match units {
                Units::One(u) => find_end_bytes(&u[pos..len], ending, eof),
                Units::Two(u) => find_end(&u[pos..len], ending, eof),
                Units::Four(u) => find_end(&u[pos..len], ending, eof),
            })
        } else {
            let b = data.cast::<PyBytes>().ok()?;
            find_end_bytes(&b.as_bytes()[pos..len], ending, eof)
        }
    }

    fn take_units(&mut self, py: Python<'_>, n: usize) -> PyResult<Py<PyAny>> {
        let (start, end) = (self.pos, self.pos + n);
        let data = self.data.as_ref().expect("data buffered").bind(py);
        let out = if self.text {
            ffi::substring(data.cast::<PyString>()?, start, end)?.unbind()
        } else {
            PyBytes::new(py, &data.cast::<PyBytes>()?.as_bytes()[start..end])
                .into_any()
                .unbind()
        };
        self.pos = end;
        if self.pos == self.len {
            self.data = None;
            self.pos = 0;
            self.len = 0;
        }
        Ok(out)
    }

    fn empty(&self, py: Python<'_>) -> Py<PyAny> {
        if self.text {
            PyString::new(py, "").into_any().unbind()
        } else {
            PyBytes::new(py, b"").into_any().unbind()
        }
    }

    /// The next line: `Some(line)`, `Some("")` at the end of the file, `None` when more
    /// data is needed. `limit` >= 0 caps the line's length (characters or bytes).
    fn next_line(&mut self, py: Python<'_>, limit: isize) -> PyResult<Option<Py<PyAny>>> {
        let found = self.line_len(py);
        let available = self.available();
        if limit >= 0 {
            let cap = (limit as usize).min(available);
            match found {
                Some(n) if n <= cap => return self.take_units(py, n).map(Some),
                _ if (limit as usize) <= available || self.eof => {
                    return if cap == 0 {
                        Ok(Some(self.empty(py)))
                    } else {
                        self.take_units(py, cap).map(Some)
                    };
                }
                _ => {}
            }
        } else if let Some(n) = found {
            return self.take_units(py, n).map(Some);
        }
        if self.eof {
            if available == 0 {
                return Ok(Some(self.empty(py)));
            }
            return self.take_units(py, available).map(Some);
        }
        Ok(None)
    }
}

/// `await` on the object `__anext__` returned completes with the line it found.
impl ffi::ReadyAwaitable for LineBuffer {
    fn take_ready(obj: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let mut buffer = obj.cast::<LineBuffer>()?.try_borrow_mut()?;
        Ok(buffer.ready.take().unwrap_or_else(|| obj.py().None()))
    }

    fn anext(obj: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        LineBuffer::__anext__(obj.cast::<LineBuffer>()?.try_borrow_mut()?)
    }
}

#[pymethods]
impl LineBuffer {
    /// `text`: str content (else bytes); `newline`: where lines end, for text after any
    /// translation the decoder does ("\n", "\r", "\r\n", or "" for all three).
    #[new]
    #[pyo3(signature = (text, newline = "\n", refill = None))]
    fn new(text: bool, newline: &str, refill: Option<Py<PyAny>>) -> PyResult<Self> {
        let ending = match newline {
            "\n" => Ending::Lf,
            "\r" => Ending::Cr,
            "\r\n" => Ending::CrLf,
            "" => Ending::Any,
            other => {
                return Err(PyValueError::new_err(format!(
                    "illegal newline value: {other:?}"
                )))
            }
        };
        Ok(LineBuffer {
            data: None,
            pos: 0,
            len: 0,
            text,
            ending,
            eof: false,
            ready: None,
            refill,
        })
    }

    /// Append decoded text (or bytes); `eof` says nothing follows.
    #[pyo3(signature = (chunk, eof = false))]
    fn feed(&mut self, py: Python<'_>, chunk: &Bound<'_, PyAny>, eof: bool) -> PyResult<()> {
        let chunk_len = if self.text {
            chunk.cast::<PyString>()?.len()?
        } else {
            chunk.cast::<PyBytes>()?.as_bytes().len()
        };
        let merged = match self.data.take() {
            Some(old) if self.pos < self.len => {
                let old = old.bind(py);
                let rest = if self.text {
                    ffi::substring(old.cast::<PyString>()?, self.pos, self.len)?
                } else {
                    PyBytes::new(py, &old.cast::<PyBytes>()?.as_bytes()[self.pos..self.len])
                        .into_any()
                };
                rest.add(chunk)?
            }
            _ => chunk.clone(),
        };
        self.len = self.available() + chunk_len;
        self.pos = 0;
        self.data = (self.len > 0).then(|| merged.unbind());
        self.eof = eof;
        Ok(())
    }

    /// The next line (capped at `limit` units when >= 0), "" / b"" at the end of the
    /// file, or None when a refill is needed first.
    #[pyo3(signature = (limit = -1))]
    fn readline(&mut self, py: Python<'_>, limit: isize) -> PyResult<Option<Py<PyAny>>> {
        self.next_line(py, limit)
    }

    /// Up to `n` characters (bytes) of what is buffered.
    fn take(&mut self, py: Python<'_>, n: usize) -> PyResult<Py<PyAny>> {
        let n = n.min(self.available());
        if n == 0 {
            return Ok(self.empty(py));
        }
        self.take_units(py, n)
    }

    /// Everything buffered.
    fn take_all(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let n = self.available();
        self.take(py, n)
    }

    /// Characters (bytes, for binary content) buffered and not yet handed out.
    fn chars(&self) -> usize {
        self.available()
    }

    fn __len__(&self) -> usize {
        self.available()
    }

    #[getter]
    fn eof(&self) -> bool {
        self.eof
    }

    /// Forget everything buffered (after a seek or a write).
    fn clear(&mut self) {
        self.data = None;
        self.pos = 0;
        self.len = 0;
        self.eof = false;
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__(mut slf: PyRefMut<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match slf.next_line(py, -1)? {
            Some(line) => {
                if slf.eof && slf.data.is_none() && line.bind(py).len()? == 0 {
                    return Err(PyStopAsyncIteration::new_err(()));
                }
                slf.ready = Some(line);
                Ok(slf.into_pyobject(py)?.into_any().unbind())
            }
            None => match &slf.refill {
                Some(refill) => Ok(refill.bind(py).call0()?.unbind()),
                None => Err(PyValueError::new_err("LineBuffer has no refill coroutine")),
            },
        }
    }

    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Completes the awaitable `__anext__` returned: StopIteration carrying the line.
    fn __next__(&mut self) -> PyResult<()> {
        match self.ready.take() {
            Some(line) => Err(PyStopIteration::new_err(line)),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for obj in [&self.refill, &self.ready, &self.data]
            .into_iter()
            .flatten()
        {
            visit.call(obj)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.refill = None;
        self.ready = None;
    }
}
