//! One engine per event loop: requests in, completions out, an eventfd in between.

use std::any::Any;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

use super::pool;
use crate::sys::file::{self, RawBuf};
use crate::sys::fork_generation;
use crate::sys::uring::{Ring, RingOp};
use crate::sys::Waker;

/// The completion ring's size, and the most requests the engine keeps on the ring at
/// once; more go to the pool, so the kernel never has more completions than room.
const RING_COMPLETIONS: u32 = 4096;

/// What to do.
pub enum Request {
    /// Fill `buf` from `offset` (or the file position, [`file::CURRENT_POSITION`]) until
    /// it is full or the file ends; completes with [`Outcome::Bytes`].
    Read { fd: RawFd, buf: RawBuf, offset: i64 },
    /// Write all of `buf` at `offset` (or the file position); completes with
    /// [`Outcome::Bytes`].
    Write { fd: RawFd, buf: RawBuf, offset: i64 },
    /// `fsync` (or `fdatasync`); completes with [`Outcome::Done`].
    Sync { fd: RawFd, datasync: bool },
    /// Any other blocking call, run on a pool thread.
    Call(Box<dyn FnOnce() -> io::Result<Outcome> + Send>),
}

pub enum Outcome {
    Bytes(usize),
    Done,
    Value(Box<dyn Any + Send>),
}

/// A finished request: the caller's payload and what happened.
pub struct Completion<P> {
    pub payload: P,
    pub result: io::Result<Outcome>,
    /// The buffer of a read or write, handed back.
    pub buf: Option<RawBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// io_uring if the kernel allows it, else threads.
    Auto,
    Threads,
}

/// Completions from pool threads, and the eventfd both they and the ring signal.
struct Shared<P> {
    done: Mutex<Vec<Completion<P>>>,
    signal: Waker,
}

impl<P> Shared<P> {
    fn finish(&self, payload: P, result: io::Result<Outcome>, buf: Option<RawBuf>) {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Completion {
                payload,
                result,
                buf,
            });
        // The loop is the only reader; if this fails the loop is gone anyway.
        let _ = self.signal.wake();
    }
}

/// A request on the ring, with how far it got (reads and writes continue after a short
/// transfer until complete).
struct InRing<P> {
    payload: P,
    request: Request,
    done: usize,
}

pub struct Engine<P: Send + 'static> {
    shared: Arc<Shared<P>>,
    ring: Option<Ring>,
    slots: Vec<Option<InRing<P>>>,
    free: Vec<usize>,
    in_ring: usize,
    generation: u64,
}

fn run_blocking(request: Request) -> (io::Result<Outcome>, Option<RawBuf>) {
    match request {
        Request::Read { fd, buf, offset } => (
            file::read_full(fd, &buf, offset).map(Outcome::Bytes),
            Some(buf),
        ),
        Request::Write { fd, buf, offset } => (
            file::write_full(fd, &buf, offset).map(Outcome::Bytes),
            Some(buf),
        ),
        Request::Sync { fd, datasync } => (file::sync(fd, datasync).map(|()| Outcome::Done), None),
        Request::Call(call) => (call(), None),
    }
}

fn buffer_of(request: Request) -> Option<RawBuf> {
    match request {
        Request::Read { buf, .. } | Request::Write { buf, .. } => Some(buf),
        _ => None,
    }
}

impl<P: Send + 'static> Engine<P> {
    pub fn new(backend: Backend) -> io::Result<Engine<P>> {
        let shared = Arc::new(Shared {
            done: Mutex::new(Vec::new()),
            signal: Waker::new()?,
        });
        let ring = match backend {
            Backend::Auto => Ring::new(256, RING_COMPLETIONS, shared.signal.as_raw_fd()).ok(),
            Backend::Threads => None,
        };
        Ok(Engine {
            shared,
            ring,
            slots: Vec::new(),
            free: Vec::new(),
            in_ring: 0,
            generation: fork_generation(),
        })
    }

    /// The descriptor to poll for readability; then call [`Engine::reap`].
    pub fn fd(&self) -> RawFd {
        self.shared.signal.as_raw_fd()
    }

    pub fn backend_name(&self) -> &'static str {
        if self.ring.is_some() {
            "io_uring"
        } else {
            "threads"
        }
    }

    /// True in a forked child of the process that made this engine: it must not be used
    /// (its ring is shared with the parent).
    pub fn is_stale(&self) -> bool {
        self.generation != fork_generation()
    }

    /// Requests handed over and not yet reaped on the ring.
    pub fn in_ring(&self) -> usize {
        self.in_ring
    }

    /// Start `request`; its completion, carrying `payload`, comes out of [`Engine::reap`].
    pub fn submit(&mut self, request: Request, payload: P) -> io::Result<()> {
        if self.is_stale() {
            return Err(io::Error::other("fs engine used in a forked child"));
        }
        let ring_kind = matches!(
            request,
            Request::Read { .. } | Request::Write { .. } | Request::Sync { .. }
        );
        if ring_kind && self.ring.is_some() && self.in_ring < RING_COMPLETIONS as usize {
            let slot = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
            self.slots[slot] = Some(InRing {
                payload,
                request,
                done: 0,
            });
            self.in_ring += 1;
            if let Err(e) = self.push_slot(slot) {
                let entry = self.take_slot(slot);
                return Err(self
                    .hand_to_pool(entry.request, entry.payload)
                    .err()
                    .unwrap_or(e));
            }
            return Ok(());
        }
        self.hand_to_pool(request, payload)
    }

    fn hand_to_pool(&self, request: Request, payload: P) -> io::Result<()> {
        let shared = self.shared.clone();
        pool::spawn(Box::new(move || {
            let (result, buf) = run_blocking(request);
            shared.finish(payload, result, buf);
        }))
    }

    fn take_slot(&mut self, slot: usize) -> InRing<P> {
        self.in_ring -= 1;
        self.free.push(slot);
        self.slots[slot].take().expect("ring slot in use")
    }

    fn push_slot(&mut self, slot: usize) -> io::Result<()> {
        let entry = self.slots[slot].as_ref().expect("ring slot in use");
        let ring = self.ring.as_mut().expect("ring present");
        let op = match &entry.request {
            Request::Read { fd, buf, offset } => RingOp::Read {
                fd: *fd,
                buf,
                done: entry.done,
                offset: *offset,
            },
            Request::Write { fd, buf, offset } => RingOp::Write {
                fd: *fd,
                buf,
                done: entry.done,
                offset: *offset,
            },
            Request::Sync { fd, datasync } => RingOp::Sync {
                fd: *fd,
                datasync: *datasync,
            },
            Request::Call(_) => unreachable!("calls never go to the ring"),
        };
        ring.submit(slot as u64, op)
    }

    /// Move every finished request into `out`.
    pub fn reap(&mut self, out: &mut Vec<Completion<P>>) {
        if self.is_stale() {
            return;
        }
        // Reset before looking, so a completion racing with us re-arms the eventfd.
        self.shared.signal.reset();
        let mut posted = Vec::new();
        if let Some(ring) = self.ring.as_mut() {
            ring.drain(|slot, res| posted.push((slot as usize, res)));
        }
        for (slot, res) in posted {
            self.on_ring_completion(slot, res, out);
        }
        out.append(&mut self.shared.done.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn on_ring_completion(&mut self, slot: usize, res: i32, out: &mut Vec<Completion<P>>) {
        let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let (len, is_read) = match &entry.request {
            Request::Read { buf, .. } => (buf.len(), true),
            Request::Write { buf, .. } => (buf.len(), false),
            _ => {
                let result = if res < 0 {
                    Err(io::Error::from_raw_os_error(-res))
                } else {
                    Ok(Outcome::Done)
                };
                let entry = self.take_slot(slot);
                out.push(Completion {
                    payload: entry.payload,
                    result,
                    buf: None,
                });
                return;
            }
        };
        let again = -res == libc::EINTR || -res == libc::EAGAIN;
        let finished = if again {
            None
        } else if res < 0 {
            // An error after part of a read arrived reports that part.
            if is_read && entry.done > 0 {
                Some(Ok(Outcome::Bytes(entry.done)))
            } else {
                Some(Err(io::Error::from_raw_os_error(-res)))
            }
        } else if res == 0 {
            if is_read || len == 0 {
                Some(Ok(Outcome::Bytes(entry.done)))
            } else {
                Some(Err(io::Error::from(io::ErrorKind::WriteZero)))
            }
        } else {
            entry.done += res as usize;
            (entry.done >= len).then_some(Ok(Outcome::Bytes(entry.done)))
        };
        let finished = match finished {
            Some(result) => Some(result),
            None => self.push_slot(slot).err().map(Err),
        };
        if let Some(result) = finished {
            let entry = self.take_slot(slot);
            out.push(Completion {
                payload: entry.payload,
                result,
                buf: buffer_of(entry.request),
            });
        }
    }
}

impl<P: Send + 'static> Drop for Engine<P> {
    fn drop(&mut self) {
        if self.is_stale() {
            // The kernel requests belong to the parent; their payloads' memory is this
            // child's copy, which the kernel never touches. Leak rather than free.
            std::mem::forget(std::mem::take(&mut self.slots));
            return;
        }
        // The kernel may still write into buffers the payloads own: wait for every
        // request on the ring before letting them go.
        let mut sink = Vec::new();
        while self.in_ring > 0 {
            let Some(ring) = self.ring.as_mut() else {
                break;
            };
            if ring.wait().is_err() {
                std::mem::forget(std::mem::take(&mut self.slots));
                return;
            }
            let mut posted = Vec::new();
            ring.drain(|slot, res| posted.push((slot as usize, res)));
            for (slot, res) in posted {
                self.on_ring_completion(slot, res, &mut sink);
            }
            sink.clear();
        }
    }
}

#[cfg(test)]
mod tests;
