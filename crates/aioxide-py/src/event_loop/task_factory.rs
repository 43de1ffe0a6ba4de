//! The loop's task factory: `set_task_factory`/`get_task_factory` (and asyncio's
//! `_task_factory` attribute), and `create_task` through a factory, called as the running
//! Python version's asyncio calls it.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use super::tasks::TaskArgs;
use super::PyLoopCore;

/// How this Python version's `create_task` hands the task name to a factory.
#[derive(Clone, Copy)]
enum NameConvention {
    /// 3.13.0-3.13.3 and 3.14+: `name=` among the factory's keywords.
    Keyword,
    /// 3.13.4-3.13.x: `task.set_name(name)` afterwards, `None` included.
    SetAlways,
    /// 3.11 and 3.12: `tasks._set_task_name(task, name)` when a name is given.
    SetIfGiven,
}

fn convention(py: Python<'_>) -> NameConvention {
    let v = py.version_info();
    if v >= (3, 14) || (v >= (3, 13) && v < (3, 13, 4)) {
        NameConvention::Keyword
    } else if v >= (3, 13) {
        NameConvention::SetAlways
    } else {
        NameConvention::SetIfGiven
    }
}

#[pymethods]
impl PyLoopCore {
    fn set_task_factory(&self, py: Python<'_>, factory: &Bound<'_, PyAny>) -> PyResult<()> {
        if !factory.is_none() && !factory.is_callable() {
            return Err(PyTypeError::new_err(
                "task factory must be a callable or None",
            ));
        }
        self.set_factory(py, factory);
        Ok(())
    }

    fn get_task_factory(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.factory(py)
    }

    /// asyncio's attribute, which some code reads or assigns directly.
    #[getter(_task_factory)]
    fn task_factory_attr(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.factory(py)
    }

    #[setter(_task_factory)]
    fn set_task_factory_attr(&self, py: Python<'_>, factory: &Bound<'_, PyAny>) {
        self.set_factory(py, factory);
    }
}

impl PyLoopCore {
    pub(crate) fn factory(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.task_factory
            .borrow_mut(py)
            .as_ref()
            .map(|f| f.clone_ref(py))
    }

    fn set_factory(&self, py: Python<'_>, factory: &Bound<'_, PyAny>) {
        let new = (!factory.is_none()).then(|| factory.clone().unbind());
        let old = std::mem::replace(&mut *self.task_factory.borrow_mut(py), new);
        drop(old); // after the borrow: its finalizer may run Python code
    }

    /// `create_task(coro, name=, context=, **kwargs)` with `factory` set.
    pub(crate) fn task_from_factory(
        slf: &Bound<'_, Self>,
        factory: &Bound<'_, PyAny>,
        args: &TaskArgs<'_, '_>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        slf.get().check_closed()?;
        let (name, convention) = (args.name, convention(py));
        let kwargs = args.keywords()?;
        if !args.context.is_none() {
            kwargs.set_item(pyo3::intern!(py, "context"), args.context)?;
        }
        if matches!(convention, NameConvention::Keyword) && !name.is_none() {
            kwargs.set_item(pyo3::intern!(py, "name"), name)?;
        }
        let task = factory.call((slf, args.coro), Some(&kwargs))?;
        match convention {
            NameConvention::Keyword => {}
            NameConvention::SetAlways => {
                task.call_method1(pyo3::intern!(py, "set_name"), (name,))?;
            }
            NameConvention::SetIfGiven if !name.is_none() => {
                // asyncio's helper warns, rather than fails, for a task without set_name.
                crate::stdlib::set_task_name(py)?.call1((&task, name))?;
            }
            NameConvention::SetIfGiven => {}
        }
        Ok(task.unbind())
    }
}
