//! A whole response as the client reads it: head, framing, body (chunked, length or
//! until close, gzip/deflate if the head says so), delivered in pieces whose sizes come
//! from the input's first byte. Any input must end in a value or an `HttpError`, never a
//! panic, and no step may claim more input than it was given.
#![no_main]

use aioxide_core::http::{parse_head, BodyDecoder, Coding, Framing, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, wire)) = data.split_first() else {
        return;
    };
    let piece = usize::from(split % 64) + 1;
    let limits = Limits {
        max_line_size: 512,
        max_field_size: 512,
        max_headers: usize::from(split % 160),
    };
    let Ok(Some((head, used))) = parse_head(wire, &limits) else {
        return;
    };
    assert!(used <= wire.len());
    let _ = head.keep_alive();
    let Ok(framing) = Framing::of(&head, split & 0x80 != 0) else {
        return;
    };
    let coding = head
        .header("content-encoding")
        .and_then(Coding::from_header);
    let mut body = BodyDecoder::new(framing, coding).with_decompress_limit(1 << 20);
    let mut out = Vec::new();
    for part in wire[used..].chunks(piece) {
        match body.feed(part, &mut out) {
            Ok(p) => {
                assert!(p.consumed <= part.len());
                if p.done {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    let _ = body.eof(&mut out);
    assert!(out.len() <= 1 << 20);
});
