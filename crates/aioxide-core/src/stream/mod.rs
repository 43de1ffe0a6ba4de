//! Building blocks of stream transports (issue #3): what a transport keeps for the
//! kernel and how it tells its producer to slow down. Core code, so no "protocol": the
//! buffer reports flow events and the bindings turn them into `pause_writing` /
//! `resume_writing` calls.

mod write_buffer;

pub use write_buffer::{Flow, FlowEvent, WaterMarks, WriteBuffer, DEFAULT_HIGH};
