//! The lifecycle every transport shares (stream sockets, pipes, datagram sockets, TLS):
//! open, closing, lost; reading paused; writes dropped once the connection is gone.
//! asyncio keeps this as `_closing`, `_paused` and `_conn_lost` on each transport class.
//! Here it is one type whose steps return what the caller must do (stop watching,
//! schedule `connection_lost`, log a warning), so the rules are tested without Python.

/// asyncio's `constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES`: a write after the connection
/// is gone is dropped, and from this many such writes on each one logs a warning.
pub const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

#[derive(Debug, Default)]
pub struct Lifecycle {
    closing: bool,
    read_paused: bool,
    /// asyncio's `_conn_lost`: 1 from the loss on, plus one per write after it.
    lost: u32,
    /// Writes dropped while closing, before the loss (transports that refuse data once
    /// closing); asyncio counts them in `_conn_lost` too, for the warning only.
    dropped: u32,
    /// Writes are dropped from `close()` on, not only after the loss (asyncio's pipes).
    drops_while_closing: bool,
}

/// What `close()` must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// It was closing already: nothing.
    Already,
    /// Stop reading; the writer flushes what is queued, then the connection is lost.
    Drain,
    /// Stop reading and writing: the connection is lost now (`connection_lost(None)` on
    /// the next iteration).
    LostNow,
}

/// What a force-close (`abort()`, a fatal error) must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForceClose {
    /// The connection was lost already: nothing.
    Already,
    /// Drop the queued data, stop writing, and `connection_lost(exc)` on the next
    /// iteration; `was_closing` says the reader was stopped already.
    Lost { was_closing: bool },
}

/// What a write must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Send,
    /// Drop the data; `warn` says asyncio logs its warning for this one.
    Drop {
        warn: bool,
    },
}

impl Lifecycle {
    /// A transport that drops writes once closing (`true`) or only once lost.
    pub fn new(drops_while_closing: bool) -> Lifecycle {
        Lifecycle {
            drops_while_closing,
            ..Lifecycle::default()
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing
    }

    pub fn is_lost(&self) -> bool {
        self.lost > 0
    }

    pub fn is_reading(&self) -> bool {
        !self.read_paused && !self.closing
    }

    /// `pause_reading()`: true when reading stops now.
    pub fn pause_reading(&mut self) -> bool {
        let changed = self.is_reading();
        self.read_paused |= changed;
        changed
    }

    /// `resume_reading()`: true when reading starts again now.
    pub fn resume_reading(&mut self) -> bool {
        let changed = self.read_paused && !self.closing;
        self.read_paused &= !changed;
        changed
    }

    /// Closing without a `close()` call (a read pipe's end of stream): stop reading.
    pub fn begin_closing(&mut self) {
        self.closing = true;
    }

    /// `close()`; `drained` says nothing waits to be written.
    pub fn close(&mut self, drained: bool) -> Close {
        if self.closing {
            return Close::Already;
        }
        self.closing = true;
        if drained {
            self.lost += 1;
            Close::LostNow
        } else {
            Close::Drain
        }
    }

    /// `abort()` or a fatal error.
    pub fn force_close(&mut self) -> ForceClose {
        if self.is_lost() {
            return ForceClose::Already;
        }
        let was_closing = self.closing;
        self.closing = true;
        self.lost += 1;
        ForceClose::Lost { was_closing }
    }

    /// The connection went away under the transport (TLS: the transport below lost it).
    pub fn lose(&mut self) {
        self.closing = true;
        self.lost += 1;
    }

    /// A write of some data: send it, or drop it once the connection is gone.
    pub fn write(&mut self) -> Write {
        if self.is_lost() || (self.drops_while_closing && self.closing) {
            Write::Drop {
                warn: self.count_dropped(),
            }
        } else {
            Write::Send
        }
    }

    /// Count a dropped write (for a transport whose own state said to drop it); true
    /// when asyncio logs its warning for this one.
    pub fn count_dropped(&mut self) -> bool {
        let warn = self.lost + self.dropped >= LOG_THRESHOLD_FOR_CONNLOST_WRITES;
        if self.is_lost() {
            self.lost += 1;
        } else {
            self.dropped += 1;
        }
        warn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_with_nothing_queued_loses_the_connection_once() {
        let mut l = Lifecycle::new(false);
        assert!(l.is_reading() && !l.is_closing());
        assert_eq!(l.close(true), Close::LostNow);
        assert!(l.is_closing() && l.is_lost() && !l.is_reading());
        assert_eq!(l.close(true), Close::Already);
        assert_eq!(l.force_close(), ForceClose::Already);
    }

    #[test]
    fn close_with_data_queued_drains_and_abort_still_loses() {
        let mut l = Lifecycle::new(false);
        assert_eq!(l.close(false), Close::Drain);
        assert!(!l.is_lost());
        assert_eq!(
            l.write(),
            Write::Send,
            "a socket still takes writes while draining"
        );
        assert_eq!(l.force_close(), ForceClose::Lost { was_closing: true });
        assert!(l.is_lost());
    }

    #[test]
    fn force_close_of_an_open_transport_stops_the_reader_too() {
        let mut l = Lifecycle::new(false);
        assert_eq!(l.force_close(), ForceClose::Lost { was_closing: false });
        assert!(l.is_closing());
        assert_eq!(l.close(true), Close::Already);
    }

    #[test]
    fn pause_and_resume_report_changes_only() {
        let mut l = Lifecycle::new(false);
        assert!(l.pause_reading());
        assert!(!l.pause_reading());
        assert!(!l.is_reading());
        assert!(l.resume_reading());
        assert!(!l.resume_reading());
        assert!(l.pause_reading());
        l.begin_closing();
        assert!(
            !l.resume_reading(),
            "a closing transport does not read again"
        );
        assert!(!l.pause_reading());
    }

    #[test]
    fn writes_after_the_loss_warn_from_the_threshold_on() {
        let mut l = Lifecycle::new(false);
        l.force_close();
        let warns: Vec<Write> = (0..6).map(|_| l.write()).collect();
        // `_conn_lost` is 1 after the loss: writes 1..4 are silent, from the 5th on each warns.
        let expected = [false, false, false, false, true, true];
        for (got, warn) in warns.iter().zip(expected) {
            assert_eq!(*got, Write::Drop { warn });
        }
    }

    #[test]
    fn a_pipe_drops_writes_from_close_on_and_keeps_counting_after_the_loss() {
        let mut l = Lifecycle::new(true);
        assert_eq!(l.close(false), Close::Drain);
        for _ in 0..4 {
            assert_eq!(l.write(), Write::Drop { warn: false });
        }
        l.force_close();
        // 4 dropped + the loss: the next one reaches the threshold.
        assert_eq!(l.write(), Write::Drop { warn: true });
    }

    #[test]
    fn lose_counts_like_a_loss_for_writes() {
        let mut l = Lifecycle::new(false);
        for _ in 0..4 {
            assert!(!l.count_dropped());
        }
        l.lose();
        assert!(l.is_lost() && l.is_closing());
        assert!(l.count_dropped());
    }
}
