//! The few CPython C-API calls pyo3 has no safe wrapper for. Every `unsafe` block of this
//! crate is in this folder, one file per kind of call, each block with its `// SAFETY:`
//! comment; the rest of the crate uses the safe functions re-exported here.

mod async_slots;
mod buffers;
mod context;
mod fastcall;
mod gc;
mod gil_cell;
mod prefetch;

pub use async_slots::*;
pub use buffers::*;
pub use context::*;
pub use fastcall::*;
pub use gc::*;
pub use gil_cell::*;
pub use prefetch::*;
