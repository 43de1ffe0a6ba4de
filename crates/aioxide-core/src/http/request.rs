use super::HttpError;

/// The end of a chunked body: a zero-size chunk and no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Writes `METHOD target HTTP/1.1` and the header lines. Names must be tokens and
/// values free of CR, LF and NUL, so no caller can smuggle a second request or header.
pub fn write_head(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    out: &mut Vec<u8>,
) -> Result<(), HttpError> {
    if !is_token(method) {
        return Err(HttpError::BadRequest(format!(
            "Method cannot contain non-token characters {method:?}"
        )));
    }
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(HttpError::BadRequest(format!(
            "Invalid request target {target:?}"
        )));
    }
    out.reserve(
        64 + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>(),
    );
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if !is_token(name) {
            return Err(HttpError::BadRequest(format!(
                "Invalid header name {name:?}"
            )));
        }
        if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(HttpError::BadRequest(format!(
                "Newline or carriage return character detected in HTTP header {name:?}"
            )));
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// One chunk of a chunked request body. An empty `data` writes nothing: the zero-size
/// chunk is [`LAST_CHUNK`] and means the end.
pub fn write_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_head() {
        let mut out = Vec::new();
        let headers = vec![("Host".to_owned(), "a.test".to_owned())];
        write_head("GET", "/x?y=1", &headers, &mut out).unwrap();
        assert_eq!(out, b"GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\n\r\n");
    }

    #[test]
    fn refuses_injection() {
        let bad = vec![("X".to_owned(), "a\r\nEvil: 1".to_owned())];
        assert!(write_head("GET", "/", &bad, &mut Vec::new()).is_err());
        let bad_name = vec![("X Y".to_owned(), "a".to_owned())];
        assert!(write_head("GET", "/", &bad_name, &mut Vec::new()).is_err());
        assert!(write_head("GET /", "/", &[], &mut Vec::new()).is_err());
        assert!(write_head("GET", "/ HTTP/1.1\r\n", &[], &mut Vec::new()).is_err());
    }

    #[test]
    fn chunks_are_hex_framed() {
        let mut out = Vec::new();
        write_chunk(&[b'a'; 26], &mut out);
        write_chunk(b"", &mut out);
        assert_eq!(&out[..4], b"1a\r\n");
        assert_eq!(out.len(), 4 + 26 + 2);
    }
}
