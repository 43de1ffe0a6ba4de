//! aioxide-py: the Python bindings of the aioxide event loop, imported as
//! `aioxide._aioxide`.
//!
//! This is the only crate that depends on pyo3. It turns the pure-Rust pieces of
//! `aioxide-core` (scheduler, timers, reactor) into `LoopCore`, the native base class of
//! `aioxide.Loop`, and into `Handle`/`TimerHandle`. Futures and tasks are CPython's own C
//! `Future`/`Task`, so `gather`, `wait`, `TaskGroup` and timeouts work unchanged; they
//! reach the loop through `call_soon`, which is native.
//!
//! Files by area: `loop_core.rs` (state and lifecycle), `scheduling.rs` (call_soon and
//! timers), `run.rs` (one iteration), `watchers.rs` (add_reader and friends), `fd_owners.rs` (descriptors owned by transports),
//! `sockets.rs` (native `sock_recv`/`sock_sendall`; `sock_slow.rs` for what that does not take), `process.rs` (the subprocess path's
//! calls that keep the GIL), `transport/` (the native cores of socket transports), `fs/`
//! (the file engine and read buffer behind `aioxide.fs`), `http/` (the
//! native protocol behind `aioxide.http`), `tasks.rs` (create_future,
//! create_task), `task_factory.rs`, `debug.rs` (watchdog probe and metrics state),
//! `handle.rs` (and `handle_args.rs`), `errors.rs` (Rust errors to Python exceptions),
//! `ffi/` (the only `unsafe`: C-API calls pyo3 does not wrap).

use pyo3::prelude::*;

mod debug;
mod errors;
mod fd_owners;
mod ffi;
mod fs;
mod handle;
mod handle_args;
mod http;
mod loop_core;
mod process;
mod run;
mod scheduling;
mod sock_addr;
mod sock_call;
mod sock_slow;
mod sockets;
mod task_factory;
mod tasks;
mod transport;
mod watchers;

// On a free-threaded interpreter, importing the module turns the GIL back on (pyo3's
// default before 0.28): the `GilCell`s have a mutex form for such builds, but it has
// never run against one.
#[pymodule(gil_used = true)]
fn _aioxide(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<loop_core::PyLoopCore>()?;
    scheduling::install_methods(m.py())?;
    m.add_class::<handle::PyHandle>()?;
    m.add_class::<handle::PyTimerHandle>()?;
    m.add_class::<debug::PyLoopProbe>()?;
    transport::init_pymodule(m)?;
    fs::init_pymodule(m)?;
    http::init_pymodule(m)?;
    sock_call::init_pymodule(m)?;
    sockets::init_pymodule(m)?;
    sock_addr::init_pymodule(m)?;
    process::init_pymodule(m)?;
    Ok(())
}
