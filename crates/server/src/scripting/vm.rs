//! The Lua state scripts run in, set up as Redis 7 sets up its own.
//!
//! - Libraries: base (minus `dofile`, `loadfile`, `print`, `load`, `require`, `module`,
//!   `setfenv`, `newproxy`, `debug`), `table`, `string`, `math`, `bit`, `struct`, `cjson`,
//!   `cmsgpack`, `os` with only `os.clock` (Redis 7.2+), and `redis`.
//! - Protection: scripts see the globals through a read-only proxy: reading a missing global
//!   fails with "Script attempted to access nonexistent global variable 'x'", writing any
//!   global or a field of a library table with "Attempt to modify a readonly table".
//! - Limits: a memory limit on the Lua heap ([`LUA_MEMORY_LIMIT`]) and an instruction hook that
//!   marks the script busy after `busy-reply-threshold` and stops it on SCRIPT KILL.
//! - Scripts are compiled once per SHA1 into functions kept in the registry.

use super::call_args::CallArgs;
use super::convert::{lua_to_reply, resp_to_lua};
use super::run_ctx::RunSlot;
use super::{RunFlags, ScriptFlags};
use crate::dispatch::Ctx;
use crate::errors::{CmdError, CmdResult};
use bytes::Bytes;
use ferrokv_lua::mlua::{
    self, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState,
};
use ferrokv_resp::{Protocol, Reply};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// Default upper bound of a Lua heap: a script that allocates more fails with an error and
/// the server keeps serving. See [`memory_limit`].
pub const LUA_MEMORY_LIMIT: usize = 1 << 30;

/// The Lua heap limit in bytes: [`LUA_MEMORY_LIMIT`], unless the environment variable
/// `FERROKV_LUA_MEMORY_LIMIT` (bytes, at least 1 MiB) says otherwise (tests use a small one).
pub fn memory_limit() -> usize {
    std::env::var("FERROKV_LUA_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1 << 20)
        .unwrap_or(LUA_MEMORY_LIMIT)
}

/// Globals scripts may use (Redis 7's allow list; `os` has only `clock`).
const ALLOWED_GLOBALS: &[&str] = &[
    "xpcall",
    "tostring",
    "setmetatable",
    "next",
    "assert",
    "tonumber",
    "rawequal",
    "collectgarbage",
    "getmetatable",
    "rawset",
    "pcall",
    "coroutine",
    "type",
    "_G",
    "select",
    "unpack",
    "gcinfo",
    "pairs",
    "loadstring",
    "ipairs",
    "error",
    "rawget",
    "_VERSION",
    "string",
    "table",
    "math",
    "struct",
    "cjson",
    "bit",
    "cmsgpack",
    "redis",
    "os",
];

/// Library tables made read-only.
const READONLY_LIBS: &[&str] = &[
    "redis",
    "string",
    "table",
    "math",
    "bit",
    "struct",
    "cjson",
    "cmsgpack",
    "os",
    "coroutine",
];

/// Lua code run once at start: builds the read-only view of the globals and Redis's `pcall`.
const PRELUDE: &str = r#"
local real, libs, errtext, lazy, rsetfenv = ...
local rsetmetatable, rrawset, rpcall, rerror = setmetatable, rawset, pcall, error
local protected = {}
local real_env
rsetmetatable(protected, {__mode = 'k'})
local function ro(t)
  local p = {}
  rsetmetatable(p, {
    __index = t,
    __newindex = function() rerror("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
  protected[p] = true
  return p
end
for _, name in ipairs(libs) do
  local t = rawget(real, name)
  if t ~= nil then rrawset(real, name, ro(t)) end
end
-- The strings' shared metatable is read-only too (Redis: "Attempt to modify a readonly
-- table"): getmetatable('') answers a read-only view of it, and its __index is the read-only
-- `string`, so no script can change string methods or leave a value there for a later run.
local smt = getmetatable('')
if smt ~= nil then
  rrawset(smt, '__index', rawget(real, 'string'))
  rrawset(smt, '__metatable', ro(smt))
end
-- Readonly tables refuse setmetatable and rawset, as Redis's patched Lua does.
rrawset(real, "setmetatable", function(t, mt)
  if protected[t] then rerror("Attempt to modify a readonly table", 0) end
  return rsetmetatable(t, mt)
end)
local rrawget = rawget
rrawset(real, "rawget", function(t, k)
  if t == real_env then
    local v = rrawget(real, k)
    if v == nil and k == 'ARGV' and lazy.argv then return real.ARGV end
    return v
  end
  return rrawget(t, k)
end)
rrawset(real, "rawset", function(t, k, v)
  if protected[t] then rerror("Attempt to modify a readonly table", 0) end
  return rrawset(t, k, v)
end)
-- Like Redis's pcall: an error table (raised by redis.call) is caught as its `err` text.
local function fix(ok, ...)
  if ok then return ok, ... end
  return false, errtext((...))
end
rrawset(real, "pcall", function(f, ...) return fix(rpcall(f, ...)) end)
-- Reads go straight to the real globals (a table __index needs no function call); a name
-- missing there reaches the real table's own __index, which raises (as Redis's _G does).
local env = {}
rsetmetatable(env, {
  __index = real,
  __newindex = function() rerror("Attempt to modify a readonly table", 2) end,
  __metatable = false,
})
rsetmetatable(real, {
  __index = function(_, n)
    -- An EVAL run without arguments gets its (empty) ARGV table when it first reads it.
    if n == 'ARGV' and lazy.argv then
      local argv = {}
      rrawset(real, 'ARGV', argv)
      return argv
    end
    rerror("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
  end,
})
protected[env] = true
real_env = env
rrawset(real, "_G", env)
-- A chunk compiled by loadstring gets the globals of the state (Lua 5.1), i.e. the real table,
-- where a script could leave a global for later runs. Redis makes that table read-only; here
-- the chunk gets the scripts' protected view instead, with the same errors.
local rloadstring = rawget(real, 'loadstring')
if rloadstring ~= nil then
  rrawset(real, 'loadstring', function(...)
    local f, e = rloadstring(...)
    if f ~= nil then rsetfenv(f, env) end
    return f, e
  end)
end
return env
"#;

/// The Lua collector's pause (percent of the live heap reached before a new cycle starts;
/// Lua's default is 200).
const GC_PAUSE: i32 = 400;

/// Lua code run once at start: returns the function every EVAL run goes through, so that one
/// call from Rust sets KEYS and ARGV and runs the script under `xpcall` (each `raw_set` was an
/// mlua call of its own). `real` is the real globals table (its metatable
/// has no `__newindex`, so a plain assignment is a raw set) and `redis` the real `redis`
/// table. `argv` is nil for a call without arguments: the real globals' `__index` (see
/// [`PRELUDE`]) then builds the empty ARGV table if the script reads it (most scripts without
/// arguments never do), once `lazy.argv` is set (only EVAL states run the runner, so a
/// function's state keeps failing on a read of ARGV, as in Redis). (Building KEYS/ARGV here
/// from items passed as arguments was tried: the strings are then pushed while the heap limit
/// is armed, i.e. each in protected mode, which cost more than the tables built through the
/// API while disarmed.)
const RUNNER: &str = r#"
local xpcall, real, handler, lazy = ...
return function(f, keys, argv)
  lazy.argv = true
  real.KEYS = keys
  real.ARGV = argv
  return xpcall(f, handler)
end
"#;

/// One Lua interpreter with Redis's environment.
pub struct Vm {
    lua: Lua,
    /// The real globals table (KEYS/ARGV are set here).
    globals: Table,
    /// What scripts see as their globals.
    env: Table,
    /// The real `redis` table (the per-run `call` / `pcall` live here).
    redis: Table,
    /// Compiled scripts by SHA1, with their shebang flags.
    funcs: HashMap<String, (Function, ScriptFlags), foldhash::fast::RandomState>,
    /// The script [`Vm::cached`] found last (a repeated EVALSHA compares 40 bytes instead of
    /// hashing them). Entries of `funcs` are never removed (SCRIPT FLUSH replaces the `Vm`).
    last: Option<(Box<str>, Function, ScriptFlags)>,
    handler: Function,
    /// The base library's `xpcall` (scripts run under it with [`Vm::handler`]).
    xpcall: Function,
    /// [`RUNNER`]: sets up and runs one EVAL script.
    runner: Function,
    /// The protocol of `redis.call` replies in the running script (`redis.setresp`).
    resp3: Arc<AtomicBool>,
    /// The heap limit, armed only while Lua code runs (see [`Armed`]).
    limit: usize,
    /// Reply buffer of `redis.call`'s commands (one allocation for all calls).
    scratch: Reply,
    /// Where `redis.call` / `redis.pcall` (registered once, in [`Vm::new`]) find the run in
    /// progress.
    slot: Rc<RunSlot>,
    /// `bind(f, k, a)` returns a closure calling `f(k, a)` (how FCALL passes keys and args).
    bind: Function,
    /// While FUNCTION LOAD runs a library's code in this state: the Unix ms after which the
    /// hook fails it with "FUNCTION LOAD timeout" (0: not loading). Per state, not in
    /// [`RunFlags`]: a library loads in its thread's state while a script may run in another.
    load_deadline: Rc<Cell<i64>>,
}

/// Per-run settings.
pub struct Run<'s> {
    /// The name in error suffixes: the script's SHA1 or the function's name.
    pub sha: &'s str,
    /// Write commands are refused (EVAL_RO, FCALL_RO, `no-writes`).
    pub readonly: bool,
    /// Initial protocol of `redis.call` replies (`redis.setresp` changes it).
    pub resp3: bool,
    /// A function (FCALL): called with `(keys, args)` instead of KEYS/ARGV globals, and its
    /// errors name `@user_function`.
    pub function: bool,
    /// The one declared key and its db, when the run's lock set was taken for it alone (see
    /// [`super::call_command`]).
    pub declared: Option<(u32, &'s [u8])>,
}

/// The reply text of a failed run's error value (the handler's table, or a raw value), and
/// the script line it names.
pub fn failure_text(value: &Value) -> (String, i64) {
    let (msg, line) = match value {
        Value::Table(t) => {
            let line: i64 = t.raw_get("line").unwrap_or(1);
            match (t.raw_get::<Value>("err"), t.raw_get::<Value>("msg")) {
                (Ok(Value::String(e)), _) => (e.to_string_lossy().to_string(), line),
                (_, Ok(Value::String(m))) => (format!("ERR {}", m.to_string_lossy()), line),
                _ => ("ERR unknown error".to_string(), line),
            }
        }
        Value::String(s) => {
            if s.to_string_lossy().contains("not enough memory") {
                ("ERR not enough memory".to_string(), 1)
            } else {
                (format!("ERR {}", s.to_string_lossy()), 1)
            }
        }
        _ => ("ERR unknown error".to_string(), 1),
    };
    (msg.replace(['\r', '\n'], " "), line)
}

/// An error reply raised by `redis.call` (the command's error text, e.g. `ERR ...` or
/// `WRONGTYPE ...`): it reaches the caller as is, without a Lua position prefix.
#[derive(Debug)]
pub struct RedisError(pub String);

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisError {}

/// What an error raised in Lua says: `Ok(text)` for a [`RedisError`] (an error reply, kept
/// whole) and `Err(message)` for any other failure (the reply gets an `ERR ` prefix).
fn root_error(e: &mlua::Error) -> Result<String, String> {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_error(cause),
        mlua::Error::WithContext { cause, .. } => root_error(cause),
        mlua::Error::ExternalError(x) => match x.downcast_ref::<RedisError>() {
            Some(r) => Ok(r.0.clone()),
            None => Err(x.to_string()),
        },
        mlua::Error::RuntimeError(m) => Err(m.clone()),
        mlua::Error::MemoryError(_) => Err("not enough memory".into()),
        other => Err(other.to_string()),
    }
}

/// The text of a [`RedisError`] raised by `redis.call` (a command's error reply, or a call
/// Redis refuses), seen through mlua's callback wrappers.
fn redis_error(e: &mlua::Error) -> Option<&str> {
    match e {
        mlua::Error::CallbackError { cause, .. } => redis_error(cause),
        mlua::Error::WithContext { cause, .. } => redis_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<RedisError>().map(|r| r.0.as_str()),
        _ => None,
    }
}

/// An error raised by a `redis.*` function: like Redis, its text gets `ERR ` and no Lua
/// position prefix.
fn lua_err(e: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::external(RedisError(format!("ERR {e}")))
}

/// The `err` text of an error table: "-CODE msg" keeps its code, "msg" gets ERR.
fn error_message(text: &str) -> String {
    match text.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => format!("{code} {}", msg.trim_end_matches(['\r', '\n'])),
            None => format!("ERR {}", rest.trim_end_matches(['\r', '\n'])),
        },
        None => format!("ERR {}", text.trim_end_matches(['\r', '\n'])),
    }
}

/// `redis.error_reply` / error tables: see [`error_message`].
fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", error_message(text))?;
    Ok(t)
}

fn log_level(lua: &Lua, level: i64, msg: &str) {
    let _ = lua;
    match level {
        0 => crate::log_debug!("{}", msg),
        1 => crate::log_verbose!("{}", msg),
        2 => crate::log_notice!("{}", msg),
        _ => crate::log_warning!("{}", msg),
    }
}

fn build_redis_table(lua: &Lua, run_flags: Arc<RunFlags>) -> mlua::Result<Table> {
    let r = lua.create_table()?;
    r.set(
        "error_reply",
        lua.create_function(|lua, a: Variadic<Value>| match (a.len(), a.first()) {
            (1, Some(Value::String(s))) => {
                let text = s.to_string_lossy();
                let text = if text.starts_with('-') {
                    text.to_string()
                } else {
                    format!("-{text}")
                };
                Ok(Value::Table(error_table(lua, &text)?))
            }
            _ => Ok(Value::Table(error_table(
                lua,
                "wrong number or type of arguments",
            )?)),
        })?,
    )?;
    r.set(
        "status_reply",
        lua.create_function(|lua, a: Variadic<Value>| match (a.len(), a.first()) {
            (1, Some(Value::String(s))) => {
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(Value::Table(t))
            }
            _ => Ok(Value::Table(error_table(
                lua,
                "wrong number or type of arguments",
            )?)),
        })?,
    )?;
    r.set(
        "sha1hex",
        lua.create_function(|lua, a: Variadic<Value>| {
            if a.len() != 1 {
                return Err(lua_err("wrong number of arguments"));
            }
            let s = lua
                .coerce_string(a[0].clone())?
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default();
            Ok(crate::sha1::hex(&s))
        })?,
    )?;
    r.set(
        "log",
        lua.create_function(|lua, a: Variadic<Value>| {
            if a.len() < 2 {
                return Err(lua_err("redis.log() requires two arguments or more."));
            }
            let level = match &a[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => return Err(lua_err("First argument must be a number (log level).")),
            };
            if !(0..=3).contains(&level) {
                return Err(lua_err("Invalid debug level."));
            }
            let mut parts = Vec::new();
            for v in a.iter().skip(1) {
                if let Some(s) = lua.coerce_string(v.clone())? {
                    parts.push(s.to_string_lossy().to_string());
                }
            }
            log_level(lua, level, &parts.join(" "));
            Ok(())
        })?,
    )?;
    r.set(
        "set_repl",
        lua.create_function(move |_, a: Variadic<Value>| {
            if a.len() != 1 {
                return Err(lua_err("redis.set_repl() requires two arguments."));
            }
            let flags = match &a[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => -1,
            };
            if !(0..=3).contains(&flags) {
                return Err(lua_err(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            // Only the AOF bit matters here (no replicas): see `call_command`.
            run_flags.repl.store(flags as u8, Relaxed);
            Ok(())
        })?,
    )?;
    r.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    r.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    r.set(
        "debug",
        lua.create_function(|_, _a: Variadic<Value>| Ok(()))?,
    )?;
    r.set("REDIS_VERSION", crate::REDIS_VERSION)?;
    let num = crate::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0i64, |acc, p| acc * 256 + p);
    r.set("REDIS_VERSION_NUM", num)?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        r.set(name, v)?;
    }
    Ok(r)
}

/// Where an error was raised, as Redis's error handler reports it (`on <source>:<line>`): the
/// line of the first frame above the handler that belongs to the user's script or function —
/// then no source (the caller names it) — or to a chunk compiled by `loadstring`, whose source
/// is its own text (as Redis prints it). C functions and the server's own Lua helpers (sources
/// starting with `=`: the prelude, the runner) are skipped.
fn error_frame(lua: &Lua) -> (usize, Option<String>) {
    for level in 0..32 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source();
            let s = src.source.as_deref().unwrap_or("=");
            if s.contains("user_script") || s.contains("user_function") {
                d.current_line().map(|l| (l, None))
            } else if s.starts_with('=') || src.what == "C" {
                None
            } else {
                d.current_line().map(|l| (l, Some(s.to_string())))
            }
        });
        match found {
            Some(Some(frame)) => return frame,
            Some(None) => continue,
            None => break,
        }
    }
    (1, None)
}

impl Vm {
    /// A fresh interpreter whose hook reports to `flags`.
    pub fn new(flags: Arc<RunFlags>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        ferrokv_lua::install_libs(&lua)?;
        let globals = lua.globals();
        let os = lua.create_table()?;
        // One origin for every interpreter (there is one per thread): `os.clock` never goes
        // back when consecutive runs land on different threads.
        static T0: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let t0 = *T0.get_or_init(std::time::Instant::now);
        os.set(
            "clock",
            lua.create_function(move |_, ()| Ok(t0.elapsed().as_secs_f64()))?,
        )?;
        globals.set("os", os)?;
        let redis = build_redis_table(&lua, flags.clone())?;
        globals.set("redis", redis.clone())?;
        // Kept for the prelude's `loadstring` (scripts themselves cannot reach it).
        let setfenv: Function = globals.get("setfenv")?;
        let names: Vec<String> = globals
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok())
            .filter_map(|(k, _)| match k {
                Value::String(s) => Some(s.to_string_lossy().to_string()),
                _ => None,
            })
            .collect();
        for n in names {
            if !ALLOWED_GLOBALS.contains(&n.as_str()) {
                globals.raw_set(n, Value::Nil)?;
            }
        }
        // redis.call / redis.pcall are registered once and reach the run in progress through
        // `slot` (see `run_ctx`); they are C functions (as in Redis) so that a script's
        // `return redis.call(...)` keeps its frame and errors report the script's line.
        let slot = Rc::new(RunSlot::default());
        let s = slot.clone();
        redis.set(
            "call",
            lua.create_function(move |lua, a: CallArgs| {
                s.with(|call| call.call(lua, a, true))
                    .unwrap_or_else(|| Err(lua_err(OUTSIDE_RUN)))
            })?,
        )?;
        let s = slot.clone();
        redis.set(
            "pcall",
            lua.create_function(move |lua, a: CallArgs| {
                match s.with(|call| call.call(lua, a, false)) {
                    // Raised, as Redis does for pcall too.
                    None => Err(lua_err(OUTSIDE_RUN)),
                    // What `call` itself raises even for pcall (a recursive call) is an error
                    // table for the script, as the command errors are.
                    Some(Err(e)) => match redis_error(&e) {
                        Some(text) => {
                            let t = lua.create_table()?;
                            t.raw_set("err", lua.create_string(text)?)?;
                            Ok(Value::Table(t))
                        }
                        None => Err(e),
                    },
                    Some(out) => out,
                }
            })?,
        )?;
        let resp3 = Arc::new(AtomicBool::new(false));
        let r3 = resp3.clone();
        redis.set(
            "setresp",
            lua.create_function(move |_, a: Variadic<Value>| {
                if a.len() != 1 {
                    return Err(lua_err("redis.setresp() requires one argument."));
                }
                let v = match &a[0] {
                    Value::Integer(i) => *i,
                    Value::Number(n) => *n as i64,
                    Value::String(s) => s
                        .to_str()
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .map_or(0, |n| n as i64),
                    _ => 0,
                };
                if v != 2 && v != 3 {
                    return Err(lua_err("RESP version must be 2 or 3."));
                }
                r3.store(v == 3, Relaxed);
                Ok(())
            })?,
        )?;
        let errtext = lua.create_function(|lua, v: Value| {
            Ok(match &v {
                Value::Table(t) => match t.raw_get::<Value>("err")? {
                    s @ Value::String(_) => s,
                    _ => v.clone(),
                },
                Value::Error(e) => {
                    let text = match root_error(e) {
                        Ok(t) | Err(t) => t,
                    };
                    Value::String(lua.create_string(text)?)
                }
                _ => v.clone(),
            })
        })?;
        let libs = lua.create_sequence_from(READONLY_LIBS.iter().copied())?;
        // Shared by the prelude's global look-ups and the runner (see `RUNNER`).
        let lazy = lua.create_table()?;
        let env: Table = lua.load(PRELUDE).set_name("=prelude").call((
            globals.clone(),
            libs,
            errtext,
            lazy.clone(),
            setfenv,
        ))?;
        let handler = lua.create_function(|lua, e: Value| {
            let (line, source) = error_frame(lua);
            let t = lua.create_table()?;
            match &e {
                Value::Table(et) => {
                    let err: Value = et.raw_get("err")?;
                    match err {
                        Value::String(s) => t.raw_set("err", s)?,
                        _ => t.raw_set("msg", "unknown error")?,
                    }
                }
                Value::String(s) => t.raw_set("msg", s.clone())?,
                Value::Error(err) => match root_error(err) {
                    Ok(text) => t.raw_set("err", text)?,
                    // Library functions raise with luaL_error, which prefixes the position.
                    Err(msg) if msg == "not enough memory" => t.raw_set("msg", msg)?,
                    Err(msg) => t.raw_set("msg", format!("user_script:{line}: {msg}"))?,
                },
                Value::Nil => t.raw_set("msg", "nil")?,
                other => {
                    let text = lua
                        .coerce_string(other.clone())
                        .ok()
                        .flatten()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_else(|| other.type_name().to_string());
                    t.raw_set("msg", text)?;
                }
            }
            t.raw_set("line", line)?;
            if let Some(source) = source {
                t.raw_set("source", source)?;
            }
            Ok(t)
        })?;
        let bind: Function = lua
            .load("local f, k, a = ... return function() return f(k, a) end")
            .set_name("=bind")
            .into_function()?;
        let hook_flags = flags;
        let load_deadline = Rc::new(Cell::new(0i64));
        let hook_deadline = load_deadline.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(10_000),
            move |_, _| {
                let f = &hook_flags;
                if f.kill.load(Relaxed) {
                    return Err(lua_err("Script killed by user with SCRIPT KILL..."));
                }
                let deadline = hook_deadline.get();
                if deadline > 0 {
                    if crate::util::now_ms() > deadline {
                        return Err(lua_err("FUNCTION LOAD timeout"));
                    }
                    return Ok(VmState::Continue);
                }
                let limit = f.busy_threshold_ms.load(Relaxed);
                if limit > 0
                    && !f.busy.load(Relaxed)
                    && crate::util::now_ms() - f.started_ms.load(Relaxed) >= limit
                {
                    crate::log_warning!(
                        "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command.",
                        crate::util::now_ms() - f.started_ms.load(Relaxed)
                    );
                    f.busy.store(true, Relaxed);
                }
                Ok(VmState::Continue)
            },
        )?;
        // A collection cycle marks the whole live heap (the libraries): start one when the
        // heap reaches 4x the live size instead of Lua's default 2x, so short scripts pay a
        // third of the marking work per byte they allocate.
        lua.gc_set_mode(mlua::state::GcMode::Incremental(
            mlua::state::GcIncParams::default().pause(GC_PAUSE),
        ));
        let xpcall: Function = globals.raw_get("xpcall")?;
        let runner: Function = lua.load(RUNNER).set_name("=runner").call((
            xpcall.clone(),
            globals.clone(),
            handler.clone(),
            lazy,
        ))?;
        Ok(Vm {
            slot,
            lua,
            globals,
            env,
            redis,
            funcs: HashMap::default(),
            last: None,
            handler,
            xpcall,
            runner,
            resp3,
            limit: memory_limit(),
            scratch: Reply::new(Protocol::Resp2),
            bind,
            load_deadline,
        })
    }

    /// The interpreter.
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// The real `redis` table (FUNCTION LOAD's restricted view proxies part of it).
    pub fn redis_table(&self) -> &Table {
        &self.redis
    }

    /// The real globals table (behind the read-only view scripts see).
    pub fn globals(&self) -> &Table {
        &self.globals
    }

    /// What running code sees as its globals.
    pub fn env(&self) -> &Table {
        &self.env
    }

    /// The error handler `xpcall` uses (turns an error into `{err|msg, line}`).
    pub fn handler(&self) -> &Function {
        &self.handler
    }

    /// A script compiled earlier by [`Vm::function`], with its shebang flags.
    pub fn cached(&mut self, sha: &str) -> Option<(Function, ScriptFlags)> {
        if let Some((s, f, flags)) = &self.last {
            if **s == *sha {
                return Some((f.clone(), *flags));
            }
        }
        let (f, flags) = self.funcs.get(sha)?;
        self.last = Some((sha.into(), f.clone(), *flags));
        Some((f.clone(), *flags))
    }

    /// The compiled function of a script, compiling `source` (the body after
    /// [`super::parse_shebang`], whose flags are `flags`) on first use.
    pub fn function(
        &mut self,
        sha: &str,
        source: &[u8],
        flags: ScriptFlags,
    ) -> Result<Function, CmdError> {
        if let Some((f, _)) = self.funcs.get(sha) {
            return Ok(f.clone());
        }
        let f = self
            .lua
            .load(source)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                crate::cmd_err!("ERR Error compiling script (new function): {}", msg)
            })?;
        self.funcs.insert(sha.to_string(), (f.clone(), flags));
        Ok(f)
    }

    /// Sets the library-load deadline of this state (Unix ms; 0 clears it): while it is set,
    /// the instruction hook checks it instead of the busy threshold.
    pub fn set_load_deadline(&self, ms: i64) {
        self.load_deadline.set(ms);
    }

    /// Runs `f` with the heap limit armed (see [`Armed`]).
    pub fn armed<R>(&self, f: impl FnOnce() -> R) -> R {
        let _armed = Armed::new(&self.lua, self.limit);
        f()
    }

    /// Runs `func` with KEYS/ARGV for the client of `c`, writing its reply.
    pub fn run(
        &mut self,
        c: &mut Ctx,
        func: Function,
        keys: &[Bytes],
        argv: &[Bytes],
        run: Run,
    ) -> CmdResult {
        let lua = &self.lua;
        // Each item is pushed as its bytes (no UTF-8 check, no registry slot: see
        // `call_args::sequence`).
        let mk = |items: &[Bytes]| super::call_args::sequence(lua, items);
        let function = run.function;
        // Built while the limit is disarmed: under a limit every mlua call that allocates
        // (a string pushed as an argument too) runs in protected mode, which costs a C closure.
        // An EVAL run without arguments passes no ARGV: the runner leaves it to be built if
        // the script reads it (see `RUNNER`).
        let tables = mk(keys).and_then(|k| {
            let a = if argv.is_empty() && !function {
                None
            } else {
                Some(mk(argv)?)
            };
            Ok((k, a))
        });
        let (k, a) = match tables {
            Ok(t) => t,
            Err(e) => return Err(crate::cmd_err!("ERR {}", e)),
        };
        self.resp3.store(run.resp3, Relaxed);
        let call = CallCtx {
            c: RefCell::new(c),
            reply: RefCell::new(&mut self.scratch),
            readonly: run.readonly,
            resp3: &self.resp3,
            declared: run.declared,
        };
        let (runner, bind, xpcall, handler, limit) = (
            &self.runner,
            &self.bind,
            &self.xpcall,
            &self.handler,
            self.limit,
        );
        // `redis.call` / `redis.pcall` reach `call` only while `during` runs.
        let result: mlua::Result<(bool, Value)> = self.slot.during(&call, || {
            if function {
                let func = bind.call::<Function>((func, k, a))?;
                let _armed = Armed::new(lua, limit);
                return xpcall.call::<(bool, Value)>((func, handler));
            }
            let _armed = Armed::new(lua, limit);
            runner.call::<(bool, Value)>((func, k, a))
        });
        let script_resp3 = self.resp3.load(Relaxed);
        let c = call.c.into_inner();
        let sha = run.sha;
        let (ok, value) = match result {
            Ok(v) => v,
            Err(e) => {
                // As for a failed script below: its garbage goes now.
                let _ = lua.gc_collect();
                let _ = lua.gc_collect();
                let msg = match &e {
                    mlua::Error::MemoryError(_) => "not enough memory".to_string(),
                    other => other.to_string(),
                };
                return Err(crate::cmd_err!(
                    "ERR {} script: {}, on @{}:1.",
                    msg,
                    sha,
                    if run.function {
                        "user_function"
                    } else {
                        "user_script"
                    }
                ));
            }
        };
        if !ok {
            // A failed run (e.g. out of memory) leaves its garbage: free it now so the next
            // script starts with a clean heap.
            let _ = lua.gc_collect();
            let _ = lua.gc_collect();
        }
        if ok {
            lua_to_reply(&value, c.reply, script_resp3, 0);
            return Ok(());
        }
        let (msg, line) = failure_text(&value);
        // A chunk compiled by `loadstring` is named by its text (see `error_frame`).
        let source = match &value {
            Value::Table(t) => t.raw_get::<Option<String>>("source").ok().flatten(),
            _ => None,
        };
        let source = source.unwrap_or_else(|| {
            if run.function {
                "@user_function".to_string()
            } else {
                "@user_script".to_string()
            }
        });
        Err(crate::cmd_err!(
            "{} script: {}, on {}:{}.",
            msg,
            sha,
            source,
            line
        ))
    }
}

/// The Lua heap limit is armed only while Lua code runs, and disarmed while Rust code builds
/// Lua values (KEYS/ARGV, `redis.call` replies, scoped callbacks). With a limit set, mlua runs
/// every API call in protected mode, which in Lua 5.1 allocates a C closure per call: that
/// was most of the cost of a short script. Without a limit an allocation cannot fail (short of
/// the process running out of memory), so unprotected calls are safe. Values built while
/// disarmed still count: a heap over the limit fails the script's next allocation.
pub struct Armed<'l> {
    lua: &'l Lua,
    prev: usize,
}

impl<'l> Armed<'l> {
    /// Sets the heap limit of `lua` to `limit` until the guard is dropped.
    pub fn new(lua: &'l Lua, limit: usize) -> Armed<'l> {
        let prev = lua.set_memory_limit(limit).unwrap_or(0);
        Armed { lua, prev }
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        let _ = self.lua.set_memory_limit(self.prev);
    }
}

/// A `redis.call` reply buffer larger than this is dropped after the call instead of kept.
const SCRATCH_KEEP: usize = 64 << 10;

/// The error of `redis.call` / `redis.pcall` called when no run is in progress (Redis's text).
const OUTSIDE_RUN: &str = "redis.call/pcall can only be called inside a script invocation";

/// What `redis.call` / `redis.pcall` reach during a run (through [`RunSlot`]).
pub(super) struct CallCtx<'c, 'a, 'k> {
    c: RefCell<&'c mut Ctx<'a, 'k>>,
    /// The commands' reply buffer, kept across calls and runs.
    reply: RefCell<&'c mut Reply>,
    readonly: bool,
    resp3: &'c AtomicBool,
    /// See [`Run::declared`].
    declared: Option<(u32, &'c [u8])>,
}

/// The text of a Lua number passed to `redis.call`, as Redis 7.2+ makes it: an integral
/// value within ±2^62 as an integer (so `1e9` is `1000000000`, usable where scientific
/// notation is not), anything else as the shortest round-trip digits (`fpconv_dtoa`: `0.1`,
/// `0.3333333333333333`, `1000000000000000.5`, `1e+100`). Redis 7.0 printed 17 significant
/// digits (`0.10000000000000001`); Lua's own `tostring` 14 (`0.33333333333333`, which would
/// lose precision).
fn number_arg(n: f64) -> Bytes {
    if n == 0.0 {
        // Integral: -0 is stored as 0, as Redis's double2ll path does.
        return Bytes::from_static(b"0");
    }
    let mut out = Vec::with_capacity(24);
    ferrokv_resp::format_double(n, &mut out);
    Bytes::from(out)
}

/// The text of a Lua number argument, exactly as mlua's `Value` path made it: a number whose
/// bits round-trip through `i64` was an integer (`i.to_string()` within ±2^62), anything else
/// (also -0, NaN, ±inf and integers beyond ±2^62) goes through [`number_arg`].
pub(super) fn number_text(n: f64) -> Bytes {
    let i = n as i64;
    if n.to_bits() == (i as f64).to_bits() && i.unsigned_abs() <= 1 << 62 {
        return Bytes::from(i.to_string());
    }
    number_arg(n)
}

impl CallCtx<'_, '_, '_> {
    /// One `redis.call` (`raise`: errors are raised) or `redis.pcall` (errors are returned as
    /// `{err=...}` tables).
    pub(super) fn call(&self, lua: &Lua, a: CallArgs, raise: bool) -> mlua::Result<Value> {
        // Disarmed while Rust converts the reply; re-armed on return.
        let _disarmed = Armed::new(lua, 0);
        if a.bad {
            return call_error(
                lua,
                raise,
                error_message("Lua redis lib command arguments must be strings or integers")
                    .into_bytes(),
            );
        }
        let cmd_args = a.args;
        if cmd_args.is_empty() {
            return call_error(
                lua,
                raise,
                error_message("Please specify at least one argument for this redis lib call")
                    .into_bytes(),
            );
        }
        let mut c = self
            .c
            .try_borrow_mut()
            .map_err(|_| lua_err("recursive redis.call"))?;
        let mut reply = self
            .reply
            .try_borrow_mut()
            .map_err(|_| lua_err("recursive redis.call"))?;
        reply.set_proto(if self.resp3.load(Relaxed) {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        });
        let out = super::call_command(&mut c, &cmd_args, &mut reply, self.readonly, self.declared);
        drop(c);
        super::call_args::recycle(cmd_args);
        let bytes = reply.as_bytes();
        let v = match out {
            Err(text) => call_error(lua, raise, error_message(&format!("-{text}")).into_bytes()),
            Ok(()) if super::is_error_reply(bytes) => {
                call_error(lua, raise, super::error_text(bytes).to_vec())
            }
            Ok(()) => {
                let mut pos = 0;
                resp_to_lua(lua, bytes, &mut pos)
            }
        };
        if reply.len() > SCRATCH_KEEP {
            // Do not keep a large reply's buffer between calls.
            **reply = Reply::new(Protocol::Resp2);
        }
        v
    }
}

/// A failed `redis.call` (`raise`: the error is raised with `text`, kept whole) or
/// `redis.pcall` (an `{err=text}` table is returned).
fn call_error(lua: &Lua, raise: bool, text: Vec<u8>) -> mlua::Result<Value> {
    if raise {
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        return Err(mlua::Error::external(RedisError(text)));
    }
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(text)?)?;
    Ok(Value::Table(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `redis.call` / `redis.pcall` called when no run is in progress (a reference kept by a
    /// script and called from code that is not a run, e.g. a library's load phase) raise
    /// Redis's error: the run slot is null, nothing is dereferenced.
    #[test]
    fn redis_call_outside_a_run_raises_redis_error() -> mlua::Result<()> {
        let vm = Vm::new(Arc::new(RunFlags::default()))?;
        for name in ["call", "pcall"] {
            let f: Function = vm.redis_table().raw_get(name)?;
            let e = match f.call::<Value>("PING") {
                Err(e) => e,
                Ok(v) => panic!("redis.{name} outside a run returned {v:?}"),
            };
            assert_eq!(
                redis_error(&e),
                Some("ERR redis.call/pcall can only be called inside a script invocation"),
                "{e}"
            );
        }
        // From Lua code too, through a protected call: the error is the same table text.
        let out: String = vm
            .lua()
            .load("local ok, e = pcall(redis.call, 'PING') return tostring(ok) .. ' ' .. e")
            .set_environment(vm.env().clone())
            .eval()?;
        assert_eq!(
            out,
            "false ERR redis.call/pcall can only be called inside a script invocation"
        );
        Ok(())
    }
}
