//! The file I/O engine behind `aioxide.fs`.
//!
//! The loop thread hands the [`Engine`] a [`Request`] with a payload of its choosing and
//! later collects a [`Completion`] carrying that payload back, when the engine's
//! descriptor ([`Engine::fd`], an eventfd the caller polls) becomes readable:
//!
//! * reads, writes and fsyncs go to an io_uring ring the loop thread submits to directly
//!   (no thread hop), where the kernel allows io_uring;
//! * everything else (open, stat, directory calls), and all requests where io_uring is
//!   refused, run as blocking calls on a shared pool of worker threads ([`pool`]).
//!
//! Requests are never cancelled: once handed over, a request runs to its end and its
//! completion is reported, so a caller can keep positions consistent after its own
//! waiter gave up.

mod engine;
mod pool;

pub use crate::sys::file::{RawBuf, CURRENT_POSITION};
pub use engine::{Backend, Completion, Engine, Outcome, Request};
