//! Facts about io_uring for the fs engine: a submission ring the loop thread fills and a
//! completion ring the kernel fills, with an eventfd the kernel signals on every
//! completion so the loop's poller notices. Creating a ring fails where the kernel or a
//! seccomp profile forbids io_uring (containers often do); the engine then uses threads.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, types, IoUring, Probe};

use super::file::{RawBuf, CURRENT_POSITION};

/// One request to put on the ring.
pub(crate) enum RingOp<'a> {
    Read {
        fd: RawFd,
        buf: &'a RawBuf,
        done: usize,
        offset: i64,
    },
    Write {
        fd: RawFd,
        buf: &'a RawBuf,
        done: usize,
        offset: i64,
    },
    Sync {
        fd: RawFd,
        datasync: bool,
    },
}

pub(crate) struct Ring {
    ring: IoUring,
}

fn chunk(buf: &RawBuf, done: usize) -> u32 {
    u32::try_from(buf.len() - done).unwrap_or(1 << 30)
}

fn position(offset: i64, done: usize) -> u64 {
    if offset == CURRENT_POSITION {
        u64::MAX
    } else {
        (offset + done as i64) as u64
    }
}

impl Ring {
    /// A ring of `entries` slots whose completions signal `eventfd`; fails unless the
    /// kernel allows io_uring and supports read, write and fsync on it.
    pub(crate) fn new(entries: u32, completions: u32, eventfd: RawFd) -> io::Result<Ring> {
        let ring = IoUring::builder()
            .setup_cqsize(completions)
            .build(entries)?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for code in [opcode::Read::CODE, opcode::Write::CODE, opcode::Fsync::CODE] {
            if !probe.is_supported(code) {
                return Err(io::Error::from(io::ErrorKind::Unsupported));
            }
        }
        ring.submitter().register_eventfd(eventfd)?;
        Ok(Ring { ring })
    }

    /// Queue `op` tagged with `user_data` and hand it to the kernel.
    ///
    /// The engine keeps the request that owns `op`'s buffer until the completion with
    /// this `user_data` has been reaped, which is what the kernel needs: the memory stays
    /// valid for as long as the kernel may touch it.
    pub(crate) fn submit(&mut self, user_data: u64, op: RingOp<'_>) -> io::Result<()> {
        let entry = match op {
            RingOp::Read {
                fd,
                buf,
                done,
                offset,
            } => opcode::Read::new(types::Fd(fd), buf.ptr_at(done), chunk(buf, done))
                .offset(position(offset, done))
                .build(),
            RingOp::Write {
                fd,
                buf,
                done,
                offset,
            } => opcode::Write::new(
                types::Fd(fd),
                buf.ptr_at(done).cast_const(),
                chunk(buf, done),
            )
            .offset(position(offset, done))
            .build(),
            RingOp::Sync { fd, datasync } => {
                let flags = if datasync {
                    types::FsyncFlags::DATASYNC
                } else {
                    types::FsyncFlags::empty()
                };
                opcode::Fsync::new(types::Fd(fd)).flags(flags).build()
            }
        }
        .user_data(user_data);
        loop {
            // SAFETY: the entry points at memory the caller keeps valid until this
            // user_data completes (see above); the fd is only a number to the kernel.
            let pushed = unsafe { self.ring.submission().push(&entry) };
            if pushed.is_ok() {
                break;
            }
            // The submission queue is full: hand what is queued to the kernel first.
            self.ring.submit()?;
        }
        self.ring.submit()?;
        Ok(())
    }

    /// Call `each(user_data, result)` for every completion the kernel has posted;
    /// `result` is a byte count or `-errno`.
    pub(crate) fn drain(&mut self, mut each: impl FnMut(u64, i32)) {
        loop {
            for cqe in self.ring.completion() {
                each(cqe.user_data(), cqe.result());
            }
            // Completions the kernel could not post (a full completion ring) wait in
            // its overflow list, and signal nothing when room appears: only an enter
            // call moves them over. Ask for that until none are left.
            let more = {
                let mut sq = self.ring.submission();
                sq.sync();
                sq.cq_overflow() || sq.taskrun()
            };
            if !more || self.ring.submit().is_err() || self.ring.completion().is_empty() {
                break;
            }
        }
    }

    /// Block until at least one completion is posted (used only when tearing down with
    /// requests still in the kernel's hands).
    pub(crate) fn wait(&mut self) -> io::Result<()> {
        self.ring.submit_and_wait(1).map(|_| ())
    }
}
