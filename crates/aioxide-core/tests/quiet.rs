//! `Reactor::quiet`: a zero-timeout wait can be skipped only when nothing could be
//! reported. These run on real descriptors and the kernel's io_uring; where io_uring is
//! forbidden `quiet` must always answer false, which is checked instead.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use aioxide_core::sys::{Doorbell, Events, Poller};
use aioxide_core::{Interest, Reactor, Readiness};

const READ: Interest = Interest {
    read: true,
    write: false,
};
const BOTH: Interest = Interest {
    read: true,
    write: true,
};

fn wait(reactor: &Reactor) -> Vec<Readiness> {
    let mut events = Events::with_capacity(64);
    let mut out = Vec::new();
    reactor.wait(&mut events, Some(0.0), &mut out).unwrap();
    out
}

fn io_uring_here() -> bool {
    Poller::new()
        .and_then(|p| Doorbell::new(p.as_raw_fd()))
        .is_ok()
}

/// A reactor watching `b` for reading, its bell made and a first wait done.
fn settled() -> (Reactor, UnixStream, UnixStream) {
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    reactor.set_interest(b.as_raw_fd(), READ).unwrap();
    assert!(!reactor.quiet(), "a new bell knows nothing yet");
    assert!(wait(&reactor).is_empty());
    (reactor, a, b)
}

#[test]
fn quiet_until_a_watched_descriptor_turns_ready() {
    let (reactor, mut a, mut b) = settled();
    if !io_uring_here() {
        assert!(!reactor.quiet());
        return;
    }
    assert!(reactor.quiet());
    assert!(reactor.quiet(), "looking does not ring it");
    // This thread's own write readies `b`: the bell has rung when write returns.
    a.write_all(b"ping").unwrap();
    assert!(!reactor.quiet());
    assert_eq!(wait(&reactor).len(), 1);
    let mut buf = [0u8; 16];
    assert_eq!(b.read(&mut buf).unwrap(), 4);
    assert!(reactor.quiet(), "drained after the wait reported it");
    // Already reported once (level-triggered, still queued inside epoll): rings again.
    a.write_all(b"pong").unwrap();
    assert!(!reactor.quiet());
}

#[test]
fn a_widened_registration_is_never_quiet_until_the_next_wait() {
    let (reactor, _a, b) = settled();
    if !io_uring_here() {
        return;
    }
    assert!(reactor.quiet());
    // `b` is writable at once; epoll may not ring for it, so the reactor must not guess.
    reactor.set_interest(b.as_raw_fd(), BOTH).unwrap();
    assert!(!reactor.quiet());
    assert_eq!(wait(&reactor).len(), 1);
}

#[test]
fn another_thread_making_a_descriptor_ready_rings_the_bell() {
    let (reactor, a, _b) = settled();
    if !io_uring_here() {
        return;
    }
    assert!(reactor.quiet());
    let writer = thread::spawn(move || {
        let mut a = a;
        a.write_all(b"x").unwrap();
        a
    });
    let _a = writer.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while reactor.quiet() {
        assert!(Instant::now() < deadline, "the bell never rang");
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(wait(&reactor).len(), 1);
}

#[test]
fn a_full_events_buffer_is_never_quiet() {
    let reactor = Reactor::new().unwrap();
    let mut pairs = Vec::new();
    for _ in 0..3 {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"x").unwrap();
        reactor.set_interest(b.as_raw_fd(), READ).unwrap();
        pairs.push((a, b));
    }
    let _ = reactor.quiet();
    let mut events = Events::with_capacity(2);
    let mut out = Vec::new();
    reactor.wait(&mut events, Some(0.0), &mut out).unwrap();
    assert_eq!(out.len(), 2);
    // The third is still unreported, and no new wakeup will say so.
    assert!(!reactor.quiet());
}
