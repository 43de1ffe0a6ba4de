//! The arguments a handle calls its callback with.
//!
//! Most callbacks get exactly one argument: `call_soon(step, x)` in user code, and every
//! future's `call_soon(task_wakeup, future, context=...)` in CPython's own C code. Those
//! are kept as the object itself: no tuple is made for them when the handle is created,
//! none is freed after it ran, and the call passes the object straight through. Other
//! counts keep the tuple. `Handle._args` is always a tuple, as in asyncio.
//!
//! A watcher of aioxide's own (a transport core's readiness, a socket step) has no
//! arguments but a `NativeCall`: the handle calls a Rust function on the callback
//! object instead of going through the Python call protocol.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{PyTraverseError, PyVisit};

/// A Rust function that runs a native callback object (checking its type first).
pub type NativeCall = for<'py> fn(&Bound<'py, PyAny>) -> PyResult<()>;

pub enum HandleArgs {
    One(Py<PyAny>),
    Tuple(Py<PyTuple>),
    /// No arguments; the callback is run by this function.
    Native(NativeCall),
}

/// [`HandleArgs`] copied out of a handle for one call (bound references, which are
/// released without pyo3's per-drop check of whether the GIL is held).
pub enum BoundArgs<'py> {
    One(Bound<'py, PyAny>),
    Tuple(Bound<'py, PyTuple>),
    Native(Python<'py>, NativeCall),
}

impl HandleArgs {
    /// The arguments of a `*args` parameter: a single one is taken out of its tuple.
    pub fn from_tuple(args: &Bound<'_, PyTuple>) -> HandleArgs {
        if args.len() == 1 {
            if let Ok(only) = args.get_item(0) {
                return HandleArgs::One(only.unbind());
            }
        }
        HandleArgs::Tuple(args.clone().unbind())
    }

    pub fn bind<'py>(&self, py: Python<'py>) -> BoundArgs<'py> {
        match self {
            HandleArgs::One(arg) => BoundArgs::One(arg.bind(py).clone()),
            HandleArgs::Tuple(args) => BoundArgs::Tuple(args.bind(py).clone()),
            HandleArgs::Native(call) => BoundArgs::Native(py, *call),
        }
    }

    pub fn visit(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        match self {
            HandleArgs::One(arg) => visit.call(arg),
            HandleArgs::Tuple(args) => visit.call(args),
            HandleArgs::Native(_) => Ok(()),
        }
    }

    /// Let the references go now, with the GIL held (`py`).
    pub fn release(self, py: Python<'_>) {
        match self {
            HandleArgs::One(arg) => arg.drop_ref(py),
            HandleArgs::Tuple(args) => args.drop_ref(py),
            HandleArgs::Native(_) => {}
        }
    }
}

impl<'py> BoundArgs<'py> {
    /// `callback(*args)`.
    pub fn call(&self, callback: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            BoundArgs::One(arg) => callback.call1((arg,)),
            BoundArgs::Tuple(args) if args.is_empty() => callback.call0(),
            BoundArgs::Tuple(args) => callback.call1(args),
            BoundArgs::Native(py, call) => call(callback).map(|()| py.None().into_bound(*py)),
        }
    }

    /// The arguments as a tuple (`Handle._args`, reprs and error reports).
    pub fn to_tuple(&self) -> PyResult<Bound<'py, PyTuple>> {
        match self {
            BoundArgs::One(arg) => PyTuple::new(arg.py(), [arg]),
            BoundArgs::Tuple(args) => Ok(args.clone()),
            BoundArgs::Native(py, _) => Ok(PyTuple::empty(*py)),
        }
    }
}
