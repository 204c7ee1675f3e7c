//! Property-based differential runs: random command sequences over a tiny keyspace, sent to
//! ferrokv and redis-server, every reply compared.
//!
//! A small keyspace (`k0`..`k9` by default) makes commands collide on the same keys, so type
//! errors, overwrites, deletions and expirations interact the way real workloads make them.
//! Runs are deterministic for a seed: a failure prints the seed, and
//! `FERROKV_PROP_SEED=<seed>` replays exactly the same sequence.

use crate::diff::{show_command, Compare, Diff};

/// A small deterministic PRNG (SplitMix64): fast, seedable, good enough to pick commands.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` must be > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }
}

/// What a command template gets to build its arguments: a seeded PRNG plus helpers that draw
/// from the shared small keyspace and value pools.
pub struct Gen {
    /// The underlying PRNG (for anything the helpers do not cover).
    pub rng: Rng,
    keys: usize,
}

impl Gen {
    /// A generator over `keys` keys (`k0`..`k{keys-1}`).
    pub fn new(seed: u64, keys: usize) -> Gen {
        Gen {
            rng: Rng::new(seed),
            keys: keys.max(1),
        }
    }

    /// A key from the keyspace, e.g. `k3`.
    pub fn key(&mut self) -> String {
        format!("k{}", self.rng.below(self.keys as u64))
    }

    /// `n` keys (possibly repeated: repeats are interesting for multi-key commands).
    pub fn keys(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.key()).collect()
    }

    /// Uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.rng.next_u64() as u128 % span) as i128) as i64
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.rng.below(100) < percent
    }

    /// One of `options`.
    pub fn pick(&mut self, options: &[&str]) -> String {
        options[self.below(options.len())].to_string()
    }

    /// A member/field name from a small pool (`a`..`f` plus a few numeric ones), so collections
    /// see repeated members.
    pub fn member(&mut self) -> String {
        self.pick(&["a", "b", "c", "d", "e", "f", "1", "2", "10", "-3"])
    }

    /// A value: mostly small words and integers, sometimes empty, negative, float-like, long or
    /// non-ASCII-looking text, to reach the type-conversion edges (INCR on "abc", etc.).
    pub fn value(&mut self) -> String {
        match self.below(10) {
            0 => String::new(),
            1 => self.int(-1000, 1000).to_string(),
            2 => self.int(0, 9).to_string(),
            3 => format!("{}.{}", self.int(-50, 50), self.int(0, 99)),
            4 => "x".repeat(self.below(100) + 1),
            5 => self.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "1e3",
                " 1",
                "0x10",
            ]),
            6 => self.pick(&["héllo", "tab\there", "nl\nx"]),
            _ => self.member(),
        }
    }

    /// A float argument as text (scores, increments), including `inf` forms sometimes.
    pub fn float(&mut self) -> String {
        match self.below(12) {
            0 => self.pick(&["inf", "-inf", "+inf"]),
            1 => self.int(-5, 5).to_string(),
            _ => format!("{}.{}", self.int(-20, 20), self.int(0, 9)),
        }
    }
}

type GenFn = Box<dyn Fn(&mut Gen) -> Vec<String>>;

struct Template {
    name: String,
    compare: Compare,
    weight: u32,
    gen: GenFn,
}

/// Runs random command sequences on both servers through [`Diff`].
///
/// ```no_run
/// use ferrokv_testkit::PropRunner;
/// PropRunner::new()
///     .template("set", |g| vec!["SET".into(), g.key(), g.value()])
///     .template("get", |g| vec!["GET".into(), g.key()])
///     .unordered("keys", |_| vec!["KEYS".into(), "*".into()])
///     .run("/path/to/ferrokv-server");
/// ```
///
/// Case count: env `FERROKV_PROP_CASES` (default 300, or [`PropRunner::cases`]). Seed: env
/// `FERROKV_PROP_SEED`, else [`PropRunner::seed`], else derived from the clock. After the run
/// (and every [`PropRunner::keyspace_every`] commands) the whole keyspace is compared with
/// [`Diff::check_keyspace`].
pub struct PropRunner {
    templates: Vec<Template>,
    cases: Option<usize>,
    seed: Option<u64>,
    keys: usize,
    resp3: bool,
    doubles: bool,
    keyspace_every: usize,
    history: usize,
}

impl Default for PropRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl PropRunner {
    /// An empty runner: 10 keys, RESP2, exact double texts, keyspace check at the end only.
    pub fn new() -> PropRunner {
        PropRunner {
            templates: Vec::new(),
            cases: None,
            seed: None,
            keys: 10,
            resp3: false,
            doubles: false,
            keyspace_every: 0,
            history: 30,
        }
    }

    /// Adds a template whose replies are compared with `compare`, picked with relative `weight`.
    pub fn add(
        mut self,
        name: &str,
        compare: Compare,
        weight: u32,
        gen: impl Fn(&mut Gen) -> Vec<String> + 'static,
    ) -> Self {
        self.templates.push(Template {
            name: name.to_string(),
            compare,
            weight: weight.max(1),
            gen: Box::new(gen),
        });
        self
    }

    /// Adds a template compared exactly, weight 1.
    pub fn template(self, name: &str, gen: impl Fn(&mut Gen) -> Vec<String> + 'static) -> Self {
        self.add(name, Compare::Exact, 1, gen)
    }

    /// Adds a template whose top-level reply is compared as a multiset, weight 1.
    pub fn unordered(self, name: &str, gen: impl Fn(&mut Gen) -> Vec<String> + 'static) -> Self {
        self.add(name, Compare::Unordered, 1, gen)
    }

    /// Number of commands to run, unless `FERROKV_PROP_CASES` overrides it.
    pub fn cases(mut self, n: usize) -> Self {
        self.cases = Some(n);
        self
    }

    /// Fixed seed, unless `FERROKV_PROP_SEED` overrides it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Keyspace size (default 10: `k0`..`k9`).
    pub fn keys(mut self, n: usize) -> Self {
        self.keys = n;
        self
    }

    /// Run over RESP3 connections (`HELLO 3`).
    pub fn resp3(mut self, on: bool) -> Self {
        self.resp3 = on;
        self
    }

    /// Compare double-looking texts numerically (see [`Diff::normalise_doubles`]).
    pub fn normalise_doubles(mut self, on: bool) -> Self {
        self.doubles = on;
        self
    }

    /// Also compare the whole keyspace every `n` commands (0 = only at the end).
    pub fn keyspace_every(mut self, n: usize) -> Self {
        self.keyspace_every = n;
        self
    }

    /// Starts the two servers and runs; returns without running (after the skip message) when
    /// redis-server is missing.
    pub fn run(self, ferrokv_bin: &str) {
        let diff = if self.resp3 {
            Diff::resp3(ferrokv_bin)
        } else {
            Diff::new(ferrokv_bin)
        };
        let Some(mut diff) = diff else {
            return;
        };
        self.run_on(&mut diff);
    }

    /// Runs on an existing [`Diff`] (after `FLUSHALL` on both), e.g. one started with special
    /// arguments. The runner's `resp3` setting is ignored here: the Diff's protocol is used.
    ///
    /// # Panics
    /// On the first difference, with the seed, the case number, the recent commands and both
    /// replies.
    pub fn run_on(self, diff: &mut Diff) {
        assert!(!self.templates.is_empty(), "PropRunner without templates");
        let cases =
            env_parse("FERROKV_PROP_CASES").unwrap_or(self.cases.unwrap_or(300) as u64) as usize;
        let seed = env_parse("FERROKV_PROP_SEED")
            .or(self.seed)
            .unwrap_or_else(clock_seed);
        diff.normalise_doubles(self.doubles);
        diff.run(&["FLUSHALL"]);
        let total: u64 = self.templates.iter().map(|t| t.weight as u64).sum();
        let mut g = Gen::new(seed, self.keys);
        let mut recent: Vec<String> = Vec::new();
        let fail = |case: usize, recent: &[String], msg: String| -> ! {
            panic!(
                "property run failed at command #{case} of {cases} (seed {seed}; replay with \
                 FERROKV_PROP_SEED={seed})\nrecent commands (oldest first):\n  {}\n{msg}",
                recent.join("\n  ")
            )
        };
        for case in 0..cases {
            let mut pick = g.rng.below(total);
            let t = self
                .templates
                .iter()
                .find(|t| {
                    if pick < t.weight as u64 {
                        true
                    } else {
                        pick -= t.weight as u64;
                        false
                    }
                })
                .unwrap_or(&self.templates[0]);
            let argv = (t.gen)(&mut g);
            let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            recent.push(format!("[{}] {}", t.name, show_command(&args)));
            if recent.len() > self.history {
                recent.remove(0);
            }
            if let Err(e) = diff.try_check_bin(&args, t.compare) {
                fail(case, &recent, e);
            }
            if self.keyspace_every > 0 && (case + 1) % self.keyspace_every == 0 {
                if let Err(e) = diff.try_check_keyspace() {
                    fail(case, &recent, format!("keyspace differs: {e}"));
                }
            }
        }
        if let Err(e) = diff.try_check_keyspace() {
            fail(cases, &recent, format!("keyspace differs at the end: {e}"));
        }
    }
}

fn env_parse(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5EED)
}
