//! COMMAND and its subcommands against a running ferrokv: only implemented commands are shown,
//! the counts agree with each other, filters work, RESP3 types are used.

use ferrokv_testkit::{ServerProc, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokv-server");

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("name").to_string())
        .collect()
}

#[test]
fn count_list_and_full_listing_agree() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    let count = c.cmd(&["COMMAND", "COUNT"]).as_int().expect("int");
    let all = c.cmd(&["COMMAND"]);
    let all = all.as_array().expect("array");
    assert_eq!(all.len() as i64, count);
    let list = names(&c.cmd(&["COMMAND", "LIST"]));
    let top: Vec<&String> = list.iter().filter(|n| !n.contains('|')).collect();
    assert_eq!(top.len() as i64, count);
    for must in [
        "get",
        "set",
        "command",
        "command|info",
        "config|get",
        "info",
        "memory|usage",
    ] {
        assert!(
            list.iter().any(|n| n == must),
            "{must} missing from {list:?}"
        );
    }
    // Every listed name has an INFO entry whose name is the listed name.
    for n in &list {
        let info = c.cmd(&["COMMAND", "INFO", n]);
        let entry = &info.as_array().expect("array")[0];
        let name = entry.as_array().expect("entry")[0].as_str().expect("name");
        assert_eq!(name, n);
    }
    // The subcommands of CONFIG in its INFO entry are exactly the listed config|* names.
    let info = c.cmd(&["COMMAND", "INFO", "config"]);
    let entry = info.as_array().expect("array")[0]
        .as_array()
        .expect("entry")
        .to_vec();
    let mut subs: Vec<String> = entry[9]
        .as_array()
        .expect("subs")
        .iter()
        .map(|s| {
            s.as_array().expect("sub")[0]
                .as_str()
                .expect("name")
                .to_string()
        })
        .collect();
    subs.sort();
    let mut listed: Vec<String> = list
        .iter()
        .filter(|n| n.starts_with("config|"))
        .cloned()
        .collect();
    listed.sort();
    assert_eq!(subs, listed);
}

#[test]
fn info_of_unknown_names_is_null_and_names_are_case_insensitive() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    let v = c.cmd(&["COMMAND", "INFO", "nosuchcommand", "GeT", "CONFIG|GET"]);
    let a = v.as_array().expect("array");
    assert_eq!(a.len(), 3);
    assert_eq!(a[0], Value::Null);
    assert_eq!(a[1].as_array().expect("entry")[0], Value::bulk("get"));
    assert_eq!(
        a[2].as_array().expect("entry")[0],
        Value::bulk("config|get")
    );
    assert_eq!(a[1].as_array().expect("entry")[1], Value::Int(2));
    // COMMAND INFO without names lists everything.
    let all = c.cmd(&["COMMAND", "INFO"]);
    let count = c.cmd(&["COMMAND", "COUNT"]).as_int().expect("int");
    assert_eq!(all.as_array().expect("array").len() as i64, count);
}

#[test]
fn list_filters() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    let p = names(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"]));
    assert!(p.contains(&"config".to_string()) && p.contains(&"config|set".to_string()));
    assert!(p.iter().all(|n| n.starts_with("config")), "{p:?}");
    let p = names(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "pattern", "C?NFIG|G*"]));
    assert_eq!(p, vec!["config|get".to_string()]);
    let s = names(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"]));
    assert!(s.contains(&"get".to_string()) && s.contains(&"set".to_string()));
    assert!(!s.contains(&"ping".to_string()));
    let s2 = names(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "aclcat", "STRING"]));
    assert_eq!(s, s2);
    assert!(names(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"])).is_empty());
    assert!(names(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"])).is_empty());
    assert_eq!(
        c.cmd(&["COMMAND", "LIST", "FILTERBY", "NOSUCH", "x"])
            .error_text(),
        Some("ERR syntax error")
    );
}

#[test]
fn docs_help_and_getkeys() {
    let srv = ServerProc::ferrokv(BIN, &[]);
    let mut c = srv.conn();
    c.hello3();
    let d = c.cmd(&["COMMAND", "DOCS", "get", "nosuch", "config"]);
    let m = d.as_map().expect("map");
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].0, Value::bulk("get"));
    let fields: Vec<&str> = m[0]
        .1
        .as_map()
        .expect("doc")
        .iter()
        .map(|(k, _)| k.as_str().unwrap_or(""))
        .collect();
    for f in ["summary", "since", "group", "complexity", "arguments"] {
        assert!(fields.contains(&f), "{f} missing: {fields:?}");
    }
    // CONFIG's docs list only implemented subcommands.
    let cfg = m[1].1.as_map().expect("doc");
    let subs = cfg
        .iter()
        .find(|(k, _)| k.as_str() == Some("subcommands"))
        .expect("subcommands");
    for (k, _) in subs.1.as_map().expect("map") {
        assert!(k.as_str().unwrap_or("").starts_with("config|"));
    }
    // RESP3 types in INFO entries: flags, categories are sets.
    let i = c.cmd(&["COMMAND", "INFO", "get"]);
    let e = i.as_array().expect("array")[0]
        .as_array()
        .expect("entry")
        .to_vec();
    assert!(matches!(e[2], Value::Set(_)), "{:?}", e[2]);
    let h = c.cmd(&["COMMAND", "HELP"]);
    let h = h.as_array().expect("array");
    assert!(h[0]
        .as_str()
        .unwrap_or("")
        .starts_with("COMMAND <subcommand>"));
    assert!(h.iter().all(|l| matches!(l, Value::Simple(_))));
    let k = c.cmd(&["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"]);
    let k = k.as_array().expect("array");
    assert_eq!(k[0].as_array().expect("pair")[0], Value::bulk("k"));
    assert!(matches!(k[0].as_array().expect("pair")[1], Value::Set(_)));
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "get"]).error_text(),
        Some("ERR Invalid number of arguments specified for command")
    );
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "ping"]).error_text(),
        Some("ERR The command has no key arguments")
    );
    assert_eq!(
        c.cmd(&["COMMAND", "NOSUCH"]).error_text(),
        Some("ERR unknown subcommand 'NOSUCH'. Try COMMAND HELP.")
    );
}
