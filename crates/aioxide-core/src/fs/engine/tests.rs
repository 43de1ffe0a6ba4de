//! The engine on real files, with both backends, polled the way a loop polls it.

use super::*;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn backends() -> [Backend; 2] {
    [Backend::Auto, Backend::Threads]
}

/// Reap until `count` completions have arrived (fails the test after 10 s).
fn collect(engine: &mut Engine<u32>, count: usize) -> Vec<Completion<u32>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "engine stalled: {} of {count}",
            out.len()
        );
        let mut fds = [libc::pollfd {
            fd: engine.fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // Waiting the way the loop does: on the engine's descriptor.
        let rc = nix_poll(&mut fds, 100);
        assert!(rc >= 0);
        engine.reap(&mut out);
    }
    out
}

fn nix_poll(fds: &mut [libc::pollfd; 1], timeout_ms: i32) -> i32 {
    crate::sys::file::poll_for_tests(fds, timeout_ms)
}

fn temp_file(content: &[u8]) -> std::fs::File {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "aioxide-engine-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f.write_all(content).unwrap();
    f
}

fn bytes(result: &io::Result<Outcome>) -> usize {
    match result {
        Ok(Outcome::Bytes(n)) => *n,
        Ok(_) => panic!("expected a byte count"),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn reads_at_offsets_and_stops_at_end_of_file() {
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for backend in backends() {
        let f = temp_file(&content);
        let mut engine = Engine::<u32>::new(backend).unwrap();
        for (tag, offset) in [(0u32, 0i64), (1, 1000), (2, 190_000)] {
            let request = Request::Read {
                fd: f.as_raw_fd(),
                buf: RawBuf::owned(vec![0; 65_536]),
                offset,
            };
            engine.submit(request, tag).unwrap();
        }
        let mut done = collect(&mut engine, 3);
        done.sort_by_key(|c| c.payload);
        for (c, offset) in done.into_iter().zip([0usize, 1000, 190_000]) {
            let n = bytes(&c.result);
            assert_eq!(n, 65_536.min(content.len() - offset), "{backend:?}");
            let data = c.buf.unwrap().into_owned().unwrap();
            assert_eq!(&data[..n], &content[offset..offset + n]);
        }
    }
}

#[test]
fn writes_land_at_offsets_and_sync_completes() {
    for backend in backends() {
        let mut f = temp_file(b"");
        let mut engine = Engine::<u32>::new(backend).unwrap();
        let chunk = 1 << 20;
        for i in 0..8u32 {
            let data = vec![i as u8 + 1; chunk];
            let request = Request::Write {
                fd: f.as_raw_fd(),
                buf: RawBuf::owned(data),
                offset: i64::from(i) * chunk as i64,
            };
            engine.submit(request, i).unwrap();
        }
        for c in collect(&mut engine, 8) {
            assert_eq!(bytes(&c.result), chunk);
        }
        let request = Request::Sync {
            fd: f.as_raw_fd(),
            datasync: true,
        };
        engine.submit(request, 99).unwrap();
        let done = collect(&mut engine, 1);
        assert!(matches!(done[0].result, Ok(Outcome::Done)));
        let mut all = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 8 * chunk);
        for (i, block) in all.chunks(chunk).enumerate() {
            assert!(
                block.iter().all(|&b| b == i as u8 + 1),
                "{backend:?} block {i}"
            );
        }
    }
}

#[test]
fn errors_come_back_with_the_payload() {
    for backend in backends() {
        let mut engine = Engine::<u32>::new(backend).unwrap();
        let request = Request::Read {
            fd: -1,
            buf: RawBuf::owned(vec![0; 16]),
            offset: 0,
        };
        engine.submit(request, 7).unwrap();
        let done = collect(&mut engine, 1);
        assert_eq!(done[0].payload, 7);
        let err = done[0].result.as_ref().err().expect("EBADF");
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}

#[test]
fn calls_run_on_the_pool() {
    let mut engine = Engine::<u32>::new(Backend::Auto).unwrap();
    for i in 0..100u32 {
        let call = Box::new(move || Ok(Outcome::Value(Box::new(i * 2))));
        engine.submit(Request::Call(call), i).unwrap();
    }
    let done = collect(&mut engine, 100);
    for c in done {
        match c.result {
            Ok(Outcome::Value(v)) => assert_eq!(*v.downcast::<u32>().unwrap(), c.payload * 2),
            _ => panic!("expected a value"),
        }
    }
}

#[test]
fn dropping_an_engine_waits_for_requests_in_flight() {
    let f = temp_file(&vec![7u8; 4 << 20]);
    let mut engine = Engine::<u32>::new(Backend::Auto).unwrap();
    for i in 0..64u32 {
        let request = Request::Read {
            fd: f.as_raw_fd(),
            buf: RawBuf::owned(vec![0; 1 << 20]),
            offset: i64::from(i % 4) << 20,
        };
        engine.submit(request, i).unwrap();
    }
    drop(engine);
}

#[test]
fn many_requests_at_once_all_complete() {
    // More requests than the completion ring holds: none may be lost.
    let f = temp_file(&[5u8; 4096]);
    let mut engine = Engine::<u32>::new(Backend::Auto).unwrap();
    for round in 0..3u32 {
        let count = 6000u32;
        for i in 0..count {
            let request = Request::Read {
                fd: f.as_raw_fd(),
                buf: RawBuf::owned(vec![0; 4096]),
                offset: 0,
            };
            engine.submit(request, round * count + i).unwrap();
        }
        let done = collect(&mut engine, count as usize);
        assert_eq!(done.len(), count as usize);
        assert!(done.iter().all(|c| bytes(&c.result) == 4096));
    }
}
