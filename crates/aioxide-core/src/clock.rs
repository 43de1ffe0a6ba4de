//! Time sources. The loop's clock is `CLOCK_MONOTONIC` in seconds as `f64`, the same
//! value as Python's `time.monotonic()`, so deadlines computed in Python and in Rust agree.

use std::sync::atomic::{AtomicU64, Ordering};

/// A source of monotonic time in seconds.
pub trait Clock {
    fn now(&self) -> f64;
    /// Smallest step the clock can show; asyncio runs timers due within it.
    fn resolution(&self) -> f64;
}

/// The system's monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now(&self) -> f64 {
        crate::sys::monotonic_seconds()
    }
    fn resolution(&self) -> f64 {
        1e-9
    }
}

/// A clock that moves only when told to; for tests of timer ordering.
#[derive(Debug, Default)]
pub struct ManualClock {
    bits: AtomicU64,
}

impl ManualClock {
    pub fn new(start: f64) -> Self {
        ManualClock {
            bits: AtomicU64::new(start.to_bits()),
        }
    }
    pub fn advance(&self, seconds: f64) {
        let now = self.now() + seconds;
        self.bits.store(now.to_bits(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::SeqCst))
    }
    fn resolution(&self) -> f64 {
        1e-9
    }
}
