//! The stream write buffer: asyncio's water-mark rules, byte integrity under partial
//! writes, and a real `writev` on a socketpair.

use std::io::{self, IoSlice, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use aioxide_core::sys::socket;
use aioxide_core::transport::{Buffered, FlowEvent, WaterMarks, WriteBuffer};

fn marks(high: usize, low: usize) -> WaterMarks {
    WaterMarks { high, low }
}

/// A writer that takes at most `cap` bytes per call and records them.
fn taking(out: &mut Vec<u8>, cap: usize) -> impl FnMut(&[IoSlice<'_>]) -> io::Result<usize> + '_ {
    move |slices| {
        let mut left = cap;
        let mut took = 0;
        for s in slices {
            let n = s.len().min(left);
            out.extend_from_slice(&s[..n]);
            took += n;
            left -= n;
            if left == 0 {
                break;
            }
        }
        if took == 0 && cap == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(took)
    }
}

#[test]
fn limits_follow_asyncio() {
    assert_eq!(WaterMarks::default(), marks(65536, 16384));
    assert_eq!(
        WaterMarks::from_limits(Some(1000), None).unwrap(),
        marks(1000, 250)
    );
    assert_eq!(
        WaterMarks::from_limits(None, Some(100)).unwrap(),
        marks(400, 100)
    );
    assert_eq!(
        WaterMarks::from_limits(Some(0), Some(0)).unwrap(),
        marks(0, 0)
    );
    assert_eq!(
        WaterMarks::from_limits(Some(1), Some(2)).unwrap_err(),
        "high (1) must be >= low (2) must be >= 0"
    );
}

#[test]
fn pause_once_above_high_and_resume_once_at_low() {
    let mut buf = WriteBuffer::new(marks(100, 20));
    assert_eq!(
        buf.push(&[1; 100]),
        FlowEvent::None,
        "at the mark is not above it"
    );
    assert_eq!(buf.push(&[2; 1]), FlowEvent::Pause);
    assert_eq!(buf.push(&[3; 50]), FlowEvent::None, "pause is said once");
    assert!(buf.is_paused());
    let mut out = Vec::new();
    // Down to 51 bytes: still above low, no resume.
    let (n, ev) = buf.flush_with(taking(&mut out, 100)).unwrap();
    assert_eq!((n, ev), (100, FlowEvent::None));
    // Down to 21: still above 20.
    let (n, ev) = buf.flush_with(taking(&mut out, 30)).unwrap();
    assert_eq!((n, ev), (30, FlowEvent::None));
    // Down to 20: at the low mark resumes.
    let (n, ev) = buf.flush_with(taking(&mut out, 1)).unwrap();
    assert_eq!((n, ev), (1, FlowEvent::Resume));
    assert!(!buf.is_paused());
    assert_eq!(buf.len(), 20);
}

#[test]
fn lowering_the_marks_can_pause_at_once() {
    let mut buf = WriteBuffer::new(WaterMarks::default());
    assert_eq!(buf.push(&[0; 1000]), FlowEvent::None);
    assert_eq!(buf.set_marks(marks(500, 100)), FlowEvent::Pause);
}

#[test]
fn would_block_stops_the_flush_and_keeps_everything() {
    let mut buf = WriteBuffer::new(WaterMarks::default());
    buf.push(b"hello");
    let mut out = Vec::new();
    let (n, ev) = buf.flush_with(taking(&mut out, 0)).unwrap();
    assert_eq!((n, ev), (0, FlowEvent::None));
    assert_eq!(buf.len(), 5);
}

#[test]
fn interrupted_writes_are_retried() {
    let mut buf = WriteBuffer::new(WaterMarks::default());
    buf.push(b"abc");
    let mut calls = 0;
    let (n, _) = buf
        .flush_with(|slices| {
            calls += 1;
            if calls == 1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            Ok(slices.iter().map(|s| s.len()).sum())
        })
        .unwrap();
    assert_eq!((n, calls, buf.len()), (3, 2, 0));
}

#[test]
fn an_error_keeps_what_was_not_written() {
    let mut buf = WriteBuffer::new(WaterMarks::default());
    buf.push(b"0123456789");
    // A short write ends the flush (the kernel took what it could)...
    let (n, _) = buf.flush_with(|_| Ok(4)).unwrap();
    assert_eq!((n, buf.len()), (4, 6));
    // ...and a failing one returns the error with the rest still buffered.
    let err = buf
        .flush_with(|_| Err(io::Error::from_raw_os_error(32))) // EPIPE
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(32));
    assert_eq!(buf.len(), 6);
    let mut out = Vec::new();
    buf.flush_with(taking(&mut out, usize::MAX)).unwrap();
    assert_eq!(out, b"456789");
}

/// A small deterministic generator (no dependency needed for a reproducible fuzz).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

#[test]
fn randomized_writes_keep_bytes_in_order_and_flow_events_consistent() {
    for seed in 0..200u64 {
        let mut rng = Lcg(seed);
        let high = 1 + rng.next(5000);
        let low = rng.next(high + 1);
        let mut buf = WriteBuffer::new(marks(high, low));
        let (mut written, mut out) = (Vec::new(), Vec::new());
        let mut paused = false;
        let mut next_byte: u8 = 0;
        for _ in 0..300 {
            if rng.next(2) == 0 {
                let chunk: Vec<u8> = (0..rng.next(2000))
                    .map(|_| {
                        next_byte = next_byte.wrapping_add(1);
                        next_byte
                    })
                    .collect();
                written.extend_from_slice(&chunk);
                let ev = buf.push(&chunk);
                let should_pause = !paused && buf.len() > high;
                assert_eq!(ev == FlowEvent::Pause, should_pause, "seed {seed}");
                paused |= should_pause;
            } else {
                let (_, ev) = buf.flush_with(taking(&mut out, rng.next(3000))).unwrap();
                let should_resume = paused && buf.len() <= low;
                assert_eq!(ev == FlowEvent::Resume, should_resume, "seed {seed}");
                paused &= !should_resume;
            }
            assert_eq!(buf.is_paused(), paused);
            assert_eq!(out.len() + buf.len(), written.len());
        }
        buf.flush_with(taking(&mut out, usize::MAX)).unwrap();
        assert_eq!(out, written, "seed {seed}");
    }
}

#[test]
fn flushes_through_a_real_writev() {
    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let mut buf = WriteBuffer::new(WaterMarks::default());
    let mut expected = Vec::new();
    for i in 0..200u32 {
        let chunk = i.to_le_bytes().repeat(1 + (i as usize % 7));
        expected.extend_from_slice(&chunk);
        buf.push(&chunk);
    }
    let fd = a.as_raw_fd();
    let (n, _) = buf.flush_with(|slices| socket::writev(fd, slices)).unwrap();
    assert_eq!(n, expected.len());
    assert!(buf.is_empty());
    drop(a);
    let mut got = Vec::new();
    b.read_to_end(&mut got).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn a_full_socket_stops_the_flush_without_losing_bytes() {
    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let mut buf = WriteBuffer::new(WaterMarks::default());
    let payload: Vec<u8> = (0..4_000_000u32).map(|i| i as u8).collect();
    for chunk in payload.chunks(65536) {
        buf.push(chunk);
    }
    let fd = a.as_raw_fd();
    let (n, _) = buf.flush_with(|slices| socket::writev(fd, slices)).unwrap();
    assert!(
        n < payload.len(),
        "the socket buffer cannot take 4 MB at once"
    );
    assert_eq!(n + buf.len(), payload.len());
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        got
    });
    a.set_nonblocking(false).unwrap();
    buf.flush_with(|slices| socket::writev(fd, slices)).unwrap();
    assert!(buf.is_empty());
    drop(a);
    assert_eq!(reader.join().unwrap(), payload);
}
