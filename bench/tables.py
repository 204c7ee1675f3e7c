#!/usr/bin/env python3
"""Markdown tables from a bench/compare.py result file (for docs/performance.md and the README).

    python3 bench/tables.py bench/results/<ts>.json            # every row + targets + memory
    python3 bench/tables.py bench/results/<ts>.json --size 16  # only one value size

Prints to stdout. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def f(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def row_label(r: dict[str, Any]) -> str:
    return f"{r['test']} | {r['pipeline']} | {r.get('clients', '')} | {r['value_size']}"


def throughput_table(rows: list[dict[str, Any]]) -> str:
    out = ["| workload | P | conns | size B | ferrokv op/s | redis op/s | ratio | ratio per CPU-s "
           "| p50 f / r ms | p99 f / r ms | p99 ratio |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fk, rd = r["ferrokv"], r["redis"]
        out.append(
            f"| {row_label(r)} | {f(fk['rps'], ',.0f')} | {f(rd['rps'], ',.0f')} "
            f"| **{f(r['ratio_rps'], '.2f')}** | {f(r['ratio_ops_per_cpu_s'], '.2f')} "
            f"| {f(fk['p50_ms'], '.2f')} / {f(rd['p50_ms'], '.2f')} "
            f"| {f(fk['p99_ms'], '.2f')} / {f(rd['p99_ms'], '.2f')} | {f(r['ratio_p99'], '.2f')} |")
    return "\n".join(out)


def targets(rows: list[dict[str, Any]]) -> str:
    """The issue's targets, checked against the unpinned rows."""
    main = [r for r in rows if not r.get("scaling")]
    lines = []
    for test in ("GET", "SET"):
        for p, goal in ((16, 1.5), (1, 1.2)):
            rs = [r["ratio_rps"] for r in main if r["test"] == test and r["pipeline"] == p
                  and r["ratio_rps"] is not None]
            if rs:
                lines.append(f"- {test} P{p} throughput ratio (target >= {goal}): "
                             f"{min(rs):.2f} .. {max(rs):.2f} over {len(rs)} rows "
                             f"({sum(x >= goal for x in rs)} meet it)")
    ok = [r for r in main if r["ratio_rps"] is not None]
    below = [r for r in ok if r["ratio_rps"] < 1.0]
    lines.append(f"- rows with throughput ratio < 1.0 (target: none): {len(below)} of {len(ok)}")
    cpu = [r for r in main if r["ratio_ops_per_cpu_s"] is not None]
    lines.append(f"- rows with requests per CPU-second ratio < 1.0: "
                 f"{sum(r['ratio_ops_per_cpu_s'] < 1.0 for r in cpu)} of {len(cpu)}")
    p99 = [r for r in main if r["ratio_p99"] is not None]
    lines.append(f"- rows with p99 above redis's (target: none): "
                 f"{sum(r['ratio_p99'] > 1.0 for r in p99)} of {len(p99)}")
    return "\n".join(lines)


def per_workload(rows: list[dict[str, Any]]) -> str:
    """Median throughput ratio of each workload over its sizes/pipelines/connections."""
    import statistics
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if not r.get("scaling"):
            by.setdefault(r["test"], []).append(r)
    out = ["| workload | rows | median ratio | min | max | median ratio per CPU-s | median p99 ratio |",
           "|---|---|---|---|---|---|---|"]
    for test, rs in by.items():
        t = [r["ratio_rps"] for r in rs if r["ratio_rps"] is not None]
        c = [r["ratio_ops_per_cpu_s"] for r in rs if r["ratio_ops_per_cpu_s"] is not None]
        p = [r["ratio_p99"] for r in rs if r["ratio_p99"] is not None]
        med = lambda xs: f(statistics.median(xs) if xs else None, ".2f")  # noqa: E731
        out.append(f"| {test} | {len(rs)} | {med(t)} | {f(min(t) if t else None, '.2f')} "
                   f"| {f(max(t) if t else None, '.2f')} | {med(c)} | {med(p)} |")
    return "\n".join(out)


def memory_table(mem: list[dict[str, Any]]) -> str:
    out = ["| data | keys | ferrokv B/key | redis B/key | ratio | load s f / r |",
           "|---|---|---|---|---|---|"]
    for m in mem:
        what = m.get("type", "string") + (f", EX {m['ttl']}" if m.get("ttl") else "")
        fk, rd = m["ferrokv"], m["redis"]
        out.append(f"| {what} | {m['keys']:,} | {f(fk.get('bytes_per_key'), '.1f')} "
                   f"| {f(rd.get('bytes_per_key'), '.1f')} | {f(m.get('ratio'), '.2f')} "
                   f"| {f(fk.get('load_s'), '.1f')} / {f(rd.get('load_s'), '.1f')} |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result", help="bench/results/<ts>.json")
    p.add_argument("--size", type=int, default=None, help="only rows with this value size")
    a = p.parse_args(argv)
    with open(a.result) as fh:
        data = json.load(fh)
    rows = data.get("summary", [])
    if a.size is not None:
        rows = [r for r in rows if r["value_size"] == a.size]
    meta = data.get("meta", {})
    print(f"<!-- {a.result}: {meta.get('timestamp_utc')} git {meta.get('git_rev')}, "
          f"{meta.get('redis_version')}, partial={data.get('partial', False)} -->\n")
    print("### Targets\n")
    print(targets(rows) + "\n")
    print("### Per workload (all sizes, pipelines and connection counts)\n")
    print(per_workload(rows) + "\n")
    main_rows = [r for r in rows if not r.get("scaling")]
    if main_rows:
        print("### Every row\n")
        print(throughput_table(main_rows) + "\n")
    sc = [r for r in rows if r.get("scaling")]
    if sc:
        print("### Scaling\n")
        out = ["| pinning | workload | ferrokv op/s | redis op/s | ratio | ferrokv op/cpu-s "
               "| redis op/cpu-s | p99 f / r ms |", "|---|---|---|---|---|---|---|---|"]
        for r in sc:
            fk, rd = r["ferrokv"], r["redis"]
            out.append(f"| {r['scaling']} (cpus {r.get('server_cpus')}, client "
                       f"{r.get('client_cpus') or 'unpinned'}) | {r['test']} P{r['pipeline']} "
                       f"| {f(fk['rps'], ',.0f')} | {f(rd['rps'], ',.0f')} "
                       f"| **{f(r['ratio_rps'], '.2f')}** | {f(fk['ops_per_cpu_s'], ',.0f')} "
                       f"| {f(rd['ops_per_cpu_s'], ',.0f')} "
                       f"| {f(fk['p99_ms'], '.2f')} / {f(rd['p99_ms'], '.2f')} |")
        print("\n".join(out) + "\n")
    if data.get("memory"):
        print("### Memory\n")
        print(memory_table(data["memory"]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
