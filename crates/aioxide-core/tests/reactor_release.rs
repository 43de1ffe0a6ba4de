//! Lazy release of registrations: `release` keeps the kernel registration until the next
//! flush, `reclaim` takes it back without a system call, and a registration that outlives
//! its closed number is recognised and dropped.
//!
//! One test function per concern, all in this binary's single test so that descriptor
//! numbers are predictable (the lowest free number is reused; no other test runs here).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use aioxide_core::sys::Events;
use aioxide_core::{Interest, Reactor, Readiness};

const NONE: Interest = Interest {
    read: false,
    write: false,
};
const READ: Interest = Interest {
    read: true,
    write: false,
};

/// One zero-timeout wait: (kernel events seen, readiness passed on).
fn poll(reactor: &Reactor) -> (usize, Vec<Readiness>) {
    let mut events = Events::with_capacity(64);
    let mut out = Vec::new();
    reactor.wait(&mut events, Some(0.0), &mut out).unwrap();
    (events.len(), out)
}

fn readable(fd: i32) -> Vec<Readiness> {
    vec![Readiness {
        fd,
        readable: true,
        writable: false,
    }]
}

fn released_descriptor_is_not_reported_and_reclaim_restores_it() {
    let reactor = Reactor::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    reactor.set_interest(fd, READ).unwrap();
    a.write_all(b"x").unwrap();
    assert_eq!(poll(&reactor).1, readable(fd));

    reactor.release(fd, NONE).unwrap();
    assert_eq!(reactor.interest(fd), NONE);
    reactor.reclaim(fd, READ).unwrap();
    assert_eq!(reactor.interest(fd), READ);
    // Taken back before any wait: still registered, still reported.
    assert_eq!(poll(&reactor).1, readable(fd));

    reactor.release(fd, NONE).unwrap();
    assert_eq!(reactor.watched(), 1, "kept until the flush");
    // The wait flushes first: the registration is gone, nothing is seen.
    assert_eq!(poll(&reactor), (0, vec![]));
    assert_eq!(reactor.watched(), 0);
    // Reclaiming after the flush registers afresh.
    reactor.reclaim(fd, READ).unwrap();
    assert_eq!(poll(&reactor).1, readable(fd));
    reactor.set_interest(fd, NONE).unwrap();
}

fn released_then_reused_number_is_registered_afresh() {
    let reactor = Reactor::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    reactor.set_interest(fd, READ).unwrap();
    reactor.release(fd, NONE).unwrap();
    drop(b);
    // The closed number is the lowest free one: the next socket gets it.
    let (mut c, d) = UnixStream::pair().unwrap();
    let (c_fd, d_fd) = (c.as_raw_fd(), d.as_raw_fd());
    let reused = if c_fd == fd { &c } else { &d };
    assert!(
        c_fd == fd || d_fd == fd,
        "number {fd} not reused ({c_fd}, {d_fd})"
    );
    // Not a reclaim (nobody vouches it is the same file): the kernel is asked.
    reactor.set_interest(reused.as_raw_fd(), READ).unwrap();
    if c_fd == fd {
        d.try_clone().unwrap().write_all(b"y").unwrap();
    } else {
        c.write_all(b"y").unwrap();
    }
    assert_eq!(poll(&reactor).1, readable(fd));
    reactor.set_interest(fd, NONE).unwrap();
}

fn stale_registration_is_dropped_once_it_reports() {
    let reactor = Reactor::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    // A second descriptor keeps the file open after `b` closes.
    let mut keeper = b.try_clone().unwrap();
    reactor.set_interest(fd, READ).unwrap();
    reactor.release(fd, NONE).unwrap();
    drop(b);
    // The number is reused by a watched socket with nothing to read.
    let (c, d) = UnixStream::pair().unwrap();
    let (watched, mut peer) = if c.as_raw_fd() == fd { (c, d) } else { (d, c) };
    assert_eq!(watched.as_raw_fd(), fd);
    reactor.set_interest(fd, READ).unwrap();
    // The old file becomes readable: its registration (closed number, file alive)
    // reports under the old serial and is not taken for the new socket's.
    a.write_all(b"old").unwrap();
    let (seen, ready) = poll(&reactor);
    assert_eq!((seen, ready), (1, vec![]));
    // Rebuilt: the stale report is gone for good, the current socket still works.
    assert_eq!(poll(&reactor), (0, vec![]));
    peer.write_all(b"new").unwrap();
    assert_eq!(poll(&reactor).1, readable(fd));
    let mut buf = [0u8; 8];
    assert_eq!(keeper.read(&mut buf).unwrap(), 3);
    reactor.set_interest(fd, NONE).unwrap();
}

#[test]
fn lazy_release() {
    released_descriptor_is_not_reported_and_reclaim_restores_it();
    released_then_reused_number_is_registered_afresh();
    stale_registration_is_dropped_once_it_reports();
}
