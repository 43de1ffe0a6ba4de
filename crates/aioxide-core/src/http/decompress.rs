use std::io::Write;

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

use super::HttpError;

/// A `Content-Encoding` this client decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    pub fn from_header(value: &[u8]) -> Option<Self> {
        match value.trim_ascii().to_ascii_lowercase().as_slice() {
            b"gzip" | b"x-gzip" => Some(Self::Gzip),
            b"deflate" => Some(Self::Deflate),
            b"br" => Some(Self::Brotli),
            b"zstd" => Some(Self::Zstd),
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
    Brotli(Box<brotli_decompressor::DecompressorWriter<Vec<u8>>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Vec<u8>>>),
    /// The decoder could not be set up (zstd's context allocation); the first byte fails.
    Broken(String),
}

fn failed(e: std::io::Error) -> HttpError {
    HttpError::Decompress(e.to_string())
}

impl Decompressor {
    pub fn new(coding: Coding) -> Self {
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(GzDecoder::new(Vec::new())),
            Coding::Deflate => Inner::Sniffing(Vec::new()),
            Coding::Brotli => Inner::Brotli(Box::new(
                brotli_decompressor::DecompressorWriter::new(Vec::new(), 32 * 1024),
            )),
            Coding::Zstd => match zstd::stream::write::Decoder::new(Vec::new()) {
                Ok(d) => Inner::Zstd(Box::new(d)),
                Err(e) => Inner::Broken(e.to_string()),
            },
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
            // Both keep decoded bytes in a buffer of their own until flushed.
            Inner::Brotli(d) => d
                .write_all(input)
                .and_then(|_| d.flush())
                .map(|_| d.get_mut()),
            Inner::Zstd(d) => d
                .write_all(input)
                .and_then(|_| d.flush())
                .map(|_| d.get_mut()),
            Inner::Sniffing(_) => return Ok(()),
            Inner::Broken(why) => return Err(HttpError::Decompress(why.clone())),
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
            Inner::Brotli(d) => d.close().map(|_| d.get_mut()),
            Inner::Zstd(d) => d.do_finish().map(|_| d.get_mut()),
            Inner::Broken(why) => return Err(HttpError::Decompress(why.clone())),
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
        for coding in [Coding::Gzip, Coding::Brotli, Coding::Zstd] {
            let mut d = Decompressor::new(coding);
            let fed = d.feed(
                b"this is not compressed at all, not in any format",
                &mut Vec::new(),
            );
            assert!(
                fed.is_err() || d.finish(&mut Vec::new()).is_err(),
                "{coding:?}"
            );
        }
    }

    /// A brotli stream (RFC 7932 §9.2) of uncompressed metablocks, built by hand as this
    /// crate has no brotli encoder. Bits go least significant first: WBITS `0` (16) at
    /// the start; per metablock ISLAST 0, MNIBBLES `00` (4 nibbles), MLEN-1 in 16 bits,
    /// ISUNCOMPRESSED 1, zero padding to a byte, the bytes; then ISLAST 1, ISLASTEMPTY 1.
    fn brotli_stored(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, chunk) in body.chunks(65536).enumerate() {
            let shift = if i == 0 { 1 } else { 0 }; // the first carries the WBITS bit
            let header = ((chunk.len() as u32 - 1) << (3 + shift)) | (1 << (19 + shift));
            out.extend_from_slice(&header.to_le_bytes()[..3]);
            out.extend_from_slice(chunk);
        }
        out.push(0b11);
        out
    }

    #[test]
    fn brotli_and_zstd_decode_in_any_pieces_and_catch_truncation() {
        let body: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let br = brotli_stored(&body);
        let zs = zstd::stream::encode_all(&body[..], 3).unwrap();
        for (coding, wire) in [(Coding::Brotli, br), (Coding::Zstd, zs)] {
            for piece in [1, 7, 4096] {
                assert_eq!(roundtrip(coding, &wire, piece), body, "{coding:?}");
            }
            let mut d = Decompressor::new(coding);
            let _ = d.feed(&wire[..wire.len() / 2], &mut Vec::new());
            assert!(d.finish(&mut Vec::new()).is_err(), "{coding:?} truncated");
        }
    }
}
