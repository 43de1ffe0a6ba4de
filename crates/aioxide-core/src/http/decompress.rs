use std::io::Write;

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

use super::HttpError;

/// A `Content-Encoding` this client decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    pub fn from_header(value: &[u8]) -> Option<Self> {
        match value.trim_ascii().to_ascii_lowercase().as_slice() {
            b"gzip" | b"x-gzip" => Some(Self::Gzip),
            b"deflate" => Some(Self::Deflate),
            _ => None,
        }
    }
}

/// Streaming decompression of a body. "deflate" is zlib-wrapped by the RFC but raw in
/// some servers, so its first two bytes decide (a zlib header is a multiple of 31).
pub struct Decompressor {
    inner: Inner,
}

enum Inner {
    Sniffing(Vec<u8>),
    Gzip(GzDecoder<Vec<u8>>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
}

fn failed(e: std::io::Error) -> HttpError {
    HttpError::Decompress(e.to_string())
}

impl Decompressor {
    pub fn new(coding: Coding) -> Self {
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(GzDecoder::new(Vec::new())),
            Coding::Deflate => Inner::Sniffing(Vec::new()),
        };
        Self { inner }
    }

    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), HttpError> {
        if let Inner::Sniffing(seen) = &mut self.inner {
            seen.extend_from_slice(input);
            if seen.len() < 2 {
                return Ok(());
            }
            let first = std::mem::take(seen);
            let zlib = first[0] & 0x0f == 8 && u16::from_be_bytes([first[0], first[1]]) % 31 == 0;
            self.inner = if zlib {
                Inner::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                Inner::Raw(DeflateDecoder::new(Vec::new()))
            };
            return self.feed(&first, out);
        }
        let produced = match &mut self.inner {
            Inner::Gzip(d) => d.write_all(input).map(|_| d.get_mut()),
            Inner::Zlib(d) => d.write_all(input).map(|_| d.get_mut()),
            Inner::Raw(d) => d.write_all(input).map(|_| d.get_mut()),
            Inner::Sniffing(_) => return Ok(()),
        }
        .map_err(failed)?;
        out.append(produced);
        Ok(())
    }

    /// The body ended: flush what the decoder holds; a stream cut short is an error.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), HttpError> {
        let produced = match &mut self.inner {
            Inner::Gzip(d) => d.try_finish().map(|_| d.get_mut()),
            Inner::Zlib(d) => d.try_finish().map(|_| d.get_mut()),
            Inner::Raw(d) => d.try_finish().map(|_| d.get_mut()),
            Inner::Sniffing(seen) if seen.is_empty() => return Ok(()),
            Inner::Sniffing(_) => return Err(HttpError::Decompress("truncated stream".into())),
        }
        .map_err(failed)?;
        out.append(produced);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    fn roundtrip(coding: Coding, wire: &[u8], piece: usize) -> Vec<u8> {
        let mut d = Decompressor::new(coding);
        let mut out = Vec::new();
        for part in wire.chunks(piece) {
            d.feed(part, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode_in_any_pieces() {
        let body: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&body).unwrap();
        let mut zl = ZlibEncoder::new(Vec::new(), Compression::fast());
        zl.write_all(&body).unwrap();
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::fast());
        raw.write_all(&body).unwrap();
        let cases = [
            (Coding::Gzip, gz.finish().unwrap()),
            (Coding::Deflate, zl.finish().unwrap()),
            (Coding::Deflate, raw.finish().unwrap()),
        ];
        for (coding, wire) in cases {
            for piece in [1, 7, 4096] {
                assert_eq!(roundtrip(coding, &wire, piece), body);
            }
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let mut d = Decompressor::new(Coding::Gzip);
        assert!(d.feed(b"this is not gzip at all", &mut Vec::new()).is_err());
    }
}
