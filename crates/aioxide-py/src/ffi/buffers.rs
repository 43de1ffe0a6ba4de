//! Buffers, `bytes` filled in place and the code units of a `str`: what the socket
//! reads, the fs engine and `LineBuffer` reach without a copy.

use pyo3::ffi;
use pyo3::prelude::*;
use std::mem::MaybeUninit;

use pyo3::types::{PyBytes, PyString};

use aioxide_core::fs::RawBuf;

// CPython exports `_PyBytes_Resize` (outside the limited API; the stable way to shrink a
// bytes object nobody else has seen yet). pyo3 stopped declaring it in 0.29.
unsafe extern "C" {
    fn _PyBytes_Resize(
        bytes: *mut *mut ffi::PyObject,
        size: ffi::Py_ssize_t,
    ) -> std::os::raw::c_int;
}

/// Run `fill` on the writable bytes of `obj`'s buffer (a `bytearray`, a writable
/// `memoryview`, ...), as `socket.recv_into` sees them. An object without a writable
/// contiguous buffer raises what `PyObject_GetBuffer` raises (`TypeError`/`BufferError`).
pub fn with_writable_buffer<R>(
    obj: &Bound<'_, PyAny>,
    fill: impl FnOnce(&mut [u8]) -> R,
) -> PyResult<R> {
    let py = obj.py();
    let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
    // SAFETY: the GIL is held and `obj` is alive; `view` is storage for one Py_buffer that
    // GetBuffer fills in on success (return 0) and leaves untouched on failure.
    // PyBUF_WRITABLE without shape/strides flags asks for one writable contiguous block.
    if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_WRITABLE) } != 0
    {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: GetBuffer succeeded, so `view` is initialised.
    let mut view = unsafe { view.assume_init() };
    let len = usize::try_from(view.len).unwrap_or(0);
    let result = if len == 0 || view.buf.is_null() {
        fill(&mut [])
    } else {
        // SAFETY: the exporter guarantees `len` writable contiguous bytes at `buf` until
        // the buffer is released below; nothing else touches them meanwhile because the
        // GIL stays held and `fill` makes no Python call.
        fill(unsafe { std::slice::from_raw_parts_mut(view.buf.cast::<u8>(), len) })
    };
    // SAFETY: `view` was filled by a successful GetBuffer and is released exactly once.
    unsafe { ffi::PyBuffer_Release(&mut view) };
    Ok(result)
}

/// A new `bytes` object of `len` bytes whose content the caller fills before anyone else
/// sees the object, and the buffer the fs engine fills it through.
pub fn bytes_for_filling(py: Python<'_>, len: usize) -> PyResult<(Py<PyBytes>, RawBuf)> {
    let size = ffi::Py_ssize_t::try_from(len)
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("read size too large"))?;
    // SAFETY: a NULL source asks CPython for an uninitialised bytes object of `size`
    // bytes; the GIL is held. A NULL result means MemoryError is set.
    let ptr = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), size) };
    if ptr.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `ptr` is a new (owned) reference to a bytes object, so the unchecked
    // downcast to PyBytes is exact.
    let obj: Py<PyBytes> = unsafe { Bound::from_owned_ptr(py, ptr).cast_into_unchecked() }.unbind();
    // Only the engine writes these bytes: the object is known only to the caller, which
    // keeps it alive in the request's payload until the engine hands it back, and shows
    // it to Python code only after that.
    // SAFETY: the data of a live bytes object is `len` bytes; see above for exclusivity.
    let buf = unsafe { RawBuf::new(ffi::PyBytes_AsString(obj.as_ptr()).cast(), len) };
    Ok((obj, buf))
}

/// The buffer the fs engine writes a `bytes` object's content from.
pub fn bytes_to_write(data: &Bound<'_, PyBytes>) -> RawBuf {
    let bytes = data.as_bytes();
    // SAFETY: bytes objects are immutable, so the engine only ever reads this memory and
    // nobody writes it; the caller keeps `data` alive in the request's payload until the
    // engine hands the request back.
    unsafe { RawBuf::new(bytes.as_ptr().cast_mut(), bytes.len()) }
}

/// Cut a `bytes` object made by [`bytes_for_filling`] to its first `len` bytes, after the
/// engine handed it back having filled only that much.
pub fn shrink_filled_bytes(py: Python<'_>, obj: Py<PyBytes>, len: usize) -> PyResult<Py<PyBytes>> {
    if len >= obj.bind(py).as_bytes().len() {
        return Ok(obj);
    }
    if len == 0 {
        return Ok(PyBytes::new(py, b"").unbind());
    }
    let mut ptr = obj.into_ptr();
    // SAFETY: the object came from bytes_for_filling and was never shown to Python code,
    // so this is its only reference, which _PyBytes_Resize requires; on failure it frees
    // the object, sets `ptr` to NULL and sets an exception.
    let rc = unsafe { _PyBytes_Resize(&mut ptr, len as ffi::Py_ssize_t) };
    if rc != 0 {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: on success `ptr` is an owned reference to the (possibly moved) bytes object.
    Ok(unsafe { Bound::from_owned_ptr(py, ptr).cast_into_unchecked() }.unbind())
}

/// A new `bytes` object made by `fill`, which gets `len` bytes of uninitialised memory,
/// writes the first `k` of them and returns `k <= len` (or an error, and the object is
/// dropped unseen). Only those `k` bytes make up the result: one allocation and no copy,
/// where filling a scratch buffer and copying it out would cost a copy per byte.
pub fn fill_new_bytes<E>(
    py: Python<'_>,
    len: usize,
    fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<usize, E>,
) -> PyResult<Result<Py<PyBytes>, E>> {
    let (obj, _) = bytes_for_filling(py, len)?;
    // SAFETY: the object's data is `len` writable bytes that nobody else can reach (the
    // object is new and not shown to Python code yet); MaybeUninit bytes may hold
    // anything, so the slice is valid before anything is written.
    let buf = unsafe {
        let data = ffi::PyBytes_AsString(obj.as_ptr()).cast::<MaybeUninit<u8>>();
        std::slice::from_raw_parts_mut(data, len)
    };
    match fill(buf) {
        Ok(k) => {
            assert!(k <= len, "filled past the end of the buffer");
            Ok(Ok(shrink_filled_bytes(py, obj, k)?))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// The code units of a `str`, in the width CPython stores them.
pub enum Units<'a> {
    One(&'a [u8]),
    Two(&'a [u16]),
    Four(&'a [u32]),
}

/// Run `look` on the code units of `s` (one per character).
pub fn with_units<R>(s: &Bound<'_, PyString>, look: impl FnOnce(Units<'_>) -> R) -> R {
    let ptr = s.as_ptr();
    // A str in CPython 3.3+ is "ready": its data is one array of GET_LENGTH units of the
    // width KIND names, and str objects are immutable.
    // SAFETY: `s` is a live str (GIL held, borrowed for this call); see above.
    unsafe {
        let len = ffi::PyUnicode_GET_LENGTH(ptr) as usize;
        let data = ffi::PyUnicode_DATA(ptr);
        match ffi::PyUnicode_KIND(ptr) {
            ffi::PyUnicode_1BYTE_KIND => {
                look(Units::One(std::slice::from_raw_parts(data.cast(), len)))
            }
            ffi::PyUnicode_2BYTE_KIND => {
                look(Units::Two(std::slice::from_raw_parts(data.cast(), len)))
            }
            _ => look(Units::Four(std::slice::from_raw_parts(data.cast(), len))),
        }
    }
}

/// `s[start:end]` (character indexes, already within bounds).
pub fn substring<'py>(
    s: &Bound<'py, PyString>,
    start: usize,
    end: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let py = s.py();
    // SAFETY: the GIL is held and `s` is a live str; Substring returns a new reference or
    // NULL with an exception set.
    let ptr = unsafe {
        ffi::PyUnicode_Substring(s.as_ptr(), start as ffi::Py_ssize_t, end as ffi::Py_ssize_t)
    };
    if ptr.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `ptr` is a new, owned reference.
    Ok(unsafe { Bound::from_owned_ptr(py, ptr) })
}
