use super::HttpError;

/// aiohttp's defaults: 8190 bytes per status line and per header line, and a head of at
/// most 128 fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_line_size: usize,
    pub max_field_size: usize,
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_size: 8190,
            max_field_size: 8190,
            max_headers: STACK_HEADERS,
        }
    }
}

/// httparse fills a caller's array: up to this many fields it lives on the stack.
const STACK_HEADERS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub status: u16,
    pub reason: String,
    /// Names as sent (case kept), values as bytes: the bindings decode them as aiohttp
    /// does (UTF-8 with surrogateescape).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ResponseHead {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether the connection may carry another request after this response's body
    /// (RFC 9112 §9.3): 1.1 unless `Connection: close`, 1.0 only with `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        let has = |token: &str| {
            self.values("connection")
                .flat_map(|v| v.split(|&b| b == b','))
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        };
        if self.version == 0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }

    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.values(name).next()
    }
}

/// How a response body ends (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Framing {
    pub fn of(head: &ResponseHead, request_was_head: bool) -> Result<Self, HttpError> {
        if request_was_head || head.status < 200 || head.status == 204 || head.status == 304 {
            return Ok(Self::None);
        }
        let mut length: Option<u64> = None;
        for value in head.values("content-length") {
            let text = String::from_utf8_lossy(value);
            let n = parse_length(value).ok_or_else(|| HttpError::BadContentLength(text.into()))?;
            if length.is_some_and(|m| m != n) {
                return Err(HttpError::AmbiguousLength);
            }
            length = Some(n);
        }
        let coding = head.values("transfer-encoding").last();
        match (coding, length) {
            (Some(_), Some(_)) => Err(HttpError::AmbiguousLength),
            (Some(v), None) => {
                let last = v.rsplit(|&b| b == b',').next().unwrap_or_default();
                if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    Ok(Self::Chunked)
                } else {
                    Ok(Self::UntilClose)
                }
            }
            (None, Some(0)) => Ok(Self::None),
            (None, Some(n)) => Ok(Self::Length(n)),
            (None, None) => Ok(Self::UntilClose),
        }
    }
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Parses one response head from the start of `buf`. `Ok(None)` asks for more bytes;
/// `Ok(Some((head, n)))` consumed `n` bytes. Interim 1xx responses other than 101 are
/// returned like any other: the caller skips them.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(ResponseHead, usize)>, HttpError> {
    check_line_lengths(buf, limits)?;
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut heap = Vec::new();
    let fields = if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else {
        heap.resize(limits.max_headers, httparse::EMPTY_HEADER);
        &mut heap[..]
    };
    let mut response = httparse::Response::new(fields);
    let consumed = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders),
        Err(httparse::Error::Version | httparse::Error::Status) => {
            return Err(HttpError::BadStatusLine(first_line(buf)))
        }
        Err(e) => return Err(HttpError::BadHeader(e.to_string())),
    };
    let head = ResponseHead {
        version: response.version.unwrap_or(1),
        status: response.code.unwrap_or_default(),
        reason: response.reason.unwrap_or_default().to_owned(),
        headers: response
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
    };
    if !(100..=999).contains(&head.status) {
        return Err(HttpError::BadStatusLine(first_line(buf)));
    }
    Ok(Some((head, consumed)))
}

/// The status line and every header line must fit their limit, checked before the head
/// is complete so a peer cannot make the buffer grow without bound.
fn check_line_lengths(buf: &[u8], limits: &Limits) -> Result<(), HttpError> {
    let mut lines = buf.split(|&b| b == b'\n');
    if let Some(status) = lines.next() {
        if status.strip_suffix(b"\r").unwrap_or(status).len() > limits.max_line_size {
            return Err(HttpError::LineTooLong {
                limit: limits.max_line_size,
            });
        }
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // the end of the head; the body may follow
        }
        if line.len() > limits.max_field_size {
            return Err(HttpError::FieldTooLong {
                limit: limits.max_field_size,
            });
        }
    }
    Ok(())
}

fn first_line(buf: &[u8]) -> String {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> ResponseHead {
        parse_head(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn parses_a_head_and_reports_what_it_consumed() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc";
        let (h, n) = parse_head(raw, &Limits::default()).unwrap().unwrap();
        assert_eq!(
            (h.version, h.status, h.reason.as_str(), n),
            (1, 200, "OK", raw.len() - 3)
        );
        assert_eq!(h.headers[1], ("X-A".to_owned(), b"b".to_vec()));
        assert_eq!(Framing::of(&h, false), Ok(Framing::Length(3)));
        assert_eq!(Framing::of(&h, true), Ok(Framing::None));
    }

    #[test]
    fn a_partial_head_asks_for_more() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nA: b\r\n", &Limits::default()),
            Ok(None)
        );
    }

    #[test]
    fn malformed_status_lines_are_refused() {
        for raw in [
            "HTTX/1.1 200 OK\r\n\r\n",
            "HTTP/1.1 2x0 OK\r\n\r\n",
            "garbage\r\n\r\n",
        ] {
            let err = parse_head(raw.as_bytes(), &Limits::default()).unwrap_err();
            assert!(
                matches!(err, HttpError::BadStatusLine(_)),
                "{raw:?}: {err:?}"
            );
        }
    }

    #[test]
    fn long_lines_are_refused_before_the_head_ends() {
        let limits = Limits {
            max_line_size: 20,
            max_field_size: 10,
            ..Limits::default()
        };
        let long_status = format!("HTTP/1.1 200 {}", "x".repeat(30));
        assert_eq!(
            parse_head(long_status.as_bytes(), &limits),
            Err(HttpError::LineTooLong { limit: 20 })
        );
        let long_field = b"HTTP/1.1 200 OK\r\nX-Long: 0123456789";
        assert_eq!(
            parse_head(long_field, &limits),
            Err(HttpError::FieldTooLong { limit: 10 })
        );
    }

    #[test]
    fn header_count_limit_on_the_stack_and_beyond() {
        let wire = |n: usize| {
            let fields: String = (0..n).map(|i| format!("X-{i}: v\r\n")).collect();
            format!("HTTP/1.1 200 OK\r\n{fields}\r\n")
        };
        for (max_headers, n, ok) in [
            (128, 128, true),
            (128, 129, false),
            (3, 4, false),
            (200, 200, true),
            (200, 201, false),
            (0, 0, true),
        ] {
            let limits = Limits {
                max_headers,
                ..Limits::default()
            };
            let parsed = parse_head(wire(n).as_bytes(), &limits);
            match parsed {
                Ok(Some((head, _))) => assert!(ok && head.headers.len() == n, "{max_headers} {n}"),
                Err(e) => assert!(!ok && e == HttpError::TooManyHeaders, "{max_headers} {n}"),
                Ok(None) => panic!("incomplete"),
            }
        }
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(Framing::of(&chunked, false), Ok(Framing::Chunked));
        let both =
            head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(Framing::of(&both, false), Err(HttpError::AmbiguousLength));
        let two = head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(Framing::of(&two, false), Err(HttpError::AmbiguousLength));
        let neg = head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
        assert!(matches!(
            Framing::of(&neg, false),
            Err(HttpError::BadContentLength(_))
        ));
        let huge = head("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        assert!(matches!(
            Framing::of(&huge, false),
            Err(HttpError::BadContentLength(_))
        ));
        let none = head("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(Framing::of(&none, false), Ok(Framing::None));
        let eof = head("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(Framing::of(&eof, false), Ok(Framing::UntilClose));
    }

    #[test]
    fn keep_alive_depends_on_version_and_connection() {
        assert!(head("HTTP/1.1 200 OK\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").keep_alive());
        assert!(head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keep_alive());
    }
}
