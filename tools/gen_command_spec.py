#!/usr/bin/env python3
"""Generate crates/server/src/spec/generated.rs from command metadata JSON files.

Usage: tools/gen_command_spec.py <dir-with-json> [output.rs]

Only facts are emitted (name, arity, flags, ACL categories, key specs, tips,
argument tree, ...). Prose such as summaries, history entries, key-spec notes
and reply schemas is deliberately dropped; our own one-line summaries live in
the hand-written summaries.rs.
"""
import glob
import json
import os
import sys

# Commands that exist only in Valkey (not in Redis 7.4): (container, name), uppercase.
EXCLUDED_COMMANDS = {
    ("CLIENT", "CAPA"),          # Valkey 8.0
    ("CLUSTER", "SLOT-STATS"),   # Valkey 8.0
    ("SCRIPT", "SHOW"),          # Valkey 8.0
    (None, "COMMANDLOG"),        # Valkey 8.1 (not present in the data, kept for safety)
}

# Arguments that exist only in Valkey: (command path, argument name path).
EXCLUDED_ARGS = {
    ("zscan", "noscores"),                                   # Valkey 8.0 ZSCAN NOSCORES
    ("cluster|setslot", "timeout"),                          # Valkey 8.0 SETSLOT TIMEOUT
    ("client|kill", "filter/new-format/client-type/primary"),  # Valkey 8.0 alias of master
    ("client|list", "client-type/primary"),                  # Valkey 8.0 alias of master
}

# Arguments Valkey dates differently from Redis (Redis 7.4 also has them).
ARG_SINCE_OVERRIDE = {
    ("client|kill", "filter/new-format/maxage"): "7.4.0",
}

ARG_SINCE_OVERRIDE[("hscan", "novalues")] = "7.4.0"  # Redis 7.4 HSCAN NOVALUES


def _hash_field_expiry_commands():
    """Redis 7.4 hash-field expiration commands, absent from the (Valkey 8) JSON data.

    Hand-written facts (syntax, flags, ACL categories and key specs as Redis 7.4 declares
    them), in the same shape as the JSON files.
    """
    def fields_block():
        return {"name": "fields", "token": "FIELDS", "type": "block", "arguments": [
            {"name": "numfields", "type": "integer"},
            {"name": "field", "type": "string", "multiple": True},
        ]}

    def condition():
        return {"name": "condition", "type": "oneof", "optional": True, "arguments": [
            {"name": t.lower(), "type": "pure-token", "token": t} for t in ("NX", "XX", "GT", "LT")
        ]}

    key = {"name": "key", "type": "key", "key_spec_index": 0}

    def spec(flags):
        return [{"flags": flags, "begin_search": {"index": {"pos": 1}},
                 "find_keys": {"range": {"lastkey": 0, "step": 1, "limit": 0}}}]

    out = {}
    for name, argname, argtype in (("HEXPIRE", "seconds", "integer"),
                                   ("HPEXPIRE", "milliseconds", "integer"),
                                   ("HEXPIREAT", "unix-time-seconds", "unix-time"),
                                   ("HPEXPIREAT", "unix-time-milliseconds", "unix-time")):
        out[name] = {
            "complexity": "O(N) where N is the number of specified fields", "group": "hash",
            "since": "7.4.0", "arity": -6, "command_flags": ["WRITE", "DENYOOM", "FAST"],
            "acl_categories": ["HASH"], "key_specs": spec(["RW", "UPDATE"]),
            "arguments": [dict(key), {"name": argname, "type": argtype}, condition(),
                          fields_block()],
        }
    for name in ("HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME"):
        out[name] = {
            "complexity": "O(N) where N is the number of specified fields", "group": "hash",
            "since": "7.4.0", "arity": -5, "command_flags": ["READONLY", "FAST"],
            "acl_categories": ["HASH"], "key_specs": spec(["RO", "ACCESS"]),
            "arguments": [dict(key), fields_block()],
        }
    out["HPERSIST"] = {
        "complexity": "O(N) where N is the number of specified fields", "group": "hash",
        "since": "7.4.0", "arity": -5, "command_flags": ["WRITE", "FAST"],
        "acl_categories": ["HASH"], "key_specs": spec(["RW", "UPDATE"]),
        "arguments": [dict(key), fields_block()],
    }
    return out


def _redis8_hash_commands():
    """Redis 8.0 HGETDEL / HGETEX / HSETEX, absent from the JSON data.

    Hand-written facts (syntax, flags, ACL categories and key specs as Redis 8.0 declares
    them), in the same shape as the JSON files.
    """
    key = {"name": "key", "type": "key", "key_spec_index": 0}

    def spec(flags):
        return [{"flags": flags, "begin_search": {"index": {"pos": 1}},
                 "find_keys": {"range": {"lastkey": 0, "step": 1, "limit": 0}}}]

    def fields_block():
        return {"name": "fields", "token": "FIELDS", "type": "block", "arguments": [
            {"name": "numfields", "type": "integer"},
            {"name": "field", "type": "string", "multiple": True},
        ]}

    def expiration(last):
        return {"name": "expiration", "type": "oneof", "optional": True, "arguments": [
            {"name": "seconds", "type": "integer", "token": "EX"},
            {"name": "milliseconds", "type": "integer", "token": "PX"},
            {"name": "unix-time-seconds", "type": "unix-time", "token": "EXAT"},
            {"name": "unix-time-milliseconds", "type": "unix-time", "token": "PXAT"},
            {"name": last.lower(), "type": "pure-token", "token": last},
        ]}

    out = {}
    out["HGETDEL"] = {
        "complexity": "O(N) where N is the number of specified fields", "group": "hash",
        "since": "8.0.0", "arity": -5, "command_flags": ["WRITE", "FAST"],
        "acl_categories": ["HASH"], "key_specs": spec(["RW", "ACCESS", "DELETE"]),
        "arguments": [dict(key), fields_block()],
    }
    out["HGETEX"] = {
        "complexity": "O(N) where N is the number of specified fields", "group": "hash",
        "since": "8.0.0", "arity": -5, "command_flags": ["WRITE", "FAST"],
        "acl_categories": ["HASH"], "key_specs": spec(["RW", "ACCESS", "UPDATE"]),
        "arguments": [dict(key), expiration("PERSIST"), fields_block()],
    }
    out["HSETEX"] = {
        "complexity": "O(N) where N is the number of fields being set", "group": "hash",
        "since": "8.0.0", "arity": -6, "command_flags": ["WRITE", "DENYOOM", "FAST"],
        "acl_categories": ["HASH"], "key_specs": spec(["RW", "UPDATE"]),
        "arguments": [
            dict(key),
            {"name": "condition", "type": "oneof", "optional": True, "arguments": [
                {"name": "fnx", "type": "pure-token", "token": "FNX"},
                {"name": "fxx", "type": "pure-token", "token": "FXX"},
            ]},
            expiration("KEEPTTL"),
            {"name": "fields", "token": "FIELDS", "type": "block", "arguments": [
                {"name": "numfields", "type": "integer"},
                {"name": "data", "type": "block", "multiple": True, "arguments": [
                    {"name": "field", "type": "string"},
                    {"name": "value", "type": "string"},
                ]},
            ]},
        ],
    }
    return out


# Redis 7.4 (and the Redis 8.0 hash) commands the JSON data lacks: name -> JSON-shaped facts.
EXTRA_COMMANDS = _hash_field_expiry_commands()
EXTRA_COMMANDS.update(_redis8_hash_commands())

CMD_FLAGS = [
    "WRITE", "READONLY", "DENYOOM", "MODULE", "ADMIN", "PUBSUB", "NOSCRIPT", "BLOCKING",
    "LOADING", "STALE", "SKIP_MONITOR", "SKIP_SLOWLOG", "ASKING", "FAST", "NO_AUTH",
    "MAY_REPLICATE", "SENTINEL", "ONLY_SENTINEL", "NO_MANDATORY_KEYS", "PROTECTED",
    "NO_ASYNC_LOADING", "NO_MULTI", "MOVABLE_KEYS", "ALLOW_BUSY", "TOUCHES_ARBITRARY_KEYS",
]
ACL_CATS = [
    "KEYSPACE", "READ", "WRITE", "SET", "SORTEDSET", "LIST", "HASH", "STRING", "BITMAP",
    "HYPERLOGLOG", "GEO", "STREAM", "PUBSUB", "ADMIN", "FAST", "SLOW", "BLOCKING",
    "DANGEROUS", "CONNECTION", "TRANSACTION", "SCRIPTING",
]
KS_FLAGS = ["RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
            "INCOMPLETE", "VARIABLE_FLAGS"]
ARG_KINDS = {
    "string": "String", "integer": "Integer", "double": "Double", "key": "Key",
    "pattern": "Pattern", "unix-time": "UnixTime", "pure-token": "PureToken",
    "oneof": "Oneof", "block": "Block",
}
GETKEYS_PROCS = {
    None: "None",
    "bitfieldGetKeys": "Bitfield",
    "blmpopGetKeys": "Blmpop",
    "evalGetKeys": "Eval",
    "functionGetKeys": "Function",
    "georadiusGetKeys": "Georadius",
    "lmpopGetKeys": "Lmpop",
    "migrateGetKeys": "Migrate",
    "setGetKeys": "Set",
    "sintercardGetKeys": "Sintercard",
    "sortGetKeys": "Sort",
    "sortROGetKeys": "SortRo",
    "xreadGetKeys": "Xread",
    "zunionInterDiffGetKeys": "ZunionInterDiff",
    "zunionInterDiffStoreGetKeys": "ZunionInterDiffStore",
    "zmpopGetKeys": "Zmpop",
    "bzmpopGetKeys": "Bzmpop",
}


def rs_str(s):
    return json.dumps(s, ensure_ascii=False)


def rs_opt(s):
    return "None" if s is None else "Some(%s)" % rs_str(s)


def bits(names, table, mod):
    out = []
    for n in names:
        if n not in table:
            raise SystemExit("unknown %s flag %r" % (mod, n))
        out.append("%s::%s" % (mod, n))
    return " | ".join(out) if out else "0"


def final_acl(cmd):
    flags = set(cmd.get("command_flags", []))
    cats = set(cmd.get("acl_categories", []))
    # Redis's setImplicitACLCategories().
    if "WRITE" in flags:
        cats.add("WRITE")
    if "READONLY" in flags and "SCRIPTING" not in cats:
        cats.add("READ")
    if "ADMIN" in flags:
        cats.update(["ADMIN", "DANGEROUS"])
    if "PUBSUB" in flags:
        cats.add("PUBSUB")
    if "FAST" in flags:
        cats.add("FAST")
    if "BLOCKING" in flags:
        cats.add("BLOCKING")
    if "FAST" not in cats:
        cats.add("SLOW")
    return [c for c in ACL_CATS if c in cats]


def emit_keyspec(ks):
    bs = ks["begin_search"]
    if "index" in bs:
        b = "BeginSearch::Index(%d)" % bs["index"]["pos"]
    elif "keyword" in bs:
        b = "BeginSearch::Keyword { keyword: %s, startfrom: %d }" % (
            rs_str(bs["keyword"]["keyword"]), bs["keyword"]["startfrom"])
    else:
        b = "BeginSearch::Unknown"
    fk = ks["find_keys"]
    if "range" in fk:
        r = fk["range"]
        f = "FindKeys::Range { lastkey: %d, step: %d, limit: %d }" % (
            r["lastkey"], r["step"], r["limit"])
    elif "keynum" in fk:
        r = fk["keynum"]
        f = "FindKeys::Keynum { keynumidx: %d, firstkey: %d, step: %d }" % (
            r["keynumidx"], r["firstkey"], r["step"])
    else:
        f = "FindKeys::Unknown"
    return "KeySpec { flags: %s, begin: %s, find: %s }" % (
        bits(ks["flags"], KS_FLAGS, "ksflags"), b, f)


def filter_args(cmdpath, args, prefix=""):
    out = []
    for a in args:
        path = prefix + a["name"]
        if (cmdpath, path) in EXCLUDED_ARGS:
            continue
        if a.get("since", "") >= "8" and (cmdpath, path) not in ARG_SINCE_OVERRIDE:
            raise SystemExit("argument %s of %s is newer than Redis 7.4; classify it" % (path, cmdpath))
        a = dict(a)
        if (cmdpath, path) in ARG_SINCE_OVERRIDE:
            a["since"] = ARG_SINCE_OVERRIDE[(cmdpath, path)]
        if "arguments" in a:
            a["arguments"] = filter_args(cmdpath, a["arguments"], path + "/")
        out.append(a)
    return out


def emit_args(args, indent):
    if not args:
        return "&[]"
    pad = " " * indent
    parts = []
    for a in args:
        fl = []
        if a.get("optional"):
            fl.append("argflags::OPTIONAL")
        if a.get("multiple"):
            fl.append("argflags::MULTIPLE")
        if a.get("multiple_token"):
            fl.append("argflags::MULTIPLE_TOKEN")
        parts.append(
            "%s    Arg { name: %s, kind: ArgKind::%s, display_text: %s, key_spec_index: %d, "
            "token: %s, since: %s, deprecated_since: %s, flags: %s, args: %s },\n" % (
                pad, rs_str(a["name"]), ARG_KINDS[a["type"]], rs_opt(a.get("display")),
                a.get("key_spec_index", -1), rs_opt(a.get("token")), rs_opt(a.get("since")),
                rs_opt(a.get("deprecated_since")), " | ".join(fl) if fl else "0",
                emit_args(a.get("arguments", []), indent + 4)))
    return "&[\n" + "".join(parts) + pad + "]"


def emit_cmd(name, cmd, subs, indent):
    pad = " " * indent
    cmd_flags = [f for f in cmd.get("command_flags", [])]
    gk = cmd.get("get_keys_function")
    if gk not in GETKEYS_PROCS:
        raise SystemExit("unknown getkeys function %r" % gk)
    doc_flags = []
    for d in cmd.get("doc_flags", []):
        doc_flags.append("docflags::" + d)
    tips = [t.lower() for t in cmd.get("command_tips", [])]
    args = filter_args(name, cmd.get("arguments", []))
    lines = [
        "CommandSpec {",
        "    name: %s," % rs_str(name),
        "    container: %s," % rs_opt(cmd["container"].lower() if "container" in cmd else None),
        # Redis replies the group with a dash (its JSON spells it with an underscore).
        "    group: %s," % rs_str(cmd.get("group", "").replace("sorted_set", "sorted-set")),
        "    since: %s," % rs_str(cmd.get("since", "")),
        "    complexity: %s," % rs_opt(cmd.get("complexity")),
        "    arity: %d," % cmd["arity"],
        "    flags: %s," % bits(cmd_flags, CMD_FLAGS, "flags"),
        "    acl: %s," % bits(final_acl(cmd), ACL_CATS, "acl"),
        "    key_specs: &[%s]," % ", ".join(emit_keyspec(k) for k in cmd.get("key_specs", [])),
        "    tips: &[%s]," % ", ".join(rs_str(t) for t in tips),
        "    getkeys: GetKeysProc::%s," % GETKEYS_PROCS[gk],
        "    doc_flags: %s," % (" | ".join(doc_flags) if doc_flags else "0"),
        "    deprecated_since: %s," % rs_opt(cmd.get("deprecated_since")),
        "    replaced_by: %s," % rs_opt(cmd.get("replaced_by")),
        "    args: %s," % emit_args(args, indent + 4),
    ]
    if subs:
        lines.append("    subcommands: &[")
        for sname, scmd in subs:
            lines.append("        " + emit_cmd(sname, scmd, [], indent + 8) + ",")
        lines.append("    ],")
    else:
        lines.append("    subcommands: &[],")
    lines.append("}")
    return ("\n" + pad).join(lines)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    src = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "crates", "server", "src", "spec", "generated.rs")
    tops = {}
    subs = {}
    for path in sorted(glob.glob(os.path.join(src, "*.json"))):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for key, cmd in data.items():
            container = cmd.get("container")
            if (container, key) in EXCLUDED_COMMANDS:
                continue
            if cmd.get("since", "") >= "8":
                raise SystemExit("%s is newer than Redis 7.4; classify it" % key)
            if container:
                subs.setdefault(container.lower(), []).append(
                    ("%s|%s" % (container.lower(), key.lower()), cmd))
            else:
                tops[key.lower()] = cmd
    for key, cmd in EXTRA_COMMANDS.items():
        if key.lower() in tops:
            raise SystemExit("%s is now in the JSON data; drop it from EXTRA_COMMANDS" % key)
        tops[key.lower()] = cmd
    body = []
    for name in sorted(tops):
        s = sorted(subs.pop(name, []), key=lambda x: x[0])
        body.append("    " + emit_cmd(name, tops[name], s, 4) + ",\n")
    if subs:
        raise SystemExit("subcommands without a container: %r" % list(subs))
    with open(out, "w", encoding="utf-8") as f:
        f.write("// @generated by tools/gen_command_spec.py from command metadata JSON (facts only).\n")
        f.write("// Do not edit by hand: change the generator and re-run it.\n\n")
        f.write("use super::{acl, argflags, docflags, flags, ksflags};\n")
        f.write("use super::{Arg, ArgKind, BeginSearch, CommandSpec, FindKeys, GetKeysProc, KeySpec};\n\n")
        f.write("/// Every top-level command, sorted by name (subcommands sorted too).\n")
        f.write("pub static COMMANDS: &[CommandSpec] = &[\n")
        f.write("".join(body))
        f.write("];\n")


if __name__ == "__main__":
    main()
