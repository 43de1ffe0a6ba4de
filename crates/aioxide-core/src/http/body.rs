use super::{ChunkedDecoder, Coding, Decompressor, Framing, HttpError};

/// What one [`BodyDecoder::feed`] did: input bytes used, and whether the body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub consumed: usize,
    pub done: bool,
}

/// One response body: framing first, then the content coding.
pub struct BodyDecoder {
    framing: Framing,
    remaining: u64,
    chunked: ChunkedDecoder,
    decompressor: Option<Decompressor>,
    scratch: Vec<u8>,
    done: bool,
    /// Most decoded bytes a compressed body may produce (a decompression bomb's guard).
    limit: u64,
    produced: u64,
}

impl BodyDecoder {
    pub fn new(framing: Framing, coding: Option<Coding>) -> Self {
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        Self {
            framing,
            remaining,
            chunked: ChunkedDecoder::default(),
            decompressor: coding.map(Decompressor::new),
            scratch: Vec::new(),
            done: framing == Framing::None,
            limit: u64::MAX,
            produced: 0,
        }
    }

    /// Fails the body once decompression has produced more than `limit` bytes.
    pub fn with_decompress_limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Offsets into `out` where chunks of a chunked body ended since the last call; none
    /// for a decompressed body, whose output has no such boundaries.
    pub fn take_chunk_ends(&mut self) -> Vec<usize> {
        let ends = self.chunked.take_ends();
        if self.decompressor.is_some() {
            return Vec::new();
        }
        ends
    }

    /// Whether the end of the connection is the end of this body.
    pub fn ends_at_close(&self) -> bool {
        self.framing == Framing::UntilClose
    }

    /// Appends the body bytes in `input` to `out`, stopping where the body ends.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Progress, HttpError> {
        if self.done {
            return Ok(Progress {
                consumed: 0,
                done: true,
            });
        }
        let raw = if self.decompressor.is_some() {
            &mut self.scratch
        } else {
            &mut *out
        };
        let consumed = match self.framing {
            Framing::None => 0,
            Framing::Length(_) => {
                let take = self.remaining.min(input.len() as u64) as usize;
                raw.extend_from_slice(&input[..take]);
                self.remaining -= take as u64;
                self.done = self.remaining == 0;
                take
            }
            Framing::Chunked => {
                let used = self.chunked.feed(input, raw)?;
                self.done = self.chunked.is_done();
                used
            }
            Framing::UntilClose => {
                raw.extend_from_slice(input);
                input.len()
            }
        };
        if let Some(d) = &mut self.decompressor {
            let before = out.len();
            d.feed(&self.scratch, out)?;
            self.scratch.clear();
            if self.done {
                d.finish(out)?;
            }
            self.produced += (out.len() - before) as u64;
            if self.produced > self.limit {
                out.truncate(before);
                let why = format!("decompressed body over the limit of {} bytes", self.limit);
                return Err(HttpError::Decompress(why));
            }
        }
        Ok(Progress {
            consumed,
            done: self.done,
        })
    }

    /// The connection ended. Only a body framed by the close ends well here.
    pub fn eof(&mut self, out: &mut Vec<u8>) -> Result<(), HttpError> {
        if self.done {
            return Ok(());
        }
        match self.framing {
            Framing::UntilClose => {
                self.done = true;
                match &mut self.decompressor {
                    Some(d) => d.finish(out),
                    None => Ok(()),
                }
            }
            Framing::Length(_) => Err(HttpError::Incomplete {
                missing: Some(self.remaining),
            }),
            _ => Err(HttpError::Incomplete { missing: None }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_body_stops_at_its_length() {
        let mut d = BodyDecoder::new(Framing::Length(5), None);
        let mut out = Vec::new();
        assert_eq!(
            d.feed(b"hel", &mut out),
            Ok(Progress {
                consumed: 3,
                done: false
            })
        );
        assert_eq!(
            d.feed(b"loHTTP/1.1", &mut out),
            Ok(Progress {
                consumed: 2,
                done: true
            })
        );
        assert_eq!(out, b"hello");
    }

    #[test]
    fn an_early_close_is_incomplete_unless_the_close_frames_the_body() {
        let mut d = BodyDecoder::new(Framing::Length(5), None);
        d.feed(b"hel", &mut Vec::new()).unwrap();
        assert_eq!(
            d.eof(&mut Vec::new()),
            Err(HttpError::Incomplete { missing: Some(2) })
        );
        let mut d = BodyDecoder::new(Framing::Chunked, None);
        d.feed(b"3\r\nab", &mut Vec::new()).unwrap();
        assert_eq!(
            d.eof(&mut Vec::new()),
            Err(HttpError::Incomplete { missing: None })
        );
        let mut d = BodyDecoder::new(Framing::UntilClose, None);
        let mut out = Vec::new();
        d.feed(b"all of it", &mut out).unwrap();
        assert_eq!(
            (d.eof(&mut out), d.is_done(), out.as_slice()),
            (Ok(()), true, &b"all of it"[..])
        );
    }

    #[test]
    fn a_decompressed_body_over_its_limit_fails() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 1 << 20]).unwrap();
        let wire = gz.finish().unwrap();
        let framing = Framing::Length(wire.len() as u64);
        let mut d = BodyDecoder::new(framing, Some(Coding::Gzip)).with_decompress_limit(1000);
        assert!(matches!(
            d.feed(&wire, &mut Vec::new()),
            Err(HttpError::Decompress(_))
        ));
        let mut d = BodyDecoder::new(framing, Some(Coding::Gzip)).with_decompress_limit(1 << 20);
        let mut out = Vec::new();
        assert_eq!(d.feed(&wire, &mut out).map(|p| p.done), Ok(true));
        assert_eq!(out.len(), 1 << 20);
    }
}
