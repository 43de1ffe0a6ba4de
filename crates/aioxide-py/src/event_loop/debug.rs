//! What the loop publishes for the blocking watchdog and for `loop.metrics()`.
//!
//! Metrics cost two clock reads per real poller wait (which is a system call anyway)
//! and are always on. The watchdog's per-callback state (a progress counter and the
//! address of the running handle: two plain stores, the loop thread being the only
//! writer) is only written while a watchdog is attached (`_set_watch(True)`); the
//! watchdog thread times the progress itself, so the loop reads no clock per callback.
//! Detached, the run loop pays one relaxed atomic load per iteration.
//!
//! The watchdog thread samples these atomics through a `LoopProbe` with the GIL
//! released, so a healthy loop never hands the GIL to it; it takes the GIL only once it
//! has found a stall, to capture the blocked thread's Python stack. The probe holds the
//! state weakly and not the loop: a probed loop dropped unclosed is still freed (and
//! warns), and the probe's waits then end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use aioxide_core::{Clock, MonotonicClock};
use pyo3::prelude::*;

use pyo3::types::PyDict;

use super::handle::PyHandle;
use super::PyLoopCore;

fn store_f64(cell: &AtomicU64, value: f64) {
    cell.store(value.to_bits(), Ordering::Relaxed);
}

/// A sampling pause: `tick` seconds, kept within 1 ms..1 s (NaN and infinities included,
/// which `Duration::from_secs_f64` would panic on).
fn pause_of(tick: f64) -> std::time::Duration {
    let tick = if tick.is_finite() {
        tick.clamp(0.001, 1.0)
    } else {
        0.05
    };
    std::time::Duration::from_secs_f64(tick)
}

fn load_f64(cell: &AtomicU64) -> f64 {
    f64::from_bits(cell.load(Ordering::Relaxed))
}

fn max_f64(cell: &AtomicU64, value: f64) {
    // Non-negative f64 values order like their bit patterns.
    cell.fetch_max(value.to_bits(), Ordering::Relaxed);
}

#[derive(Default)]
pub struct ProbeState {
    /// A watchdog is attached: publish per-callback progress.
    pub enabled: AtomicBool,
    /// Copies of the loop's own flags, for the probe: running, and closed.
    pub running: AtomicBool,
    pub closed: AtomicBool,
    /// The loop is running callbacks (not waiting in the poller).
    pub busy: AtomicBool,
    /// Callbacks started while probed.
    pub progress: AtomicU64,
    /// The running callback's handle, while probed (see `ffi::PublishedHandle` for
    /// when the watchdog may read it).
    pub current: crate::ffi::PublishedHandle,
    // Metrics, always on.
    /// Start of the current run (0 when not running).
    pub started: AtomicU64,
    /// Running time of the runs that ended.
    pub ran: AtomicU64,
    pub waiting: AtomicU64,
    pub last_poll_end: AtomicU64,
    pub longest_stall: AtomicU64,
    pub lag: AtomicU64,
}

impl ProbeState {
    pub fn now() -> f64 {
        MonotonicClock.now()
    }

    /// Before a poller wait: the time since the last wait ended was a stall.
    pub fn before_poll(&self) -> f64 {
        let now = Self::now();
        let last = load_f64(&self.last_poll_end);
        if last > 0.0 {
            max_f64(&self.longest_stall, now - last);
        }
        self.busy.store(false, Ordering::Relaxed);
        now
    }

    /// After a poller wait; returns how long it took.
    pub fn after_poll(&self, started: f64) -> f64 {
        let now = Self::now();
        let waited = now - started;
        store_f64(&self.waiting, load_f64(&self.waiting) + waited);
        store_f64(&self.last_poll_end, now);
        self.busy.store(true, Ordering::Relaxed);
        waited
    }

    /// The earliest timer queued in this iteration runs `lag` seconds after its deadline.
    pub fn timer_lag(&self, lag: f64) {
        store_f64(&self.lag, lag.max(0.0));
    }

    pub fn callback_starts(&self, handle: &Bound<'_, PyHandle>) {
        self.current.publish(handle.as_any());
        // Single writer: a plain increment, published with Release for the watchdog.
        let next = self.progress.load(Ordering::Relaxed) + 1;
        self.progress.store(next, Ordering::Release);
    }
}

/// A slow callback is named by its task when it is a task's step, as asyncio does.
fn describe_handle<'py>(handle: &Bound<'py, PyHandle>) -> PyResult<Bound<'py, PyAny>> {
    let py = handle.py();
    if let Some(callback) = handle.get()._callback(py) {
        if let Ok(owner) = callback.bind(py).getattr(pyo3::intern!(py, "__self__")) {
            let task = py
                .import("asyncio.tasks")?
                .getattr(pyo3::intern!(py, "Task"))?;
            if owner.is_instance(&task)? {
                return Ok(owner.repr()?.into_any());
            }
        }
    }
    Ok(handle.str()?.into_any())
}

impl PyLoopCore {
    /// Debug mode: run one handle as `_current_handle`, and warn on asyncio's logger
    /// when it held the loop for `slow_callback_duration` or longer.
    pub(crate) fn run_handle_debug(
        slf: &Bound<'_, Self>,
        handle: &Bound<'_, PyHandle>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let set_current = |h: Option<Py<PyAny>>| {
            let old = std::mem::replace(&mut *this.current_handle.borrow_mut(py), h);
            drop(old); // after the borrow
        };
        set_current(Some(handle.clone().into_any().unbind()));
        let start = this.clock.borrow_mut(py).now();
        let result = PyHandle::run(handle);
        let took = this.clock.borrow_mut(py).now() - start;
        set_current(None);
        result?;
        let slow = slf.getattr(pyo3::intern!(py, "slow_callback_duration"))?;
        if took >= slow.extract::<f64>()? {
            // Read at call time, as asyncio does: tests patch `base_events.logger`.
            let module = crate::stdlib::base_events(py)?;
            let logger = module.getattr(pyo3::intern!(py, "logger"))?;
            logger.call_method1(
                pyo3::intern!(py, "warning"),
                (
                    "Executing %s took %.3f seconds",
                    describe_handle(handle)?,
                    took,
                ),
            )?;
        }
        Ok(())
    }
}

#[pymethods]
impl PyLoopCore {
    /// asyncio's `_current_handle`: the handle running now, in debug mode.
    #[getter(_current_handle)]
    fn current_handle_attr(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.current_handle
            .borrow_mut(py)
            .as_ref()
            .map(|h| h.clone_ref(py))
    }

    /// A probe on this loop for a watchdog thread (it does not keep the loop alive).
    fn _probe(&self) -> PyLoopProbe {
        PyLoopProbe {
            state: Arc::downgrade(&self.probe),
        }
    }

    /// The handle of the callback running now, if it is still the one that made
    /// progress count `progress` (probed loops only).
    #[pyo3(signature = (progress = None))]
    fn _probe_current(&self, py: Python<'_>, progress: Option<u64>) -> Option<Py<PyAny>> {
        let st = &self.probe;
        let busy = st.running.load(Ordering::Relaxed) && st.busy.load(Ordering::Relaxed);
        let now_progress = st.progress.load(Ordering::Acquire);
        if !busy || !st.enabled.load(Ordering::Relaxed) || now_progress == 0 {
            return None;
        }
        if progress.is_some_and(|p| p != now_progress) {
            return None;
        }
        st.current.get(py)
    }

    /// Raw loop metrics (see `aioxide.debug.metrics`).
    fn _metrics(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let st = &self.probe;
        let started = load_f64(&st.started);
        let now = ProbeState::now();
        let current = if started > 0.0 { now - started } else { 0.0 };
        let elapsed = load_f64(&st.ran) + current;
        let waiting = load_f64(&st.waiting);
        let (ready, timers) = {
            let s = self.state.borrow_mut(py);
            (s.sched.ready_len(), s.sched.timers.len())
        };
        let d = PyDict::new(py);
        d.set_item("iterations", self.iterations.load(Ordering::Relaxed))?;
        d.set_item("callbacks", self.callbacks_run.load(Ordering::Relaxed))?;
        d.set_item("running_time", elapsed)?;
        d.set_item("waiting_time", waiting)?;
        d.set_item("busy_time", (elapsed - waiting).max(0.0))?;
        d.set_item("longest_stall", load_f64(&st.longest_stall))?;
        d.set_item("lag", load_f64(&st.lag))?;
        d.set_item("ready", ready)?;
        d.set_item("timers", timers)?;
        Ok(d.into_any().unbind())
    }

    /// A run starts: running time and the stall window start now.
    fn _metrics_start(&self) {
        let now = ProbeState::now();
        store_f64(&self.probe.started, now);
        store_f64(&self.probe.last_poll_end, now);
    }

    /// A run ends: close the stall window and add the run to the running time.
    fn _metrics_stop(&self) {
        let st = &self.probe;
        let now = ProbeState::now();
        let started = load_f64(&st.started);
        if started > 0.0 {
            store_f64(&st.ran, load_f64(&st.ran) + (now - started));
            max_f64(&st.longest_stall, now - load_f64(&st.last_poll_end));
            store_f64(&st.started, 0.0);
        }
        st.busy.store(false, Ordering::Relaxed);
    }
}

/// What a watchdog thread reads of one loop, the loop itself not included.
#[pyclass(name = "LoopProbe", module = "aioxide._aioxide", frozen)]
pub struct PyLoopProbe {
    state: Weak<ProbeState>,
}

impl PyLoopProbe {
    /// The state while the loop lives, is open and is probed.
    fn probed(&self) -> Option<Arc<ProbeState>> {
        let st = self.state.upgrade()?;
        let on = st.enabled.load(Ordering::Relaxed) && !st.closed.load(Ordering::Relaxed);
        on.then_some(st)
    }
}

#[pymethods]
impl PyLoopProbe {
    /// Turn the loop's per-callback bookkeeping on (a watchdog attaches) or off.
    fn attach(&self, enabled: bool) {
        if let Some(st) = self.state.upgrade() {
            st.enabled.store(enabled, Ordering::Relaxed);
        }
    }

    /// Wait, with the GIL released, until one callback has kept the loop busy for
    /// `threshold` seconds; returns `(progress, since)` (since: when that callback was
    /// first seen running, at most one `tick` late), or `None` once the probe is turned
    /// off or the loop is closed or gone.
    fn wait_for_stall(&self, py: Python<'_>, threshold: f64, tick: f64) -> Option<(u64, f64)> {
        let pause = pause_of(tick);
        py.detach(|| {
            let mut seen: Option<(bool, u64)> = None;
            let mut since = 0.0;
            loop {
                std::thread::sleep(pause);
                let st = self.probed()?;
                let busy = st.running.load(Ordering::Relaxed) && st.busy.load(Ordering::Relaxed);
                let state = (busy, st.progress.load(Ordering::Acquire));
                let now = ProbeState::now();
                if seen != Some(state) {
                    seen = Some(state);
                    since = now - tick;
                } else if busy && now - since >= threshold {
                    return Some((state.1, since));
                }
            }
        })
    }

    /// Wait (GIL released) until the loop moves past the callback that made progress
    /// count `progress`, goes idle, or the probe ends; returns when.
    fn wait_until_moved(&self, py: Python<'_>, progress: u64, tick: f64) -> f64 {
        let pause = pause_of(tick);
        py.detach(|| loop {
            let Some(st) = self.probed() else {
                return ProbeState::now();
            };
            let busy = st.running.load(Ordering::Relaxed) && st.busy.load(Ordering::Relaxed);
            if !busy || st.progress.load(Ordering::Acquire) != progress {
                return ProbeState::now();
            }
            drop(st);
            std::thread::sleep(pause);
        })
    }
}
