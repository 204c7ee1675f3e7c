//! The bundled libraries seen from Lua code, with values Redis's own libraries produce.

use ferrokv_lua::mlua::{Lua, Value};

fn lua() -> Lua {
    let lua = Lua::new();
    ferrokv_lua::install_libs(&lua).expect("libs");
    lua
}

fn eval_str(lua: &Lua, code: &str) -> String {
    match lua.load(code).eval::<Value>() {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("ERROR: {e}"),
    }
}

#[test]
fn bit_operations() {
    let l = lua();
    assert_eq!(eval_str(&l, "return tostring(bit.band(0xff, 0x0f))"), "15");
    assert_eq!(eval_str(&l, "return tostring(bit.bnot(0))"), "-1");
    assert_eq!(
        eval_str(&l, "return tostring(bit.lshift(1, 31))"),
        "-2147483648"
    );
    assert_eq!(eval_str(&l, "return tostring(bit.rshift(-1, 28))"), "15");
    assert_eq!(eval_str(&l, "return tostring(bit.arshift(-256, 4))"), "-16");
    assert_eq!(eval_str(&l, "return bit.tohex(255)"), "000000ff");
    assert_eq!(eval_str(&l, "return bit.tohex(255, -2)"), "FF");
    assert_eq!(eval_str(&l, "return tostring(bit.bxor(5, 3, 1))"), "7");
    assert_eq!(eval_str(&l, "return tostring(bit.rol(0x80000000, 1))"), "1");
    assert_eq!(
        eval_str(&l, "return bit.tohex(bit.bswap(0x11223344))"),
        "44332211"
    );
}

#[test]
fn struct_round_trips() {
    let l = lua();
    assert_eq!(
        eval_str(&l, "local a,b,c,n = struct.unpack('>i2<I4b', struct.pack('>i2<I4b', -2, 70000, -1)) return a..','..b..','..c..','..n"),
        "-2,70000,-1,8"
    );
    assert_eq!(eval_str(&l, "return tostring(struct.size('>iihd'))"), "18");
    assert_eq!(eval_str(&l, "return tostring(struct.size('!4bi'))"), "8");
    assert_eq!(
        eval_str(
            &l,
            "local s, n = struct.unpack('s', struct.pack('s', 'hello')) return s..n"
        ),
        "hello7"
    );
    assert_eq!(
        eval_str(
            &l,
            "local s = struct.unpack('bc0', struct.pack('bc0', 3, 'abc')) return tostring(s)"
        ),
        "abc"
    );
    assert!(eval_str(&l, "return struct.pack('q', 1)").contains("invalid format option 'q'"));
    assert!(eval_str(&l, "return struct.unpack('i4', 'ab')").contains("data string too short"));
}

#[test]
fn cjson_encode_and_decode() {
    let l = lua();
    assert_eq!(eval_str(&l, "return cjson.encode({1,2,3})"), "[1,2,3]");
    assert_eq!(eval_str(&l, "return cjson.encode({})"), "{}");
    assert_eq!(
        eval_str(&l, "return cjson.encode({a='x/y'})"),
        r#"{"a":"x\/y"}"#
    );
    assert_eq!(eval_str(&l, "return cjson.encode(0.1)"), "0.1");
    assert_eq!(eval_str(&l, "return cjson.encode(1/3)"), "0.33333333333333");
    assert_eq!(eval_str(&l, "return cjson.encode({1,nil,3})"), "[1,null,3]");
    assert_eq!(eval_str(&l, "return cjson.encode(cjson.null)"), "null");
    assert!(
        eval_str(&l, "return cjson.encode({[1]=1,[100]=2})").contains("excessively sparse array")
    );
    assert!(eval_str(&l, "return cjson.encode(function() end)")
        .contains("Cannot serialise function: type not supported"));
    assert!(eval_str(&l, "return cjson.encode(math.huge)").contains("must not be NaN or Inf"));
    assert_eq!(
        eval_str(
            &l,
            r#"local t = cjson.decode('{"a":[1,2,{"b":null}],"c":"\\u00e9\\n"}') return tostring(t.a[2])..tostring(t.a[3].b == cjson.null)..t.c"#
        ),
        "2true\u{e9}\n"
    );
    assert!(eval_str(&l, "return cjson.decode('[1,2')")
        .contains("Expected comma or array end but found T_END at character 5"));
    assert!(eval_str(&l, "return cjson.decode('{1:2}')")
        .contains("Expected object key string but found T_NUMBER at character 2"));
    assert!(eval_str(&l, "return cjson.decode('  ')")
        .contains("Expected value but found T_END at character 3"));
    assert!(eval_str(&l, "return cjson.decode('[1,2] x')")
        .contains("Expected the end but found invalid token at character 7"));
    assert!(eval_str(&l, "return cjson.encode({[true]=1})")
        .contains("Cannot serialise boolean: table key must be a number or string"));
    assert_eq!(
        eval_str(&l, "return cjson.encode(123456789012345)"),
        "1.2345678901234e+14"
    );
}

#[test]
fn cmsgpack_round_trips() {
    let l = lua();
    assert_eq!(
        eval_str(&l, "local s = cmsgpack.pack({1,2,3}) return string.format('%02x%02x%02x%02x', s:byte(1,4))"),
        "93010203"
    );
    assert_eq!(
        eval_str(&l, "local s = cmsgpack.pack(-1, 300, 'hi', true) local a,b,c,d = cmsgpack.unpack(s) return a..','..b..','..c..','..tostring(d)"),
        "-1,300,hi,true"
    );
    assert_eq!(
        eval_str(
            &l,
            "local t = cmsgpack.unpack(cmsgpack.pack({x=1.5})) return tostring(t.x)"
        ),
        "1.5"
    );
    assert_eq!(
        eval_str(
            &l,
            "local s = cmsgpack.pack(1, 2, 3) local n, a = cmsgpack.unpack_one(s) return n..':'..a"
        ),
        "1:1"
    );
    assert!(eval_str(&l, "return cmsgpack.unpack('\\220\\255\\255')").contains("Missing bytes"));
}
