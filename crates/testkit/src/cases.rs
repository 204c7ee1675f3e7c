//! Table-driven differential cases: one command per line, sent to ferrokv and redis-server,
//! every mismatch collected so a run reports them all.
//!
//! Line syntax (after trimming; empty lines and `#` comments are ignored):
//! - arguments separated by white space, `"..."` for an argument with spaces or an empty one;
//! - an optional `~if:CMD ` prefix: run the line only if ferrokv knows `CMD`;
//! - then an optional comparison prefix: `~shape`, `~skip` (send, don't compare), `~unordered`
//!   (alias `~u`), `~deep` (alias `~ud`), `~pairs` (see [`Compare`]).
//!
//! Commands ferrokv does not implement yet are skipped (and listed once in a SKIP line), so a
//! case file stays meaningful while a command group is being built.

use crate::{Compare, Diff, Value};
use std::collections::HashMap;

/// Splits a case line into arguments: white space separated, `"..."` for arguments with spaces
/// or empty ones (no escapes).
pub fn split_case(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut has = false;
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                has = true;
            }
            c if c.is_whitespace() && !quoted => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        out.push(cur);
    }
    out
}

/// Runs case lines on a [`Diff`]; see the module docs.
pub struct CaseRunner {
    /// The two servers.
    pub d: Diff,
    known: HashMap<String, bool>,
    failures: Vec<String>,
    skipped: Vec<String>,
}

impl CaseRunner {
    /// A runner over `d`.
    pub fn new(d: Diff) -> CaseRunner {
        CaseRunner {
            d,
            known: HashMap::new(),
            failures: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Whether ferrokv knows the command `name` (probed once, with the bare name, which is an
    /// arity error for every command taking arguments; a probe that opened a transaction is
    /// discarded again).
    pub fn supported(&mut self, name: &str) -> bool {
        let lname = name.to_ascii_lowercase();
        if let Some(&k) = self.known.get(&lname) {
            return k;
        }
        let v = self.d.ferrokv().cmd(&[name]);
        let k = !matches!(&v, Value::Error(e) if e.starts_with("ERR unknown command"));
        if k && lname == "multi" {
            self.d.ferrokv().cmd(&["DISCARD"]);
        }
        self.known.insert(lname, k);
        k
    }

    /// Compares one command (skipped when ferrokv does not know it).
    pub fn check_with(&mut self, args: &[&[u8]], mode: Compare) {
        let name = String::from_utf8_lossy(args.first().copied().unwrap_or(b"")).into_owned();
        if !self.supported(&name) {
            self.skipped.push(name);
            return;
        }
        if let Err(e) = self.d.try_check_bin(args, mode) {
            self.failures.push(e);
        }
    }

    /// Records a failure found by a test's own check.
    pub fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }

    /// Records that a case was skipped because `what` is missing.
    pub fn skip(&mut self, what: &str) {
        self.skipped.push(what.to_string());
    }

    /// Runs one case line.
    pub fn line(&mut self, line: &str) {
        let mut line = line;
        if let Some(rest) = line.strip_prefix("~if:") {
            let (need, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            if !self.supported(need) {
                self.skipped.push(need.to_string());
                return;
            }
            line = rest;
        }
        let modes = [
            ("~shape ", Compare::Shape),
            ("~skip ", Compare::Skip),
            ("~unordered ", Compare::Unordered),
            ("~u ", Compare::Unordered),
            ("~deep ", Compare::UnorderedDeep),
            ("~ud ", Compare::UnorderedDeep),
            ("~pairs ", Compare::UnorderedPairs),
        ];
        let mut mode = Compare::Exact;
        for (p, m) in modes {
            if let Some(rest) = line.strip_prefix(p) {
                mode = m;
                line = rest;
                break;
            }
        }
        let args = split_case(line);
        if args.is_empty() {
            return;
        }
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.check_with(&refs, mode);
    }

    /// Runs every case line of `text`.
    pub fn lines(&mut self, text: &str) {
        for l in text.lines() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            self.line(l);
        }
    }

    /// Prints the SKIP line and fails with every collected difference.
    ///
    /// # Panics
    /// When any case differed.
    pub fn finish(mut self) {
        self.skipped.sort();
        self.skipped.dedup();
        if !self.skipped.is_empty() {
            eprintln!(
                "SKIP some cases: not implemented yet: {}",
                self.skipped.join(", ")
            );
        }
        assert!(
            self.failures.is_empty(),
            "{} differences:\n{}",
            self.failures.len(),
            self.failures.join("\n---\n")
        );
    }
}
