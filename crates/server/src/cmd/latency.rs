//! The latency monitor (LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR / HELP) and the
//! per-command latency histograms (LATENCY HISTOGRAM).
//!
//! Events: when `latency-monitor-threshold` is above 0, every command that ran for at least that
//! many milliseconds adds a sample to the `command` event (`fast-command` for commands flagged
//! fast), from [`crate::server::Server::after_call`]. Each event keeps its last
//! [`HISTORY_LEN`] samples, one per second (samples within the same second keep the maximum), and
//! its all-time maximum, as Redis does.
//!
//! Histograms: every call's duration is counted in a power-of-two microsecond bucket of its
//! command ([`crate::dispatch::CmdStats::hist`]); LATENCY HISTOGRAM reports them cumulatively,
//! skipping buckets that added nothing, in the same reply shape as Redis.

use crate::dispatch::{CmdStats, Command, CommandTable, Ctx, Locking};
use crate::errors::CmdResult;
use crate::{args, cmd_err};
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub const HISTORY_LEN: usize = 160;
/// Number of histogram buckets; the last one takes every longer call.
pub const HIST_BUCKETS: usize = 32;

/// Upper bound, in nanoseconds, of histogram bucket `k`: `2^(10+k)` widened by the resolution
/// of a 2-significant-digit HDR histogram at that magnitude (`2^(k+3)`), which is how Redis's
/// histogram iterates. Reported in microseconds this gives Redis's bucket labels
/// `1, 2, 4, 8, 16, 33, 66, 132, ...`.
fn bucket_top_ns(k: usize) -> u64 {
    (1u64 << (10 + k)) + (1u64 << (k + 3)) - 1
}

/// The label (microseconds) LATENCY HISTOGRAM shows for bucket `k`.
pub fn bucket_label(k: usize) -> u64 {
    bucket_top_ns(k) / 1000
}

/// The histogram bucket of a call that took `usec` microseconds: the first whose upper bound
/// holds it.
#[inline]
pub fn hist_bucket(usec: u64) -> usize {
    let ns = usec.saturating_mul(1000).max(1);
    if ns <= bucket_top_ns(0) {
        return 0;
    }
    // Smallest k with 2^(10+k) >= ns, then one lower if the widened bound of k-1 holds it.
    let k = (64 - (ns - 1).leading_zeros() as usize).saturating_sub(10);
    if k >= HIST_BUCKETS {
        return HIST_BUCKETS - 1;
    }
    if k > 0 && ns <= bucket_top_ns(k - 1) {
        k - 1
    } else {
        k
    }
}

/// One latency event's time series.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// (unix seconds, latency ms), oldest first.
    pub samples: VecDeque<(i64, u64)>,
    /// All-time maximum latency in ms.
    pub max: u64,
}

/// The latency monitor's events, by name.
#[derive(Default)]
pub struct Monitor {
    events: Mutex<BTreeMap<String, Series>>,
}

impl Monitor {
    /// Adds a `ms` sample to `event` at unix time `now_secs`.
    pub fn add_sample(&self, event: &str, now_secs: i64, ms: u64) {
        let mut ev = self.events.lock();
        let s = ev.entry(event.to_string()).or_default();
        s.max = s.max.max(ms);
        if let Some(last) = s.samples.back_mut() {
            if last.0 == now_secs {
                last.1 = last.1.max(ms);
                return;
            }
        }
        if s.samples.len() == HISTORY_LEN {
            s.samples.pop_front();
        }
        s.samples.push_back((now_secs, ms));
    }

    /// A copy of one event's series.
    pub fn series(&self, event: &str) -> Option<Series> {
        self.events.lock().get(event).cloned()
    }

    /// A copy of every event's series.
    pub fn all(&self) -> Vec<(String, Series)> {
        self.events
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Forgets the named events (all when `names` is empty); returns how many existed.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut ev = self.events.lock();
        if names.is_empty() {
            let n = ev.len();
            ev.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            if ev.remove(&*String::from_utf8_lossy(name)).is_some() {
                n += 1;
            }
        }
        n
    }
}

/// Binds the group's handlers.
pub fn register(t: &mut CommandTable) {
    t.add("latency|latest", latest, Locking::None);
    t.add("latency|history", history, Locking::None);
    t.add("latency|reset", reset, Locking::None);
    t.add("latency|graph", graph, Locking::None);
    t.add("latency|doctor", doctor, Locking::None);
    t.add("latency|histogram", histogram, Locking::None);
    t.add("latency|help", help, Locking::None);
}

fn latest(c: &mut Ctx) -> CmdResult {
    let all = c.srv.latency.all();
    let r = &mut *c.reply;
    r.array(all.len());
    for (name, s) in &all {
        let (t, last) = s.samples.back().copied().unwrap_or((0, 0));
        r.array(4);
        r.bulk(name.as_bytes());
        r.int(t);
        r.int(last as i64);
        r.int(s.max as i64);
    }
    Ok(())
}

fn history(c: &mut Ctx) -> CmdResult {
    let name = args::text(c.arg(2));
    let s = c.srv.latency.series(&name).unwrap_or_default();
    let r = &mut *c.reply;
    r.array(s.samples.len());
    for (t, ms) in &s.samples {
        r.array(2);
        r.int(*t);
        r.int(*ms as i64);
    }
    Ok(())
}

fn reset(c: &mut Ctx) -> CmdResult {
    let names: Vec<&[u8]> = c.argv.iter().skip(2).map(|b| &b[..]).collect();
    let n = c.srv.latency.reset(&names);
    c.reply.int(n as i64);
    Ok(())
}

/// Short age label of a sample (`45s`, `12m`, `3h`, `2d`), as the graph's x axis shows.
fn age_label(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 86_400 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86_400)
    }
}

/// Renders an event's samples as a small ASCII chart: a header line, a ruler, four rows of bars
/// (one column per sample, `#` for the top of a bar, `|` below it, `_` for a zero-height one),
/// then each sample's age written vertically under its column.
pub fn render_graph(name: &str, s: &Series, now_secs: i64) -> String {
    let high = s.samples.iter().map(|x| x.1).max().unwrap_or(0);
    let low = s.samples.iter().map(|x| x.1).min().unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name} - high {high} ms, low {low} ms (all time high {} ms)",
        s.max
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    const ROWS: u64 = 4;
    // Only the most recent 80 samples fit on one screen.
    let skip = s.samples.len().saturating_sub(80);
    let cols: Vec<(i64, u64)> = s.samples.iter().skip(skip).copied().collect();
    let heights: Vec<u64> = cols
        .iter()
        .map(|&(_, ms)| {
            if high == low {
                ROWS
            } else {
                1 + (ms - low) * (ROWS - 1) / (high - low)
            }
        })
        .collect();
    for row in (1..=ROWS).rev() {
        let line: String = heights
            .iter()
            .map(|&h| {
                if h == row {
                    if row == 1 {
                        '_'
                    } else {
                        '#'
                    }
                } else if h > row {
                    '|'
                } else {
                    ' '
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let labels: Vec<Vec<char>> = cols
        .iter()
        .map(|&(t, _)| age_label(now_secs - t).chars().collect())
        .collect();
    let depth = labels.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = labels
            .iter()
            .map(|l| l.get(i).copied().unwrap_or(' '))
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn graph(c: &mut Ctx) -> CmdResult {
    let name = args::text(c.arg(2));
    let Some(s) = c.srv.latency.series(&name) else {
        return Err(cmd_err!("ERR No samples available for event '{}'", name));
    };
    let text = render_graph(&name, &s, c.now_ms() / 1000);
    c.reply.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// The LATENCY DOCTOR report: per-event statistics and general advice.
pub fn doctor_report(events: &[(String, Series)], threshold_ms: u64) -> String {
    let mut out = String::new();
    if threshold_ms == 0 && events.is_empty() {
        out.push_str(
            "The latency monitor is disabled (latency-monitor-threshold is 0), so there is \
             nothing to analyse. Set it to a number of milliseconds with CONFIG SET \
             latency-monitor-threshold <ms> to start recording latency events.\n",
        );
        return out;
    }
    if events.is_empty() {
        let _ = writeln!(
            out,
            "No latency event at or above the threshold of {threshold_ms} ms was recorded \
             since the server started (or since the last LATENCY RESET)."
        );
        return out;
    }
    out.push_str("Latency events recorded by this server:\n\n");
    for (i, (name, s)) in events.iter().enumerate() {
        let n = s.samples.len().max(1) as u64;
        let sum: u64 = s.samples.iter().map(|x| x.1).sum();
        let avg = sum / n;
        let dev = s.samples.iter().map(|x| x.1.abs_diff(avg)).sum::<u64>() / n;
        let period = match (s.samples.front(), s.samples.back()) {
            (Some(a), Some(b)) if s.samples.len() > 1 => (b.0 - a.0) as f64 / (n - 1) as f64,
            _ => 0.0,
        };
        let _ = writeln!(
            out,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). \
             Worst all time event {}ms.",
            i + 1,
            name,
            s.samples.len(),
            avg,
            dev,
            period,
            s.max
        );
    }
    out.push_str("\nSuggestions:\n\n");
    if events
        .iter()
        .any(|(n, _)| n == "command" || n == "fast-command")
    {
        out.push_str(
            "- Slow commands were observed: SLOWLOG GET lists the slowest recent calls with \
             their arguments.\n\
             - Commands that work on many elements (KEYS, SMEMBERS of a big set, LRANGE 0 -1, \
             SORT, ...) are linear in their input: prefer SCAN-style iteration.\n",
        );
    }
    if events.iter().any(|(n, _)| n == "fast-command") {
        out.push_str(
            "- Even O(1) commands were slow: the host may be overloaded or swapping; check the \
             machine's CPU and memory pressure.\n",
        );
    }
    out.push_str(
        "- Deleting or flushing big values frees memory synchronously unless ASYNC / UNLINK \
         is used.\n",
    );
    out
}

fn doctor(c: &mut Ctx) -> CmdResult {
    let events = c.srv.latency.all();
    let threshold = c.srv.hot.latency_threshold_ms.load(Relaxed);
    let text = doctor_report(&events, threshold);
    c.reply.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// Writes one command's histogram entry (`name => {calls, histogram_usec => {bucket: count}}`).
fn write_histogram(r: &mut ferrokv_resp::Reply, name: &str, stats: &CmdStats) {
    let counts: Vec<u64> = stats.hist.iter().map(|a| a.load(Relaxed)).collect();
    let calls: u64 = counts.iter().sum();
    let nonzero = counts.iter().filter(|&&n| n > 0).count();
    r.bulk(name.as_bytes());
    r.map(2);
    r.bulk(b"calls");
    r.int(calls as i64);
    r.bulk(b"histogram_usec");
    r.map(nonzero);
    let mut cumulative = 0u64;
    for (b, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        cumulative += n;
        r.int(bucket_label(b) as i64);
        r.int(cumulative as i64);
    }
}

/// Clears every command's latency histogram (CONFIG RESETSTAT).
pub fn reset_histograms(table: &CommandTable) {
    for cmd in table.all_callables() {
        for b in &cmd.stats.hist {
            b.store(0, Relaxed);
        }
    }
}

fn has_samples(cmd: &Command) -> bool {
    cmd.stats.hist.iter().any(|a| a.load(Relaxed) > 0)
}

fn histogram(c: &mut Ctx) -> CmdResult {
    // Publish this connection's pending counters so its own earlier calls are included.
    c.srv.flush_batch(c.client);
    let mut chosen: Vec<&Command> = Vec::new();
    if c.argv.len() == 2 {
        let mut all = c.srv.commands.all_callables();
        all.sort_by_key(|x| x.name);
        chosen.extend(all.into_iter().filter(|x| has_samples(x)));
    } else {
        for a in c.argv.iter().skip(2) {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            let Some(cmd) = c.srv.commands.get(&name) else {
                continue;
            };
            if cmd.handler.is_some() {
                add_ref(&mut chosen, cmd);
            }
            let mut subs: Vec<&Command> = cmd.subs.values().collect();
            subs.sort_by_key(|x| x.name);
            for s in subs {
                add_ref(&mut chosen, s);
            }
        }
    }
    let r = &mut *c.reply;
    r.map(chosen.len());
    for cmd in chosen {
        write_histogram(r, cmd.name, &cmd.stats);
    }
    Ok(())
}

fn add_ref<'a>(chosen: &mut Vec<&'a Command>, x: &'a Command) {
    if has_samples(x) && !chosen.iter().any(|y| std::ptr::eq(*y, x)) {
        chosen.push(x);
    }
}

fn help(c: &mut Ctx) -> CmdResult {
    crate::cmd::help_reply(
        c.reply,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_redis_labels() {
        let labels: Vec<u64> = (0..17).map(bucket_label).collect();
        assert_eq!(
            labels,
            [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816, 67633]
        );
        assert_eq!(hist_bucket(0), 0);
        assert_eq!(hist_bucket(1), 0);
        assert_eq!(hist_bucket(2), 1);
        assert_eq!(hist_bucket(3), 2);
        assert_eq!(hist_bucket(4), 2);
        assert_eq!(hist_bucket(5), 3);
        assert_eq!(hist_bucket(33), 5);
        assert_eq!(hist_bucket(34), 6);
        // Every duration lands in the first bucket whose label (rounded down) is not below it.
        for us in 0..100_000u64 {
            let k = hist_bucket(us);
            assert!(us * 1000 <= bucket_top_ns(k), "{us}");
            assert!(k == 0 || us * 1000 > bucket_top_ns(k - 1), "{us}");
        }
        assert_eq!(hist_bucket(u64::MAX), HIST_BUCKETS - 1);
    }

    #[test]
    fn samples_merge_within_a_second_and_roll_over() {
        let m = Monitor::default();
        m.add_sample("command", 100, 5);
        m.add_sample("command", 100, 9);
        m.add_sample("command", 100, 3);
        let s = m.series("command").expect("event");
        assert_eq!(s.samples, VecDeque::from(vec![(100, 9)]));
        for t in 0..200 {
            m.add_sample("command", 200 + t, 1);
        }
        let s = m.series("command").expect("event");
        assert_eq!(s.samples.len(), HISTORY_LEN);
        assert_eq!(s.max, 9);
        assert_eq!(m.reset(&[b"nope"]), 0);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.series("command").is_none());
    }

    #[test]
    fn graph_has_header_and_rows() {
        let mut s = Series::default();
        s.samples.push_back((10, 5));
        s.samples.push_back((20, 50));
        s.max = 50;
        let g = render_graph("command", &s, 30);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 50 ms, low 5 ms (all time high 50 ms)"
        );
        assert_eq!(lines[1].len(), 80);
        assert_eq!(lines[2], " #");
        assert_eq!(lines[5], "_|");
        assert_eq!(lines[6], "21");
        assert_eq!(lines[7], "00");
        assert_eq!(lines[8], "ss");
    }
}
