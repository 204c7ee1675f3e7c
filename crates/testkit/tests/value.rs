//! The kit's reply parser on every RESP2/RESP3 type, on incomplete input and on malformed input.

use ferrokv_testkit::{parse_reply, parse_value, Value};

fn one(bytes: &[u8]) -> Value {
    let (v, used) = parse_value(bytes).expect("complete reply");
    assert_eq!(used, bytes.len(), "whole input consumed for {bytes:?}");
    // Every prefix is incomplete, never an error and never a shorter reply.
    for cut in 0..bytes.len() {
        assert_eq!(
            parse_reply(&bytes[..cut]),
            Ok(None),
            "prefix of {} bytes of {:?}",
            cut,
            String::from_utf8_lossy(bytes)
        );
    }
    v
}

#[test]
fn resp2_types() {
    assert_eq!(one(b"+OK\r\n"), Value::Simple("OK".into()));
    assert_eq!(
        one(b"-ERR unknown command\r\n"),
        Value::Error("ERR unknown command".into())
    );
    assert_eq!(one(b":-42\r\n"), Value::Int(-42));
    assert_eq!(one(b"$3\r\na\r\n\r\n"), Value::Bulk(b"a\r\n".to_vec()));
    assert_eq!(one(b"$0\r\n\r\n"), Value::Bulk(Vec::new()));
    assert_eq!(one(b"$-1\r\n"), Value::Null);
    assert_eq!(one(b"*-1\r\n"), Value::NullArray);
    assert_eq!(one(b"*0\r\n"), Value::Array(vec![]));
    assert_eq!(
        one(b"*3\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n"),
        Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::bulk("x")]),
            Value::Null
        ])
    );
}

#[test]
fn resp3_types() {
    assert_eq!(one(b"_\r\n"), Value::Null);
    assert_eq!(one(b"#t\r\n"), Value::Bool(true));
    assert_eq!(one(b"#f\r\n"), Value::Bool(false));
    assert_eq!(one(b",3.14\r\n"), Value::Double("3.14".into()));
    assert_eq!(one(b",-inf\r\n"), Value::Double("-inf".into()));
    assert_eq!(
        one(b"(3492890328409238509324850943850943825024385\r\n"),
        Value::BigNumber("3492890328409238509324850943850943825024385".into())
    );
    assert_eq!(one(b"(-12\r\n"), Value::BigNumber("-12".into()));
    assert_eq!(
        one(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Value::Error("SYNTAX invalid syntax".into())
    );
    assert_eq!(
        one(b"=15\r\ntxt:Some string\r\n"),
        Value::Verbatim("txt".into(), b"Some string".to_vec())
    );
    assert_eq!(
        one(b"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n%0\r\n"),
        Value::Map(vec![
            (Value::Simple("first".into()), Value::Int(1)),
            (Value::bulk("second"), Value::Map(vec![])),
        ])
    );
    assert_eq!(
        one(b"~3\r\n+a\r\n:2\r\n,1.5\r\n"),
        Value::Set(vec![
            Value::Simple("a".into()),
            Value::Int(2),
            Value::Double("1.5".into())
        ])
    );
    assert_eq!(
        one(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
        Value::Push(vec![
            Value::bulk("message"),
            Value::bulk("ch"),
            Value::bulk("hi")
        ])
    );
    // An attribute and the reply it annotates are one reply.
    assert_eq!(
        one(b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n"),
        Value::Attribute(
            vec![(
                Value::Simple("key-popularity".into()),
                Value::Map(vec![(Value::bulk("a"), Value::Double("0.19".into()))])
            )],
            Box::new(Value::Array(vec![Value::Int(2)]))
        )
    );
}

#[test]
fn trailing_bytes_are_not_consumed() {
    let (v, used) = parse_value(b":1\r\n:2\r\n").expect("complete");
    assert_eq!(v, Value::Int(1));
    assert_eq!(used, 4);
}

#[test]
fn malformed_input_is_an_error_not_incomplete() {
    for bad in [
        &b"?\r\n"[..],
        b":abc\r\n",
        b":+1\r\n",
        b"+OK\n",
        b"$2\r\nabc\r\n",
        b"$-2\r\n",
        b"#x\r\n",
        b"(1.5\r\n",
        b"=2\r\nab\r\n",
        b"_x\r\n",
        b"%-1\r\n",
    ] {
        assert!(
            parse_reply(bad).is_err(),
            "{:?} should be malformed",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(parse_value(bad), None);
    }
}

#[test]
fn encode_round_trips() {
    for wire in [
        &b"+OK\r\n"[..],
        b"-WRONGTYPE x\r\n",
        b":7\r\n",
        b"$2\r\n\x00\xff\r\n",
        b"_\r\n",
        b"*-1\r\n",
        b"*2\r\n~1\r\n#t\r\n%1\r\n(1\r\n,0.5\r\n",
        b">1\r\n=7\r\nmkd:abc\r\n",
        b"|1\r\n+a\r\n+b\r\n:1\r\n",
    ] {
        let v = one(wire);
        assert_eq!(v.encode(), wire, "{v:?}");
    }
}

#[test]
fn debug_output_escapes_bytes() {
    let s = format!("{:?}", Value::Bulk(b"a\r\n\x01".to_vec()));
    assert_eq!(s, r#"Bulk("a\r\n\x01")"#);
}

#[test]
fn accessors() {
    assert_eq!(Value::Int(3).as_int(), Some(3));
    assert_eq!(Value::bulk("x").as_str(), Some("x"));
    assert!(Value::Error("ERR".into()).is_error());
    assert_eq!(Value::Error("ERR x".into()).error_text(), Some("ERR x"));
    assert_eq!(
        Value::Set(vec![Value::Int(1)]).as_array().map(|a| a.len()),
        Some(1)
    );
    assert!(Value::Null.as_bytes().is_none());
}
