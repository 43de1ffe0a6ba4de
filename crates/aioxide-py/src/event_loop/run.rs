//! One loop iteration (`_run_once`) and the loop that repeats it until `stop()`.
//!
//! The order is asyncio's: compute the poll timeout (zero when callbacks are ready), wait
//! for I/O with the GIL released, queue the callbacks of ready descriptors, queue the due
//! timers, then run exactly the callbacks that were ready at that point.
//!
//! This is the hottest code of the loop: with no timers the clock is not read, with
//! callbacks ready and no descriptor watched there is no system call at all. With a
//! descriptor watched every iteration polls, as asyncio's and uvloop's do: a descriptor
//! that is ready when an iteration starts has its callback in that iteration.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicU64, Ordering};

use aioxide_core::{Cancellable, Reactor, Readiness};
use pyo3::prelude::*;

use super::handle::{HandleRef, PyHandle};
use super::PyLoopCore;
use crate::errors;

/// A releasing wait that returned events within this many seconds did not sleep: the
/// events were already there (a wait that sleeps takes a thread wake-up, tens of µs).
const HOT_POLL_SECONDS: f64 = 10e-6;

/// Add to a counter only the loop thread writes (a plain store with a GIL, where no
/// other thread runs meanwhile; a locked add without one, as nothing then orders it).
fn bump(counter: &AtomicU64, by: u64) {
    #[cfg(not(Py_GIL_DISABLED))]
    counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
    #[cfg(Py_GIL_DISABLED)]
    counter.fetch_add(by, Ordering::Relaxed);
}

impl PyLoopCore {
    /// Queue the reader and writer callbacks of descriptors the poller reported; drop the
    /// registration of a watcher whose handle was cancelled (asyncio's `_process_events`).
    fn dispatch_io(&self, py: Python<'_>, reactor: &Reactor, ready: &[Readiness]) -> PyResult<()> {
        let mut st = self.state.borrow_mut(py);
        for r in ready {
            let (mut drop_read, mut drop_write) = (false, false);
            if r.readable {
                if let Some(h) = st.readers.get(&r.fd).map(|w| &w.handle) {
                    if h.get().is_cancelled() {
                        drop_read = true;
                    } else {
                        let h = HandleRef::tracked(h.clone_ref(py));
                        st.sched.push_ready(h);
                    }
                }
            }
            if r.writable {
                if let Some(h) = st.writers.get(&r.fd).map(|w| &w.handle) {
                    if h.get().is_cancelled() {
                        drop_write = true;
                    } else {
                        let h = HandleRef::tracked(h.clone_ref(py));
                        st.sched.push_ready(h);
                    }
                }
            }
            if drop_read || drop_write {
                // The cancelled handles stay in the maps until replaced or removed, which
                // keeps every drop of a Python object outside this borrow.
                let mut interest = reactor.interest(r.fd);
                interest.read &= !drop_read;
                interest.write &= !drop_write;
                reactor
                    .set_interest(r.fd, interest)
                    .map_err(errors::os_error)?;
            }
        }
        Ok(())
    }

    /// Wait for I/O (GIL released) and queue what became ready.
    ///
    /// Releasing and retaking the GIL costs two mutex round trips and a condition
    /// signal, dearer once the process has a second thread. When the last poll found
    /// events waiting, a busy loop (ping-pong, many connections) probably has more: look
    /// first without waiting, GIL held, and release it only if nothing is there. A loop
    /// that had to sleep goes straight to the releasing wait, so an idle-then-woken loop
    /// pays no extra system call.
    fn poll_io(&self, py: Python<'_>, reactor: &Reactor, timeout: Option<f64>) -> PyResult<()> {
        // The event and readiness buffers belong to the loop thread and are reused.
        let mut bufs = self.events.lock();
        let (events, io_ready) = &mut *bufs;
        io_ready.clear();
        let started = self.probe.before_poll();
        let mut found = false;
        let res = if timeout == Some(0.0) {
            // A zero-timeout wait never sleeps: keep the GIL.
            let res = reactor.wait(events, timeout, io_ready);
            found = !io_ready.is_empty();
            res
        } else {
            let mut res = Ok(false);
            if self.poll_hot.load(Ordering::Relaxed) {
                res = reactor.wait(events, Some(0.0), io_ready);
                found = !matches!(res, Ok(false)) || !io_ready.is_empty();
            }
            if !found {
                res = py.detach(|| reactor.wait(events, timeout, io_ready));
            }
            res
        };
        let waited = self.probe.after_poll(started);
        // "Found without sleeping": the releasing wait returned within a scheduler tick.
        let hot = found || (!io_ready.is_empty() && waited < HOT_POLL_SECONDS);
        self.poll_hot.store(hot, Ordering::Relaxed);
        match res {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => py.check_signals()?,
            Err(e) => return Err(errors::os_error(e)),
        }
        if !io_ready.is_empty() {
            self.dispatch_io(py, reactor, io_ready)?;
        }
        Ok(())
    }

    /// The callbacks this iteration runs: due timers joined to the ready queue, then the
    /// whole queue taken (callbacks they schedule wait for the next iteration).
    fn take_batch(&self, py: Python<'_>, st: &mut super::LoopState) -> VecDeque<HandleRef> {
        let due = st.sched.collect_due_with(|| {
            let clock = self.clock.borrow_mut(py);
            clock.now() + clock.resolution()
        });
        if let Some((end, when)) = due {
            self.probe.timer_lag(end - when);
        }
        let spare = std::mem::take(&mut st.spare);
        st.sched.take_batch(spare)
    }

    /// One iteration. Returns an error only for exceptions that must stop the loop
    /// (`SystemExit`, `KeyboardInterrupt`, a failing poller).
    pub fn run_once(slf: &Bound<'_, Self>, reactor: &Reactor) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        // Only the loop thread (holding the GIL) writes the counters: a plain load and
        // store, not a locked read-modify-write on every iteration.
        bump(&this.iterations, 1);
        let manual = this.manual_clock.load(Ordering::Relaxed);
        let stopping = this.stopping.load(Ordering::Relaxed);

        let mut dropped: Vec<HandleRef> = Vec::new();
        let mut st = this.state.borrow_mut(py);
        let timeout =
            st.sched
                .poll_timeout_with(|| this.clock.borrow_mut(py).now(), stopping, &mut dropped);
        // With callbacks ready and no descriptor watched, a zero-timeout poll could report
        // nothing: cross-thread wakeups only matter to a sleeping loop, and their callbacks
        // are already queued. Skip the system call. With a descriptor watched, poll on
        // every iteration (skipping every other one saved a system call per ping-pong
        // message but ran ready I/O an iteration after asyncio and uvloop do, which code
        // that counts on their order notices).
        let needs_poll = timeout != Some(0.0) || reactor.watched() > 0 || manual;
        let mut batch = if needs_poll {
            drop(st);
            drop(std::mem::take(&mut dropped));
            this.poll_io(py, reactor, if manual { Some(0.0) } else { timeout })?;
            let mut st = this.state.borrow_mut(py);
            this.take_batch(py, &mut st)
        } else {
            let batch = this.take_batch(py, &mut st);
            drop(st);
            batch
        };
        drop(dropped);

        let debug = this.debug.load(Ordering::Relaxed);
        let watched = this.probe.enabled.load(Ordering::Relaxed);
        if watched {
            // Busy from here until the next poller wait (which may be iterations away:
            // a loop with work ready and no descriptor watched does not poll).
            this.probe.busy.store(true, Ordering::Relaxed);
        }
        let mut ran = 0u64;
        while let Some(queued) = batch.pop_front() {
            // Handles and their contexts are cache misses when many timers fall due at
            // once: start loading the next ones while this callback runs.
            if let Some(after_next) = batch.get(1) {
                crate::ffi::prefetch(after_next.handle());
            }
            if let Some(next) = batch.front() {
                next.handle().get().prefetch_context(py);
            }
            // A due timer leaves the heap here, not when it was moved to the batch (see
            // `Timers::pop_due`).
            let was_scheduled = queued.handle().get().unschedule();
            if queued.is_cancelled() {
                if was_scheduled {
                    this.state.borrow_mut(py).sched.timers.forget_cancelled();
                }
                continue;
            }
            ran += 1;
            // `queued` is dropped at the end of the iteration (see `HandleRef`'s Drop).
            let handle = queued.handle().bind(py);
            if watched {
                this.probe.callback_starts(handle);
            }
            let result = if debug {
                Self::run_handle_debug(slf, handle)
            } else {
                PyHandle::run(handle)
            };

            if let Err(err) = result {
                drop(queued);
                bump(&this.callbacks_run, ran);
                this.state.borrow_mut(py).sched.restore_unrun(batch);
                return Err(err);
            }
            queued.recycle(py, this);
        }
        bump(&this.callbacks_run, ran);
        let parked = {
            let mut st = this.state.borrow_mut(py);
            if batch.capacity() > 0 {
                // Keep the emptied buffer for the next batch (saves an allocation).
                st.spare = batch;
            }
            // Taken only when not empty: an emptied list keeps its allocation.
            (!st.parked.is_empty()).then(|| std::mem::take(&mut st.parked))
        };
        // Watchers parked this iteration and not taken back: their registrations go now.
        if let Some(parked) = parked {
            reactor.flush();
            drop(parked);
        }
        Ok(())
    }
}

#[pymethods]
impl PyLoopCore {
    /// One iteration of the loop (asyncio's `_run_once`).
    fn _run_once(slf: &Bound<'_, Self>) -> PyResult<()> {
        let reactor = slf.get().reactor()?;
        Self::run_once(slf, &reactor)
    }

    /// Iterate until `stop()` is called; the Python `run_forever` wraps this with the
    /// running-loop bookkeeping. The iteration hook is read once, when the run starts.
    fn _run_until_stopped(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        // The loop cannot be closed while it runs, so one reference serves the whole run.
        let reactor = this.reactor()?;
        let hook = this.iteration_hook.lock().as_ref().map(|h| h.clone_ref(py));
        loop {
            Self::run_once(slf, &reactor)?;
            if let Some(hook) = &hook {
                hook.call0(py)?;
            }
            if this.take_stop_request() {
                return Ok(());
            }
        }
    }
}
