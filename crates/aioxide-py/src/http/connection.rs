use aioxide_core::http::{Limits, ResponseHead};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use pyo3::{intern, PyTraverseError, PyVisit};

use super::state::{Action, Failure, Phase, State};
use super::{to_pyerr, HttpDisconnected};

/// One HTTP/1.1 client connection: an asyncio protocol whose reads are parsed natively.
/// Python arms it with `expect()`, writes with `send()`, then reads the body through
/// `take`/`take_line`/`take_all`, calling `wait()` only when it needs more.
#[pyclass(name = "HttpConnection", module = "aioxide._aioxide")]
pub struct PyHttpConnection {
    event_loop: Option<Py<PyAny>>,
    state: Mutex<State>,
}

fn set_result(fut: &Bound<'_, PyAny>, value: Bound<'_, PyAny>) -> PyResult<()> {
    if !fut.call_method0(intern!(fut.py(), "done"))?.is_truthy()? {
        fut.call_method1(intern!(fut.py(), "set_result"), (value,))?;
    }
    Ok(())
}

fn set_exception(fut: &Bound<'_, PyAny>, err: PyErr) -> PyResult<()> {
    if !fut.call_method0(intern!(fut.py(), "done"))?.is_truthy()? {
        fut.call_method1(
            intern!(fut.py(), "set_exception"),
            (err.into_value(fut.py()),),
        )?;
    }
    Ok(())
}

fn decoded<'py>(py: Python<'py>, raw: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match std::str::from_utf8(raw) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        Err(_) => PyBytes::new(py, raw).call_method1("decode", ("utf-8", "surrogateescape")),
    }
}

/// `(minor version, status, reason, [(name, value), ...])`.
fn head_tuple<'py>(py: Python<'py>, head: ResponseHead) -> PyResult<Bound<'py, PyAny>> {
    let headers = PyList::empty(py);
    for (name, value) in &head.headers {
        headers.append((PyString::new(py, name), decoded(py, value)?))?;
    }
    Ok((head.version, head.status, head.reason, headers)
        .into_pyobject(py)?
        .into_any())
}

fn failure_err(py: Python<'_>, failure: Option<&Failure>) -> PyErr {
    match failure {
        Some(Failure::Http(e)) => to_pyerr(e),
        Some(Failure::Os(exc)) => PyErr::from_value(exc.bind(py).clone()),
        Some(Failure::Disconnected) | None => HttpDisconnected::new_err("Server disconnected"),
    }
}

impl PyHttpConnection {
    /// Runs what the state machine asked for, with the lock released: a future's
    /// callbacks only get scheduled, but a transport may call this protocol back.
    fn run(&self, py: Python<'_>, actions: Vec<Action>) -> PyResult<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let transport = self
            .state
            .lock()
            .transport
            .as_ref()
            .map(|t| t.clone_ref(py));
        for action in actions {
            match action {
                Action::Head(fut, head) => set_result(fut.bind(py), head_tuple(py, head)?)?,
                Action::Wake(fut) => set_result(fut.bind(py), py.None().into_bound(py))?,
                Action::Collected(fut, body) => {
                    set_result(fut.bind(py), PyBytes::new(py, &body).into_any())?
                }
                Action::Fail(fut) => {
                    let err = failure_err(py, self.state.lock().failure.as_ref());
                    set_exception(fut.bind(py), err)?
                }
                Action::PauseReading | Action::ResumeReading => {
                    let name = match action {
                        Action::PauseReading => intern!(py, "pause_reading"),
                        _ => intern!(py, "resume_reading"),
                    };
                    if let Some(t) = &transport {
                        t.call_method0(py, name)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn new_future(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let event_loop = self
            .event_loop
            .as_ref()
            .ok_or_else(|| HttpDisconnected::new_err("Connection closed"))?;
        event_loop.call_method0(py, intern!(py, "create_future"))
    }

    fn raise_failure(&self, py: Python<'_>, state: &State) -> PyResult<()> {
        match &state.failure {
            Some(f) => Err(failure_err(py, Some(f))),
            None => Ok(()),
        }
    }
}

#[pymethods]
impl PyHttpConnection {
    #[new]
    #[pyo3(signature = (event_loop, *, max_line_size=8190, max_field_size=8190, max_headers=128, read_bufsize=262144))]
    fn new(
        event_loop: Py<PyAny>,
        max_line_size: usize,
        max_field_size: usize,
        max_headers: usize,
        read_bufsize: usize,
    ) -> Self {
        let limits = Limits {
            max_line_size,
            max_field_size,
            max_headers,
        };
        Self {
            event_loop: Some(event_loop),
            state: Mutex::new(State::new(limits, read_bufsize.max(1))),
        }
    }

    fn connection_made(&self, transport: Py<PyAny>) {
        self.state.lock().transport = Some(transport);
    }

    fn data_received(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let mut actions = Vec::new();
        self.state.lock().data_received(data, &mut actions);
        self.run(py, actions)
    }

    /// `False`: the transport closes itself; a client has nothing to send after EOF.
    fn eof_received(&self, py: Python<'_>) -> PyResult<bool> {
        self.connection_lost(py, None)?;
        Ok(false)
    }

    #[pyo3(signature = (exc=None))]
    fn connection_lost(&self, py: Python<'_>, exc: Option<Py<PyAny>>) -> PyResult<()> {
        let mut actions = Vec::new();
        let transport = {
            let mut state = self.state.lock();
            let transport = state.transport.take();
            state.lost(exc, &mut actions);
            transport
        };
        self.run(py, actions)?;
        drop(transport);
        Ok(())
    }

    fn pause_writing(&self) {
        self.state.lock().writing_paused = true;
    }

    fn resume_writing(&self, py: Python<'_>) -> PyResult<()> {
        let waiter = {
            let mut state = self.state.lock();
            state.writing_paused = false;
            state.drain_waiter.take()
        };
        let actions = waiter.map(Action::Wake).into_iter().collect();
        self.run(py, actions)
    }

    /// Arms the parser for the response to the request about to be sent; the returned
    /// future gets the response head.
    /// `max_decompress_size`: most bytes a compressed body may decode to (`None`: no limit).
    /// `limits`: this response's `(max_line_size, max_field_size, max_headers,
    /// read_bufsize)`, kept for the responses after it (a request may set its own).
    #[pyo3(signature = (is_head=false, decompress=true, max_decompress_size=None, limits=None))]
    fn expect(
        &self,
        py: Python<'_>,
        is_head: bool,
        decompress: bool,
        max_decompress_size: Option<u64>,
        limits: Option<(usize, usize, usize, usize)>,
    ) -> PyResult<Py<PyAny>> {
        let waiter = self.new_future(py)?;
        let mut actions = Vec::new();
        {
            let mut state = self.state.lock();
            if state.lost {
                return Err(HttpDisconnected::new_err("Server disconnected"));
            }
            if let Some((max_line_size, max_field_size, max_headers, read_bufsize)) = limits {
                state.limits = Limits {
                    max_line_size,
                    max_field_size,
                    max_headers,
                };
                state.high_water = read_bufsize.max(1);
            }
            state.expect(
                waiter.clone_ref(py),
                is_head,
                decompress,
                max_decompress_size.unwrap_or(u64::MAX),
            );
            if !state.input.is_empty() {
                state.data_received(b"", &mut actions);
            }
        }
        self.run(py, actions)?;
        Ok(waiter)
    }

    /// A future resolved by a `100 Continue`, or at once if the response head (or an
    /// error) came first: the caller then sends the body of an `Expect: 100-continue`.
    fn wait_continue(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let waiter = self.new_future(py)?;
        let waiting = {
            let mut state = self.state.lock();
            let waiting = matches!(state.phase, Phase::Head { .. }) && !state.lost;
            if waiting {
                state.continue_waiter = Some(waiter.clone_ref(py));
            }
            waiting
        };
        if !waiting {
            self.run(py, vec![Action::Wake(waiter.clone_ref(py))])?;
        }
        Ok(waiter)
    }

    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let transport = self
            .state
            .lock()
            .transport
            .as_ref()
            .map(|t| t.clone_ref(py));
        match transport {
            Some(t) => t.call_method1(py, intern!(py, "write"), (data,)).map(drop),
            None => Err(HttpDisconnected::new_err("Server disconnected")),
        }
    }

    /// A future resolved when the transport takes writes again, or `None` if it does.
    fn drain(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut state = self.state.lock();
        if state.lost {
            return Err(HttpDisconnected::new_err("Server disconnected"));
        }
        if !state.writing_paused {
            return Ok(None);
        }
        drop(state);
        let waiter = self.new_future(py)?;
        state = self.state.lock();
        state.drain_waiter = Some(waiter.clone_ref(py));
        Ok(Some(waiter))
    }

    /// Up to `n` buffered body bytes (all of them for `n < 0`); `b""` if none.
    #[pyo3(signature = (n=-1))]
    fn take<'py>(&self, py: Python<'py>, n: isize) -> PyResult<Bound<'py, PyBytes>> {
        let mut actions = Vec::new();
        let data = {
            let mut state = self.state.lock();
            self.raise_failure(py, &state)?;
            let data = state.take(usize::try_from(n).unwrap_or(usize::MAX));
            state.resume_if_drained(&mut actions);
            data
        };
        self.run(py, actions)?;
        Ok(PyBytes::new(py, &data))
    }

    /// `(data, end_of_chunk)`: buffered bytes up to the next chunk end of a chunked body.
    fn take_chunk<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, bool)> {
        let mut actions = Vec::new();
        let (data, end) = {
            let mut state = self.state.lock();
            self.raise_failure(py, &state)?;
            let chunk = state.take_chunk();
            state.resume_if_drained(&mut actions);
            chunk
        };
        self.run(py, actions)?;
        Ok((PyBytes::new(py, &data), end))
    }

    /// The next buffered line with its `\n`, or `None` if no whole line is buffered.
    fn take_line<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let state = self.state.lock();
        self.raise_failure(py, &state)?;
        let end = state.line_end();
        drop(state);
        end.map(|n| self.take(py, n as isize)).transpose()
    }

    /// The whole rest of the body if it has all arrived, else `None`.
    fn take_all<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let state = self.state.lock();
        self.raise_failure(py, &state)?;
        let done = state.body_done;
        drop(state);
        done.then(|| self.take(py, -1)).transpose()
    }

    /// A future resolved by the next body bytes or the body's end (`None`), or with the
    /// whole rest of the body at its end when `collect_all`.
    #[pyo3(signature = (collect_all=false))]
    fn wait(&self, py: Python<'_>, collect_all: bool) -> PyResult<Py<PyAny>> {
        let waiter = self.new_future(py)?;
        let mut actions = Vec::new();
        self.state
            .lock()
            .wait(waiter.clone_ref(py), collect_all, &mut actions);
        self.run(py, actions)?;
        Ok(waiter)
    }

    #[getter]
    fn buffered(&self) -> usize {
        self.state.lock().buffered()
    }

    #[getter]
    fn body_done(&self) -> bool {
        self.state.lock().body_done
    }

    /// Idle, alive, its last response read to the end, and the server keeps it open.
    #[getter]
    fn reusable(&self) -> bool {
        self.state.lock().reusable()
    }

    #[getter]
    fn lost(&self) -> bool {
        self.state.lock().lost
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let transport = self
            .state
            .lock()
            .transport
            .as_ref()
            .map(|t| t.clone_ref(py));
        if let Some(t) = transport {
            t.call_method0(py, intern!(py, "close"))?;
        }
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(l) = &self.event_loop {
            visit.call(l)?;
        }
        let Some(state) = self.state.try_lock() else {
            return Ok(());
        };
        let failure = match &state.failure {
            Some(Failure::Os(exc)) => Some(exc),
            _ => None,
        };
        for obj in [
            &state.transport,
            &state.head_waiter,
            &state.data_waiter,
            &state.drain_waiter,
        ]
        .into_iter()
        .flatten()
        .chain(failure)
        {
            visit.call(obj)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.event_loop = None;
        let state = self.state.get_mut();
        state.transport = None;
        state.head_waiter = None;
        state.data_waiter = None;
        state.drain_waiter = None;
        state.continue_waiter = None;
        state.failure = None;
    }
}
