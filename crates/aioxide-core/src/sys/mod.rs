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
//! * [`socket`]: one non-blocking `recv`/`send` (`read`/`write` for pipes), retried on
//!   `EINTR`.
//! * [`sockaddr`]: `recvfrom` and `accept4` with the peer's address, taken apart per family.
//! * [`process`]: `waitpid(WNOHANG)`, `close`, `fstat` and `O_NONBLOCK`, for the loop
//!   thread's subprocess bookkeeping.
//! * [`fork_generation`]: tells an object created before a `fork()` that it is now in the
//!   child, where it must not touch kernel state it shares with the parent.
//!
//! Every `unsafe` block states the invariant that makes it sound in a `// SAFETY:` comment.

mod clock;
mod epoll;
mod eventfd;
pub mod file;
mod fork;
pub mod process;
pub mod sockaddr;
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

/// Like [`syscall!`], but enters the kernel through `libc::syscall` with a system-call
/// number (`libc::SYS_...`) instead of through glibc's wrapper of that call.
///
/// glibc's wrappers for calls that are POSIX cancellation points (`recv`, `send`,
/// `writev`, `read`, `write`, `epoll_wait`, ...) switch asynchronous cancellation on and
/// off around the call once the process has a second thread (a watchdog, an executor,
/// the fs pool): two atomic read-modify-writes per call, about 3 % of a loopback echo
/// round trip. aioxide never cancels threads, so the hot calls skip that.
macro_rules! direct_syscall {
    ($nr:expr, $($arg:expr),* $(,)?) => {{
        // SAFETY: each call site passes arguments that satisfy the kernel's contract for
        // the system call named here (the same as glibc's wrapper's); see the call site.
        // Every argument goes in one full register (`c_long`), as the kernel reads it.
        let res = unsafe { libc::syscall($nr, $(($arg) as libc::c_long),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res as isize)
        }
    }};
}
pub(crate) use direct_syscall;
