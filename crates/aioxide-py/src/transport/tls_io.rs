//! Reading and writing of `TLSCore`: application data through `SSLObject.write` to the
//! transport underneath, ciphertext through `SSLObject.read` to the application, and
//! flow control in both directions, with the semantics of asyncio's
//! `sslproto.SSLProtocol`.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyMemoryView, PySlice};

use super::must_propagate;
use super::step::{CoreStep, Step};
use super::tls::{flow_change, AppState, Phase, PyTlsCore};
use crate::stdlib::{asyncio_logger, ssl_errors};

/// The most plaintext asked of `SSLObject.read` per call: a TLS record carries at most
/// 16 KiB, so one call never returns less for want of room. Less is asked when less
/// ciphertext is waiting (`read_copied`).
const READ_SIZE: usize = 16 * 1024;

impl PyTlsCore {
    /// asyncio's `except Exception` around reading and writing: an `Exception` is fatal
    /// to the connection; `BaseException`s (cancellation, `KeyboardInterrupt`) propagate.
    pub(crate) fn fatal_on_exception(slf: &Bound<'_, Self>, result: PyResult<()>) -> PyResult<()> {
        let py = slf.py();
        match result {
            Err(err) if err.is_instance_of::<PyException>(py) => {
                let exc = err.into_value(py).into_bound(py).into_any();
                Self::fatal_error(slf, &exc, "Fatal error on SSL protocol")
            }
            other => other,
        }
    }

    // -- writing ------------------------------------------------------------------

    /// Queue application data and, once wrapped, encrypt and send what OpenSSL takes.
    pub(crate) fn write_appdata<'py>(
        slf: &Bound<'py, Self>,
        data: impl Iterator<Item = PyResult<Bound<'py, PyAny>>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let phase = this.phase(py);
        if phase.is_closing() {
            let warn = this.st(py).life.count_dropped();
            if warn {
                asyncio_logger(py)?.call_method1("warning", ("SSL connection is closed",))?;
            }
            return Ok(());
        }
        for item in data {
            let item = item?;
            let len = item.len()?;
            let mut st = this.st(py);
            st.backlog.push_back(item.unbind());
            st.backlog_size += len;
        }
        if phase != Phase::Wrapped {
            return Ok(());
        }
        Self::fatal_on_exception(slf, Self::do_write(slf))
    }

    /// `write()` while wrapped with nothing queued: encrypt at once and send, without
    /// the queue. False when the general path must take the data.
    pub(crate) fn write_now(
        slf: &Bound<'_, Self>,
        data: &Bound<'_, PyAny>,
        len: usize,
    ) -> PyResult<bool> {
        let py = slf.py();
        let this = slf.get();
        {
            let st = this.st(py);
            if st.phase != Phase::Wrapped || !st.backlog.is_empty() {
                return Ok(false);
            }
        }
        let written = this.ssl_write.bind(py).call1((data,));
        let result = match written.and_then(|count| count.extract::<usize>()) {
            Ok(count) => this
                .queue_rest(py, data, count, len)
                .and_then(|_| Self::process_outgoing(slf)),
            Err(err) if ssl_errors(py)?.is_again(py, &err) => this
                .queue_rest(py, data, 0, len)
                .and_then(|_| Self::process_outgoing(slf)),
            Err(err) => Err(err),
        };
        Self::fatal_on_exception(slf, result)?;
        Ok(true)
    }

    /// Queue what `SSLObject.write` did not take of `data` (`len` bytes, `count` taken).
    fn queue_rest(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        count: usize,
        len: usize,
    ) -> PyResult<()> {
        if count >= len {
            return Ok(());
        }
        let rest = data.get_item(PySlice::new(data.py(), count as isize, len as isize, 1))?;
        let mut st = self.st(py);
        st.backlog.push_back(rest.unbind());
        st.backlog_size += len - count;
        Ok(())
    }

    /// Hand the backlog to `SSLObject.write`, then send what it produced.
    pub(crate) fn do_write(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let write = this.ssl_write.bind(py);
        loop {
            let Some(front) = this.st(py).backlog.front().map(|d| d.clone_ref(py)) else {
                break;
            };
            let front = front.bind(py);
            let count: usize = match write.call1((front,)) {
                Ok(count) => count.extract()?,
                Err(err) if ssl_errors(py)?.is_again(py, &err) => break,
                Err(err) => return Err(err),
            };
            let len = front.len()?;
            let done = {
                let mut st = this.st(py);
                st.backlog_size -= count.min(len);
                st.backlog.pop_front()
            };
            drop(done);
            if count < len {
                // The rest goes back in front.
                let rest = front.get_item(PySlice::new(py, count as isize, len as isize, 1))?;
                this.st(py).backlog.push_front(rest.unbind());
            }
        }
        Self::process_outgoing(slf)
    }

    /// Send the ciphertext OpenSSL produced, unless the transport underneath is paused.
    pub(crate) fn process_outgoing(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (paused, write) = {
            let st = this.st(py);
            (
                st.ssl_writing_paused,
                st.transport_write.as_ref().map(|w| w.clone_ref(py)),
            )
        };
        let mut drained = None;
        if !paused {
            let data = this.outgoing_read.bind(py).call0()?;
            if data
                .cast::<PyBytes>()
                .map_or(true, |b| !b.as_bytes().is_empty())
            {
                if let Some(write) = write {
                    write.bind(py).call1((data,))?;
                }
            }
            drained = Some(0);
        }
        Self::control_app_writing(slf, drained)
    }

    /// Ask the application to pause or resume writing at the water marks.
    /// `outgoing_pending` is the outgoing BIO's size when the caller knows it.
    pub(crate) fn control_app_writing(
        slf: &Bound<'_, Self>,
        outgoing_pending: Option<usize>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let pending = match outgoing_pending {
            Some(pending) => pending,
            None => this.outgoing.bind(py).getattr("pending")?.extract()?,
        };
        let (change, protocol, face) = {
            let mut st = this.st(py);
            let size = pending + st.backlog_size;
            let marks = st.write_marks;
            let change = flow_change(&mut st.app_writing_paused, size, marks);
            if change.is_none() {
                return Ok(());
            }
            (
                change,
                st.app_protocol.as_ref().map(|p| p.clone_ref(py)),
                st.face.as_ref().map(|f| f.clone_ref(py)),
            )
        };
        let (Some(pause), Some(protocol)) = (change, protocol) else {
            return Ok(());
        };
        let name = if pause {
            "pause_writing"
        } else {
            "resume_writing"
        };
        if let Err(err) = protocol.bind(py).call_method0(name) {
            if must_propagate(py, &err) {
                return Err(err);
            }
            let context = PyDict::new(py);
            context.set_item("message", format!("protocol.{name}() failed"))?;
            context.set_item("exception", err.value(py))?;
            context.set_item("transport", face)?;
            context.set_item("protocol", slf)?;
            this.loop_(py)
                .call_method1("call_exception_handler", (context,))?;
        }
        Ok(())
    }

    // -- reading ------------------------------------------------------------------

    /// Decrypt what arrived and give it to the application, then send what that
    /// produced; a failure is fatal to the connection.
    pub(crate) fn do_read(slf: &Bound<'_, Self>) -> PyResult<()> {
        if !matches!(slf.get().phase(slf.py()), Phase::Wrapped | Phase::Flushing) {
            return Ok(());
        }
        Self::fatal_on_exception(slf, Self::read_then_write(slf))
    }

    fn read_then_write(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let (paused, buffered) = {
            let st = this.st(slf.py());
            (st.app_reading_paused, st.app_buffered)
        };
        if !paused {
            let drained = if buffered {
                Self::read_buffered(slf)?;
                false
            } else {
                Self::read_copied(slf)?
            };
            if this.st(slf.py()).backlog.is_empty() {
                Self::process_outgoing(slf)?;
            } else {
                Self::do_write(slf)?;
            }
            if drained {
                return Self::control_ssl_reading(slf, Some(0));
            }
        }
        Self::control_ssl_reading(slf, None)
    }

    /// How much plaintext `SSLObject.read` may return now, at most: the ciphertext
    /// waiting in the incoming BIO (a record's plaintext is shorter than the record), else
    /// the plaintext OpenSSL holds. Zero when a read could only raise
    /// `SSLWantReadError`; not making it saves building that exception.
    fn readable_now(&self, py: Python<'_>) -> PyResult<usize> {
        let waiting = self.read_buffer_size(py)?;
        if waiting > 0 {
            return Ok(waiting);
        }
        self.ssl_pending.bind(py).call0()?.extract()
    }

    /// Reads for a `Protocol`: everything decrypted now, in one `data_received`. True
    /// when the incoming BIO was left empty.
    fn read_copied(slf: &Bound<'_, Self>) -> PyResult<bool> {
        let py = slf.py();
        let this = slf.get();
        let read = this.ssl_read.bind(py);
        let mut chunks: Vec<Bound<'_, PyAny>> = Vec::new();
        let mut eof = false;
        let mut drained = false;
        // Ask for what can come (the reply is allocated at the size asked, then shrunk).
        let mut waiting = this.read_buffer_size(py)?;
        loop {
            let size = match waiting {
                0 => READ_SIZE,
                n => n.min(READ_SIZE),
            };
            match read.call1((size,)) {
                Ok(chunk) => {
                    if chunk.len()? == 0 {
                        eof = true; // close_notify
                        break;
                    }
                    chunks.push(chunk);
                    waiting = this.readable_now(py)?;
                    if waiting == 0 {
                        drained = true;
                        break;
                    }
                }
                Err(err) if ssl_errors(py)?.is_again(py, &err) => break,
                Err(err) => return Err(err),
            }
        }
        if !chunks.is_empty() {
            let callback = this
                .st(py)
                .app_data_received
                .as_ref()
                .map(|c| c.clone_ref(py));
            let data = if chunks.len() == 1 {
                chunks.pop().expect("one chunk")
            } else {
                PyBytes::new(py, b"").call_method1("join", (PyList::new(py, chunks)?,))?
            };
            super::deliver_data(py, callback, || this.app_protocol(py), data)?;
        }
        if eof {
            Self::call_eof_received(slf)?;
            Self::start_shutdown(slf)?;
            return Ok(false);
        }
        Ok(drained)
    }

    /// Reads for a `BufferedProtocol`: decrypt straight into its buffer.
    fn read_buffered(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let Some(protocol) = this.app_protocol(py) else {
            return Ok(());
        };
        let protocol = protocol.bind(py);
        let hint = this.read_buffer_size(py)?;
        let buf = protocol.call_method1(pyo3::intern!(py, "get_buffer"), (hint,))?;
        let wants = buf.len()?;
        let view = PyMemoryView::from(&buf)?;
        let read = this.ssl_read.bind(py);
        let mut offset = 0;
        let mut count = 1;
        match read.call1((wants, &buf)) {
            Ok(n) => {
                count = n.extract::<usize>()?;
                offset = count;
                while count > 0 {
                    if offset >= wants {
                        // Full: the rest on the next iteration.
                        let again = CoreStep::new(slf, Step::TlsRead)?;
                        this.loop_(py).call_method1("call_soon", (again,))?;
                        break;
                    }
                    let rest =
                        view.get_item(PySlice::new(py, offset as isize, wants as isize, 1))?;
                    match read.call1((wants - offset, rest)) {
                        Ok(n) => {
                            count = n.extract()?;
                            offset += count;
                        }
                        Err(err) if ssl_errors(py)?.is_again(py, &err) => break,
                        Err(err) => return Err(err),
                    }
                }
            }
            Err(err) if ssl_errors(py)?.is_again(py, &err) => {}
            Err(err) => return Err(err),
        }
        if offset > 0 {
            protocol.call_method1(pyo3::intern!(py, "buffer_updated"), (offset,))?;
        }
        if count == 0 {
            Self::call_eof_received(slf)?; // close_notify
            Self::start_shutdown(slf)?;
        }
        Ok(())
    }

    pub(crate) fn call_eof_received(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let protocol = {
            let mut st = slf.get().st(py);
            if st.app_state != AppState::Made {
                return Ok(());
            }
            st.app_state = AppState::Eof;
            st.app_protocol.as_ref().map(|p| p.clone_ref(py))
        };
        let Some(protocol) = protocol else {
            return Ok(());
        };
        match protocol
            .bind(py)
            .call_method0(pyo3::intern!(py, "eof_received"))
            .and_then(|keep_open| keep_open.is_truthy())
        {
            Ok(true) => {
                asyncio_logger(py)?.call_method1(
                    "warning",
                    ("returning true from eof_received() has no effect when using ssl",),
                )?;
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(err) if must_propagate(py, &err) => Err(err),
            Err(err) => {
                let exc = err.into_value(py).into_bound(py).into_any();
                Self::fatal_error(slf, &exc, "Error calling eof_received()")
            }
        }
    }

    /// Pause the transport underneath while the incoming BIO is over its high-water
    /// mark (the application is not reading), resume it at the low one. `size` is the
    /// BIO's size when the caller knows it.
    pub(crate) fn control_ssl_reading(slf: &Bound<'_, Self>, size: Option<usize>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let size = match size {
            Some(size) => size,
            None => this.read_buffer_size(py)?,
        };
        let (change, transport) = {
            let mut st = this.st(py);
            let marks = st.read_marks;
            let change = flow_change(&mut st.ssl_reading_paused, size, marks);
            (change, st.transport.as_ref().map(|t| t.clone_ref(py)))
        };
        match (change, transport) {
            (Some(true), Some(t)) => t.bind(py).call_method0("pause_reading").map(drop),
            (Some(false), Some(t)) => t.bind(py).call_method0("resume_reading").map(drop),
            _ => Ok(()),
        }
    }
}
