//! `create_future` and `create_task`, native because every `await` of a fresh future or
//! task goes through them. With a task factory set, `create_task` calls it (see
//! `task_factory.rs`).

use std::sync::atomic::Ordering;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

use super::PyLoopCore;

/// `module.name`, read at every call as asyncio's base loop reads `futures.Future` and
/// `tasks.Task` (tests and tools swap in the pure-Python classes), from the module's
/// dict, cached: one dict lookup.
fn module_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyDict>>,
    module: &str,
    name: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let dict = cell.get_or_try_init(py, || Ok::<_, PyErr>(py.import(module)?.dict().unbind()))?;
    dict.bind(py).get_item(name)?.ok_or_else(|| {
        pyo3::exceptions::PyAttributeError::new_err(format!(
            "module '{module}' has no attribute '{name}'"
        ))
    })
}

#[pymethods]
impl PyLoopCore {
    /// A new `asyncio.Future` bound to this loop.
    fn create_future(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        static FUTURES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
        let py = slf.py();
        let future = module_attr(py, &FUTURES, "asyncio.futures", pyo3::intern!(py, "Future"))?;
        let kwargs = Self::loop_kwargs(slf)?;
        Ok(future.call((), Some(&kwargs))?.unbind())
    }

    /// Schedule `coro` as a task. Extra keywords (such as 3.12's `eager_start`) go to
    /// the task factory or to `Task`.
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
        let args = TaskArgs {
            coro,
            name: name.unwrap_or(&none),
            context: context.unwrap_or(&none),
            kwargs: kwargs.filter(|k| !k.is_empty()),
        };
        match slf.get().factory(py) {
            Some(factory) => Self::task_from_factory(slf, factory.bind(py), &args),
            None => Self::task_without_factory(slf, &args),
        }
    }
}

/// `create_task`'s arguments, `None` for a name or context not given.
pub(crate) struct TaskArgs<'a, 'py> {
    pub coro: &'a Bound<'py, PyAny>,
    pub name: &'a Bound<'py, PyAny>,
    pub context: &'a Bound<'py, PyAny>,
    /// The extra keywords, when there are any.
    pub kwargs: Option<&'a Bound<'py, PyDict>>,
}

impl<'py> TaskArgs<'_, 'py> {
    /// A fresh dict of the extra keywords, for the call to add to.
    pub fn keywords(&self) -> PyResult<Bound<'py, PyDict>> {
        match self.kwargs {
            Some(extra) => extra.copy(),
            None => Ok(PyDict::new(self.coro.py())),
        }
    }
}

impl PyLoopCore {
    /// The loop's cached `{"loop": self}` (see `PyLoopCore::loop_kwargs`). A loop that
    /// is not running gets a fresh dict each time: the cache is a reference cycle, kept
    /// only while the running loop is referenced anyway.
    fn loop_kwargs<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let this = slf.get();
        if let Some(d) = &*this.loop_kwargs.borrow_mut(py) {
            return Ok(d.bind(py).clone());
        }
        // Built with the cell not borrowed: allocating may run the garbage collector, and a
        // finalizer may create a future on this loop.
        let d = PyDict::new(py);
        d.set_item(pyo3::intern!(py, "loop"), slf)?;
        if this.running.load(Ordering::Relaxed) {
            let old = this.loop_kwargs.borrow_mut(py).replace(d.clone().unbind());
            drop(old);
        }
        Ok(d)
    }

    /// `asyncio.Task(coro, loop=self, name=name, context=context, **kwargs)`, for loops
    /// without a task factory.
    fn task_without_factory(slf: &Bound<'_, Self>, args: &TaskArgs<'_, '_>) -> PyResult<Py<PyAny>> {
        static TASKS: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
        let py = slf.py();
        let this = slf.get();
        this.check_closed()?;
        let task_type = module_attr(py, &TASKS, "asyncio.tasks", pyo3::intern!(py, "Task"))?;
        let task = if args.kwargs.is_none() && args.name.is_none() && args.context.is_none() {
            // The common case: `Task(coro, loop=self)` with the loop's cached keywords.
            task_type.call((args.coro,), Some(&Self::loop_kwargs(slf)?))?
        } else {
            let all = args.keywords()?;
            all.set_item(pyo3::intern!(py, "loop"), slf)?;
            all.set_item(pyo3::intern!(py, "name"), args.name)?;
            all.set_item(pyo3::intern!(py, "context"), args.context)?;
            task_type.call((args.coro,), Some(&all))?
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
