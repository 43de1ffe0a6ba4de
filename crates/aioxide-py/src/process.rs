//! The subprocess path's descriptor and child calls, made without releasing the GIL (see
//! `aioxide_core::sys::process` for why): `reap_exited`, `close_fd`, `fd_mode`,
//! `set_nonblocking`.

use std::os::fd::RawFd;

use aioxide_core::sys::process;
use pyo3::prelude::*;

use crate::errors;

/// The returncode of child `pid`, whose `pidfd` (still open) is readable: it has
/// exited; it is reaped. `ChildProcessError` if someone else reaped it already.
#[pyfunction]
fn reap_exited(pidfd: RawFd, pid: libc::pid_t) -> PyResult<i32> {
    process::reap_exited(pidfd, pid).map_err(errors::os_error)
}

/// `os.close(fd)`, holding the GIL.
#[pyfunction]
fn close_fd(fd: RawFd) -> PyResult<()> {
    process::close(fd).map_err(errors::os_error)
}

/// `os.fstat(fd).st_mode`, holding the GIL.
#[pyfunction]
fn fd_mode(fd: RawFd) -> PyResult<u32> {
    process::file_mode(fd).map_err(errors::os_error)
}

/// `os.set_blocking(fd, False)`, holding the GIL.
#[pyfunction]
fn set_nonblocking(fd: RawFd) -> PyResult<()> {
    process::set_nonblocking(fd).map_err(errors::os_error)
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(reap_exited, m)?)?;
    m.add_function(wrap_pyfunction!(close_fd, m)?)?;
    m.add_function(wrap_pyfunction!(fd_mode, m)?)?;
    m.add_function(wrap_pyfunction!(set_nonblocking, m)?)?;
    Ok(())
}
