//! `LoopCore`: the native half of `aioxide.Loop` (its state, lifecycle and flags).
//!
//! The Python class `aioxide.Loop` derives from this and from
//! `asyncio.AbstractEventLoop`. One file per asyncio API area adds its methods to this
//! type: scheduling (`scheduling.rs`), the iteration (`run.rs`), descriptor watching
//! (`watchers.rs`), descriptors owned by transports (`fd_owners.rs`), futures and tasks
//! (`tasks.rs`, `task_factory.rs`), debug mode and the watchdog's probe (`debug.rs`);
//! `state.rs` holds the data types they share. The fields are private to this folder:
//! code outside it goes through methods.
//!
//! Locking: every method runs with the GIL held except the poller wait. `state` is held
//! only for queue operations and never while Python code runs or a Python object is
//! dropped (dropping can run `__del__`, which can call back into the loop).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;

use aioxide_core::sys::Events;
use aioxide_core::{ManualClock, MonotonicClock, Reactor, Scheduler};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::{PyTraverseError, PyVisit};

use crate::errors;
use handle::{HandleRef, PyHandle};

pub(crate) mod debug;
mod fd_owners;
pub(crate) mod handle;
pub(crate) mod handle_args;
mod run;
pub(crate) mod scheduling;
pub(crate) mod state;
pub(crate) mod task_factory;
mod tasks;
pub(crate) mod watchers;

use state::{LoopClock, LoopState, Parked, Watch};

/// How many readiness reports one poller wait can return.
const EVENTS_CAPACITY: usize = 1024;

#[pyclass(name = "LoopCore", module = "aioxide._aioxide", frozen, subclass)]
pub struct PyLoopCore {
    state: crate::ffi::GilCell<LoopState>,
    /// `None` once the loop is closed; cloned out for each wait so close never blocks.
    reactor: Mutex<Option<Arc<Reactor>>>,
    /// The poller's event buffer and the readiness list made from it; only the loop
    /// thread touches them, inside `run_once`.
    events: Mutex<(Events, Vec<aioxide_core::Readiness>)>,
    clock: crate::ffi::GilCell<LoopClock>,
    /// Called after every iteration when set (test clocks, metrics).
    iteration_hook: Mutex<Option<Py<PyAny>>>,
    /// `clock` is manual (read every iteration without taking the clock's lock).
    manual_clock: AtomicBool,
    closed: AtomicBool,
    /// Descriptors owned by transports: fd -> weak reference (see `fd_owners.rs`).
    fd_owners: crate::ffi::GilCell<
        std::collections::HashMap<std::os::fd::RawFd, Py<pyo3::types::PyWeakrefReference>>,
    >,
    /// `stop()` was called: leave `run_forever` after the current iteration.
    stopping: AtomicBool,
    running: AtomicBool,
    debug: AtomicBool,
    thread: Mutex<Option<ThreadId>>,
    iterations: AtomicU64,
    /// Watchdog probe and metrics state (see `debug.rs`).
    probe: Arc<debug::ProbeState>,
    /// Events were waiting at the last poll: try the next one without releasing the GIL
    /// (see `run.rs`).
    poll_hot: AtomicBool,
    callbacks_run: AtomicU64,
    /// `{"loop": self}`, the keywords of every `Future(loop=...)`/`Task(coro, loop=...)`
    /// this loop makes (see `tasks.rs`). Neither type has vectorcall on 3.11, so passing
    /// keywords any other way builds and frees a dict per call. Held only while the
    /// loop runs.
    loop_kwargs: crate::ffi::GilCell<Option<Py<PyDict>>>,
    /// `set_task_factory`'s factory (see `task_factory.rs`).
    task_factory: crate::ffi::GilCell<Option<Py<PyAny>>>,
    /// Debug mode: the handle running now (asyncio's `_current_handle`).
    current_handle: crate::ffi::GilCell<Option<Py<PyAny>>>,
}

impl PyLoopCore {
    /// Whether `stop()` was called since the last check, clearing the request. With a GIL,
    /// a load and a store only when set (a swap would be a locked instruction on every
    /// iteration), as no `stop()` can come between them; without one, a swap.
    pub fn take_stop_request(&self) -> bool {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            let set = self.stopping.load(Ordering::Relaxed);
            if set {
                self.stopping.store(false, Ordering::Relaxed);
            }
            set
        }
        #[cfg(Py_GIL_DISABLED)]
        return self.stopping.swap(false, Ordering::AcqRel);
    }
}

impl PyLoopCore {
    /// asyncio's debug mode is on.
    pub(crate) fn debug_enabled(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }

    /// Keep an emptied handle for `call_soon` to fill again, up to `limit` of them; the
    /// handle comes back when there is no room.
    pub(crate) fn keep_for_reuse(
        &self,
        py: Python<'_>,
        handle: Py<PyHandle>,
        limit: usize,
    ) -> Option<Py<PyHandle>> {
        let mut st = self.state.borrow_mut(py);
        if st.reusable.len() < limit {
            st.reusable.push(handle);
            return None;
        }
        Some(handle)
    }

    /// Whether the timer `(when, seq)` has moved from the heap to the ready queue (see
    /// `DueMark`); false while the state is borrowed (inside a queue operation).
    pub(crate) fn timer_moved(&self, py: Python<'_>, when: f64, seq: u64) -> bool {
        self.state
            .try_borrow_mut(py)
            .is_some_and(|st| st.sched.due_mark().moved(when, seq))
    }

    pub fn check_closed(&self) -> PyResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            Err(errors::loop_closed())
        } else {
            Ok(())
        }
    }

    /// In debug mode, refuse non-thread-safe calls from a thread other than the loop's.
    #[inline]
    pub fn check_thread(&self) -> PyResult<()> {
        if !self.debug.load(Ordering::Relaxed) {
            return Ok(());
        }
        match *self.thread.lock() {
            Some(id) if id != std::thread::current().id() => Err(errors::wrong_thread()),
            _ => Ok(()),
        }
    }

    pub fn reactor(&self) -> PyResult<Arc<Reactor>> {
        self.reactor.lock().clone().ok_or_else(errors::loop_closed)
    }

    pub fn timer_cancelled(&self, py: Python<'_>) {
        self.state.borrow_mut(py).sched.timers.note_cancelled();
    }

    /// Drop every Python object the loop holds (queued handles, timers, watchers, parked
    /// sockets, the iteration hook, the `{"loop": self}` cache), each after its borrow
    /// or lock ends: `close()` and the garbage collector's `__clear__`.
    fn release_python_refs(&self, py: Python<'_>) {
        let handles = self.take_everything(py);
        drop(handles);
        let parked = std::mem::take(&mut self.state.borrow_mut(py).parked);
        drop(parked);
        let hook = self.iteration_hook.lock().take();
        drop(hook);
        let kwargs = self.loop_kwargs.borrow_mut(py).take();
        drop(kwargs);
    }

    /// Remove every queued handle, timer and watcher; returns what they held so the
    /// caller drops it after the borrow ends.
    fn take_everything(&self, py: Python<'_>) -> (Vec<HandleRef>, Vec<Py<PyAny>>) {
        let mut guard = self.state.borrow_mut(py);
        let st = &mut *guard;
        let queued = st.sched.drain();
        let mut watched: Vec<Py<PyAny>> = st.reusable.drain(..).map(Py::into_any).collect();
        for (_, w) in st.readers.drain().chain(st.writers.drain()) {
            watched.push(w.handle.into_any());
            watched.extend(w.fileobj);
        }
        (queued, watched)
    }
}

#[pymethods]
impl PyLoopCore {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        _args: &Bound<'_, pyo3::types::PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Self> {
        let reactor = Reactor::new().map_err(errors::os_error)?;
        Ok(PyLoopCore {
            state: crate::ffi::GilCell::new(LoopState {
                sched: Scheduler::default(),
                readers: HashMap::new(),
                writers: HashMap::new(),
                spare: VecDeque::new(),
                parked: Vec::new(),
                reusable: Vec::new(),
            }),
            reactor: Mutex::new(Some(Arc::new(reactor))),
            events: Mutex::new((Events::with_capacity(EVENTS_CAPACITY), Vec::new())),
            clock: crate::ffi::GilCell::new(LoopClock::Monotonic(MonotonicClock)),
            iteration_hook: Mutex::new(None),
            manual_clock: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            fd_owners: crate::ffi::GilCell::new(std::collections::HashMap::new()),
            stopping: AtomicBool::new(false),
            running: AtomicBool::new(false),
            debug: AtomicBool::new(false),
            thread: Mutex::new(None),
            iterations: AtomicU64::new(0),
            probe: Arc::default(),
            poll_hot: AtomicBool::new(false),
            callbacks_run: AtomicU64::new(0),
            loop_kwargs: crate::ffi::GilCell::new(None),
            task_factory: crate::ffi::GilCell::new(None),
            current_handle: crate::ffi::GilCell::new(None),
        })
    }

    /// The loop's clock: `time.monotonic()`.
    fn time(&self, py: Python<'_>) -> f64 {
        self.clock.borrow_mut(py).now()
    }

    /// Switch to a manual clock starting at `start` (tests only: time then moves only
    /// through `_advance_clock`, and the poller never sleeps).
    fn _use_manual_clock(&self, py: Python<'_>, start: f64) {
        *self.clock.borrow_mut(py) = LoopClock::Manual(ManualClock::new(start));
        self.manual_clock.store(true, Ordering::Relaxed);
    }

    fn _advance_clock(&self, py: Python<'_>, seconds: f64) -> PyResult<()> {
        match &*self.clock.borrow_mut(py) {
            LoopClock::Manual(c) => {
                c.advance(seconds);
                Ok(())
            }
            LoopClock::Monotonic(_) => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the loop runs on the monotonic clock",
            )),
        }
    }

    /// Call `hook()` after every iteration (`None` removes it).
    fn _set_iteration_hook(&self, hook: Option<Py<PyAny>>) {
        let old = std::mem::replace(&mut *self.iteration_hook.lock(), hook);
        drop(old);
    }

    fn get_debug(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }

    fn _set_debug_flag(&self, enabled: bool) {
        self.debug.store(enabled, Ordering::Relaxed);
    }

    fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    fn _check_closed(&self) -> PyResult<()> {
        self.check_closed()
    }

    fn _check_thread(&self) -> PyResult<()> {
        self.check_thread()
    }

    /// Ask `run_forever` to return after the current iteration.
    fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// The pending stop request, under the attribute name asyncio's loops keep it in.
    #[getter]
    fn _stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Servers such as Sanic reset asyncio's `_stopping` to drop a stop request that
    /// came while the loop was not running; any value counts by its truth.
    #[setter(_stopping)]
    fn set_stopping(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.stopping.store(value.is_truthy()?, Ordering::Relaxed);
        Ok(())
    }

    /// Mark the loop running on the calling thread (`true`) or not running (`false`).
    fn _set_running(&self, py: Python<'_>, running: bool) {
        *self.thread.lock() = running.then(|| std::thread::current().id());
        self.running.store(running, Ordering::Relaxed);
        self.probe.running.store(running, Ordering::Relaxed);
        if !running {
            self.stopping.store(false, Ordering::Relaxed);
            // The cached `{"loop": self}` is a reference cycle: keep it only while running,
            // so a loop that is dropped unclosed is still freed (and warns) at once.
            let kwargs = self.loop_kwargs.borrow_mut(py).take();
            drop(kwargs);
        }
    }

    /// Close the native side: drop every pending callback and watcher, release the poller
    /// and waker descriptors. Idempotent.
    fn _close_core(&self, py: Python<'_>) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.probe.closed.store(true, Ordering::Relaxed);
        let reactor = self.reactor.lock().take();
        if let Some(reactor) = &reactor {
            reactor.clear();
        }
        self.release_python_refs(py);
        drop(reactor);
    }

    /// Counters for metrics and tests: (iterations, callbacks run, ready, timers,
    /// cancelled timers).
    fn _counters(&self, py: Python<'_>) -> (u64, u64, usize, usize, usize) {
        let st = self.state.borrow_mut(py);
        (
            self.iterations.load(Ordering::Relaxed),
            self.callbacks_run.load(Ordering::Relaxed),
            st.sched.ready_len(),
            st.sched.timers.len(),
            st.sched.timers.cancelled_count(),
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(st) = self.state.traverse_borrow(&visit) {
            for h in st.sched.iter() {
                h.traverse(&visit)?;
            }
            for w in st.readers.values().chain(st.writers.values()) {
                visit.call(&w.handle)?;
                if let Some(obj) = &w.fileobj {
                    visit.call(obj)?;
                }
            }
            for p in &st.parked {
                visit.call(&p.sock)?;
            }
        }
        if let Some(hook) = self.iteration_hook.try_lock() {
            if let Some(h) = &*hook {
                visit.call(h)?;
            }
        }
        if let Some(kwargs) = self.loop_kwargs.traverse_borrow(&visit) {
            if let Some(d) = &*kwargs {
                visit.call(d)?;
            }
        }
        for cell in [&self.task_factory, &self.current_handle] {
            if let Some(obj) = cell.traverse_borrow(&visit) {
                if let Some(o) = &*obj {
                    visit.call(o)?;
                }
            }
        }
        if let Some(owners) = self.fd_owners.traverse_borrow(&visit) {
            for weak in owners.values() {
                visit.call(weak)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        self.release_python_refs(py);
        let owners = std::mem::take(&mut *self.fd_owners.borrow_mut(py));
        drop(owners);
        let factory = self.task_factory.borrow_mut(py).take();
        drop(factory); // kept by close(), as asyncio keeps it
    }
}

#[pymethods]
impl PyLoopCore {
    /// Snapshot of the ready queue (asyncio's `_ready`), for introspection and tests.
    #[getter]
    fn _ready(&self, py: Python<'_>) -> Vec<Py<PyHandle>> {
        let st = self.state.borrow_mut(py);
        let mut out: Vec<Py<PyHandle>> = Vec::with_capacity(st.sched.ready_len());
        out.extend(st.sched.iter_ready().map(|h| h.handle().clone_ref(py)));
        out
    }

    /// Snapshot of the scheduled timers (asyncio's `_scheduled`), in no particular order.
    #[getter]
    fn _scheduled(&self, py: Python<'_>) -> Vec<Py<PyHandle>> {
        let st = self.state.borrow_mut(py);
        st.sched
            .timers
            .iter()
            .map(|h| h.handle().clone_ref(py))
            .collect()
    }
}
