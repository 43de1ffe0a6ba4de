//! aioxide-py: the Python bindings of the aioxide event loop, imported as
//! `aioxide._aioxide`.
//!
//! This is the only crate that depends on pyo3. It turns the pure-Rust pieces of
//! `aioxide-core` (scheduler, timers, reactor) into `LoopCore`, the native base class of
//! `aioxide.Loop`, and into `Handle`/`TimerHandle`. Futures and tasks are CPython's own C
//! `Future`/`Task`, so `gather`, `wait`, `TaskGroup` and timeouts work unchanged; they
//! reach the loop through `call_soon`, which is native.
//!
//! Files by area: `event_loop/` (the loop: its state and lifecycle, handles, call_soon and timers,
//! one iteration, add_reader and friends, descriptors owned by transports, create_future
//! and create_task), `sockets.rs` (native `sock_recv`/`sock_sendall`; `sock_slow.rs` for
//! what that does not take; `sock_call.rs` their coroutine; `sock_addr.rs` addresses and
//! accept), `process.rs` (the subprocess path's calls that keep the GIL), `transport/`
//! (the native cores of socket transports), `fs/` (the file engine and read buffer behind
//! `aioxide.fs`), `http/` (the native protocol behind `aioxide.http`), `event_loop/debug.rs`
//! (watchdog probe and metrics state), `errors.rs`
//! (Rust errors to Python exceptions), `stdlib.rs` (the stdlib objects it caches),
//! `ffi/` (the only `unsafe`: C-API calls pyo3 does not wrap).

use pyo3::prelude::*;

mod errors;
mod event_loop;
mod ffi;
mod fs;
mod http;
mod process;
mod sock_addr;
mod sock_call;
mod sock_slow;
mod sockets;
mod stdlib;
mod transport;

// On a free-threaded interpreter, importing the module turns the GIL back on (pyo3's
// default before 0.28): the `GilCell`s have a mutex form for such builds, but it has
// never run against one.
#[pymodule(gil_used = true)]
fn _aioxide(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<event_loop::PyLoopCore>()?;
    event_loop::scheduling::install_methods(m.py())?;
    m.add_class::<event_loop::handle::PyHandle>()?;
    m.add_class::<event_loop::handle::PyTimerHandle>()?;
    m.add_class::<event_loop::debug::PyLoopProbe>()?;
    transport::init_pymodule(m)?;
    fs::init_pymodule(m)?;
    http::init_pymodule(m)?;
    sock_call::init_pymodule(m)?;
    sockets::init_pymodule(m)?;
    sock_addr::init_pymodule(m)?;
    process::init_pymodule(m)?;
    Ok(())
}
