//! A doorbell on the epoll set: tells, without a system call, whether anything woke the
//! set since it was last reset.
//!
//! It is one io_uring multishot `POLL_ADD` on the epoll descriptor. The kernel wakes an
//! epoll descriptor's pollers whenever a watched descriptor turns ready (a new event, or
//! an event on one already reported), and for an `EPOLL_CTL_ADD`/`MOD` that finds the
//! descriptor ready unless epoll already had it queued. The poll posts a completion into
//! the ring, which is memory shared with the kernel: reading its tail costs no system
//! call. Completions are posted as task work of the thread that armed the poll, which
//! the kernel runs before that thread returns to user space from a system call; so when
//! the loop thread's own `send` readies a watched descriptor, the bell has rung by the
//! time `send` returns. A wakeup from elsewhere would interrupt that thread to post it;
//! with `COOP_TASKRUN` (Linux 5.19+) it does not, and sets a flag in the shared ring
//! instead (`TASKRUN_FLAG`), which counts as a ring: no interrupt per wakeup on a busy
//! loop thread.
//!
//! Multishot polls end on their own in some cases (a full completion ring, a wakeup that
//! came from an io_uring eventfd, which makes the kernel turn it into a one-shot): the
//! final completion lacks the "more" flag, and the bell rearms.

use std::io;
use std::os::fd::RawFd;

use io_uring::{cqueue, opcode, types, IoUring, Probe};

/// Completions the ring holds before the kernel overflows it (each wakeup posts at
/// most one per return to user space, and the loop resets the bell every iteration).
const COMPLETIONS: u32 = 1024;

/// Rearming more often than this in a row means the poll does not stay armed here.
const MAX_REARMS: u32 = 64;

pub struct Doorbell {
    ring: IoUring,
    epoll: RawFd,
    armed: bool,
    /// Rearms since the last completion that kept the poll armed.
    rearms: u32,
}

impl Doorbell {
    /// A doorbell on the epoll descriptor `epoll`, armed by the calling thread (the one
    /// whose task work posts its completions). Fails where io_uring is unavailable.
    pub fn new(epoll: RawFd) -> io::Result<Doorbell> {
        let ring = match IoUring::builder()
            .setup_cqsize(COMPLETIONS)
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(2)
        {
            Ok(ring) => ring,
            // Before 5.19: completions from elsewhere interrupt the thread instead.
            Err(_) => IoUring::builder().setup_cqsize(COMPLETIONS).build(2)?,
        };
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::PollAdd::CODE) {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        let mut bell = Doorbell {
            ring,
            epoll,
            armed: false,
            rearms: 0,
        };
        bell.arm()?;
        Ok(bell)
    }

    fn arm(&mut self) -> io::Result<()> {
        let poll = opcode::PollAdd::new(types::Fd(self.epoll), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(1);
        // SAFETY: the entry refers to no memory, only to the epoll descriptor, which the
        // reactor keeps open for as long as this doorbell lives.
        unsafe { self.ring.submission().push(&poll) }
            .map_err(|_| io::Error::from(io::ErrorKind::WouldBlock))?;
        self.ring.submit()?;
        self.armed = true;
        Ok(())
    }

    /// Whether the bell can be trusted: armed, and not rearmed over and over.
    pub fn usable(&self) -> bool {
        self.armed && self.rearms < MAX_REARMS
    }

    /// Reset the bell: returns whether it rang since the last reset. A bell that cannot
    /// be trusted right now (see `usable`) counts as rung.
    pub fn reset(&mut self) -> bool {
        let mut rang = false;
        let mut ended = false;
        for cqe in self.ring.completion() {
            rang = true;
            if cqueue::more(cqe.flags()) {
                self.rearms = 0;
            } else {
                ended = true;
            }
        }
        let (overflow, pending) = {
            let mut sq = self.ring.submission();
            sq.sync();
            (sq.cq_overflow(), sq.taskrun())
        };
        // A wakeup whose completion waits for this thread's next system call.
        rang |= pending;
        if overflow {
            // Completions wait in the kernel's overflow list; an enter call moves them.
            let _ = self.ring.submit();
            for cqe in self.ring.completion() {
                ended |= !cqueue::more(cqe.flags());
            }
            rang = true;
        }
        if ended {
            self.armed = false;
        }
        if !self.armed && self.rearms < MAX_REARMS {
            self.rearms += 1;
            self.armed = self.arm().is_ok();
            rang = true;
        }
        rang || !self.usable()
    }
}
