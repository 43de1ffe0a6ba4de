//! The chunked decoder is split-invariant: decoding the input in one slice or in pieces
//! (sizes from the first byte) gives the same body, the same error and the same end, and
//! the chunk ends it records lie inside the body.
#![no_main]

use aioxide_core::http::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

fn decode(
    wire: &[u8],
    piece: usize,
) -> (
    Result<usize, aioxide_core::http::HttpError>,
    Vec<u8>,
    Vec<usize>,
) {
    let mut d = ChunkedDecoder::default();
    let (mut out, mut ends, mut used) = (Vec::new(), Vec::new(), 0);
    for part in wire.chunks(piece.max(1)) {
        let fed = d.feed(part, &mut out);
        ends.extend(d.take_ends());
        match fed {
            Ok(n) => used += n,
            Err(e) => return (Err(e), out, ends),
        }
        if d.is_done() {
            break;
        }
    }
    (Ok(used), out, ends)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, wire)) = data.split_first() else {
        return;
    };
    let whole = decode(wire, wire.len());
    let pieces = decode(wire, usize::from(split % 16) + 1);
    assert_eq!(whole, pieces);
    let (_, body, ends) = whole;
    assert!(ends.windows(2).all(|w| w[0] < w[1]));
    assert!(ends.iter().all(|&e| e <= body.len()));
});
