//! Fuzz target for `RequestParser`: arbitrary bytes delivered in arbitrary
//! chunkings must never panic, and the requests parsed (and the bytes
//! consumed) must not depend on how the input was split into reads.
#![no_main]

use bytes::{Bytes, BytesMut};
use ferrokv_resp::{Limits, ParseError, RequestParser};
use libfuzzer_sys::fuzz_target;

/// Requests parsed, error (if any), bytes consumed.
type Outcome = (Vec<Vec<Bytes>>, Option<ParseError>, usize);

fn run(input: &[u8], sizes: &[u8], limits: &Limits, auth: bool) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    let mut reqs = Vec::new();
    let mut consumed = 0usize;
    let mut rest = input;
    let mut i = 0usize;
    while !rest.is_empty() {
        // chunk sizes cycle through `sizes` (0 means "everything left")
        let want = match sizes.get(i % sizes.len().max(1)) {
            Some(0) | None => rest.len(),
            Some(&n) => usize::from(n),
        };
        i += 1;
        let (piece, tail) = rest.split_at(want.min(rest.len()));
        rest = tail;
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match parser.parse(&mut buf, &mut args, limits, auth) {
                Ok(true) => {
                    assert!(buf.len() < before, "a request must consume bytes");
                    assert!(!args.is_empty(), "a parsed request has arguments");
                    consumed += before - buf.len();
                    reqs.push(args.clone());
                }
                Ok(false) => {
                    // skipped empty requests may have been consumed
                    consumed += before - buf.len();
                    break;
                }
                Err(e) => {
                    return (reqs, Some(e), consumed + (before - buf.len()));
                }
            }
        }
    }
    assert_eq!(consumed + buf.len(), input.len(), "bytes lost or invented");
    (reqs, None, consumed)
}

fuzz_target!(|data: &[u8]| {
    // layout: [flags][n_sizes][sizes...][input...]
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let Some((&n_sizes, data)) = data.split_first() else {
        return;
    };
    let n = usize::from(n_sizes % 16).min(data.len());
    let (sizes, input) = data.split_at(n);
    let limits = if flags & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_bulk_len: 100,
            max_multibulk_len: 20,
            max_inline_len: 40,
        }
    };
    let auth = flags & 2 == 0;
    let whole = run(input, &[0], &limits, auth);
    let split = run(input, sizes, &limits, auth);
    let bytewise = run(input, &[1], &limits, auth);
    for other in [&split, &bytewise] {
        if whole.1.is_none() && other.1.is_none() {
            assert_eq!(whole.0, other.0, "requests differ with chunking");
            assert_eq!(whole.2, other.2, "consumed bytes differ with chunking");
        } else {
            // "too big ..." fires as soon as the buffered amount exceeds the
            // limit, so the point of failure may depend on the chunking; the
            // requests parsed before it must agree.
            let k = whole.0.len().min(other.0.len());
            assert_eq!(whole.0[..k], other.0[..k]);
        }
        if let (Some(a), Some(b)) = (&whole.1, &other.1) {
            let too_big = |e: &ParseError| e.to_string().contains("too big");
            if !too_big(a) && !too_big(b) {
                assert_eq!(a, b, "different error with chunking");
                assert_eq!(whole.0, other.0);
            }
        }
    }
});
