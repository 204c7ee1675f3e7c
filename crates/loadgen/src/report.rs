//! Rendering a [`Report`] as one JSON object (for bench/compare.py) or as a few lines of text.

use crate::config::{Config, Distribution, StopAt};
use crate::run::Report;
use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// A JSON string literal for `s` (quotes, backslashes and control characters escaped).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A finite number as JSON (`null` for NaN or infinity).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    }
}

/// `{"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..}` in microseconds.
fn percentiles(h: &Histogram<u64>) -> String {
    let us = |ns: u64| num(ns as f64 / 1000.0);
    if h.is_empty() {
        return "null".into();
    }
    format!(
        "{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{},\"mean\":{}}}",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.9)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
        num(h.mean() / 1000.0)
    )
}

/// Requests per second of wall time in the timed part.
pub fn ops_per_sec(r: &Report) -> f64 {
    let s = r.elapsed.as_secs_f64();
    if s > 0.0 {
        r.requests as f64 / s
    } else {
        0.0
    }
}

/// The whole report as a single-line JSON object; latencies are in microseconds.
pub fn to_json(cfg: &Config, r: &Report) -> String {
    let (dist, exponent) = match cfg.distribution {
        Distribution::Uniform => ("uniform", "null".to_string()),
        Distribution::Zipf(s) => ("zipf", num(s)),
    };
    let stop = match cfg.stop {
        StopAt::Duration(d) => format!("\"duration_s\":{}", num(d.as_secs_f64())),
        StopAt::Requests(n) => format!("\"requests\":{n}"),
    };
    let ops: Vec<String> = r
        .ops
        .iter()
        .map(|o| {
            format!(
                "{}:{{\"count\":{},\"latency_us\":{}}}",
                json_str(o.name),
                o.count,
                percentiles(&o.hist)
            )
        })
        .collect();
    let keys: Vec<String> = r.keys_written.iter().map(|k| json_str(k)).collect();
    let prefill = match r.prefill {
        Some((n, d)) => format!("{{\"keys\":{n},\"seconds\":{}}}", num(d.as_secs_f64())),
        None => "null".into(),
    };
    format!(
        "{{\"workload\":{},\"host\":{},\"port\":{},\"connections\":{},\"threads\":{},\
         \"pipeline\":{},\"stop\":{{{stop}}},\"keyspace\":{},\"distribution\":{},\
         \"zipf_exponent\":{exponent},\"value_size\":{},\"seed\":{},\"prefill\":{prefill},\
         \"elapsed_s\":{},\"requests\":{},\"ops_per_sec\":{},\"errors\":{},\
         \"connection_errors\":{},\"error_sample\":{},\"latency_us\":{},\"ops\":{{{}}},\
         \"keys_written\":[{}]}}",
        json_str(&cfg.workload.label()),
        json_str(&cfg.host),
        cfg.port,
        cfg.connections,
        cfg.threads,
        cfg.pipeline,
        cfg.keyspace,
        json_str(dist),
        cfg.value_size,
        cfg.seed,
        num(r.elapsed.as_secs_f64()),
        r.requests,
        num(ops_per_sec(r)),
        r.errors,
        r.connection_errors,
        r.error_sample
            .as_deref()
            .map_or_else(|| "null".to_string(), json_str),
        percentiles(&r.hist),
        ops.join(","),
        keys.join(",")
    )
}

/// A short human-readable summary.
pub fn to_text(cfg: &Config, r: &Report) -> String {
    let mut s = String::new();
    let ms = |ns: u64| ns as f64 / 1e6;
    let _ = writeln!(
        s,
        "{} on {}:{}: {} connections, {} threads, pipeline {}, {} keys ({:?}), {} B values",
        cfg.workload.label(),
        cfg.host,
        cfg.port,
        cfg.connections,
        cfg.threads,
        cfg.pipeline,
        cfg.keyspace,
        cfg.distribution,
        cfg.value_size
    );
    if let Some((n, d)) = r.prefill {
        let _ = writeln!(s, "prefill: {n} keys in {:.2} s", d.as_secs_f64());
    }
    let _ = writeln!(
        s,
        "{} requests in {:.2} s: {:.0} ops/s, {} error replies, {} failed connections",
        r.requests,
        r.elapsed.as_secs_f64(),
        ops_per_sec(r),
        r.errors,
        r.connection_errors
    );
    if !r.hist.is_empty() {
        let h = &r.hist;
        let _ = writeln!(
            s,
            "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.9)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            ms(h.max())
        );
    }
    for o in &r.ops {
        let _ = writeln!(s, "  {:8} {:>12} requests", o.name, o.count);
    }
    if let Some(e) = &r.error_sample {
        let _ = writeln!(s, "first error: {e}");
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
