use std::fmt;

/// Why a response could not be read, or a request could not be written. The bindings map
/// each to aiohttp's exception: head errors to `ClientResponseError`, body errors to
/// `ClientPayloadError`, request errors to `ValueError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    BadStatusLine(String),
    LineTooLong {
        limit: usize,
    },
    FieldTooLong {
        limit: usize,
    },
    TooManyHeaders,
    BadHeader(String),
    /// Both `Content-Length` and `Transfer-Encoding`, or two different lengths:
    /// a request-smuggling shape, never guessed at.
    AmbiguousLength,
    BadContentLength(String),
    BadChunkSize,
    BadChunkFraming,
    /// The connection ended before the body did.
    Incomplete {
        missing: Option<u64>,
    },
    Decompress(String),
    BadRequest(String),
}

impl HttpError {
    /// True for errors in the body, after a head was accepted.
    pub fn is_payload(&self) -> bool {
        matches!(
            self,
            Self::BadChunkSize
                | Self::BadChunkFraming
                | Self::Incomplete { .. }
                | Self::Decompress(_)
        )
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadStatusLine(line) => write!(f, "Bad status line {line:?}"),
            Self::LineTooLong { limit } => {
                write!(f, "Got more than {limit} bytes when reading status line")
            }
            Self::FieldTooLong { limit } => {
                write!(f, "Got more than {limit} bytes when reading header line")
            }
            Self::TooManyHeaders => f.write_str("Too many headers"),
            Self::BadHeader(why) => write!(f, "Invalid header: {why}"),
            Self::AmbiguousLength => {
                f.write_str("Content-Length can't be present with Transfer-Encoding")
            }
            Self::BadContentLength(v) => write!(f, "Invalid Content-Length {v:?}"),
            Self::BadChunkSize => f.write_str("Invalid chunk size"),
            Self::BadChunkFraming => f.write_str("Chunk data is not followed by CRLF"),
            Self::Incomplete { missing: Some(n) } => {
                write!(f, "Response payload is not completed: {n} bytes missing")
            }
            Self::Incomplete { missing: None } => {
                f.write_str("Response payload is not completed: the chunked body did not end")
            }
            Self::Decompress(why) => write!(f, "Can not decode content-encoding: {why}"),
            Self::BadRequest(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for HttpError {}
