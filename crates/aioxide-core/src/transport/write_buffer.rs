//! The write buffer of a stream transport, with asyncio's flow control.
//!
//! `write()` data the kernel did not take at once is queued here as chunks; a flush
//! hands up to [`MAX_IOVECS`] of them to one `writev` and drops what went out. Flow
//! control follows asyncio's rules: when the buffered size rises *above* the high-water
//! mark the producer is asked to pause (once), and when a flush brings it down to the
//! low-water mark *or below* it may resume (once). Default marks are asyncio's: 64 KiB
//! high, a quarter of that low; giving one mark derives the other the same way.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

/// asyncio's default high-water mark for stream transports.
pub const DEFAULT_HIGH: usize = 64 * 1024;

/// Chunks handed to one `writev` (Linux's `IOV_MAX` is 1024).
pub const MAX_IOVECS: usize = 64;

/// What a change of the buffered size means for the producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowEvent {
    /// Nothing to tell.
    None,
    /// The size rose above the high-water mark: call `pause_writing()`.
    Pause,
    /// The size fell to the low-water mark or below after a pause: `resume_writing()`.
    Resume,
}

/// High- and low-water marks, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaterMarks {
    pub high: usize,
    pub low: usize,
}

impl Default for WaterMarks {
    fn default() -> Self {
        WaterMarks {
            high: DEFAULT_HIGH,
            low: DEFAULT_HIGH / 4,
        }
    }
}

impl WaterMarks {
    /// asyncio's `set_write_buffer_limits(high=None, low=None)` rules: a missing high is
    /// four times the low (or 64 KiB when both are missing), a missing low is a quarter of
    /// the high; `high >= low` is required (the error message is asyncio's).
    pub fn from_limits(high: Option<usize>, low: Option<usize>) -> Result<WaterMarks, String> {
        Self::from_limits_or(high, low, DEFAULT_HIGH)
    }

    /// The same rules with another default high-water mark (asyncio's TLS transport uses
    /// 512 KiB for writes and 256 KiB for reads).
    pub fn from_limits_or(
        high: Option<usize>,
        low: Option<usize>,
        default_high: usize,
    ) -> Result<WaterMarks, String> {
        let high = match (high, low) {
            (Some(h), _) => h,
            (None, Some(l)) => l.saturating_mul(4),
            (None, None) => default_high,
        };
        let low = low.unwrap_or(high / 4);
        if high < low {
            return Err(format!("high ({high}) must be >= low ({low}) must be >= 0"));
        }
        Ok(WaterMarks { high, low })
    }
}

/// Bytes waiting for the kernel, in write order.
#[derive(Debug, Default)]
pub struct WriteBuffer {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the front chunk already written.
    offset: usize,
    size: usize,
    flow: Flow,
}

/// A producer's pause state against water marks, for any buffer that counts its bytes
/// (the stream buffer here; a datagram transport's queue of messages).
#[derive(Debug, Default, Clone, Copy)]
pub struct Flow {
    marks: WaterMarks,
    paused: bool,
}

impl Flow {
    pub fn new(marks: WaterMarks) -> Flow {
        Flow {
            marks,
            paused: false,
        }
    }

    pub fn marks(&self) -> WaterMarks {
        self.marks
    }

    /// Whether the producer was told to pause and not yet to resume.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// New marks; may ask for a pause at once, as asyncio re-checks after setting them.
    pub fn set_marks(&mut self, marks: WaterMarks, size: usize) -> FlowEvent {
        self.marks = marks;
        self.grew(size)
    }

    /// The buffer grew to `size`: pause once it is above the high-water mark.
    pub fn grew(&mut self, size: usize) -> FlowEvent {
        if !self.paused && size > self.marks.high {
            self.paused = true;
            return FlowEvent::Pause;
        }
        FlowEvent::None
    }

    /// The buffer shrank to `size`: resume once it is at the low-water mark or below.
    pub fn shrank(&mut self, size: usize) -> FlowEvent {
        if self.paused && size <= self.marks.low {
            self.paused = false;
            return FlowEvent::Resume;
        }
        FlowEvent::None
    }
}

/// What a transport queues for the kernel, counted in bytes against water marks: the
/// stream `WriteBuffer` and the `DatagramQueue` answer for their marks through this.
pub trait Buffered {
    /// The bytes queued.
    fn size(&self) -> usize;
    fn flow(&self) -> &Flow;
    fn flow_mut(&mut self) -> &mut Flow;

    fn marks(&self) -> WaterMarks {
        self.flow().marks()
    }

    /// Whether the producer was told to pause and not yet to resume.
    fn is_paused(&self) -> bool {
        self.flow().is_paused()
    }

    /// Change the marks (`set_write_buffer_limits`); may ask for a pause at once.
    fn set_marks(&mut self, marks: WaterMarks) -> FlowEvent {
        let size = self.size();
        self.flow_mut().set_marks(marks, size)
    }
}

/// `Buffered` for a queue whose fields `size` and `flow` are the count and the marks.
macro_rules! buffered_by_fields {
    ($(impl<$t:ident>)? for $queue:ty) => {
        impl$(<$t>)? $crate::transport::Buffered for $queue {
            fn size(&self) -> usize {
                self.size
            }

            fn flow(&self) -> &$crate::transport::Flow {
                &self.flow
            }

            fn flow_mut(&mut self) -> &mut $crate::transport::Flow {
                &mut self.flow
            }
        }
    };
}
pub(crate) use buffered_by_fields;

buffered_by_fields!(for WriteBuffer);

impl WriteBuffer {
    pub fn new(marks: WaterMarks) -> WriteBuffer {
        WriteBuffer {
            flow: Flow::new(marks),
            ..WriteBuffer::default()
        }
    }

    /// Bytes buffered (asyncio's `get_write_buffer_size()`).
    pub fn len(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Queue `data` (the part the kernel did not take) behind what is buffered.
    pub fn push(&mut self, data: &[u8]) -> FlowEvent {
        if data.is_empty() {
            return FlowEvent::None;
        }
        self.size += data.len();
        self.chunks.push_back(data.to_vec());
        self.check_pause()
    }

    fn check_pause(&mut self) -> FlowEvent {
        self.flow.grew(self.size)
    }

    fn check_resume(&mut self) -> FlowEvent {
        self.flow.shrank(self.size)
    }

    /// Hand buffered bytes to `write` (a `writev`) until it takes less than offered,
    /// would block, or the buffer is empty. Returns the bytes written and the flow event
    /// this caused. An error other than "would block" is returned as is; what was
    /// written before it is already dropped from the buffer.
    pub fn flush_with<W>(&mut self, mut write: W) -> io::Result<(usize, FlowEvent)>
    where
        W: FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    {
        let mut total = 0;
        while !self.chunks.is_empty() {
            let (offered, result) = {
                // On the stack: a flush allocates nothing.
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut count = 0;
                let mut offered = 0;
                for (i, chunk) in self.chunks.iter().take(MAX_IOVECS).enumerate() {
                    let start = if i == 0 { self.offset } else { 0 };
                    slices[i] = IoSlice::new(&chunk[start..]);
                    offered += chunk.len() - start;
                    count = i + 1;
                }
                (offered, write(&slices[..count]))
            };
            match result {
                Ok(n) => {
                    self.consume(n.min(offered));
                    total += n;
                    if n < offered {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.check_resume();
                    return Err(e);
                }
            }
        }
        Ok((total, self.check_resume()))
    }

    /// Drop everything (abort / connection lost); the producer is not resumed.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.offset = 0;
        self.size = 0;
    }

    fn consume(&mut self, mut n: usize) {
        self.size -= n;
        while n > 0 {
            let front_left = self.chunks[0].len() - self.offset;
            if n >= front_left {
                n -= front_left;
                self.chunks.pop_front();
                self.offset = 0;
            } else {
                self.offset += n;
                n = 0;
            }
        }
    }
}
