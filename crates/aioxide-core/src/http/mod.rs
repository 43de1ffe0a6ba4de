//! The HTTP/1.1 client wire format behind `aioxide.http` (issue #28): request heads out,
//! response heads and bodies in. Pure functions and state machines over byte slices, so
//! the bindings feed them whatever the transport delivered and cargo tests and fuzz
//! targets reach them without a socket.
//!
//! * [`parse_head`] reads a status line and headers with `httparse`, under aiohttp's line
//!   and field limits, and [`Framing::of`] decides how the body ends (RFC 9112 §6.3).
//! * [`BodyDecoder`] turns framed bytes into body bytes: a length, the chunked coding
//!   ([`ChunkedDecoder`]), or the connection's end; then gzip/deflate if asked.
//! * [`write_head`] and [`write_chunk`] build what goes out, refusing header injection.

mod body;
mod chunked;
mod decompress;
mod error;
mod head;
mod request;

pub use body::{BodyDecoder, Progress};
pub use chunked::ChunkedDecoder;
pub use decompress::{Coding, Decompressor};
pub use error::HttpError;
pub use head::{parse_head, Framing, Limits, ResponseHead};
pub use request::{write_chunk, write_head, LAST_CHUNK};
