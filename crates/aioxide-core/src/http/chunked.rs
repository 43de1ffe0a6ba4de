use super::HttpError;

/// The chunked transfer coding (RFC 9112 §7.1), decoded a byte slice at a time, so a
/// chunk may be split anywhere between reads. Sizes are hex of at most 15 digits (no
/// sign, no overflow of `u64`); extensions and trailers are skipped within a bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    /// Where each chunk's data ended in `out`, for readers that keep chunk boundaries.
    ends: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size { value: u64, digits: u8 },
    Extension { value: u64, len: usize },
    SizeLf { value: u64 },
    Data(u64),
    DataCr,
    DataLf,
    Trailer { len: usize },
    TrailerLf { empty: bool },
    Done,
}

const MAX_DIGITS: u8 = 15;
const MAX_LINE: usize = 8190;

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            ends: Vec::new(),
        }
    }
}

impl ChunkedDecoder {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The chunk ends recorded since the last call, as offsets into the `out` given to
    /// [`feed`](Self::feed).
    pub fn take_ends(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.ends)
    }

    /// Appends the body bytes found in `input` to `out`; returns how many input bytes were
    /// used. Stops at the end of the body: what follows belongs to the next response.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, HttpError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if let State::Data(left) = self.state {
                let take = (left.min((input.len() - i) as u64)) as usize;
                out.extend_from_slice(&input[i..i + take]);
                i += take;
                self.state = if left == take as u64 {
                    self.ends.push(out.len());
                    State::DataCr
                } else {
                    State::Data(left - take as u64)
                };
                continue;
            }
            self.state = step(self.state, input[i])?;
            i += 1;
        }
        Ok(i)
    }
}

fn step(state: State, byte: u8) -> Result<State, HttpError> {
    Ok(match (state, byte) {
        (State::Size { value, digits }, _) if byte.is_ascii_hexdigit() => {
            if digits == MAX_DIGITS {
                return Err(HttpError::BadChunkSize);
            }
            let digit = (byte as char).to_digit(16).unwrap_or_default() as u64;
            State::Size {
                value: value * 16 + digit,
                digits: digits + 1,
            }
        }
        (State::Size { digits: 0, .. }, _) => return Err(HttpError::BadChunkSize),
        (State::Size { value, .. }, b';' | b' ' | b'\t') => State::Extension { value, len: 0 },
        (State::Size { value, .. }, b'\r') => State::SizeLf { value },
        (State::Size { .. }, _) => return Err(HttpError::BadChunkSize),
        (State::Extension { value, .. }, b'\r') => State::SizeLf { value },
        (State::Extension { value, len }, _) if len < MAX_LINE && byte != b'\n' => {
            State::Extension {
                value,
                len: len + 1,
            }
        }
        (State::Extension { .. }, _) => return Err(HttpError::BadChunkSize),
        (State::SizeLf { value: 0 }, b'\n') => State::Trailer { len: 0 },
        (State::SizeLf { value }, b'\n') => State::Data(value),
        (State::DataCr, b'\r') => State::DataLf,
        (State::DataLf, b'\n') => State::Size {
            value: 0,
            digits: 0,
        },
        (State::Trailer { len }, b'\r') => State::TrailerLf { empty: len == 0 },
        (State::Trailer { len }, _) if len < MAX_LINE && byte != b'\n' => {
            State::Trailer { len: len + 1 }
        }
        (State::TrailerLf { empty: true }, b'\n') => State::Done,
        (State::TrailerLf { empty: false }, b'\n') => State::Trailer { len: 0 },
        (State::SizeLf { .. }, _) => return Err(HttpError::BadChunkSize),
        _ => return Err(HttpError::BadChunkFraming),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(wire: &[u8], piece: usize) -> Result<(Vec<u8>, usize), HttpError> {
        let mut d = ChunkedDecoder::default();
        let (mut out, mut used) = (Vec::new(), 0);
        for part in wire.chunks(piece) {
            used += d.feed(part, &mut out)?;
            if d.is_done() {
                break;
            }
        }
        Ok((out, used))
    }

    #[test]
    fn decodes_whatever_the_split() {
        let wire =
            b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for piece in 1..wire.len() {
            let (out, used) = decode_in_pieces(wire, piece).unwrap();
            assert_eq!(out, b"helloabcdefghijklmnopqrstuvwxyz");
            assert_eq!(&wire[used..], b"NEXT", "piece {piece}");
        }
    }

    #[test]
    fn records_where_each_chunk_ends() {
        let mut d = ChunkedDecoder::default();
        let mut out = b"xy".to_vec();
        d.feed(b"2\r\nab\r\n3\r\ncd", &mut out).unwrap();
        assert_eq!(d.take_ends(), [4]);
        d.feed(b"e\r\n0\r\n\r\n", &mut out).unwrap();
        assert_eq!((d.take_ends(), out.as_slice()), (vec![7], &b"xyabcde"[..]));
    }

    #[test]
    fn bad_sizes_and_framing_are_errors() {
        for wire in [
            &b"-1\r\n"[..],
            b"\r\n",
            b"zz\r\n",
            b"1000000000000000\r\n",
            b"5\nhello",
        ] {
            assert_eq!(
                decode_in_pieces(wire, 64),
                Err(HttpError::BadChunkSize),
                "{wire:?}"
            );
        }
        assert_eq!(
            decode_in_pieces(b"1\r\nab\r\n", 64),
            Err(HttpError::BadChunkFraming)
        );
    }

    #[test]
    fn the_largest_size_does_not_overflow() {
        let mut d = ChunkedDecoder::default();
        assert_eq!(d.feed(b"fffffffffffffff\r\nab", &mut Vec::new()), Ok(19));
        assert!(!d.is_done());
    }
}
