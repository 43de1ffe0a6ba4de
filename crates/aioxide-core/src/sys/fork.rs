//! Facts about fork: the child gets copies of the parent's descriptors, but an epoll
//! instance and an eventfd are *shared* open file descriptions. A child that changed the
//! inherited epoll set (`EPOLL_CTL_DEL` on close, say) would change the parent's, and a
//! child that waited on it would take events meant for the parent. So objects built on
//! them note the fork generation they were created in, and refuse to touch the kernel
//! state from a later one (a child must create its own loop).
//!
//! The generation is a counter bumped by a `pthread_atfork` child handler, so checking it
//! is one atomic load (unlike `getpid`, a system call). `fork()` runs atfork handlers;
//! `posix_spawn`/`vfork` + `exec` do not, and need not: the child replaces its image.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn in_child_after_fork() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// How many forks separate this process from the first one that asked.
pub fn fork_generation() -> u64 {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic (async-signal-safe, as
        // an atfork child handler must be); the prepare and parent handlers are absent.
        // The return value only reports ENOMEM, in which case forks go undetected.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child_after_fork)) };
        debug_assert_eq!(rc, 0, "pthread_atfork failed");
    });
    GENERATION.load(Ordering::Relaxed)
}
