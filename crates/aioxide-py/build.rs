//! Lets the crate's code tell free-threaded Python builds apart (`cfg(Py_GIL_DISABLED)`),
//! as pyo3 itself does.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
