//! The stdlib objects the native code calls or checks against, each imported once per
//! process, in one place (as uvloop's `includes/stdlib.pxi`). What asyncio's tests patch
//! at run time (`asyncio.base_events.logger`) is read where it is used, at call time.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyType};

/// `name(py)`: `module.attr`, imported on first use and kept.
macro_rules! cached {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $module:literal . $attr:literal;)*) => {$(
        $(#[$doc])*
        pub(crate) fn $name(py: Python<'_>) -> PyResult<&Bound<'_, $ty>> {
            static CELL: PyOnceLock<Py<$ty>> = PyOnceLock::new();
            CELL.import(py, $module, $attr)
        }
    )*};
}

cached! {
    /// For error texts, as the stdlib's `OSError`s carry them.
    os_strerror: PyAny = "os"."strerror";
    getframe: PyAny = "sys"."_getframe";
    cancelled_error: PyType = "asyncio"."CancelledError";
    buffered_protocol: PyType = "asyncio"."BufferedProtocol";
    asyncio_logger: PyAny = "asyncio.log"."logger";
    iscoroutine: PyAny = "asyncio.coroutines"."iscoroutine";
    extract_stack: PyAny = "asyncio.format_helpers"."extract_stack";
    format_callback_source: PyAny = "asyncio.format_helpers"."_format_callback_source";
    /// 3.11/3.12: naming a factory's task (it warns, rather than fails, without set_name).
    set_task_name: PyAny = "asyncio.tasks"."_set_task_name";
    ssl_object: PyType = "ssl"."SSLObject";
    /// What a transport's extra info "socket" holds.
    transport_socket: PyType = "asyncio.trsock"."TransportSocket";
}

/// `socket.socket`, read when `_aioxide` is imported (`read_socket_type`).
static SOCKET: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Read `socket.socket` at import, while it is the real class (see `socket_type`).
pub(crate) fn read_socket_type(py: Python<'_>) -> PyResult<()> {
    SOCKET.import(py, "socket", "socket").map(|_| ())
}

/// `socket.socket` as it was at import: a test that patches it later (with a function,
/// say) must not turn every `sock_recv` into a `TypeError`.
pub(crate) fn socket_type(py: Python<'_>) -> Option<&Bound<'_, PyType>> {
    SOCKET.get(py).map(|t| t.bind(py))
}

/// `asyncio.base_events`, whose `logger` is read at call time.
pub(crate) fn base_events(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static CELL: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    CELL.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("asyncio.base_events")?.unbind())
    })
    .map(|m| m.bind(py))
}

/// asyncio's coroutine-function check: `_iscoroutinefunction` (the public name warns
/// from 3.14), or `iscoroutinefunction` where there is no private one.
pub(crate) fn iscoroutinefunction(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CELL.get_or_try_init(py, || {
        let module = py.import("asyncio.coroutines")?;
        let f = match module.getattr("_iscoroutinefunction") {
            Ok(f) => f,
            Err(_) => module.getattr("iscoroutinefunction")?,
        };
        Ok::<_, PyErr>(f.unbind())
    })
    .map(|f| f.bind(py))
}

/// `ssl.SSLSocket`, or `None` in an interpreter built without `ssl`.
pub(crate) fn ssl_socket(py: Python<'_>) -> Option<&Bound<'_, PyType>> {
    static CELL: PyOnceLock<Option<Py<PyType>>> = PyOnceLock::new();
    CELL.get_or_init(py, || {
        let ssl = py.import("ssl").ok()?;
        Some(
            ssl.getattr("SSLSocket")
                .ok()?
                .cast_into::<PyType>()
                .ok()?
                .unbind(),
        )
    })
    .as_ref()
    .map(|t| t.bind(py))
}

/// The `ssl` module's exception types the TLS state machine tells apart.
pub(crate) struct SslErrors {
    /// `SSLWantReadError` and `SSLSyscallError`: try again when more data arrives.
    pub want_read: Py<PyType>,
    pub syscall: Py<PyType>,
    pub ssl_error: Py<PyType>,
    pub cert_error: Py<PyType>,
}

pub(crate) fn ssl_errors(py: Python<'_>) -> PyResult<&SslErrors> {
    static TYPES: PyOnceLock<SslErrors> = PyOnceLock::new();
    TYPES.get_or_try_init(py, || {
        let ssl = py.import("ssl")?;
        let get = |name: &str| -> PyResult<Py<PyType>> {
            Ok(ssl.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok(SslErrors {
            want_read: get("SSLWantReadError")?,
            syscall: get("SSLSyscallError")?,
            ssl_error: get("SSLError")?,
            cert_error: get("CertificateError")?,
        })
    })
}

impl SslErrors {
    /// asyncio's `SSLAgainErrors`: the operation needs more data from the peer.
    pub fn is_again(&self, py: Python<'_>, err: &PyErr) -> bool {
        err.is_instance(py, self.want_read.bind(py)) || err.is_instance(py, self.syscall.bind(py))
    }
}

/// The stdlib's own `write` (`_SelectorSocketTransport`) or `sendto`
/// (`_SelectorDatagramTransport`), called for the `TypeError` text it gives bad data.
pub(crate) fn selector_transport_method(
    py: Python<'_>,
    sendto: bool,
) -> PyResult<&Bound<'_, PyAny>> {
    static WRITE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static SENDTO: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let (cell, class, method) = match sendto {
        false => (&WRITE, "_SelectorSocketTransport", "write"),
        true => (&SENDTO, "_SelectorDatagramTransport", "sendto"),
    };
    cell.get_or_try_init(py, || {
        let cls = py.import("asyncio.selector_events")?.getattr(class)?;
        Ok::<_, PyErr>(cls.getattr(method)?.unbind())
    })
    .map(|f| f.bind(py))
}
