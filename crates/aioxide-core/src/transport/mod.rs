//! What every transport shares (issues #3, #27): the lifecycle (open, closing, lost;
//! reading paused), what a transport keeps for the kernel, and how it tells its producer
//! to slow down. Core code, so no "protocol": these types return events and steps, and
//! the bindings turn them into `connection_lost`, `pause_writing` and `resume_writing`
//! calls.

mod datagram_queue;
mod lifecycle;
mod write_buffer;

pub use datagram_queue::DatagramQueue;
pub use lifecycle::{Close, ForceClose, Lifecycle, Write, LOG_THRESHOLD_FOR_CONNLOST_WRITES};
pub use write_buffer::{Buffered, Flow, FlowEvent, WaterMarks, WriteBuffer, DEFAULT_HIGH};
