//! `Handle` and `TimerHandle`: a scheduled callback with its arguments and context.
//!
//! Handles are frozen pyclasses: a callback may cancel its own handle while it runs, so
//! nothing here takes a Rust borrow across a call into Python. The Python references sit
//! in a `GilCell` that is only borrowed to copy or clear them.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;

use pyo3::types::{PyDict, PyFloat, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use super::handle_args::{BoundArgs, HandleArgs};
use super::PyLoopCore;
use crate::ffi;

#[derive(Default)]
struct Refs {
    callback: Option<Py<PyAny>>,
    args: Option<HandleArgs>,
    context: Option<Py<PyAny>>,
    event_loop: Option<Py<PyAny>>,
    /// Debug mode: where the handle was created (`traceback.StackSummary`).
    source_traceback: Option<Py<PyAny>>,
}

impl Refs {
    /// Let every reference go now, with the GIL held (`py`): each is decremented
    /// directly, without pyo3's per-drop check of whether the GIL is held.
    fn release(self, py: Python<'_>) {
        let Refs {
            callback,
            args,
            context,
            event_loop,
            source_traceback,
        } = self;
        for r in [callback, context, event_loop, source_traceback]
            .into_iter()
            .flatten()
        {
            r.drop_ref(py);
        }
        if let Some(args) = args {
            args.release(py);
        }
    }
}

#[pyclass(
    name = "Handle",
    module = "aioxide._aioxide",
    frozen,
    subclass,
    weakref
)]
pub struct PyHandle {
    refs: crate::ffi::GilCell<Refs>,
    cancelled: AtomicBool,
    /// For timers: still in the loop's heap (asyncio's `TimerHandle._scheduled`).
    scheduled: AtomicBool,
}

/// A handle as held by the loop's queues.
///
/// The handles `call_soon` and `call_at` make are taken off the collector's lists while
/// they are queued (`HandleRef::queued_untracked`). A program with many tasks has as many
/// handles waiting in the ready queue; tracked, every young collection found them alive
/// and moved them to an older generation, and those moves are what sets off full
/// collections. While a queued handle is untracked, the loop's traversal reports the
/// handle's references as its own when the queue's reference is the only one
/// (`ffi::GcShare`); when the queue lets go of a handle somebody else still holds, the
/// handle is tracked again (`Drop`), so a cycle through it (`self._timer =
/// loop.call_later(d, self._fire)`) is collected as before. HandleRefs are only made and
/// dropped by code holding the GIL: they live in the loop's `GilCell` state.
pub struct HandleRef(Option<Py<PyHandle>>);

/// How many emptied handles a loop keeps for reuse.
const REUSABLE_HANDLES: usize = 256;

impl HandleRef {
    /// A queue's reference to a handle the collector keeps tracking (a reader's).
    pub fn tracked(handle: Py<PyHandle>) -> HandleRef {
        HandleRef(Some(handle))
    }

    /// A queue's reference to a handle nobody else has seen yet, which stops being
    /// tracked while queued.
    pub fn queued_untracked(handle: &Bound<'_, PyHandle>) -> HandleRef {
        ffi::gc_untrack(handle.as_any());
        HandleRef(Some(handle.clone().unbind()))
    }

    /// A queue's reference to a reused handle (see `recycle`): it is not tracked
    /// already.
    pub fn queued_reused(handle: Py<PyHandle>) -> HandleRef {
        HandleRef(Some(handle))
    }

    pub fn handle(&self) -> &Py<PyHandle> {
        self.0
            .as_ref()
            .expect("a HandleRef holds its handle until it is dropped")
    }

    /// The loop's traversal of this queue entry (see the type's notes).
    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        let handle = self.handle();
        match ffi::gc_share(handle, visit) {
            ffi::GcShare::Tracked => visit.call(handle),
            ffi::GcShare::Sole => handle.get().visit_refs(visit),
            ffi::GcShare::Shared => Ok(()),
        }
    }

    /// Whether nobody but this queue entry can reach the handle: it is a plain `Handle`
    /// with no other reference, no weak reference, and not tracked by the collector (so
    /// `gc` does not list it either).
    fn is_private(&self, py: Python<'_>) -> bool {
        match &self.0 {
            Some(h) => {
                let h = h.bind(py);
                ffi::is_sole_reference(h.as_unbound(), py)
                    && h.is_exact_instance_of::<PyHandle>()
                    && !ffi::is_tracked(h.as_any())
                    && !ffi::has_weakrefs(h.as_any())
            }
            None => false,
        }
    }

    /// After its callback ran: keep the handle, emptied, in `reusable` when nothing else
    /// refers to it (no reference, no weak reference) and it is a plain, untracked
    /// `Handle`, so that `call_soon` can fill it again instead of allocating one; any
    /// other handle is let go as usual. Nobody can tell a reused handle from a new one:
    /// whoever held it before has let it go. Called without the loop's state borrowed:
    /// releasing the callback may run Python code.
    pub fn recycle(mut self, py: Python<'_>, core: &PyLoopCore) {
        if !self.is_private(py) {
            return;
        }
        let Some(handle) = self.0.take() else { return };
        let refs = std::mem::take(&mut *handle.get().refs.borrow_mut(py));
        refs.release(py);
        // Still ours alone (releasing the callback cannot reach an untracked handle
        // nobody refers to, but this is cheap to be sure of).
        let handle = if ffi::is_sole_reference(&handle, py) {
            match core.keep_for_reuse(py, handle, REUSABLE_HANDLES) {
                Some(handle) => handle,
                None => return,
            }
        } else {
            handle
        };
        drop(HandleRef(Some(handle)));
    }
}

impl Drop for HandleRef {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            ffi::gc_track_if_shared(handle);
        }
    }
}

impl aioxide_core::Cancellable for HandleRef {
    fn is_cancelled(&self) -> bool {
        self.handle().get().cancelled.load(Ordering::Relaxed)
    }
    fn unscheduled(&self) {
        self.handle()
            .get()
            .scheduled
            .store(false, Ordering::Relaxed);
    }
}

/// asyncio's text for a handle's callback. From 3.13 it shows the arguments only when the
/// handle's loop is in debug mode (`_format_callback_source` takes `debug=`).
fn format_callback_source<'py>(
    handle: &PyHandle,
    py: Python<'py>,
    callback: &Bound<'py, PyAny>,
    args: &BoundArgs<'py>,
) -> PyResult<String> {
    let f = crate::stdlib::format_callback_source(py)?;
    let args = args.to_tuple()?;
    if py.version_info() < (3, 13) {
        return f.call1((callback, args))?.extract();
    }
    let debug = match handle.loop_of(py) {
        Some(event_loop) => event_loop.call_method0(py, "get_debug")?.is_truthy(py)?,
        None => false,
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item("debug", debug)?;
    f.call((callback, args), Some(&kwargs))?.extract()
}

impl PyHandle {
    /// asyncio's `Handle.cancel`: mark cancelled, tell the loop when a scheduled timer is
    /// cancelled (for heap compaction), and release the callback and its arguments.
    pub fn cancel_handle(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if this.cancelled.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if this.scheduled.load(Ordering::Acquire) {
            if let Some(event_loop) = this.loop_of(py) {
                if let Ok(core) = event_loop.bind(py).cast::<PyLoopCore>() {
                    core.get().timer_cancelled(py);
                }
            }
        }
        // Release the callback and its arguments now, as asyncio does; drop them after the
        // borrow ends because dropping may run arbitrary Python code.
        let (callback, args) = {
            let mut refs = this.refs.borrow_mut(py);
            (refs.callback.take(), refs.args.take())
        };
        drop((callback, args));
        Ok(())
    }

    pub fn new(
        callback: Py<PyAny>,
        args: HandleArgs,
        context: Py<PyAny>,
        event_loop: Py<PyAny>,
    ) -> PyHandle {
        PyHandle {
            refs: crate::ffi::GilCell::new(Refs {
                callback: Some(callback),
                args: Some(args),
                context: Some(context),
                event_loop: Some(event_loop),
                source_traceback: None,
            }),
            cancelled: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
        }
    }

    /// Fill an emptied handle (see `HandleRef::recycle`) as `new` fills a new one.
    pub fn refill(
        &self,
        py: Python<'_>,
        callback: Py<PyAny>,
        args: HandleArgs,
        context: Py<PyAny>,
        event_loop: Py<PyAny>,
    ) {
        // The handle is empty (see `HandleRef::recycle`): replacing its references
        // releases nothing, so no Python code runs while the cell is borrowed.
        *self.refs.borrow_mut(py) = Refs {
            callback: Some(callback),
            args: Some(args),
            context: Some(context),
            event_loop: Some(event_loop),
            source_traceback: None,
        };
        self.cancelled.store(false, Ordering::Relaxed);
        self.scheduled.store(false, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Debug mode: remember where the handle was created.
    pub fn set_source_traceback(&self, py: Python<'_>, tb: Py<PyAny>) {
        self.refs.borrow_mut(py).source_traceback = Some(tb);
    }

    fn source_traceback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs
            .borrow_mut(py)
            .source_traceback
            .as_ref()
            .map(|t| t.clone_ref(py))
    }

    /// The timer left the loop's heap (asyncio's `_scheduled = False`); returns whether
    /// it was still marked scheduled. Loop thread only.
    pub fn unschedule(&self) -> bool {
        let was = self.scheduled.load(Ordering::Relaxed);
        if was {
            self.scheduled.store(false, Ordering::Relaxed);
        }
        was
    }

    pub fn set_scheduled(&self) {
        self.scheduled.store(true, Ordering::Relaxed);
    }

    fn loop_of(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs
            .borrow_mut(py)
            .event_loop
            .as_ref()
            .map(|l| l.clone_ref(py))
    }

    /// Start loading the context object into the cache (see `ffi::prefetch`).
    pub fn prefetch_context(&self, py: Python<'_>) {
        if let Some(refs) = self.refs.try_borrow_mut(py) {
            if let Some(context) = &refs.context {
                ffi::prefetch(context);
            }
        }
    }

    /// Run the callback in its context. Exceptions other than `SystemExit` and
    /// `KeyboardInterrupt` go to the loop's exception handler; those two are returned so
    /// the loop stops and re-raises them, as asyncio does.
    pub fn run(slf: &Bound<'_, PyHandle>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        // Bound (not Py) clones: their drops decref directly, without pyo3's per-drop
        // check of whether the GIL is held.
        let (callback, args, context) = {
            let refs = this.refs.borrow_mut(py);
            match (&refs.callback, &refs.args, &refs.context) {
                (Some(cb), Some(args), Some(ctx)) => {
                    (cb.bind(py).clone(), args.bind(py), ctx.bind(py).clone())
                }
                _ => return Ok(()),
            }
        };
        let result = ffi::run_in_context(&context, || args.call(&callback));
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err.is_instance_of::<PySystemExit>(py)
                    || err.is_instance_of::<PyKeyboardInterrupt>(py) =>
            {
                Err(err)
            }
            Err(err) => report_callback_error(slf, &callback, &args, err),
        }
    }
}

fn report_callback_error<'py>(
    handle: &Bound<'py, PyHandle>,
    callback: &Bound<'py, PyAny>,
    args: &BoundArgs<'py>,
    err: PyErr,
) -> PyResult<()> {
    let py = handle.py();
    let Some(event_loop) = handle.get().loop_of(py) else {
        return Err(err);
    };
    let source = format_callback_source(handle.get(), py, callback, args)?;
    let context = PyDict::new(py);
    context.set_item("message", format!("Exception in callback {source}"))?;
    context.set_item("exception", err.value(py))?;
    context.set_item("handle", handle)?;
    if let Some(tb) = handle.get().source_traceback(py) {
        context.set_item("source_traceback", tb)?;
    }
    event_loop.call_method1(py, "call_exception_handler", (context,))?;
    Ok(())
}

#[pymethods]
impl PyHandle {
    fn cancel(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::cancel_handle(slf)
    }

    fn cancelled(&self) -> bool {
        self.is_cancelled()
    }

    fn get_context(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs
            .borrow_mut(py)
            .context
            .as_ref()
            .map(|c| c.clone_ref(py))
    }

    #[getter]
    pub(crate) fn _callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs
            .borrow_mut(py)
            .callback
            .as_ref()
            .map(|c| c.clone_ref(py))
    }

    #[getter]
    fn _args<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let args = self.refs.borrow_mut(py).args.as_ref().map(|a| a.bind(py));
        args.map(|a| a.to_tuple()).transpose()
    }

    #[getter]
    fn _loop(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.loop_of(py)
    }

    #[getter]
    fn _source_traceback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.source_traceback(py)
    }

    #[getter]
    fn _cancelled(&self) -> bool {
        self.is_cancelled()
    }

    #[getter]
    fn _context(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.get_context(py)
    }

    fn _run(slf: &Bound<'_, Self>) -> PyResult<()> {
        PyHandle::run(slf)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let mut info = vec![slf.get_type().name()?.to_string()];
        if slf.get().is_cancelled() {
            info.push("cancelled".into());
        }
        if let Ok(timer) = slf.cast::<PyTimerHandle>() {
            let pos = if slf.get().is_cancelled() { 2 } else { 1 };
            let when = timer.get().when_value(slf.py()).repr()?.to_string();
            info.insert(pos, format!("when={when}"));
        }
        let py = slf.py();
        let cb_args = {
            let refs = slf.get().refs.borrow_mut(py);
            match (&refs.callback, &refs.args) {
                (Some(cb), Some(args)) => Some((cb.bind(py).clone(), args.bind(py))),
                _ => None,
            }
        };
        if let Some((cb, args)) = cb_args {
            info.push(format_callback_source(slf.get(), py, &cb, &args)?);
        }
        if let Some(tb) = slf.get().source_traceback(py) {
            let tb = tb.bind(py);
            if tb.len()? > 0 {
                let frame = tb.get_item(-1)?;
                let file = frame.getattr("filename")?;
                let line = frame.getattr("lineno")?;
                info.push(format!("created at {file}:{line}"));
            }
        }
        Ok(format!("<{}>", info.join(" ")))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.visit_refs(&visit)
    }

    fn __clear__(&self, py: Python<'_>) {
        let taken = std::mem::take(&mut *self.refs.borrow_mut(py));
        taken.release(py);
    }
}

impl PyHandle {
    /// Report the references the handle holds (its own traversal, or the loop's for a
    /// queued untracked handle).
    fn visit_refs(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(refs) = self.refs.traverse_borrow(visit) {
            if let Some(x) = &refs.callback {
                visit.call(x)?;
            }
            if let Some(x) = &refs.args {
                x.visit(visit)?;
            }
            if let Some(x) = &refs.context {
                visit.call(x)?;
            }
            if let Some(x) = &refs.event_loop {
                visit.call(x)?;
            }
            if let Some(x) = &refs.source_traceback {
                visit.call(x)?;
            }
        }
        Ok(())
    }
}

/// A handle scheduled for a point in time (`loop.call_at` / `call_later`).
#[pyclass(name = "TimerHandle", module = "aioxide._aioxide", frozen, extends = PyHandle)]
pub struct PyTimerHandle {
    when: f64,
    /// The deadline as given when it was not a `float` (asyncio's `when()` returns it
    /// unchanged: an `int` stays one). A float deadline is kept only as `when`: one
    /// object less to allocate, touch and free per timer.
    when_obj: Option<Py<PyAny>>,
    /// The heap's sequence number for it, set once it is pushed (see `_scheduled`).
    seq: std::sync::atomic::AtomicU64,
}

impl PyTimerHandle {
    pub fn new(when: f64, when_obj: Option<Py<PyAny>>) -> PyTimerHandle {
        PyTimerHandle {
            when,
            when_obj,
            seq: std::sync::atomic::AtomicU64::new(u64::MAX),
        }
    }

    pub fn set_seq(&self, seq: u64) {
        self.seq.store(seq, Ordering::Relaxed);
    }

    fn when_value<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.when_obj {
            Some(obj) => obj.bind(py).clone(),
            None => PyFloat::new(py, self.when).into_any(),
        }
    }
}

#[pymethods]
impl PyTimerHandle {
    fn when(&self, py: Python<'_>) -> Py<PyAny> {
        self.when_value(py).unbind()
    }

    #[getter]
    fn _when(&self, py: Python<'_>) -> Py<PyAny> {
        self.when_value(py).unbind()
    }

    /// asyncio's `_scheduled`: in the loop's heap. A due timer is marked unscheduled
    /// only when its batch reaches it (see `Timers::pop_due`); until then the loop's mark
    /// of its last collection tells that it has left the heap.
    #[getter]
    fn _scheduled(slf: &Bound<'_, Self>) -> bool {
        let py = slf.py();
        let base = slf.as_super().get();
        if !base.scheduled.load(Ordering::Relaxed) {
            return false;
        }
        let this = slf.get();
        let moved = base.loop_of(py).is_some_and(|l| {
            l.bind(py).cast::<PyLoopCore>().is_ok_and(|core| {
                let seq = this.seq.load(Ordering::Relaxed);
                core.get().timer_moved(py, this.when, seq)
            })
        });
        !moved
    }

    fn __hash__(&self) -> u64 {
        self.when.to_bits()
    }

    fn __lt__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(other, |a, b| a < b)
    }
    fn __le__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(other, |a, b| a <= b)
    }
    fn __gt__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(other, |a, b| a > b)
    }
    fn __ge__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(other, |a, b| a >= b)
    }

    /// asyncio's rule: same deadline, callback, arguments and cancelled state.
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let Ok(other) = other.cast::<PyTimerHandle>() else {
            return Ok(py.NotImplemented());
        };
        let (a, b) = (slf.as_super().get(), other.as_super().get());
        let none = py.None().into_bound(py);
        let callback = |h: &PyHandle| h._callback(py).map_or(none.clone(), |c| c.into_bound(py));
        let args = |h: &PyHandle| -> PyResult<Bound<'_, PyAny>> {
            Ok(h._args(py)?.map_or(none.clone(), Bound::into_any))
        };
        let equal = slf.get().when_value(py).eq(other.get().when_value(py))?
            && callback(a).eq(callback(b))?
            && args(a)?.eq(args(b)?)?
            && a.is_cancelled() == b.is_cancelled();
        Ok(equal.into_pyobject(py)?.to_owned().into_any().unbind())
    }

    fn __ne__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let eq = Self::__eq__(slf, other)?;
        if eq.is(py.NotImplemented()) {
            return Ok(eq);
        }
        let ne = !eq.bind(py).is_truthy()?;
        Ok(ne.into_pyobject(py)?.to_owned().into_any().unbind())
    }
}

impl PyTimerHandle {
    fn compare(
        &self,
        other: &Bound<'_, PyAny>,
        op: impl Fn(f64, f64) -> bool,
    ) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyTimerHandle>() {
            Ok(o) => Ok(op(self.when, o.get().when)
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind()),
            Err(_) => Ok(py.NotImplemented()),
        }
    }
}
