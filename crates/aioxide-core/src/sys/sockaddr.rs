//! `recvfrom(2)` with the sender's address, and that address taken apart into the pieces
//! Python's `socket` module builds its address objects from.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;

use super::direct_syscall;

/// A socket address as the kernel wrote it.
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

/// The parts of an address, per family.
#[derive(Debug, PartialEq, Eq)]
pub enum AddrParts<'a> {
    /// No address (a connection-mode socket may leave it empty).
    None,
    V4 {
        ip: String,
        port: u16,
    },
    V6 {
        ip: String,
        port: u16,
        flowinfo: u32,
        scope_id: u32,
    },
    /// `sun_path`: a Linux abstract name (it starts with a NUL byte) is given whole;
    /// a path is cut at its first NUL.
    Unix {
        path: &'a [u8],
        is_abstract: bool,
    },
    /// A family this module does not take apart.
    Other,
}

impl Default for SockAddr {
    fn default() -> Self {
        SockAddr {
            // SAFETY: sockaddr_storage is plain old data for which all-zero bytes are a
            // valid value (an empty address of family AF_UNSPEC).
            storage: unsafe { std::mem::zeroed() },
            len: 0,
        }
    }
}

impl SockAddr {
    /// The bytes the kernel filled in (what two equal addresses share).
    pub fn as_bytes(&self) -> &[u8] {
        let len = (self.len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        // SAFETY: `storage` is a live, initialised (zeroed, then written by the kernel)
        // value of at least `len` bytes; the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(std::ptr::addr_of!(self.storage).cast::<u8>(), len) }
    }

    pub fn family(&self) -> libc::sa_family_t {
        self.storage.ss_family
    }

    pub fn parts(&self) -> AddrParts<'_> {
        if self.len == 0 {
            return AddrParts::None;
        }
        match i32::from(self.family()) {
            libc::AF_INET if self.len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family is AF_INET and the kernel wrote a whole sockaddr_in;
                // sockaddr_storage is aligned for every sockaddr type.
                let sin = unsafe { &*std::ptr::addr_of!(self.storage).cast::<libc::sockaddr_in>() };
                AddrParts::V4 {
                    ip: Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).to_string(),
                    port: u16::from_be(sin.sin_port),
                }
            }
            libc::AF_INET6 if self.len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for AF_INET6 and sockaddr_in6.
                let sin6 =
                    unsafe { &*std::ptr::addr_of!(self.storage).cast::<libc::sockaddr_in6>() };
                AddrParts::V6 {
                    ip: ipv6_text(&sin6.sin6_addr),
                    port: u16::from_be(sin6.sin6_port),
                    flowinfo: u32::from_be(sin6.sin6_flowinfo),
                    scope_id: sin6.sin6_scope_id,
                }
            }
            libc::AF_UNIX => {
                let offset = std::mem::size_of::<libc::sa_family_t>();
                let path = &self.as_bytes()[offset.min(self.len as usize)..];
                if path.first() == Some(&0) {
                    AddrParts::Unix {
                        path,
                        is_abstract: true,
                    }
                } else {
                    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
                    AddrParts::Unix {
                        path: &path[..end],
                        is_abstract: false,
                    }
                }
            }
            _ => AddrParts::Other,
        }
    }
}

extern "C" {
    // POSIX, in every libc; the `libc` crate does not declare it.
    fn inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
}

/// An IPv6 address as `inet_ntop` writes it (as Python's `socket` module shows it).
fn ipv6_text(addr: &libc::in6_addr) -> String {
    let mut text = [0 as libc::c_char; 64];
    // SAFETY: `addr` points to a valid in6_addr and `text` is a writable buffer of the
    // length passed, longer than INET6_ADDRSTRLEN (46).
    let out = unsafe {
        inet_ntop(
            libc::AF_INET6,
            std::ptr::from_ref(addr).cast(),
            text.as_mut_ptr(),
            text.len() as libc::socklen_t,
        )
    };
    if out.is_null() {
        return std::net::Ipv6Addr::from(addr.s6_addr).to_string();
    }
    // SAFETY: inet_ntop succeeded, so `text` holds a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(text.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

impl SockAddr {
    /// Run `call` with pointers to this address's storage and length (the length set
    /// to the whole storage first, for the kernel to shrink), again on `EINTR`.
    fn fill(
        &mut self,
        mut call: impl FnMut(*mut libc::sockaddr, *mut libc::socklen_t) -> io::Result<isize>,
    ) -> io::Result<isize> {
        loop {
            self.len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let addr = std::ptr::addr_of_mut!(self.storage).cast::<libc::sockaddr>();
            match call(addr, std::ptr::addr_of_mut!(self.len)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// One `recvfrom(2)` into `buf`, the sender's address into `from`; retried on `EINTR`.
pub fn recv_from(fd: RawFd, buf: &mut [u8], from: &mut SockAddr) -> io::Result<usize> {
    // recvfrom writes at most buf.len() bytes into `buf`, and at most `*len` bytes of
    // address into `addr`, updating `*len`.
    from.fill(|addr, len| {
        direct_syscall!(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            0,
            addr,
            len
        )
    })
    .map(|n| n as usize)
}

/// One `accept4(2)`: the new connection's descriptor, already non-blocking and
/// close-on-exec (no `ioctl`/`fcntl` after), and its peer's address into `from`.
/// Retried on `EINTR`; `WouldBlock` when no connection waits.
pub fn accept(fd: RawFd, from: &mut SockAddr) -> io::Result<RawFd> {
    // accept4 writes at most `*len` bytes of address into `addr` and updates `*len`;
    // the flags are valid for it.
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    from.fill(|addr, len| direct_syscall!(libc::SYS_accept4, fd, addr, len, flags))
        .map(|conn| conn as RawFd)
}

/// `getsockname(2)` (or, with `peer`, `getpeername(2)`) of the socket `fd` into `name`.
pub fn socket_name(fd: RawFd, peer: bool, name: &mut SockAddr) -> io::Result<()> {
    let call = if peer {
        libc::SYS_getpeername
    } else {
        libc::SYS_getsockname
    };
    // getsockname/getpeername write at most `*len` bytes of address into `addr` and
    // update `*len`.
    name.fill(|addr, len| direct_syscall!(call, fd, addr, len))
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn recv_from_gives_the_senders_ipv4_address() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.send_to(b"ping", a.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        let mut from = SockAddr::default();
        let n = recv_from(a.as_raw_fd(), &mut buf, &mut from).unwrap();
        assert_eq!(&buf[..n], b"ping");
        let port = b.local_addr().unwrap().port();
        assert_eq!(
            from.parts(),
            AddrParts::V4 {
                ip: "127.0.0.1".into(),
                port
            }
        );
    }

    #[test]
    fn accept_gives_a_non_blocking_connection_and_its_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let mut from = SockAddr::default();
        let nothing = accept(listener.as_raw_fd(), &mut from).unwrap_err();
        assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let conn = accept(listener.as_raw_fd(), &mut from).unwrap();
        let port = client.local_addr().unwrap().port();
        assert_eq!(
            from.parts(),
            AddrParts::V4 {
                ip: "127.0.0.1".into(),
                port
            }
        );
        // SAFETY: F_GETFL/F_GETFD on a descriptor this test owns; closed right after.
        let (fl, fd_flags) = unsafe {
            (
                libc::fcntl(conn, libc::F_GETFL),
                libc::fcntl(conn, libc::F_GETFD),
            )
        };
        assert_ne!(fl & libc::O_NONBLOCK, 0);
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
        // SAFETY: `conn` came from accept4 above and nothing else owns it.
        unsafe { libc::close(conn) };
    }

    #[test]
    fn ipv6_text_matches_inet_ntop_forms() {
        let loopback = libc::in6_addr {
            s6_addr: std::net::Ipv6Addr::LOCALHOST.octets(),
        };
        assert_eq!(ipv6_text(&loopback), "::1");
        let mapped: std::net::Ipv6Addr = "::ffff:10.0.0.1".parse().unwrap();
        let mapped = libc::in6_addr {
            s6_addr: mapped.octets(),
        };
        assert_eq!(ipv6_text(&mapped), "::ffff:10.0.0.1");
    }
}
