//! Native transports. A transport is two objects: a thin Python subclass of
//! `asyncio.Transport` (so `isinstance` checks and `get_extra_info` work, and the
//! `__slots__` of `asyncio.BaseTransport` do not clash with a native layout) and a native
//! core, defined here, that owns the state and does the I/O.
//!
//! The core's read path is the reader callback itself: one `recv` into a reused buffer,
//! one `bytes`, one `data_received` call (or `recv` straight into a `BufferedProtocol`'s
//! buffer). The write path tries `send` at once and keeps only what the kernel did not
//! take, flushed by `writev` when the socket is writable, with asyncio's water marks.
//! Rare paths (fatal errors, which log and call the exception handler) go back to the
//! Python transport.

pub mod stream;
mod stream_io;

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;

/// `SystemExit` and `KeyboardInterrupt` propagate out of transport callbacks; every other
/// exception a protocol raises becomes a fatal transport error (asyncio's rule).
pub(crate) fn must_propagate(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PySystemExit>(py) || err.is_instance_of::<PyKeyboardInterrupt>(py)
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<stream::PyStreamCore>()?;
    Ok(())
}
