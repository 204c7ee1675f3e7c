//! Redis Functions: FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL/HELP and
//! FCALL/FCALL_RO.
//!
//! Libraries live in their own Lua state (separate from EVAL's, as in Redis). A library's
//! code starts with `#!lua name=<lib>`; it runs once at load time in a restricted environment
//! where only `redis.register_function`, `redis.log`, the `LOG_*` levels and
//! `redis.REDIS_VERSION[_NUM]` exist (anything else fails with "Script attempted to access
//! nonexistent global variable"). Afterwards the registered callbacks run with the full
//! scripting API (`redis.call`, ...), receiving `(keys, args)`.
//!
//! Each thread that runs functions has its own functions state (a Lua state is not `Send`:
//! mlua is built without its `send` feature, see [`super::local`]). The registry (library
//! codes and metadata) is shared; every change of it (under `fn_write`) bumps a generation,
//! and a thread whose state is older rebuilds it by loading the registry's libraries again
//! before its next FCALL. FUNCTION LOAD runs the new library in the calling thread's state,
//! which stays current. A library's code thus runs once per thread that calls functions; it
//! can only register functions and log, so only a `redis.log` in its body shows this.
//!
//! FUNCTION DUMP writes Redis's payload: one FUNCTION2 RDB opcode per library (its code as
//! an RDB string, LZF-compressed when that helps), then the RDB version (10, u16 LE) and the
//! CRC-64 of all that (u64 LE); FUNCTION RESTORE reads it back (also from redis-server).

use super::vm::{self, RedisError};
use super::{Scripting, NOTBUSY};
use crate::args;
use crate::dispatch::{CommandTable, Ctx, Locking};
use crate::errors::{CmdError, CmdResult};
use bytes::Bytes;
use ferrokv_lua::mlua::{self, Function, Table, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

/// Function flags, in the order Redis lists them.
pub const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// The `no-writes` bit of [`FnInfo::flags`].
pub const NO_WRITES: u8 = 1;

/// A registered function's metadata.
#[derive(Clone, Debug)]
pub struct FnInfo {
    /// Function name.
    pub name: String,
    /// `description` given to `redis.register_function`, if any.
    pub description: Option<Bytes>,
    /// Bits of [`FLAG_NAMES`] (bit i = `FLAG_NAMES[i]`).
    pub flags: u8,
}

/// A loaded library.
#[derive(Clone, Debug)]
pub struct LibInfo {
    /// Library name (from the shebang).
    pub name: String,
    /// The whole source, shebang included.
    pub code: Bytes,
    /// Its functions, by name.
    pub functions: BTreeMap<String, FnInfo>,
}

/// How long a library's code may run at load time (as Redis).
const LOAD_TIMEOUT_MS: i64 = 500;

/// A functions Lua state and the callables it holds (one per thread that uses functions).
pub struct FState {
    vm: vm::Vm,
    /// Function name -> callback.
    callables: HashMap<String, Function>,
}

/// This thread's functions state and what it was built for.
struct FLocal {
    /// The [`Scripting`] it belongs to (`Scripting::id`: tests run several servers in a
    /// process).
    owner: u64,
    /// The registry generation ([`Scripting`]'s `fn_generation`) its libraries are from.
    generation: u64,
    st: FState,
    /// Its heap size as of its last use, summed for INFO.
    heap: Arc<AtomicUsize>,
}

thread_local! {
    static FLOCAL: RefCell<Option<FLocal>> = const { RefCell::new(None) };
}

/// Library metadata (readable without the Lua state, e.g. by FUNCTION STATS while busy).
#[derive(Default)]
pub struct Registry {
    /// Libraries by name.
    pub libs: BTreeMap<String, LibInfo>,
    /// Function name -> (library name, flags).
    pub index: HashMap<String, (String, u8)>,
}

impl Registry {
    fn rebuild_index(&mut self) {
        self.index = self
            .libs
            .values()
            .flat_map(|l| {
                l.functions
                    .values()
                    .map(move |f| (f.name.clone(), (l.name.clone(), f.flags)))
            })
            .collect();
    }

    /// Number of functions of all libraries.
    pub fn function_count(&self) -> usize {
        self.index.len()
    }
}

fn cmd_error(text: impl Into<String>) -> CmdError {
    CmdError(std::borrow::Cow::Owned(text.into()))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Parses the `#!lua name=<lib>` first line: the library name and the code to compile (the
/// shebang line blanked so line numbers stay the same).
fn parse_metadata(code: &[u8]) -> Result<(String, Vec<u8>), CmdError> {
    if !code.starts_with(b"#!") {
        return Err(CmdError::new("ERR Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err(CmdError::new("ERR Invalid library metadata"));
    };
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(cmd_error(format!("ERR Engine '{engine}' not found")));
    }
    let mut name = None;
    for p in parts {
        match p.split_once('=') {
            Some(("name", v)) => name = Some(v.to_string()),
            _ => return Err(cmd_error(format!("ERR Invalid metadata value given: {p}"))),
        }
    }
    let Some(name) = name else {
        return Err(CmdError::new("ERR Library name was not given"));
    };
    if !valid_name(&name) {
        return Err(cmd_error(format!("ERR {BAD_NAME}")));
    }
    let mut out = vec![b' '];
    out.extend_from_slice(&code[end..]);
    Ok((name, out))
}

/// Lua helper building a library's environment: while `loading[1]` is true only the
/// restricted `redis` table exists; afterwards lookups go to the full environment.
const LIB_ENV: &str = r#"
local real, load_api, loading = ...
local function missing(n)
  error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 3)
end
local function readonly() error("Attempt to modify a readonly table", 2) end
local api = {}
setmetatable(api, {
  __index = function(_, n)
    local v = rawget(load_api, n)
    if v == nil then missing(n) end
    return v
  end,
  __newindex = readonly,
  __metatable = false,
})
local env = {}
setmetatable(env, {
  __index = function(_, n)
    if loading[1] then
      if n == "redis" then return api end
      missing(n)
    end
    local v = rawget(real, n)
    if v == nil then missing(n) end
    return v
  end,
  __newindex = readonly,
  __metatable = false,
})
return env
"#;

struct Pending {
    name: String,
    info: FnInfo,
    callback: Function,
}

fn reg_err(text: &str) -> mlua::Error {
    mlua::Error::external(RedisError(format!("ERR {text}")))
}

fn string_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy().to_string()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(ferrokv_lua::cjson::format_g(*n, 14)),
        _ => None,
    }
}

fn parse_flags(v: &Value) -> mlua::Result<u8> {
    let Value::Table(t) = v else {
        return Err(reg_err(
            "flags argument to redis.register_function must be a table representing function flags",
        ));
    };
    let mut bits = 0u8;
    for item in t.sequence_values::<Value>() {
        let item = item?;
        let name = match &item {
            Value::String(s) => s.to_string_lossy().to_string(),
            _ => return Err(reg_err("unknown flag given")),
        };
        match FLAG_NAMES.iter().position(|f| *f == name) {
            Some(i) => bits |= 1 << i,
            None => return Err(reg_err("unknown flag given")),
        }
    }
    Ok(bits)
}

/// `redis.register_function` arguments → a pending registration.
fn registration(args: mlua::MultiValue) -> mlua::Result<Pending> {
    let args: Vec<Value> = args.into_iter().collect();
    let (mut name, mut callback, mut flags, mut description) = (None, None, 0u8, None);
    match args.as_slice() {
        [Value::Table(t)] => {
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key =
                    match &k {
                        Value::String(s) => s.to_string_lossy().to_string(),
                        _ => return Err(reg_err(
                            "named argument key given to redis.register_function is not a string",
                        )),
                    };
                match key.as_str() {
                    "function_name" => match string_of(&v) {
                        Some(n) => name = Some(n),
                        None => return Err(reg_err("function_name argument given to redis.register_function must be a string")),
                    },
                    "description" => match string_of(&v) {
                        Some(d) => description = Some(Bytes::from(d)),
                        None => return Err(reg_err("description argument given to redis.register_function must be a string")),
                    },
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => return Err(reg_err("callback argument given to redis.register_function must be a function")),
                    },
                    "flags" => flags = parse_flags(&v)?,
                    _ => return Err(reg_err("unknown argument given to redis.register_function")),
                }
            }
        }
        [_] => {
            return Err(reg_err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."))
        }
        [n, f] => {
            name = string_of(n);
            if name.is_none() {
                return Err(reg_err(
                    "first argument to redis.register_function must be a string",
                ));
            }
            match f {
                Value::Function(f) => callback = Some(f.clone()),
                _ => {
                    return Err(reg_err(
                        "second argument to redis.register_function must be a function",
                    ))
                }
            }
        }
        _ => {
            return Err(reg_err(
                "wrong number of arguments to redis.register_function",
            ))
        }
    }
    let Some(name) = name else {
        return Err(reg_err(
            "redis.register_function must get a function name argument",
        ));
    };
    let Some(callback) = callback else {
        return Err(reg_err(
            "redis.register_function must get a callback argument",
        ));
    };
    if !valid_name(&name) {
        return Err(reg_err(BAD_NAME));
    }
    Ok(Pending {
        info: FnInfo {
            name: name.clone(),
            description,
            flags,
        },
        name,
        callback,
    })
}

impl FState {
    fn new(sc: &Scripting) -> Result<FState, CmdError> {
        let vm = vm::Vm::new(sc.flags.clone())
            .map_err(|e| crate::cmd_err!("ERR cannot start the Lua interpreter: {}", e))?;
        Ok(FState {
            vm,
            callables: HashMap::new(),
        })
    }

    /// A state with the libraries `codes` loaded (they were checked when they entered the
    /// registry, so their functions do not collide).
    fn with_libraries(sc: &Scripting, codes: &[Bytes]) -> Result<FState, CmdError> {
        let mut st = FState::new(sc)?;
        for code in codes {
            let (_, callables) = st.load(code)?;
            st.callables.extend(callables);
        }
        Ok(st)
    }

    /// Compiles and runs a library's code, returning its metadata and callbacks (nothing is
    /// registered yet).
    fn load(&mut self, code: &[u8]) -> Result<(LibInfo, Vec<(String, Function)>), CmdError> {
        let (name, source) = parse_metadata(code)?;
        let lua = self.vm.lua();
        let internal = |e: mlua::Error| crate::cmd_err!("ERR {}", e);
        let pending: Arc<parking_lot::Mutex<Vec<Pending>>> = Arc::default();
        let sink = pending.clone();
        let register = lua
            .create_function(move |_, a: mlua::MultiValue| {
                let p = registration(a)?;
                let mut list = sink.lock();
                if list.iter().any(|x| x.name == p.name) {
                    return Err(reg_err("Function already exists in the library"));
                }
                list.push(p);
                Ok(())
            })
            .map_err(internal)?;
        let load_api = lua.create_table().map_err(internal)?;
        let redis = self.vm.redis_table();
        let fill = || -> mlua::Result<()> {
            load_api.raw_set("register_function", register)?;
            for k in [
                "log",
                "LOG_DEBUG",
                "LOG_VERBOSE",
                "LOG_NOTICE",
                "LOG_WARNING",
                "REDIS_VERSION",
                "REDIS_VERSION_NUM",
            ] {
                load_api.raw_set(k, redis.raw_get::<Value>(k)?)?;
            }
            Ok(())
        };
        fill().map_err(internal)?;
        let loading = lua.create_sequence_from([true]).map_err(internal)?;
        let env: Table = lua
            .load(LIB_ENV)
            .set_name("=libenv")
            .call((self.vm.globals().clone(), load_api, loading.clone()))
            .map_err(internal)?;
        let chunk = lua
            .load(&source[..])
            .set_name("@user_function")
            .set_environment(env)
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                crate::cmd_err!("ERR Error compiling function: {}", msg)
            })?;
        let xpcall: Function = lua.globals().raw_get("xpcall").map_err(internal)?;
        self.vm
            .set_load_deadline(crate::util::now_ms() + LOAD_TIMEOUT_MS);
        let out = self
            .vm
            .armed(|| xpcall.call::<mlua::MultiValue>((chunk, self.vm.handler().clone())));
        self.vm.set_load_deadline(0);
        let out = out.map_err(internal)?;
        let _ = loading.raw_set(1, false);
        let mut vals = out.into_iter();
        if !matches!(vals.next(), Some(Value::Boolean(true))) {
            let (msg, _) = vm::failure_text(&vals.next().unwrap_or(Value::Nil));
            return Err(cmd_error(format!("ERR Error registering functions: {msg}")));
        }
        let list = std::mem::take(&mut *pending.lock());
        if list.is_empty() {
            return Err(CmdError::new("ERR No functions registered"));
        }
        let mut functions = BTreeMap::new();
        let mut callables = Vec::new();
        for p in list {
            functions.insert(p.name.clone(), p.info);
            callables.push((p.name, p.callback));
        }
        Ok((
            LibInfo {
                name,
                code: Bytes::copy_from_slice(code),
                functions,
            },
            callables,
        ))
    }
}

impl Scripting {
    /// Runs `f` with this thread's functions state, building it first (from the registry's
    /// libraries) if this thread has none, has one of another server, or has one older than
    /// the last change of the registry. After `f`, the state's heap size is recorded for INFO.
    fn with_fstate<R>(
        &self,
        f: impl FnOnce(&mut FState) -> Result<R, CmdError>,
    ) -> Result<R, CmdError> {
        FLOCAL.with(|cell| {
            let mut slot = cell
                .try_borrow_mut()
                .map_err(|_| CmdError::new("ERR Lua interpreter busy"))?;
            // Loaded before the registry is read: a change after this load bumps the
            // generation, so a state built from an older registry is never taken as current.
            let generation = self.fn_generation.load(Acquire);
            let current =
                matches!(&*slot, Some(l) if l.owner == self.id && l.generation == generation);
            if !current {
                // The old state goes first: its memory is freed before the new one is built.
                *slot = None;
                let st = FState::with_libraries(self, &self.library_codes())?;
                *slot = Some(self.adopt(st, generation));
            }
            let Some(local) = slot.as_mut() else {
                return Err(CmdError::new("ERR Lua interpreter unavailable"));
            };
            let out = f(&mut local.st);
            local.heap.store(local.st.vm.lua().used_memory(), Relaxed);
            out
        })
    }

    /// Wraps `st` as this thread's state for registry generation `generation`.
    fn adopt(&self, st: FState, generation: u64) -> FLocal {
        let heap = Arc::new(AtomicUsize::new(st.vm.lua().used_memory()));
        self.fn_heaps.register(&heap);
        FLocal {
            owner: self.id,
            generation,
            st,
            heap,
        }
    }

    /// Marks the registry changed (the caller holds `fn_write` and has updated the registry):
    /// every thread's functions state is rebuilt at its next use, except this thread's when
    /// `keep` gives the state that already matches the new registry.
    fn registry_changed(&self, keep: Option<FState>) {
        let generation = self.fn_generation.fetch_add(1, Release) + 1;
        FLOCAL.with(|cell| {
            let Ok(mut slot) = cell.try_borrow_mut() else {
                return;
            };
            match keep {
                Some(st) => *slot = Some(self.adopt(st, generation)),
                None => {
                    if slot.as_ref().is_some_and(|l| l.owner == self.id) {
                        *slot = None;
                    }
                }
            }
        });
    }

    /// Marks this thread's state current for the registry generation after the next bump
    /// (FUNCTION LOAD changed the registry exactly as it changed this state).
    fn bump_keeping_current(&self) {
        let generation = self.fn_generation.fetch_add(1, Release) + 1;
        FLOCAL.with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                if let Some(l) = slot.as_mut().filter(|l| l.owner == self.id) {
                    l.generation = generation;
                }
            }
        });
    }

    /// Loads a library (FUNCTION LOAD): its name on success. The library's code runs in this
    /// thread's functions state; the other threads load it when they next need theirs.
    pub fn load_library(&self, code: &[u8], replace: bool) -> Result<String, CmdError> {
        let (name, _) = parse_metadata(code)?;
        let _writer = self.fn_write.lock();
        if !replace && self.registry.read().libs.contains_key(&name) {
            return Err(cmd_error(format!("ERR Library '{name}' already exists")));
        }
        self.with_fstate(|st| {
            let (info, callables) = st.load(code)?;
            let mut reg = self.registry.write();
            for f in info.functions.keys() {
                if let Some((lib, _)) = reg.index.get(f) {
                    if *lib != info.name {
                        return Err(cmd_error(format!("ERR Function {f} already exists")));
                    }
                }
            }
            if let Some(old) = reg.libs.remove(&info.name) {
                for f in old.functions.keys() {
                    st.callables.remove(f);
                }
            }
            st.callables.extend(callables);
            reg.libs.insert(info.name.clone(), info);
            reg.rebuild_index();
            Ok(())
        })?;
        self.bump_keeping_current();
        Ok(name)
    }

    /// Deletes a library (FUNCTION DELETE): false if there is none of that name.
    fn delete_library(&self, name: &str) -> bool {
        let _writer = self.fn_write.lock();
        let removed = {
            let mut reg = self.registry.write();
            let lib = reg.libs.remove(name);
            reg.rebuild_index();
            lib
        };
        if removed.is_some() {
            self.registry_changed(None);
        }
        removed.is_some()
    }

    /// Deletes every library and retires the functions' Lua states.
    pub fn flush_functions(&self) {
        let _writer = self.fn_write.lock();
        *self.registry.write() = Registry::default();
        self.fn_heaps.forget_all();
        self.registry_changed(None);
    }

    /// Replaces all libraries by `codes` (all or nothing): a fresh state loads them (and
    /// becomes this thread's). For FUNCTION RESTORE and for loading the FUNCTION2 records of
    /// an RDB/AOF file.
    pub fn install_all(&self, codes: &[Bytes]) -> Result<(), CmdError> {
        let _writer = self.fn_write.lock();
        let mut st = FState::new(self)?;
        let mut reg = Registry::default();
        for code in codes {
            let (info, callables) = st.load(code)?;
            if reg.libs.contains_key(&info.name) {
                return Err(cmd_error(format!(
                    "ERR Library '{}' already exists",
                    info.name
                )));
            }
            for f in info.functions.keys() {
                if st.callables.contains_key(f) {
                    return Err(cmd_error(format!("ERR Function {f} already exists")));
                }
            }
            st.callables.extend(callables);
            reg.libs.insert(info.name.clone(), info);
        }
        reg.rebuild_index();
        *self.registry.write() = reg;
        self.fn_heaps.forget_all();
        self.registry_changed(Some(st));
        Ok(())
    }

    /// Library codes for the RDB file (FUNCTION2 records), in name order.
    pub fn library_codes(&self) -> Vec<Bytes> {
        self.registry
            .read()
            .libs
            .values()
            .map(|l| l.code.clone())
            .collect()
    }

    /// Number of loaded functions (INFO `functions`).
    pub fn function_count(&self) -> usize {
        self.registry.read().function_count()
    }

    /// Number of loaded libraries.
    pub fn library_count(&self) -> usize {
        self.registry.read().libs.len()
    }
}

/// Binds FUNCTION and FCALL.
pub fn register(t: &mut CommandTable) {
    t.add("fcall", fcall, Locking::Manual);
    t.add("fcall_ro", fcall_ro, Locking::Manual);
    t.add("function|load", function_load, Locking::None);
    t.add("function|delete", function_delete, Locking::None);
    t.add("function|flush", function_flush, Locking::None);
    t.add("function|list", function_list, Locking::None);
    t.add("function|dump", function_dump, Locking::None);
    t.add("function|restore", function_restore, Locking::None);
    t.add("function|stats", function_stats, Locking::None);
    t.add("function|kill", function_kill, Locking::None);
    t.add("function|help", function_help, Locking::None);
}

fn fcall(c: &mut Ctx) -> CmdResult {
    fcall_generic(c, false)
}

fn fcall_ro(c: &mut Ctx) -> CmdResult {
    fcall_generic(c, true)
}

fn fcall_generic(c: &mut Ctx, readonly: bool) -> CmdResult {
    if args::int(c.arg(2)).is_err() {
        return Err(CmdError::new("ERR Bad number of keys provided"));
    }
    let numkeys = super::parse_numkeys(c)?;
    let srv = c.srv;
    let sc = &srv.scripting;
    let name = String::from_utf8_lossy(c.arg(1)).into_owned();
    let Some((_, flags)) = sc.registry.read().index.get(&name).cloned() else {
        return Err(CmdError::new("ERR Function not found"));
    };
    if readonly && flags & NO_WRITES == 0 {
        return Err(CmdError::new(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    // Same order as EVAL: the interpreter lock first (shared with scripts and EXEC), then the
    // functions state, then the shards.
    let held = sc.hold();
    let out = sc.with_fstate(|st| {
        let Some(func) = st.callables.get(&name).cloned() else {
            return Err(CmdError::new("ERR Function not found"));
        };
        *sc.running_fn.lock() = Some((name.clone(), c.argv.to_vec(), crate::util::now_ms()));
        sc.flags.is_function.store(true, Relaxed);
        let out = super::run_prepared(
            c,
            &mut st.vm,
            func,
            &name,
            numkeys,
            readonly || flags & NO_WRITES != 0,
            true,
        );
        sc.flags.is_function.store(false, Relaxed);
        *sc.running_fn.lock() = None;
        out
    });
    drop(held);
    out
}

fn function_load(c: &mut Ctx) -> CmdResult {
    let (replace, code) = match c.argv.len() {
        3 => (false, c.arg_bytes(2)),
        4 if args::is(c.arg(2), "replace") => (true, c.arg_bytes(3)),
        4 => {
            return Err(cmd_error(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(c.arg(2))
            )))
        }
        _ => {
            return Err(CmdError::new(
                "ERR wrong number of arguments for 'function|load' command",
            ))
        }
    };
    let name = c.srv.scripting.load_library(&code, replace)?;
    c.dirty(1);
    crate::disk::sysdata::save_functions(c.srv);
    c.reply.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(c: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(c.arg(2)).into_owned();
    if !c.srv.scripting.delete_library(&name) {
        return Err(CmdError::new("ERR Library not found"));
    }
    c.dirty(1);
    crate::disk::sysdata::save_functions(c.srv);
    c.reply.ok();
    Ok(())
}

fn function_flush(c: &mut Ctx) -> CmdResult {
    match c.argv.len() {
        2 => {}
        3 if args::is(c.arg(2), "sync") || args::is(c.arg(2), "async") => {}
        _ => {
            return Err(CmdError::new(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
    }
    c.srv.scripting.flush_functions();
    c.dirty(1);
    crate::disk::sysdata::save_functions(c.srv);
    c.reply.ok();
    Ok(())
}

fn function_list(c: &mut Ctx) -> CmdResult {
    let mut pattern: Option<Vec<u8>> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < c.argv.len() {
        let a = c.arg(i);
        if args::is(a, "withcode") && !with_code {
            with_code = true;
        } else if args::is(a, "libraryname") && pattern.is_none() {
            if i + 1 >= c.argv.len() {
                return Err(CmdError::new("ERR library name argument was not given"));
            }
            pattern = Some(c.arg(i + 1).to_vec());
            i += 1;
        } else {
            return Err(cmd_error(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let reg = c.srv.scripting.registry.read();
    let libs: Vec<&LibInfo> = reg
        .libs
        .values()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::glob::glob_match(p, l.name.as_bytes(), false))
        })
        .collect();
    let r = &mut *c.reply;
    r.array(libs.len());
    for l in libs {
        r.map(if with_code { 4 } else { 3 });
        r.bulk(b"library_name");
        r.bulk(l.name.as_bytes());
        r.bulk(b"engine");
        r.bulk(b"LUA");
        r.bulk(b"functions");
        r.array(l.functions.len());
        for f in l.functions.values() {
            r.map(3);
            r.bulk(b"name");
            r.bulk(f.name.as_bytes());
            r.bulk(b"description");
            match &f.description {
                Some(d) => r.bulk(d),
                None => r.null(),
            }
            r.bulk(b"flags");
            let names: Vec<&str> = FLAG_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| f.flags & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect();
            r.set(names.len());
            for n in names {
                r.simple(n.as_bytes());
            }
        }
        if with_code {
            r.bulk(b"library_code");
            r.bulk(&l.code);
        }
    }
    Ok(())
}

/// RDB version written in FUNCTION DUMP payloads (what Redis 7.0 writes).
const DUMP_RDB_VERSION: u16 = 10;

/// The FUNCTION DUMP payload of `codes`.
pub fn dump_payload(codes: &[Bytes]) -> Vec<u8> {
    let opts = ferrokv_rdb::WriteOptions {
        version: u32::from(DUMP_RDB_VERSION),
        compression: true,
        checksum: false,
        ..ferrokv_rdb::WriteOptions::default()
    };
    let file = ferrokv_rdb::RdbWriter::new(Vec::new(), opts).and_then(|mut w| {
        for code in codes {
            w.function(code)?;
        }
        w.finish()
    });
    // Header `REDIS0010` (9 bytes) ... EOF opcode + checksum (9 bytes).
    let mut out = match file {
        Ok(f) if f.len() >= 18 => f[9..f.len() - 9].to_vec(),
        _ => Vec::new(),
    };
    out.extend_from_slice(&DUMP_RDB_VERSION.to_le_bytes());
    let crc = ferrokv_rdb::crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Library codes in a FUNCTION RESTORE payload.
pub fn parse_payload(payload: &[u8]) -> Result<Vec<Bytes>, CmdError> {
    let bad = CmdError::new("ERR DUMP payload version or checksum are wrong");
    if payload.len() < 10 {
        return Err(bad);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(version) > ferrokv_rdb::MAX_VERSION {
        return Err(bad);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if u64::from_le_bytes(crc) != ferrokv_rdb::crc64::crc64(0, &payload[..payload.len() - 8]) {
        return Err(bad);
    }
    let mut file = format!("REDIS{:04}", version.max(1)).into_bytes();
    file.extend_from_slice(body);
    file.push(0xff);
    file.extend_from_slice(&[0u8; 8]);
    let mut reader = ferrokv_rdb::RdbReader::new(&file[..])
        .map_err(|_| CmdError::new("ERR payload is not a valid rdb"))?;
    let mut codes = Vec::new();
    loop {
        match reader.next_event() {
            Ok(None) => break,
            Ok(Some(ferrokv_rdb::Event::Function(code))) => codes.push(Bytes::from(code)),
            Ok(Some(_)) => return Err(CmdError::new("ERR given type is not a function")),
            Err(_) => return Err(CmdError::new("ERR payload is not a valid rdb")),
        }
    }
    Ok(codes)
}

fn function_dump(c: &mut Ctx) -> CmdResult {
    let codes = c.srv.scripting.library_codes();
    c.reply.bulk(&dump_payload(&codes));
    Ok(())
}

fn function_restore(c: &mut Ctx) -> CmdResult {
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy =
        match c.argv.len() {
            3 => Policy::Append,
            4 if args::is(c.arg(3), "flush") => Policy::Flush,
            4 if args::is(c.arg(3), "append") => Policy::Append,
            4 if args::is(c.arg(3), "replace") => Policy::Replace,
            4 => return Err(CmdError::new(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
            _ => {
                return Err(CmdError::new(
                    "ERR wrong number of arguments for 'function|restore' command",
                ))
            }
        };
    let new_codes = parse_payload(c.arg(2))?;
    let sc = &c.srv.scripting;
    // Names of the new libraries, for collision checks.
    let mut new_names = Vec::new();
    for code in &new_codes {
        new_names.push(parse_metadata(code)?.0);
    }
    let mut codes: Vec<Bytes> = Vec::new();
    if policy != Policy::Flush {
        let reg = sc.registry.read();
        if policy == Policy::Append {
            if let Some(n) = new_names.iter().find(|n| reg.libs.contains_key(*n)) {
                return Err(cmd_error(format!("ERR Library {n} already exists")));
            }
        }
        for l in reg.libs.values() {
            if !new_names.contains(&l.name) {
                codes.push(l.code.clone());
            }
        }
    }
    codes.extend(new_codes);
    sc.install_all(&codes)?;
    c.dirty(1);
    crate::disk::sysdata::save_functions(c.srv);
    c.reply.ok();
    Ok(())
}

fn function_stats(c: &mut Ctx) -> CmdResult {
    let sc = &c.srv.scripting;
    let running = sc.running_fn.lock().clone();
    let (libs, funcs) = {
        let reg = sc.registry.read();
        (reg.libs.len(), reg.function_count())
    };
    let r = &mut *c.reply;
    r.map(2);
    r.bulk(b"running_script");
    match running {
        Some((name, argv, started)) => {
            r.map(3);
            r.bulk(b"name");
            r.bulk(name.as_bytes());
            r.bulk(b"command");
            r.array(argv.len());
            for a in &argv {
                r.bulk(a);
            }
            r.bulk(b"duration_ms");
            r.int(crate::util::now_ms() - started);
        }
        None => r.null(),
    }
    r.bulk(b"engines");
    r.map(1);
    r.bulk(b"LUA");
    r.map(2);
    r.bulk(b"libraries_count");
    r.int(libs as i64);
    r.bulk(b"functions_count");
    r.int(funcs as i64);
    Ok(())
}

fn function_kill(c: &mut Ctx) -> CmdResult {
    let f = &c.srv.scripting.flags;
    if !f.running.load(Relaxed) {
        return Err(NOTBUSY);
    }
    if f.wrote.load(Relaxed) {
        return Err(super::UNKILLABLE);
    }
    if !f.is_function.load(Relaxed) {
        return Err(super::BUSY);
    }
    f.kill.store(true, Relaxed);
    c.reply.ok();
    Ok(())
}

fn function_help(c: &mut Ctx) -> CmdResult {
    crate::cmd::help_reply(
        c.reply,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
