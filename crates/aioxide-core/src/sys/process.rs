//! Descriptor and child-process calls the subprocess path makes on the loop thread, all
//! of which return at once (or, for `reap_exited`, within the kernel's exit path). Called
//! without releasing the GIL: a thread that gets the GIL while the loop thread is in one
//! of them may be about to `fork()` with it held (a `preexec_fn` spawn), and the loop
//! thread would then wait out the whole fork.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use super::syscall;

/// Reaps child `pid`, whose `pidfd` is readable (it has exited), and returns its exit
/// code as `subprocess` reports it. The kernel marks the pidfd a moment before the child
/// becomes a zombie, so this returns at once or after that moment. `waitid(P_PIDFD)`
/// names the child by its still-open pidfd: if someone else reaped it and the pid was
/// reused, a pid-based wait could block on a stranger. Kernels before 5.4 lack
/// `P_PIDFD` (`EINVAL`); there the pid is used.
pub fn reap_exited(pidfd: RawFd, pid: libc::pid_t) -> io::Result<i32> {
    let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
    loop {
        // waitid fills the siginfo_t at `info`, ours and zeroed.
        match syscall!(waitid(
            libc::P_PIDFD,
            pidfd as libc::id_t,
            info.as_mut_ptr(),
            libc::WEXITED
        )) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return waitpid_exited(pid),
            Err(e) => return Err(e),
        }
    }
    // SAFETY: waitid returned 0 for a WEXITED wait, so the kernel wrote a SIGCHLD
    // siginfo: `si_code` and the `si_status` member of its union are set.
    let (code, status) = unsafe {
        let info = info.assume_init_ref();
        (info.si_code, info.si_status())
    };
    Ok(if code == libc::CLD_EXITED {
        status
    } else {
        -status
    })
}

fn waitpid_exited(pid: libc::pid_t) -> io::Result<i32> {
    let mut status: libc::c_int = 0;
    loop {
        // waitpid writes one int into `status`, a local we own.
        match syscall!(waitpid(pid, &mut status, 0)) {
            Ok(_) => return Ok(exit_code(status)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A wait status as `subprocess` reports it: the exit code, or minus the signal number.
fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// `close(fd)`. On Linux the descriptor is released even when this reports `EINTR`, so it
/// is never retried.
pub fn close(fd: RawFd) -> io::Result<()> {
    // close takes any int; a descriptor the caller no longer uses.
    syscall!(close(fd)).map(drop)
}

/// The `st_mode` of what `fd` refers to (`fstat`).
pub fn file_mode(fd: RawFd) -> io::Result<u32> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // fstat fills the whole struct at `st` (ours, uninitialised) when it succeeds.
    syscall!(fstat(fd, st.as_mut_ptr()))?;
    // SAFETY: fstat returned 0, so it initialised `st`.
    Ok(unsafe { st.assume_init() }.st_mode)
}

/// Make `fd` non-blocking (`O_NONBLOCK`, through `fcntl`).
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // F_GETFL/F_SETFL read and write the descriptor's status flags; no pointers.
    let flags = syscall!(fcntl(fd, libc::F_GETFL))?;
    if flags & libc::O_NONBLOCK == 0 {
        syscall!(fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}
