//! Scripting support for ferrokv: the Lua 5.1 libraries Redis bundles, written in Rust over
//! mlua (which builds Lua 5.1 from source, so no system library is needed).
//!
//! - [`bit`]: LuaBitOp's 32-bit bitwise operations;
//! - [`structlib`]: the `struct` library (binary packing);
//! - [`cjson`]: JSON encoding/decoding with lua-cjson's rules;
//! - [`cmsgpack`]: MessagePack encoding/decoding with lua-cmsgpack's rules.
//!
//! [`install_libs`] puts all four into a Lua state as globals. Nothing here knows about the
//! server: the sandbox and the `redis` API are set up by the server's scripting module.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

pub use mlua;

/// Installs `bit`, `struct`, `cjson` and `cmsgpack` as globals of `lua`.
pub fn install_libs(lua: &mlua::Lua) -> mlua::Result<()> {
    let g = lua.globals();
    g.set("bit", bit::install(lua)?)?;
    g.set("struct", structlib::install(lua)?)?;
    g.set("cjson", cjson::install(lua)?)?;
    g.set("cmsgpack", cmsgpack::install(lua)?)?;
    Ok(())
}
