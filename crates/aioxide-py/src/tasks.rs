//! `create_future` and `create_task`, native because every `await` of a fresh future or
//! task goes through them. With a task factory set, `create_task` hands over to the
//! Python `_create_task_with_factory` (`_tasks.py`), whose factory calling convention
//! depends on the Python version.

use std::sync::atomic::Ordering;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::ffi;

use crate::loop_core::PyLoopCore;

fn asyncio_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.import(py, "asyncio", name)
}

#[pymethods]
impl PyLoopCore {
    /// A new `asyncio.Future` bound to this loop.
    fn create_future(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        static FUTURE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        static KWNAMES: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
        let py = slf.py();
        let future = asyncio_attr(py, &FUTURE, "Future")?;
        let kwnames =
            KWNAMES.get_or_try_init(py, || PyTuple::new(py, ["loop"]).map(Bound::unbind))?;
        let this = slf.as_any();
        Ok(ffi::call_with_keywords(future, &[], kwnames.bind(py), &[this])?.unbind())
    }

    /// Schedule `coro` as a task. Extra keywords (such as 3.12's `eager_start`) go to
    /// the task factory or to `Task`. With a task factory set, the Python
    /// `_create_task_with_factory` calls it (its calling convention depends on the
    /// Python version).
    #[pyo3(signature = (coro, *, name = None, context = None, **kwargs))]
    fn create_task(
        slf: &Bound<'_, Self>,
        coro: &Bound<'_, PyAny>,
        name: Option<&Bound<'_, PyAny>>,
        context: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let none = py.None().into_bound(py);
        let name = name.unwrap_or(&none);
        let context = context.unwrap_or(&none);
        let factory = slf.getattr(pyo3::intern!(py, "_task_factory"))?;
        if !factory.is_none() {
            let method = pyo3::intern!(py, "_create_task_with_factory");
            let kwargs = match kwargs {
                Some(extra) => extra.clone(),
                None => PyDict::new(py),
            };
            return Ok(slf
                .call_method1(method, (factory, coro, name, context, kwargs))?
                .unbind());
        }
        Self::task_without_factory(slf, coro, name, context, kwargs)
    }
}

impl PyLoopCore {
    /// `asyncio.Task(coro, loop=self, name=name, context=context, **kwargs)`, for loops
    /// without a task factory.
    fn task_without_factory(
        slf: &Bound<'_, Self>,
        coro: &Bound<'_, PyAny>,
        name: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        static TASK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = slf.py();
        let this = slf.get();
        this.check_closed()?;
        let task_type = asyncio_attr(py, &TASK, "Task")?;
        let task = match kwargs {
            Some(extra) if !extra.is_empty() => {
                let all = extra.copy()?;
                all.set_item(pyo3::intern!(py, "loop"), slf)?;
                all.set_item(pyo3::intern!(py, "name"), name)?;
                all.set_item(pyo3::intern!(py, "context"), context)?;
                task_type.call((coro,), Some(&all))?
            }
            _ => {
                static KWNAMES: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
                let kwnames = KWNAMES.get_or_try_init(py, || {
                    PyTuple::new(py, ["loop", "name", "context"]).map(Bound::unbind)
                })?;
                let values = [slf.as_any(), name, context];
                ffi::call_with_keywords(task_type, &[coro], kwnames.bind(py), &values)?
            }
        };
        if this.debug.load(Ordering::Relaxed) {
            // The traceback should end at the caller of create_task, not inside it.
            let attr = PyString::new(py, "_source_traceback");
            if let Ok(tb) = task.getattr(&attr) {
                if tb.is_truthy()? {
                    tb.del_item(-1)?;
                }
            }
        }
        Ok(task.unbind())
    }
}
