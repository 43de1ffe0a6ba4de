//! Operating-system facilities, the only place in aioxide-core with `unsafe`.
//!
//! The contract every backend meets (Linux only today; a kqueue backend would add a
//! sibling module with the same items):
//!
//! * [`Poller`]: register a file descriptor with an interest set, change it, remove it,
//!   and wait with an optional timeout for readiness. Registration is **level-triggered**:
//!   a descriptor that stays readable is reported by every wait. All methods take `&self`
//!   and are safe to call from any thread, including while another thread waits.
//!   A wait interrupted by a signal returns `ErrorKind::Interrupted` so the caller can
//!   run signal handlers.
//! * [`Waker`]: a descriptor registered in a poller that another thread can make
//!   readable to end a wait early; wakeups coalesce until [`Waker::reset`].
//! * [`monotonic_seconds`]: `CLOCK_MONOTONIC` as seconds.
//! * [`socket`]: one non-blocking `recv`/`send`, retried on `EINTR`.
//! * [`fork_generation`]: tells an object created before a `fork()` that it is now in the
//!   child, where it must not touch kernel state it shares with the parent.
//!
//! Every `unsafe` block states the invariant that makes it sound in a `// SAFETY:` comment.

mod clock;
mod epoll;
mod eventfd;
pub mod file;
mod fork;
pub mod socket;
pub(crate) mod uring;

pub use clock::monotonic_seconds;
pub use epoll::{Event, Events, Poller};
pub use eventfd::Waker;
pub use fork::fork_generation;

/// Turn a libc return value of -1 into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each call site passes arguments that satisfy the documented contract of
        // the libc function named here; see the comment at the call site.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;
