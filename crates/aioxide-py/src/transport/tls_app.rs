//! The application's side of `TLSCore`: the transport API its Python face
//! (`SSLTransport` in `_transports/tls.py`) forwards to, with `_SSLProtocolTransport`'s semantics.

use pyo3::exceptions::{PyNotImplementedError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};

use super::step::{CoreStep, Step};
use super::tls::{PyTlsCore, READ_HIGH_WATER, WRITE_HIGH_WATER};

/// The bytes-like check of the TLS transport's `write()`, with asyncio's message.
fn check_bytes_like(data: &Bound<'_, PyAny>) -> PyResult<()> {
    if data.is_instance_of::<PyBytes>()
        || data.is_instance_of::<PyByteArray>()
        || data.is_instance_of::<PyMemoryView>()
    {
        return Ok(());
    }
    let name = data.get_type().name()?;
    Err(PyTypeError::new_err(format!(
        "data: expecting a bytes-like instance, got {name}"
    )))
}

#[pymethods]
impl PyTlsCore {
    #[pyo3(signature = (name, default = None))]
    fn get_extra_info(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        default: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let default = default.unwrap_or_else(|| py.None());
        if let Some(value) = self.extra.bind(py).get_item(name)? {
            return Ok(value.unbind());
        }
        match self.transport(py) {
            Some(t) => Ok(t
                .bind(py)
                .call_method1("get_extra_info", (name, default))?
                .unbind()),
            None => Ok(default),
        }
    }

    fn set_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set_app_protocol_inner(protocol)
    }

    fn get_protocol(&self, py: Python<'_>) -> Py<PyAny> {
        self.app_protocol(py).unwrap_or_else(|| py.None())
    }

    fn is_closing(&self, py: Python<'_>) -> bool {
        self.st(py).face_closed
    }

    /// Close: flush, then a TLS shutdown, then close the transport underneath.
    fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        {
            let mut st = slf.get().st(slf.py());
            if st.face_closed {
                st.face_detached = true;
                return Ok(());
            }
            st.face_closed = true;
        }
        Self::start_shutdown(slf)
    }

    /// The face was collected unclosed: mark it closed; true if the caller should warn.
    fn _face_deleted(&self, py: Python<'_>) -> bool {
        let mut st = self.st(py);
        !std::mem::replace(&mut st.face_closed, true)
    }

    fn abort(slf: &Bound<'_, Self>) -> PyResult<()> {
        let detached = {
            let mut st = slf.get().st(slf.py());
            st.face_closed = true;
            st.face_detached
        };
        if detached {
            return Ok(());
        }
        Self::abort_with(slf, None)
    }

    #[pyo3(signature = (exc = None))]
    fn _force_close(slf: &Bound<'_, Self>, exc: Option<Py<PyAny>>) -> PyResult<()> {
        slf.get().st(slf.py()).face_closed = true;
        Self::abort_with(slf, exc)
    }

    fn is_reading(&self, py: Python<'_>) -> bool {
        !self.st(py).app_reading_paused
    }

    fn pause_reading(&self, py: Python<'_>) {
        self.st(py).app_reading_paused = true;
    }

    fn resume_reading(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        if !std::mem::replace(&mut slf.get().st(py).app_reading_paused, false) {
            return Ok(());
        }
        let resume = CoreStep::new(slf, Step::TlsResume)?;
        slf.get().loop_(py).call_method1("call_soon", (resume,))?;
        Ok(())
    }

    #[pyo3(signature = (high = None, low = None))]
    fn set_write_buffer_limits(
        slf: &Bound<'_, Self>,
        high: Option<&Bound<'_, PyAny>>,
        low: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let marks = super::water_marks_or(high, low, WRITE_HIGH_WATER)?;
        slf.get().st(slf.py()).write_marks = marks;
        Self::control_app_writing(slf, None)
    }

    /// `(low, high)`, as asyncio returns them.
    fn get_write_buffer_limits(&self, py: Python<'_>) -> (usize, usize) {
        let marks = self.st(py).write_marks;
        (marks.low, marks.high)
    }

    fn get_write_buffer_size(&self, py: Python<'_>) -> PyResult<usize> {
        self.write_buffer_size(py)
    }

    #[pyo3(signature = (high = None, low = None))]
    fn set_read_buffer_limits(
        slf: &Bound<'_, Self>,
        high: Option<&Bound<'_, PyAny>>,
        low: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let marks = super::water_marks_or(high, low, READ_HIGH_WATER)?;
        slf.get().st(slf.py()).read_marks = marks;
        Self::control_ssl_reading(slf, None)
    }

    fn get_read_buffer_limits(&self, py: Python<'_>) -> (usize, usize) {
        let marks = self.st(py).read_marks;
        (marks.low, marks.high)
    }

    fn get_read_buffer_size(&self, py: Python<'_>) -> PyResult<usize> {
        self.read_buffer_size(py)
    }

    /// We asked the application to pause writing (sendfile's fallback reads this).
    #[getter]
    fn protocol_paused(&self, py: Python<'_>) -> bool {
        self.st(py).app_writing_paused
    }

    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        check_bytes_like(data)?;
        let len = data.len()?;
        if len == 0 || Self::write_now(slf, data, len)? {
            return Ok(());
        }
        Self::write_appdata(slf, std::iter::once(Ok(data.clone())))
    }

    fn writelines(slf: &Bound<'_, Self>, list_of_data: &Bound<'_, PyAny>) -> PyResult<()> {
        Self::write_appdata(slf, list_of_data.try_iter()?)
    }

    /// TLS has no half-close: asyncio's bare `NotImplementedError`.
    fn write_eof(&self) -> PyResult<()> {
        Err(PyNotImplementedError::new_err(()))
    }

    fn can_write_eof(&self) -> bool {
        false
    }

    /// For asyncio's tests: queue data as if a write had been refused.
    #[allow(non_snake_case)]
    fn _test__append_write_backlog(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let len = data.len()?;
        let mut st = self.st(py);
        st.backlog.push_back(data.clone().unbind());
        st.backlog_size += len;
        Ok(())
    }
}
