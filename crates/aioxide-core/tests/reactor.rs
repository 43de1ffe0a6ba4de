//! The reactor on real descriptors: level-triggered readiness, interest changes,
//! cross-thread wakeups.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use aioxide_core::sys::Events;
use aioxide_core::{CompletionQueue, Interest, Reactor, Readiness};

const READ: Interest = Interest {
    read: true,
    write: false,
};
const WRITE: Interest = Interest {
    read: false,
    write: true,
};

fn wait(reactor: &Reactor, timeout: Option<f64>) -> (bool, Vec<Readiness>) {
    let mut events = Events::with_capacity(64);
    let mut out = Vec::new();
    let woken = reactor.wait(&mut events, timeout, &mut out).unwrap();
    (woken, out)
}

#[test]
fn readable_descriptor_is_reported_until_drained() {
    let reactor = Reactor::new().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    reactor.set_interest(b.as_raw_fd(), READ).unwrap();
    assert_eq!(wait(&reactor, Some(0.0)).1, vec![]);
    a.write_all(b"ping").unwrap();
    // Level-triggered: reported on every wait while unread bytes remain.
    for _ in 0..3 {
        let (_, ready) = wait(&reactor, Some(1.0));
        assert_eq!(
            ready,
            vec![Readiness {
                fd: b.as_raw_fd(),
                readable: true,
                writable: false
            }]
        );
    }
    let mut buf = [0u8; 16];
    assert_eq!(b.read(&mut buf).unwrap(), 4);
    assert_eq!(wait(&reactor, Some(0.0)).1, vec![]);
}

#[test]
fn interest_can_change_and_be_dropped() {
    let reactor = Reactor::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    reactor.set_interest(fd, WRITE).unwrap();
    let (_, ready) = wait(&reactor, Some(1.0));
    assert!(ready[0].writable && !ready[0].readable);
    assert_eq!(reactor.watched(), 1);
    reactor.set_interest(fd, Interest::default()).unwrap();
    assert_eq!(reactor.watched(), 0);
    assert_eq!(wait(&reactor, Some(0.0)).1, vec![]);
}

#[test]
fn registering_a_closed_descriptor_is_an_error_and_leaves_no_trace() {
    let reactor = Reactor::new().unwrap();
    // Not a number just closed: the test threads running beside this one open
    // descriptors, and one could take it before set_interest runs.
    let fd = 1 << 24;
    let err = reactor.set_interest(fd, READ).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(9), "EBADF expected");
    assert_eq!(reactor.watched(), 0);
}

#[test]
fn hang_up_wakes_a_reader() {
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    reactor.set_interest(b.as_raw_fd(), READ).unwrap();
    drop(a);
    let (_, ready) = wait(&reactor, Some(1.0));
    assert_eq!(ready.len(), 1);
    assert!(ready[0].readable);
}

#[test]
fn waker_ends_a_blocking_wait_from_another_thread() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let waker = reactor.waker().clone();
    let started = Instant::now();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        waker.wake().unwrap();
    });
    let (woken, ready) = wait(&reactor, None);
    t.join().unwrap();
    assert!(woken);
    assert!(ready.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    // The wakeup was consumed: the next wait times out without it.
    assert_eq!(wait(&reactor, Some(0.0)), (false, vec![]));
}

#[test]
fn wakeups_coalesce_until_consumed() {
    let reactor = Reactor::new().unwrap();
    for _ in 0..1000 {
        reactor.waker().wake().unwrap();
    }
    assert!(reactor.waker().is_pending());
    assert!(wait(&reactor, Some(0.0)).0);
    assert!(!reactor.waker().is_pending());
    assert!(!wait(&reactor, Some(0.0)).0);
}

#[test]
fn completion_queue_delivers_in_order_and_wakes_the_reactor() {
    let reactor = Reactor::new().unwrap();
    let queue = Arc::new(CompletionQueue::new(reactor.waker().clone()));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let q = queue.clone();
            thread::spawn(move || {
                for i in 0..250 {
                    q.push((p, i)).unwrap();
                }
            })
        })
        .collect();
    for t in producers {
        t.join().unwrap();
    }
    assert!(wait(&reactor, Some(1.0)).0);
    let mut got = Vec::new();
    queue.drain_into(&mut got);
    assert_eq!(got.len(), 1000);
    for p in 0..4 {
        let mine: Vec<i32> = got
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(mine, (0..250).collect::<Vec<_>>());
    }
    assert!(queue.is_empty());
}

#[test]
fn wait_honours_its_timeout() {
    let reactor = Reactor::new().unwrap();
    let started = Instant::now();
    let (woken, ready) = wait(&reactor, Some(0.05));
    assert!(!woken && ready.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(45));
}

#[test]
fn a_fresh_reactor_is_not_inherited() {
    let reactor = Reactor::new().unwrap();
    assert!(!reactor.inherited());
}
