//! Non-blocking stream I/O on sockets (`recv`/`send`) and on any other descriptor
//! (`read`/`write`; `writev` serves both). These calls enter the kernel directly (see
//! `direct_syscall!`): they run on the loop thread for every message.
//!
//! Facts about non-blocking I/O (`read`/`write`/`writev` take the same rules):
//! `recv`/`send` on a non-blocking socket return `EAGAIN`/`EWOULDBLOCK` instead of
//! waiting; `EINTR` means a signal arrived before any byte moved and the call can simply
//! be repeated (PEP 475 does the same); `send` is called without `MSG_NOSIGNAL` because
//! CPython ignores `SIGPIPE`, so a closed peer gives `EPIPE` exactly as `socket.send`
//! does.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use super::{direct_syscall, syscall};

/// One `recv(2)` into `buf`; `Ok(0)` is end of stream.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    recv_raw(fd, buf.as_mut_ptr(), buf.len())
}

/// [`recv`] into memory not initialised yet: the first `Ok(n)` bytes of `buf` are
/// initialised when it returns.
pub fn recv_uninit(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    recv_raw(fd, buf.as_mut_ptr().cast(), buf.len())
}

/// `ptr..ptr+len` is writable memory the caller holds exclusively (from a slice).
fn recv_raw(fd: RawFd, ptr: *mut u8, len: usize) -> io::Result<usize> {
    loop {
        // recvfrom (recv's system call) writes at most `len` bytes into the writable
        // region at `ptr`; no source address is asked for.
        let null = std::ptr::null_mut::<libc::sockaddr>();
        match direct_syscall!(libc::SYS_recvfrom, fd, ptr, len, 0, null, null) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One `send(2)` of `buf`; returns how many bytes the kernel took.
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // sendto (send's system call) reads at most buf.len() bytes from the readable
        // region `buf`; no destination address is given.
        let null = std::ptr::null::<libc::sockaddr>();
        match direct_syscall!(libc::SYS_sendto, fd, buf.as_ptr(), buf.len(), 0, null, 0) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One `read(2)` into `buf`, for descriptors that are not sockets (pipes, FIFOs, ptys);
/// `Ok(0)` is end of stream.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    read_raw(fd, buf.as_mut_ptr(), buf.len())
}

/// [`read`] into memory not initialised yet: the first `Ok(n)` bytes of `buf` are
/// initialised when it returns.
pub fn read_uninit(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    read_raw(fd, buf.as_mut_ptr().cast(), buf.len())
}

/// `ptr..ptr+len` is writable memory the caller holds exclusively (from a slice).
fn read_raw(fd: RawFd, ptr: *mut u8, len: usize) -> io::Result<usize> {
    loop {
        // read writes at most `len` bytes into the writable region at `ptr`.
        match direct_syscall!(libc::SYS_read, fd, ptr, len) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One `write(2)` of `buf`, for descriptors that are not sockets; returns how many bytes
/// the kernel took.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // write reads at most buf.len() bytes from the readable region `buf`.
        match direct_syscall!(libc::SYS_write, fd, buf.as_ptr(), buf.len()) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One `writev(2)` of `bufs`; returns how many bytes the kernel took.
pub fn writev(fd: RawFd, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(libc::c_int::MAX as usize) as libc::c_int;
    loop {
        // writev reads `count` iovecs from `bufs`; std guarantees IoSlice has the layout
        // of `struct iovec` on Unix, and each points into a live borrowed buffer.
        match direct_syscall!(libc::SYS_writev, fd, bufs.as_ptr(), count) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether the non-blocking `connect` begun on `fd` has already succeeded (on loopback
/// the handshake completes inside `connect`, which still says `EINPROGRESS`). A failed
/// connect reports `false`: its error stays pending in `SO_ERROR` for the caller's wait
/// to read, as if this check had not been made.
pub fn connect_succeeded(fd: RawFd) -> io::Result<bool> {
    let mut ready = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // poll reads and writes the one pollfd at `&mut ready`, a local; timeout 0 never waits.
    syscall!(poll(&mut ready, 1, 0))?;
    Ok(ready.revents == libc::POLLOUT)
}

/// `TCP_NODELAY` on the TCP socket `fd`: small writes go out at once.
pub fn set_nodelay(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    let value = (&on as *const libc::c_int).cast::<libc::c_void>();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // setsockopt reads `len` bytes from `value`, a c_int we own.
    syscall!(setsockopt(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        value,
        len
    ))
    .map(drop)
}

/// `shutdown(fd, SHUT_WR)`: send end-of-stream to the peer, keep reading.
pub fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // shutdown only changes the state of the connection behind `fd`; no memory is passed.
    syscall!(shutdown(fd, libc::SHUT_WR)).map(drop)
}

/// One `sendfile(2)`: up to `count` bytes of the file `in_fd`, from `offset`, to the
/// non-blocking socket `out_fd`; how many went. The socket side never waits; the file
/// side reads through the page cache (and waits for the disk on a miss, as asyncio's
/// `os.sendfile` does).
pub fn sendfile(out_fd: RawFd, in_fd: RawFd, offset: i64, count: usize) -> io::Result<usize> {
    loop {
        let mut off: libc::off_t = offset;
        // sendfile reads and advances the off_t at `&mut off`, a local we own.
        match syscall!(sendfile(out_fd, in_fd, &mut off, count)) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
