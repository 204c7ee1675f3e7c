use super::*;

type Outcome = (Vec<Vec<Vec<u8>>>, Option<ParseError>, usize);

/// Feed `input` in chunks of `chunk` bytes (0 = all at once), collecting every
/// request until an error. Returns (requests, error, bytes left in buffer).
fn run(input: &[u8], chunk: usize, limits: &Limits, auth: bool) -> Outcome {
    run_with(RequestParser::new(), input, chunk, limits, auth)
}

/// [`run`] with a given parser (to compare the one-pass path with the incremental one).
fn run_with(
    mut p: RequestParser,
    input: &[u8],
    chunk: usize,
    limits: &Limits,
    auth: bool,
) -> Outcome {
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    let mut reqs = Vec::new();
    let step = if chunk == 0 {
        input.len().max(1)
    } else {
        chunk
    };
    for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match p.parse(&mut buf, &mut args, limits, auth) {
                Ok(true) => reqs.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(false) => break,
                Err(e) => return (reqs, Some(e), buf.len()),
            }
        }
    }
    (reqs, None, buf.len())
}

fn all(input: &[u8]) -> Outcome {
    run(input, 0, &Limits::default(), true)
}

fn one(input: &[u8]) -> Vec<Vec<u8>> {
    let (mut reqs, err, left) = all(input);
    assert_eq!(err, None, "input {input:?}");
    assert_eq!(left, 0, "input {input:?}");
    assert_eq!(reqs.len(), 1, "input {input:?}");
    reqs.remove(0)
}

fn err_of(input: &[u8], auth: bool) -> ParseError {
    run(input, 0, &Limits::default(), auth)
        .1
        .unwrap_or_else(|| panic!("no error for {input:?}"))
}

fn v(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn multibulk_basic() {
    assert_eq!(
        one(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"),
        v(&["SET", "k", "hello"])
    );
    assert_eq!(one(b"*1\r\n$0\r\n\r\n"), v(&[""]));
    // binary data with CRLF inside
    assert_eq!(one(b"*1\r\n$4\r\na\r\nb\r\n"), vec![b"a\r\nb".to_vec()]);
}

#[test]
fn empty_buffer_needs_more() {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut args = vec![Bytes::from_static(b"stale")];
    assert_eq!(
        p.parse(&mut buf, &mut args, &Limits::default(), true),
        Ok(false)
    );
    assert!(!p.in_progress());
    buf.extend_from_slice(b"*1\r\n$4\r\nPI");
    assert_eq!(
        p.parse(&mut buf, &mut args, &Limits::default(), true),
        Ok(false)
    );
    assert!(p.in_progress());
    buf.extend_from_slice(b"NG\r\n");
    assert_eq!(
        p.parse(&mut buf, &mut args, &Limits::default(), true),
        Ok(true)
    );
    assert_eq!(args, vec![Bytes::from_static(b"PING")]);
    assert!(buf.is_empty());
    assert!(!p.in_progress());
}

#[test]
fn pipelined_mixed() {
    let input =
        b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*0\r\n*-5\r\n\r\n\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nQUIT\n";
    let (reqs, err, left) = all(input);
    assert_eq!(err, None);
    assert_eq!(left, 0);
    assert_eq!(
        reqs,
        vec![
            v(&["PING"]),
            v(&["ECHO", "hi"]),
            v(&["GET", "k"]),
            v(&["QUIT"])
        ]
    );
}

#[test]
fn one_request_per_call_and_rest_kept() {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"*1\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n*1\r\n$1"[..]);
    let mut args = Vec::new();
    let l = Limits::default();
    assert_eq!(p.parse(&mut buf, &mut args, &l, true), Ok(true));
    assert_eq!(args, vec![Bytes::from_static(b"a")]);
    assert_eq!(&buf[..], b"*1\r\n$1\r\nb\r\n*1\r\n$1");
    assert_eq!(p.parse(&mut buf, &mut args, &l, true), Ok(true));
    assert_eq!(args, vec![Bytes::from_static(b"b")]);
    assert_eq!(p.parse(&mut buf, &mut args, &l, true), Ok(false));
    assert_eq!(&buf[..], b"*1\r\n$1");
}

#[test]
fn zero_copy_slices_of_one_chunk() {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let mut args = Vec::new();
    assert_eq!(
        p.parse(&mut buf, &mut args, &Limits::default(), true),
        Ok(true)
    );
    assert_eq!(args[0].as_ptr() as usize, start + 8);
    assert_eq!(args[1].as_ptr() as usize, start + 8 + 3 + 2 + 4);
}

#[test]
fn redis_quirks_match_real_server() {
    // byte after '\r' of a header is not checked
    assert_eq!(one(b"*1\rX$4\r\nPING\r\n"), v(&["PING"]));
    // two bytes after bulk data are not checked
    let (reqs, err, _) = all(b"*1\r\n$4\r\nPINGXY*1\r\n$4\r\nPING\r\n");
    assert_eq!(err, None);
    assert_eq!(reqs, vec![v(&["PING"]), v(&["PING"])]);
    // empty lines are skipped
    assert_eq!(one(b"\r\n\nPING\r\n"), v(&["PING"]));
    // count <= 0 skipped
    assert_eq!(one(b"*0\r\nPING\r\n"), v(&["PING"]));
    assert_eq!(one(b"*-5\r\nPING\r\n"), v(&["PING"]));
}

#[test]
fn nul_before_terminator_blocks_like_strchr() {
    for input in [
        &b"PING\x00\r\n"[..],
        b"*1\x00\r\n$4\r\nPING\r\n",
        b"*1\r\n$4\x00\r\nPING\r\n",
    ] {
        let (reqs, err, left) = all(input);
        assert!(reqs.is_empty() && err.is_none(), "{input:?}");
        assert_eq!(left, input.len());
    }
    // ... until the limit is exceeded
    let mut big = b"PING\x00\r\n".to_vec();
    big.resize(PROTO_INLINE_MAX_SIZE + 1, b'a');
    assert_eq!(err_of(&big, true), ParseError::Protocol(E_BIG_INLINE));
    let mut big = b"*1\x00\r\n".to_vec();
    big.resize(PROTO_INLINE_MAX_SIZE + 1, b'a');
    assert_eq!(err_of(&big, true), ParseError::Protocol(E_BIG_MBULK));
    // NUL inside bulk data is fine
    assert_eq!(one(b"*1\r\n$3\r\na\x00b\r\n"), vec![b"a\x00b".to_vec()]);
}

#[test]
fn error_texts() {
    let cases: &[(&[u8], &str)] = &[
        (b"*+1\r\n", "Protocol error: invalid multibulk length"),
        (b"*01\r\n", "Protocol error: invalid multibulk length"),
        (b"* 1\r\n", "Protocol error: invalid multibulk length"),
        (b"*-0\r\n", "Protocol error: invalid multibulk length"),
        (b"*\r\n", "Protocol error: invalid multibulk length"),
        (b"*1x\r\n", "Protocol error: invalid multibulk length"),
        (
            b"*2147483648\r\n",
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*99999999999999999999\r\n",
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$+4\r\nPING\r\n",
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$04\r\nPING\r\n",
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$ 4\r\nPING\r\n",
            "Protocol error: invalid bulk length",
        ),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$1a\r\n", "Protocol error: invalid bulk length"),
        (
            b"*1\r\n$536870913\r\n",
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$18446744073709551616\r\n",
            "Protocol error: invalid bulk length",
        ),
        (b"*1\r\nX\r\n", "Protocol error: expected '$', got 'X'"),
        (b"*1\r\n\r\n", "Protocol error: expected '$', got ' '"),
        (b"*1\r\n\n\r\n", "Protocol error: expected '$', got ' '"),
        (b"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        (
            b"ECHO \"a\"b\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO 'a\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO \"a\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO 'a'b\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO \"a\\\"\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"ECHO 'a\\\\'\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, text) in cases {
        let e = err_of(input, true);
        assert_eq!(e.to_string(), *text, "input {input:?}");
        assert_eq!(e.to_bytes(), text.as_bytes(), "input {input:?}");
    }
    // non-ASCII byte: exact bytes via to_bytes
    let e = err_of(b"*1\r\n\xe9\r\n", true);
    assert_eq!(e, ParseError::ExpectedDollar(0xe9));
    assert_eq!(
        e.to_bytes(),
        b"Protocol error: expected '$', got '\xe9'".to_vec()
    );
}

#[test]
fn too_big_errors() {
    let l = Limits::default();
    // inline: more than 64 KiB without newline
    let big = vec![b'a'; PROTO_INLINE_MAX_SIZE];
    assert_eq!(run(&big, 0, &l, true).1, None);
    let big = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
    assert_eq!(
        run(&big, 0, &l, true).1,
        Some(ParseError::Protocol(E_BIG_INLINE))
    );
    assert_eq!(
        ParseError::Protocol(E_BIG_INLINE).to_string(),
        "Protocol error: too big inline request"
    );
    // a long inline line *with* newline is fine
    let mut ok = vec![b'a'; 100_000];
    ok.push(b'\n');
    assert_eq!(run(&ok, 0, &l, true).0.len(), 1);
    // multibulk count
    let mut big = b"*1".to_vec();
    big.resize(PROTO_INLINE_MAX_SIZE + 1, b'1');
    let e = run(&big, 0, &l, true).1.expect("error");
    assert_eq!(e.to_string(), "Protocol error: too big mbulk count string");
    // bulk count
    let mut big = b"*1\r\n$1".to_vec();
    big.resize(4 + PROTO_INLINE_MAX_SIZE + 1, b'1');
    let e = run(&big, 0, &l, true).1.expect("error");
    assert_eq!(e.to_string(), "Protocol error: too big bulk count string");
    // exactly at the limit: still waiting
    let mut edge = b"*1\r\n$1".to_vec();
    edge.resize(4 + PROTO_INLINE_MAX_SIZE, b'1');
    assert_eq!(run(&edge, 0, &l, true).1, None);
}

#[test]
fn limits_configurable() {
    let l = Limits {
        max_bulk_len: 10,
        max_multibulk_len: 3,
        max_inline_len: 16,
    };
    assert_eq!(run(b"*1\r\n$10\r\n0123456789\r\n", 0, &l, true).0.len(), 1);
    assert_eq!(
        run(b"*1\r\n$11\r\n", 0, &l, true).1,
        Some(ParseError::Protocol(E_INVALID_BULK))
    );
    assert_eq!(run(b"*3\r\n", 0, &l, true).1, None);
    assert_eq!(
        run(b"*4\r\n", 0, &l, true).1,
        Some(ParseError::Protocol(E_INVALID_MBULK))
    );
    assert_eq!(
        run(&[b'x'; 17], 0, &l, true).1,
        Some(ParseError::Protocol(E_BIG_INLINE))
    );
}

#[test]
fn unauthenticated_limits() {
    let l = Limits::default();
    assert_eq!(
        err_of(b"*11\r\n", false).to_string(),
        "Protocol error: unauthenticated multibulk length"
    );
    assert_eq!(run(b"*11\r\n", 0, &l, true).1, None);
    let mut ten = b"*10\r\n".to_vec();
    for _ in 0..10 {
        ten.extend_from_slice(b"$1\r\nx\r\n");
    }
    assert_eq!(run(&ten, 0, &l, false).0.len(), 1);
    assert_eq!(
        err_of(b"*1\r\n$16385\r\n", false).to_string(),
        "Protocol error: unauthenticated bulk length"
    );
    let mut ok = b"*1\r\n$16384\r\n".to_vec();
    ok.extend(std::iter::repeat_n(b'x', 16384));
    ok.extend_from_slice(b"\r\n");
    assert_eq!(run(&ok, 0, &l, false).0.len(), 1);
    // invalid beats unauthenticated
    assert_eq!(
        err_of(b"*2147483648\r\n", false),
        ParseError::Protocol(E_INVALID_MBULK)
    );
    assert_eq!(
        err_of(b"*1\r\n$536870913\r\n", false),
        ParseError::Protocol(E_INVALID_BULK)
    );
    // inline requests are not limited by these
    let mut inline = b"SET k ".to_vec();
    inline.extend(std::iter::repeat_n(b'v', 20000));
    inline.push(b'\n');
    assert_eq!(run(&inline, 0, &l, false).0.len(), 1);
}

#[test]
fn huge_headers_do_not_allocate() {
    let l = Limits::default();
    let mut p = RequestParser::new();
    let mut args = Vec::new();
    let mut buf = BytesMut::from(&b"*2147483647\r\n$536870912\r\nabc"[..]);
    assert_eq!(p.parse(&mut buf, &mut args, &l, true), Ok(false));
    assert!(buf.capacity() <= 128 * 1024, "cap {}", buf.capacity());
    assert!(p.ranges.capacity() <= 1024);
    // calling again while waiting does not grow anything either
    for _ in 0..10 {
        assert_eq!(p.parse(&mut buf, &mut args, &l, true), Ok(false));
    }
    assert!(buf.capacity() <= 128 * 1024);
}

#[test]
fn big_bulk_arrives_in_pieces() {
    let l = Limits::default();
    let size = 3 * 1024 * 1024 + 7;
    let mut input = format!("*2\r\n$3\r\nSET\r\n${size}\r\n").into_bytes();
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    input.extend_from_slice(&data);
    input.extend_from_slice(b"\r\n");
    let (reqs, err, left) = run(&input, 16 * 1024, &l, true);
    assert_eq!(err, None);
    assert_eq!(left, 0);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0][1], data);
}

#[test]
fn byte_by_byte_large_is_linear() {
    // 1 MiB bulk fed one byte at a time: quadratic rescanning would take
    // ~5*10^11 steps here; linear parsing finishes quickly.
    let size = 1024 * 1024;
    let mut input = format!("*1\r\n${size}\r\n").into_bytes();
    input.extend(std::iter::repeat_n(b'z', size));
    input.extend_from_slice(b"\r\n");
    let (reqs, err, _) = run(&input, 1, &Limits::default(), true);
    assert_eq!(err, None);
    assert_eq!(reqs[0][0].len(), size);
    // inline line up to the limit, byte by byte, then the error
    let big = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
    assert_eq!(
        run(&big, 1, &Limits::default(), true).1,
        Some(ParseError::Protocol(E_BIG_INLINE))
    );
}

#[test]
fn many_args_arrive_in_pieces() {
    let n = 5000;
    let mut input = format!("*{n}\r\n").into_bytes();
    for i in 0..n {
        let s = i.to_string();
        input.extend_from_slice(format!("${}\r\n{}\r\n", s.len(), s).as_bytes());
    }
    let (reqs, err, left) = run(&input, 7, &Limits::default(), true);
    assert_eq!(err, None);
    assert_eq!(left, 0);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].len(), n);
    assert_eq!(reqs[0][4999], b"4999".to_vec());
}

#[test]
fn every_split_point_gives_same_result() {
    let mut big_inline = b"SET k ".to_vec();
    big_inline.extend(std::iter::repeat_n(b'v', 300));
    big_inline.extend_from_slice(b"\r\n");
    let inputs: Vec<Vec<u8>> = vec![
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
        b"PING\r\nECHO \"a b\" 'c\\'d'\r\n\r\n*0\r\n*1\r\n$0\r\n\r\n".to_vec(),
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPINGXY".to_vec(),
        b"*1\r\n$4\r\nPING\r\n*1\r\nX\r\n".to_vec(),
        b"*1\r\n$3\r\nabc\r\n*x\r\n".to_vec(),
        b"GET k\nECHO \"oops\r\n".to_vec(),
        b"*1\rX$4\r\nPING\r\n*-1\r\nECHO \"\\x41\\n\"\r\n".to_vec(),
        b"PING\x00\r\nmore".to_vec(),
        big_inline,
    ];
    let l = Limits::default();
    for input in &inputs {
        let whole = run(input, 0, &l, true);
        let bytewise = run(input, 1, &l, true);
        assert_eq!(whole, bytewise, "input {input:?}");
        // every two-piece split
        for cut in 0..=input.len() {
            let mut p = RequestParser::new();
            let mut buf = BytesMut::new();
            let mut args = Vec::new();
            let mut reqs: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut err = None;
            'outer: for piece in [&input[..cut], &input[cut..]] {
                buf.extend_from_slice(piece);
                loop {
                    match p.parse(&mut buf, &mut args, &l, true) {
                        Ok(true) => reqs.push(args.iter().map(|a| a.to_vec()).collect()),
                        Ok(false) => break,
                        Err(e) => {
                            err = Some(e);
                            break 'outer;
                        }
                    }
                }
            }
            assert_eq!((reqs, err, buf.len()), whole, "input {input:?} cut {cut}");
        }
    }
}

#[test]
fn inline_splitting() {
    assert_eq!(one(b"PING\r\n"), v(&["PING"]));
    assert_eq!(one(b"PING\n"), v(&["PING"]));
    assert_eq!(one(b"  SET   k \t v  \r\n"), v(&["SET", "k", "v"]));
    // only one \r is stripped; a second one is a separator
    assert_eq!(one(b"GET k\r\r\n"), v(&["GET", "k"]));
    assert_eq!(one(b"SET \"a b\" 'c d'\r\n"), v(&["SET", "a b", "c d"]));
    assert_eq!(one(b"ECHO \"\"\r\n"), v(&["ECHO", ""]));
    assert_eq!(one(b"ECHO ''\r\n"), v(&["ECHO", ""]));
    assert_eq!(
        one(b"ECHO \"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n"),
        vec![b"ECHO".to_vec(), b"AJ\n\r\t\x08\x07\\\"q".to_vec()]
    );
    // \x with invalid hex: backslash-x escape gives 'x'
    assert_eq!(
        one(b"ECHO \"\\xZZ\"\r\n"),
        vec![b"ECHO".to_vec(), b"xZZ".to_vec()]
    );
    // single quotes: only \' is an escape
    assert_eq!(
        one(b"ECHO 'it\\'s \\n'\r\n"),
        vec![b"ECHO".to_vec(), b"it's \\n".to_vec()]
    );
    // quote opening inside a word
    assert_eq!(one(b"ECHO a\"b c\"\r\n"), v(&["ECHO", "ab c"]));
    // closing quote followed by a space-class char
    assert_eq!(one(b"ECHO \"a\"\tb\r\n"), v(&["ECHO", "a", "b"]));
    // \v and \f: skipped between words (isspace) but part of an unquoted word
    assert_eq!(
        one(b"\x0bECHO a\x0bb\r\n"),
        vec![b"ECHO".to_vec(), b"a\x0bb".to_vec()]
    );
    assert_eq!(one(b"ECHO \"a\"\x0bb\r\n"), v(&["ECHO", "a", "b"]));
    // raw \r inside quotes is kept
    assert_eq!(
        one(b"ECHO \"a\rb\"\r\n"),
        vec![b"ECHO".to_vec(), b"a\rb".to_vec()]
    );
    // whitespace-only line is skipped
    assert_eq!(one(b"   \t \r\nPING\r\n"), v(&["PING"]));
}

#[test]
fn string2ll_matches_redis() {
    assert_eq!(string2ll(b"0"), Some(0));
    assert_eq!(string2ll(b"5"), Some(5));
    assert_eq!(string2ll(b"-5"), Some(-5));
    assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
    for bad in [
        &b""[..],
        b"-",
        b"+5",
        b"05",
        b" 5",
        b"5 ",
        b"-0",
        b"00",
        b"9223372036854775808",
        b"-9223372036854775809",
        b"99999999999999999999",
        b"123456789012345678901",
        b"1e3",
    ] {
        assert_eq!(string2ll(bad), None, "{bad:?}");
    }
}

#[test]
fn args_vec_is_cleared() {
    let mut p = RequestParser::new();
    let mut args = vec![Bytes::from_static(b"old"), Bytes::from_static(b"old2")];
    let mut buf = BytesMut::from(&b"PING\r\n"[..]);
    assert_eq!(
        p.parse(&mut buf, &mut args, &Limits::default(), true),
        Ok(true)
    );
    assert_eq!(args, vec![Bytes::from_static(b"PING")]);
}

/// Tiny deterministic PRNG (xorshift) for the panic-freedom test.
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

#[test]
fn random_input_never_panics_and_chunking_is_irrelevant() {
    let alphabet = b"*$\r\n0123456789-+ \"'\\xabAZ\x00\xe9";
    let l = Limits {
        max_bulk_len: 64,
        max_multibulk_len: 16,
        max_inline_len: 32,
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        let len = (xorshift(&mut seed) % 80) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[(xorshift(&mut seed) % alphabet.len() as u64) as usize])
            .collect();
        let whole = run(&input, 0, &l, true);
        let chunk = 1 + (xorshift(&mut seed) % 5) as usize;
        let pieces = run(&input, chunk, &l, true);
        if whole.1.is_none() && pieces.1.is_none() {
            assert_eq!(whole, pieces, "{input:?}");
        } else {
            // "too big" depends on how much is buffered when the check runs;
            // everything parsed before the error must agree.
            let n = whole.0.len().min(pieces.0.len());
            assert_eq!(whole.0[..n], pieces.0[..n], "{input:?}");
        }
        let _ = run(&input, 1, &l, false);
    }
}

/// Random requests made of plausible multibulk pieces (and damaged ones): the one-pass path
/// must give exactly what the incremental parser alone gives, whole or split anywhere.
#[test]
fn fast_path_matches_incremental_parser() {
    let pieces: &[&[u8]] = &[
        b"*1\r\n",
        b"*2\r\n",
        b"*3\r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*11\r\n",
        b"*02\r\n",
        b"$3\r\nGET\r\n",
        b"$3\r\nSET\r\n",
        b"$16\r\nkey:000000000042\r\n",
        b"$0\r\n\r\n",
        b"$1\r\nk\r\n",
        b"$01\r\nk\r\n",
        b"$-1\r\n",
        b"$5\r\nab\r\n",
        b"$2\rXab\r\n",
        b"$3\r\nabcXY",
        b"$\r\n",
        b"$99999\r\n",
        b"$20000\r\n",
        b"*\r\n",
        b"PING\r\n",
        b"\x00",
        b"\r\n",
        b"$4\r\nPI\x00G\r\n",
        b"$1\r\n",
        b"x",
        b"*1\r",
        b"$70\r\n",
    ];
    let limits = [
        Limits::default(),
        Limits {
            max_bulk_len: 16,
            max_multibulk_len: 3,
            max_inline_len: 24,
        },
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..4000 {
        let n = 1 + (xorshift(&mut seed) % 12) as usize;
        let input: Vec<u8> = (0..n)
            .flat_map(|_| pieces[(xorshift(&mut seed) % pieces.len() as u64) as usize].to_vec())
            .collect();
        let l = &limits[round % 2];
        let auth = round % 3 != 0;
        for chunk in [0, 1, 3, 7] {
            let fast = run_with(RequestParser::new(), &input, chunk, l, auth);
            let slow = run_with(RequestParser::without_fast_path(), &input, chunk, l, auth);
            assert_eq!(fast, slow, "input {input:?} chunk {chunk} auth {auth}");
        }
    }
}

#[test]
fn fast_path_every_split_and_pipeline() {
    let mut input = Vec::new();
    for i in 0..20 {
        let key = format!("key:{i:012}");
        input.extend_from_slice(
            format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
        );
        input.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nv{i:02}\r\n",
                key.len()
            )
            .as_bytes(),
        );
    }
    input.extend_from_slice(b"PING\r\n*1\r\n$4\r\nPING\r\n");
    let l = Limits::default();
    let whole = run(&input, 0, &l, true);
    assert_eq!(whole.0.len(), 42);
    assert_eq!(whole.0[1], v(&["SET", "key:000000000000", "v00"]));
    assert_eq!(whole.0[40], v(&["PING"]));
    for cut in 0..=input.len() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        let mut reqs: Vec<Vec<Vec<u8>>> = Vec::new();
        for piece in [&input[..cut], &input[cut..]] {
            buf.extend_from_slice(piece);
            while p.parse(&mut buf, &mut args, &l, true).expect("valid input") {
                reqs.push(args.iter().map(|a| a.to_vec()).collect());
            }
        }
        assert_eq!((reqs, None, buf.len()), whole, "cut {cut}");
    }
}

#[test]
fn fast_path_limits_give_redis_errors() {
    // Completely buffered requests over a limit still get the incremental path's errors.
    let l = Limits {
        max_bulk_len: 4,
        max_multibulk_len: 2,
        max_inline_len: 64,
    };
    let r = run(b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 0, &l, true);
    assert_eq!(r.1, Some(ParseError::Protocol(E_INVALID_MBULK)));
    let r = run(b"*1\r\n$5\r\nhello\r\n", 0, &l, true);
    assert_eq!(r.1, Some(ParseError::Protocol(E_INVALID_BULK)));
    let mut many = b"*11\r\n".to_vec();
    for _ in 0..11 {
        many.extend_from_slice(b"$1\r\nx\r\n");
    }
    assert_eq!(err_of(&many, false), ParseError::Protocol(E_UNAUTH_MBULK));
    assert_eq!(one(&many).len(), 11);
    let mut big = b"*1\r\n$16385\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'a', 16385));
    big.extend_from_slice(b"\r\n");
    assert_eq!(err_of(&big, false), ParseError::Protocol(E_UNAUTH_BULK));
    assert_eq!(one(&big)[0].len(), 16385);
}
