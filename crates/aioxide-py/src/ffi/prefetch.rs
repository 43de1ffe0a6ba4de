//! A cache hint for the loop's batch: the next handle's memory starts loading while the
//! current callback runs. When many timers fall due at once they come out of the heap
//! in deadline order, not allocation order, and each handle is otherwise a cache miss.

use pyo3::prelude::*;

/// Start loading the start of `obj` into the cache. A hint only: no effect on behaviour.
#[inline]
pub fn prefetch<T>(obj: &Py<T>) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and writes nothing, whatever the address; SSE, which
    // provides it, is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(obj.as_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = obj;
}
