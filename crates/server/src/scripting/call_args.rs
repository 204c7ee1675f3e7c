//! The arguments of `redis.call` / `redis.pcall`, read straight off the Lua stack.
//!
//! mlua's generic conversion (`MultiValue`) builds a fresh `VecDeque` of `Value`s per call and
//! takes a ref-thread slot for every string (pushed, then released after the call): ~1.1k
//! instructions of a one-key `redis.call` (docs/performance-notes.md, "EVALSHA: per-call CPU,
//! sixth pass"). [`CallArgs`] implements mlua's stack conversion itself: each argument is
//! copied from the stack into the `Bytes` the command takes, in one pass.
//!
//! mlua's typed fast paths (`BString`) do not do: they turn numbers into Lua's `%.14g` text,
//! while Redis stores `redis.call('SET', k, 2^53)` as `9007199254740992` ([`number_text`]).
//!
//! The other way, [`sequence`] builds a KEYS/ARGV table with each item pushed as bytes: the
//! safe `&str` path cost a UTF-8 check per item (~125 instructions for a 13-byte key, std's
//! `from_utf8` on a short string), and binary items a registry slot each.
//!
//! The server's second module that allows `unsafe` (after `run_ctx`), for two blocks: the
//! reads of the stack, and the push of an item (see [`Item`]). They only call `lua_type`, `lua_tolstring` on a value that is a string
//! and `lua_tonumber` on a value that is a number, none of which can raise a Lua error (no
//! conversion, no allocation, no metamethod), so no `longjmp` can cross a Rust frame here;
//! a non-string, non-number argument is recorded and its error raised later by mlua's safe
//! path, after the Rust values are dropped.
#![allow(unsafe_code)]

use super::vm::{number_text, Armed};
use bytes::Bytes;
use ferrokv_lua::mlua::{
    self, ffi, state::RawLua, FromLuaMulti, IntoLua, Lua, MultiValue, Table, Value,
};
use std::cell::Cell;
use std::os::raw::c_int;

/// A vector given back by [`recycle`] keeps at most this many slots.
const ARGS_KEEP: usize = 64;

thread_local! {
    /// The argument vector of the thread's last `redis.call`, emptied, for the next one (one
    /// allocation and free less per call; a thread runs one `redis.call` at a time, and a
    /// nested conversion would only find it taken and allocate).
    static SPARE: Cell<Vec<Bytes>> = const { Cell::new(Vec::new()) };
}

/// Gives a call's argument vector back for the next call on this thread (emptied; dropped
/// instead if it grew large).
pub fn recycle(mut v: Vec<Bytes>) {
    v.clear();
    if v.capacity() <= ARGS_KEEP {
        SPARE.set(v);
    }
}

/// The arguments of one `redis.call`, as the command's byte strings.
pub struct CallArgs {
    /// The arguments converted so far (all of them when `bad` is false).
    pub args: Vec<Bytes>,
    /// An argument was neither a string nor a number (Redis's "must be strings or integers").
    pub bad: bool,
}

impl CallArgs {
    fn with_capacity(n: usize) -> CallArgs {
        CallArgs {
            args: Vec::with_capacity(n),
            bad: false,
        }
    }
}

impl FromLuaMulti for CallArgs {
    /// The path through mlua's `Value`s (not taken by callbacks, which read the stack; kept
    /// as the reference the stack path is tested against).
    fn from_lua_multi(values: MultiValue, _lua: &Lua) -> mlua::Result<CallArgs> {
        let mut out = CallArgs::with_capacity(values.len());
        for v in values.iter() {
            match v {
                Value::String(s) => out.args.push(Bytes::copy_from_slice(&s.as_bytes())),
                Value::Integer(i) => out.args.push(number_text(*i as f64)),
                Value::Number(n) => out.args.push(number_text(*n)),
                _ => {
                    out.bad = true;
                    break;
                }
            }
        }
        Ok(out)
    }

    unsafe fn from_stack_multi(nvals: c_int, lua: &RawLua) -> mlua::Result<CallArgs> {
        let n = usize::try_from(nvals).unwrap_or(0);
        let mut args = SPARE.take();
        args.reserve(n);
        let mut out = CallArgs { args, bad: false };
        let state = lua.state();
        for idx in -nvals..0 {
            // SAFETY: mlua calls this with the callback's `nvals` arguments on top of the
            // stack of `state` (indices -nvals..-1 are valid). `lua_type` never raises;
            // `lua_tolstring` is only called on a string (no conversion in place, no
            // allocation, so no error), and the pointer/length it answers stay valid while the
            // string is on the stack, i.e. for this copy; `lua_tonumber` only on a number.
            let arg = unsafe {
                match ffi::lua_type(state, idx) {
                    ffi::LUA_TSTRING => {
                        let mut len = 0usize;
                        let p = ffi::lua_tolstring(state, idx, &mut len);
                        if p.is_null() {
                            None
                        } else {
                            let s = std::slice::from_raw_parts(p.cast::<u8>(), len);
                            Some(Bytes::copy_from_slice(s))
                        }
                    }
                    ffi::LUA_TNUMBER => Some(number_text(ffi::lua_tonumber(state, idx))),
                    _ => None,
                }
            };
            match arg {
                Some(b) => out.args.push(b),
                None => {
                    out.bad = true;
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Items at least this long take mlua's safe path (as mlua's own fast push does).
const PUSH_MAX: usize = 1 << 30;

/// One KEYS/ARGV item (shorter than [`PUSH_MAX`]), pushed onto the stack as it is. Private:
/// only [`sequence`] makes them, while the heap limit is off.
struct Item<'b>(&'b [u8]);

impl IntoLua for Item<'_> {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(self.0)?))
    }

    unsafe fn push_into_stack(self, lua: &RawLua) -> mlua::Result<()> {
        if self.0.len() >= PUSH_MAX {
            // Not reached: `sequence` builds such a table through `create_string`.
            return Err(mlua::Error::runtime("item too long"));
        }
        // SAFETY: mlua calls this with room for one more value on the stack (it checks the
        // stack before pushing an item). `lua_pushlstring` copies the bytes; it can raise only
        // on a failed allocation (a string shorter than 1 GiB is never "too long"), and an
        // `Item` exists only inside `sequence`, where the heap limit is off: mlua's allocator
        // then never answers null (it aborts on an out-of-memory, as Rust does), so no error
        // and no `longjmp` crosses the Rust frames above. A collector step during the push runs
        // only mlua's own userdata finalisers (scripts cannot set `__gc` in Lua 5.1 without
        // `newproxy`, which is removed), as for mlua's own unprotected string push.
        unsafe {
            ffi::lua_pushlstring(lua.state(), self.0.as_ptr().cast(), self.0.len());
        }
        Ok(())
    }
}

/// A sequence table of `items` (KEYS or ARGV), each a Lua string of the item's bytes.
pub fn sequence(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let _off = Armed::new(lua, 0);
    if items.iter().any(|b| b.len() >= PUSH_MAX) {
        let strings = items
            .iter()
            .map(|b| lua.create_string(&b[..]))
            .collect::<mlua::Result<Vec<_>>>()?;
        return lua.create_sequence_from(strings);
    }
    lua.create_sequence_from(items.iter().map(|b| Item(&b[..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// The stack path (what a callback gets) converts every kind of argument exactly as the
    /// `Value` path (the conversion `redis.call` used before) does, numbers by Redis 7.2's rule.
    #[test]
    fn stack_and_value_paths_agree() -> mlua::Result<()> {
        let lua = Lua::new();
        let seen: Rc<RefCell<Vec<CallArgs>>> = Rc::default();
        let s = seen.clone();
        let f = lua.create_function(move |_, a: CallArgs| {
            s.borrow_mut().push(a);
            Ok(())
        })?;
        lua.globals().set("f", f)?;
        let cases = [
            "'a', 'b\\0c', '', '\\255'",
            "1, -1, 2^53, 2^53 + 1, 2^62, -2^62, 2^62 + 2048, 2^63, -2^63, 2^64",
            "-0, 0, 0.5, 1/3, 1e100, 1e15 + 0.5, 0/0, 1/0, -1/0, 1e-300",
            "'12', '1e3', '0x10'",
            "'x', true, 'y'",
            "'x', nil, 'y'",
            "{}",
            "",
        ];
        for c in cases {
            lua.load(format!("f({c})")).exec()?;
            let values: MultiValue = lua.load(format!("return {c}")).eval()?;
            let want = CallArgs::from_lua_multi(values, &lua)?;
            let got = seen
                .borrow_mut()
                .pop()
                .ok_or_else(|| mlua::Error::runtime("no call"))?;
            assert_eq!(got.args, want.args, "{c}");
            assert_eq!(got.bad, want.bad, "{c}");
        }
        // What the texts are (Redis 7.2): integers, shortest round-trip doubles, bytes as is.
        lua.load("f('b\\0c', 2^53, 0.5, 1/3, -0, 2^62, 1e15 + 0.5, '1e3')")
            .exec()?;
        let got = seen
            .borrow_mut()
            .pop()
            .ok_or_else(|| mlua::Error::runtime("no call"))?;
        let want: Vec<&[u8]> = vec![
            b"b\0c",
            b"9007199254740992",
            b"0.5",
            b"0.3333333333333333",
            b"0",
            b"4611686018427387904",
            b"1000000000000000.5",
            b"1e3",
        ];
        assert_eq!(got.args, want);
        assert!(!got.bad);
        // A bad argument stops the conversion (its error is raised by the caller).
        lua.load("f('a', {}, 'b')").exec()?;
        let got = seen
            .borrow_mut()
            .pop()
            .ok_or_else(|| mlua::Error::runtime("no call"))?;
        assert!(got.bad);
        assert_eq!(got.args, vec![Bytes::from_static(b"a")]);
        Ok(())
    }

    /// `sequence` makes each item a Lua string of exactly its bytes (text, binary, empty).
    #[test]
    fn sequence_items_are_their_bytes() -> mlua::Result<()> {
        let lua = Lua::new();
        let items = [
            Bytes::from_static(b"bench:counter"),
            Bytes::from_static(b"\xff\x00b"),
            Bytes::new(),
            Bytes::from_static("\u{e9}t\u{e9}".as_bytes()),
        ];
        let t = sequence(&lua, &items)?;
        assert_eq!(t.raw_len(), items.len());
        for (i, want) in items.iter().enumerate() {
            let got: mlua::LuaString = t.raw_get(i + 1)?;
            assert_eq!(&got.as_bytes()[..], &want[..]);
        }
        assert_eq!(sequence(&lua, &[])?.raw_len(), 0);
        Ok(())
    }
}
