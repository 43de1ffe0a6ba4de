//! Methods installed as C method descriptors called through vectorcall
//! (`FastcallMethod`), without pyo3's argument parsing.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The arguments of a vectorcall: the positional ones, then the values of the keywords
/// `kwnames` names. Only made by [`fastcall_method`], for the length of one call.
pub struct FastArgs<'a, 'py> {
    py: Python<'py>,
    values: &'a [*mut ffi::PyObject],
    nargs: usize,
    kwnames: Option<Borrowed<'a, 'py, PyTuple>>,
}

impl<'a, 'py> FastArgs<'a, 'py> {
    pub fn py(&self) -> Python<'py> {
        self.py
    }

    /// How many positional arguments there are.
    pub fn nargs(&self) -> usize {
        self.nargs
    }

    /// Positional argument `i` (`i < nargs()`), or the value of keyword `i - nargs()`.
    pub fn value(&self, i: usize) -> Borrowed<'a, 'py, PyAny> {
        // SAFETY: the caller of the vectorcall keeps every value alive for the call, and
        // `FastArgs` does not outlive it; a slice index out of range panics, it does not
        // read past the array.
        unsafe { Borrowed::from_ptr(self.py, self.values[i]) }
    }

    /// The keyword names, in the order of their values after the positional arguments.
    pub fn kwnames(&self) -> Option<Borrowed<'a, 'py, PyTuple>> {
        self.kwnames
    }

    /// The positional arguments from `start` on, as a tuple.
    pub fn tuple_from(&self, start: usize) -> PyResult<Bound<'py, PyTuple>> {
        if start >= self.nargs {
            return Ok(PyTuple::empty(self.py));
        }
        PyTuple::new(self.py, (start..self.nargs).map(|i| self.value(i)))
    }
}

/// A method called through vectorcall with no argument parsing of pyo3's in between
/// (see [`install_fastcall_method`]). pyo3 does not count the thread as attached inside
/// unless a pyo3 call is under way (as it is while the loop runs): a `Py` dropped there
/// is then released at pyo3's next entry, so the methods work on `Bound`s.
pub trait FastcallMethod {
    /// The class the method belongs to.
    type Class: pyo3::PyClass;
    /// The attribute name, and the docstring with its text signature
    /// (`name($self, ...)\n--\n\n...`), which `inspect.signature` reads.
    const NAME: &'static std::ffi::CStr;
    const DOC: &'static std::ffi::CStr;

    fn call<'py>(
        slf: &Bound<'py, Self::Class>,
        args: &FastArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>>;
}

unsafe extern "C" fn fastcall_method<M: FastcallMethod>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // CPython calls a METH_FASTCALL | METH_KEYWORDS method with the GIL held, and `slf`
    // is an instance of `M::Class`: the method descriptor checks that before the call
    // (see `install_fastcall_method`). A panic is caught and becomes PanicException.
    // SAFETY: see above; `args` holds `nargs` positional values, then one per name in
    // `kwnames` (a tuple, or NULL), all alive for the call; errors go back as NULL.
    unsafe {
        let py = Python::assume_attached();
        let nargs = ffi::PyVectorcall_NARGS(nargsf as usize) as usize;
        let kwnames = Borrowed::from_ptr_or_opt(py, kwnames).map(|k| k.cast_unchecked::<PyTuple>());
        let total = nargs + kwnames.map_or(0, |k| k.len());
        let values: &[*mut ffi::PyObject] = if total == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(args, total)
        };
        let fast = FastArgs {
            py,
            values,
            nargs,
            kwnames,
        };
        let slf = Borrowed::from_ptr(py, slf).cast_unchecked::<M::Class>();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| M::call(&slf, &fast)));
        let result = match outcome {
            Ok(result) => result,
            Err(_) => Err(pyo3::panic::PanicException::new_err(format!(
                "panic in {}",
                M::NAME.to_string_lossy()
            ))),
        };
        match result {
            Ok(value) => value.into_ptr(),
            Err(err) => {
                err.restore(py);
                std::ptr::null_mut()
            }
        }
    }
}

/// Make `M` the method `M::NAME` of `M::Class` (a method descriptor, as C types have),
/// in place of pyo3's wrapper: a call costs no argument parsing beyond `M`'s own and no
/// thread-local bookkeeping. Done once per import, before any subclass exists; the
/// method table it points to is leaked, as C method tables are static.
pub fn install_fastcall_method<M: FastcallMethod>(py: Python<'_>) -> PyResult<()> {
    let ty = py.get_type::<M::Class>();
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: M::NAME.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: fastcall_method::<M>,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: M::DOC.as_ptr(),
    }));
    // SAFETY: the GIL is held; `ty` is a live type object and `def` lives forever.
    // PyDescr_NewMethod returns a new reference or NULL with an exception set.
    let descr = unsafe {
        Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))?
    };
    ty.setattr(M::NAME.to_str().expect("method names are ASCII"), descr)
}
