//! Facts about the clock: `CLOCK_MONOTONIC` never goes backwards, does not count time
//! the machine is suspended (like Python's `time.monotonic()` on Linux), and is read
//! through the vDSO without a real system call.

/// Seconds on `CLOCK_MONOTONIC`, the value Python's `time.monotonic()` returns.
pub fn monotonic_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always supported on
    // Linux, so the call cannot fail and the return value carries no information.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
