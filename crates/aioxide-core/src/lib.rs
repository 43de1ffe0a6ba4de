//! aioxide-core: the pure-Rust heart of the aioxide event loop.
//!
//! Nothing here knows about Python. The binding crate (`aioxide-py`) wraps these pieces
//! into an `asyncio.AbstractEventLoop`; keeping them free of pyo3 means every rule of the
//! loop (ordering, timers, wakeups, readiness) is tested with plain `cargo test`.
//!
//! The pieces, and why they are shaped this way:
//!
//! * [`Scheduler`] is asyncio's `_run_once` bookkeeping: a FIFO ready queue and a
//!   [`Timers`] heap, generic over the callback payload so tests use plain values and the
//!   bindings use Python handles. A loop iteration runs exactly the callbacks that were
//!   ready when it began ([`Scheduler::take_batch`]), so callbacks scheduled by callbacks
//!   wait for the next iteration, as in asyncio.
//! * [`Reactor`] is the poller: level-triggered epoll, because asyncio's `add_reader`
//!   contract is level-triggered (a reader that leaves bytes unread is called again).
//!   mio only offers edge-triggered registration, which would cost an `epoll_ctl` re-arm
//!   per event to emulate; see `docs/architecture.md`.
//! * [`Waker`] wakes a reactor blocked in `epoll_wait` from another thread (eventfd), and
//!   coalesces wakeups so a burst of `call_soon_threadsafe` costs one write.
//! * [`Clock`] abstracts time so timer tests run on a [`ManualClock`].
//! * [`CompletionQueue`] carries results from worker threads back to the loop thread.
//! * [`transport`] holds what every transport shares: the lifecycle (open, closing,
//!   lost; reading paused) and the write buffer with asyncio's flow control (high/low
//!   water marks), flushed through `writev`.
//!
//! * [`fs`] is the file I/O engine behind `aioxide.fs`: io_uring where the kernel allows
//!   it, a worker pool otherwise, completions signalled through an eventfd.
//!
//! * [`http`] is the HTTP/1.1 client wire format behind `aioxide.http`: heads, framing,
//!   chunked coding and decompression, as state machines over byte slices.
//!
//! All `unsafe` lives in [`sys`], one module per OS facility.

mod clock;
mod completion;
pub mod fs;
pub mod http;
mod reactor;
mod scheduler;
pub mod sys;
mod timers;
pub mod transport;

pub use clock::{Clock, ManualClock, MonotonicClock};
pub use completion::CompletionQueue;
pub use reactor::{Interest, Reactor, Readiness};
pub use scheduler::Scheduler;
pub use sys::Waker;
pub use timers::{Cancellable, DueMark, Timers};
