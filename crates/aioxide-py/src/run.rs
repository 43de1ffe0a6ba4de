//! One loop iteration (`_run_once`) and the loop that repeats it until `stop()`.
//!
//! The order is asyncio's: compute the poll timeout (zero when callbacks are ready), wait
//! for I/O with the GIL released, queue the callbacks of ready descriptors, queue the due
//! timers, then run exactly the callbacks that were ready at that point.

use std::io::ErrorKind;
use std::sync::atomic::Ordering;

use aioxide_core::{Cancellable, Readiness};
use pyo3::prelude::*;

use crate::errors;
use crate::handle::{HandleRef, PyHandle};
use crate::loop_core::PyLoopCore;

impl PyLoopCore {
    /// Queue the reader and writer callbacks of descriptors the poller reported; drop the
    /// registration of a watcher whose handle was cancelled (asyncio's `_process_events`).
    fn dispatch_io(&self, py: Python<'_>, ready: &[Readiness]) -> PyResult<()> {
        let reactor = self.reactor()?;
        let mut st = self.state.lock();
        for r in ready {
            let mut interest = reactor.interest(r.fd);
            let before = interest;
            if r.readable {
                if let Some(h) = st.readers.get(&r.fd) {
                    if h.get().is_cancelled() {
                        interest.read = false;
                    } else {
                        let h = HandleRef(h.clone_ref(py));
                        st.sched.push_ready(h);
                    }
                }
            }
            if r.writable {
                if let Some(h) = st.writers.get(&r.fd) {
                    if h.get().is_cancelled() {
                        interest.write = false;
                    } else {
                        let h = HandleRef(h.clone_ref(py));
                        st.sched.push_ready(h);
                    }
                }
            }
            if interest != before {
                reactor.set_interest(r.fd, interest).map_err(errors::os_error)?;
                // The cancelled handles stay in the maps until replaced or removed, which
                // keeps every drop of a Python object outside this lock.
            }
        }
        Ok(())
    }

    /// One iteration. Returns an error only for exceptions that must stop the loop
    /// (`SystemExit`, `KeyboardInterrupt`, a failing poller).
    pub fn run_once(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let reactor = this.reactor()?;
        this.iterations.fetch_add(1, Ordering::Relaxed);

        let mut dropped: Vec<HandleRef> = Vec::new();
        let (now, resolution, manual) = {
            let clock = this.clock.read();
            (clock.now(), clock.resolution(), clock.is_manual())
        };
        let timeout = {
            let mut st = this.state.lock();
            let stopping = st.stopping;
            let t = st.sched.poll_timeout(now, stopping, &mut dropped);
            if manual {
                Some(0.0)
            } else {
                t
            }
        };
        drop(dropped);

        // With callbacks ready and no descriptor watched there is nothing a zero-timeout
        // poll could report: cross-thread wakeups only matter to a sleeping loop, and
        // their callbacks are already in the ready queue.
        let mut io_ready: Vec<Readiness> = Vec::new();
        if timeout != Some(0.0) || reactor.watched() > 0 {
            let mut events = this.events.lock();
            let events = &mut *events;
            let res = py.allow_threads(|| reactor.wait(events, timeout, &mut io_ready));
            match res {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => py.check_signals()?,
                Err(e) => return Err(errors::os_error(e)),
            }
        }
        if !io_ready.is_empty() {
            this.dispatch_io(py, &io_ready)?;
        }

        let mut dropped: Vec<HandleRef> = Vec::new();
        let mut batch = {
            let mut st = this.state.lock();
            let end_time = this.clock.read().now() + resolution;
            st.sched.collect_due(end_time, &mut dropped);
            let spare = std::mem::take(&mut st.spare);
            st.sched.take_batch(spare)
        };
        drop(dropped);

        let mut ran = 0u64;
        while let Some(handle) = batch.pop_front() {
            if handle.is_cancelled() {
                continue;
            }
            ran += 1;
            if let Err(err) = PyHandle::run(handle.0.bind(py)) {
                this.callbacks_run.fetch_add(ran, Ordering::Relaxed);
                this.state.lock().sched.restore_unrun(batch);
                return Err(err);
            }
        }
        this.callbacks_run.fetch_add(ran, Ordering::Relaxed);
        this.state.lock().spare = batch;
        Ok(())
    }
}

#[pymethods]
impl PyLoopCore {
    /// One iteration of the loop (asyncio's `_run_once`).
    fn _run_once(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::run_once(slf)
    }

    /// Iterate until `stop()` is called; the Python `run_forever` wraps this with the
    /// running-loop bookkeeping.
    fn _run_until_stopped(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        loop {
            Self::run_once(slf)?;
            let hook = slf.get().iteration_hook.lock().as_ref().map(|h| h.clone_ref(py));
            if let Some(hook) = hook {
                hook.call0(py)?;
            }
            let mut st = slf.get().state.lock();
            if st.stopping {
                st.stopping = false;
                return Ok(());
            }
        }
    }
}
