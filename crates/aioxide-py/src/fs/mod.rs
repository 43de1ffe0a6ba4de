//! Bindings of the fs engine (`FsEngine`) and the read buffer of `aioxide.fs` files
//! (`LineBuffer`). The engine's pool-thread calls are in `calls.rs`.

use pyo3::prelude::*;

mod calls;
mod engine;
mod lines;

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::PyFsEngine>()?;
    m.add_class::<lines::LineBuffer>()?;
    crate::ffi::install_ready_send::<lines::LineBuffer>(m.py());
    Ok(())
}
