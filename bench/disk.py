#!/usr/bin/env python3
"""Benchmark ferrokv's disk engine against its memory engine and redis-server (issue #7).

Three servers run side by side on loopback ports: ferrokv ``--storage-engine disk``, ferrokv
with the memory engine, and redis-server (both of the latter ``--save "" --appendonly no``; the
disk engine always writes its journal, ``appendfsync everysec``: that journal is its durability
mechanism, not an option). The same load generator (``ferrokv-loadgen``, crates/loadgen) drives
them in alternating runs (disk, memory, redis, disk, memory, redis, ...) and each figure is the
median over the runs; the ratios disk/memory and disk/redis are medians of the per-run-index
ratios (adjacent runs share the machine's background load).

Phase ``cache`` (a): the dataset fits in the disk engine's block cache. Workloads GET and SET
(``--keyspace`` keys of ``--value-size`` bytes, uniform, GET prefilled once), HSET, ZADD and
LPUSH on a *fixed set* of ``--collection-keys`` keys (loadgen: ``HSET hash:<k> field <v>``,
``ZADD zset:<k> 0 m:<random member below the collection keyspace>``, ``LPUSH list:<k> <v>``),
FLUSHALL before every collection run so each run starts from empty collections that grow
during the run (a list gets requests/collection-keys elements).

Phase ``big`` (b): a dataset ``--big-keys`` x ``--big-value-size`` (default 330,000 x 1 KiB =
322 MiB) at least 10x the disk engine's memory budget (``--big-cache`` 32 MB block cache +
``--big-memtable`` memtables), random (incompressible) values written by this script, uniform
random GETs. The memory engine and redis-server hold the
same dataset in RAM (``--big-disk-only`` leaves them out).

Per run: throughput (loadgen's ops/s), p99 (loadgen's HdrHistogram) and requests per CPU-second
of the server process (utime+stime from /proc). The helpers (server processes, /proc, the
loadgen driver, medians and paired ratios) are bench/compare.py's, imported.

    python3 bench/disk.py --out docs/bench/disk.json      # the full run (about 20 min)
    python3 bench/disk.py --smoke                          # a few seconds (CI)

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as cmp  # noqa: E402  (bench/compare.py: shared helpers)

KINDS = ("disk", "memory", "redis")
CACHE_TESTS = ["GET", "SET", "HSET", "ZADD", "LPUSH"]
COLLECTION_TESTS = {"HSET", "ZADD", "LPUSH"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    rel = os.path.join(cmp.REPO_DIR, "target", "release")
    p.add_argument("--ferrokv-bin", default=os.path.join(rel, "ferrokv-server"))
    p.add_argument("--loadgen-bin", default=os.path.join(rel, "ferrokv-loadgen"))
    p.add_argument("--redis-bin", default="redis-server")
    p.add_argument("--port-base", type=int, default=7420,
                   help="servers use port-base .. port-base+5 (default 7420)")
    p.add_argument("--runs", type=int, default=3, help="runs per server and workload (default 3)")
    p.add_argument("--seconds", type=float, default=4.0, help="duration of one run (default 4)")
    p.add_argument("--pipelines", default="1,16", help="comma-separated (default 1,16)")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--loadgen-threads", type=int, default=2)
    p.add_argument("--tests", default=",".join(CACHE_TESTS),
                   help=f"phase (a) workloads (default {','.join(CACHE_TESTS)})")
    p.add_argument("--keyspace", type=int, default=100_000, help="GET/SET keys in phase (a)")
    p.add_argument("--value-size", type=int, default=128, help="bytes per value in phase (a)")
    p.add_argument("--collection-keys", type=int, default=1000,
                   help="keys (and ZADD member range) of HSET/ZADD/LPUSH (default 1000)")
    p.add_argument("--cache", default="64mb", help="disk-cache-size in phase (a)")
    p.add_argument("--memtable", default="64mb", help="disk-memtable-size in phase (a)")
    p.add_argument("--big-keys", type=int, default=330_000)
    p.add_argument("--big-value-size", type=int, default=1024)
    p.add_argument("--big-cache", default="32mb", help="disk-cache-size in phase (b)")
    p.add_argument("--big-memtable", default="8mb", help="disk-memtable-size in phase (b)")
    p.add_argument("--big-disk-only", action="store_true",
                   help="phase (b) without the memory engine and redis-server")
    p.add_argument("--phases", default="cache,big", help="cache, big or both (default)")
    p.add_argument("--run-timeout", type=float, default=600.0)
    p.add_argument("--ready-timeout", type=float, default=30.0)
    p.add_argument("--out", default=None,
                   help="JSON file (default bench/results/disk-<UTC time>.json)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, one run, P1 only: checks that the script works (CI)")
    a = p.parse_args(argv)
    if a.smoke:
        a.runs, a.seconds, a.pipelines = 1, 0.3, "1"
        a.keyspace, a.collection_keys = 2000, 100
        a.cache, a.memtable = "4mb", "4mb"
        a.big_keys, a.big_cache, a.big_memtable = 4000, "1mb", "1mb"
    a.pipelines = [int(x) for x in a.pipelines.split(",") if x]
    a.tests = [t.strip().upper() for t in a.tests.split(",") if t.strip()]
    for t in a.tests:
        if t not in CACHE_TESTS:
            p.error(f"unknown workload {t!r} (known: {', '.join(CACHE_TESTS)})")
    a.phases = [x.strip() for x in a.phases.split(",") if x.strip()]
    return a


def info_fields(port: int, section: str) -> dict[str, str]:
    """INFO `section` as a dict (raw RESP over a socket; compare.py's client only pings)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(cmp.encode_command("INFO", section))
        buf = b""
        while b"\r\n" not in buf:
            buf += s.recv(65536)
        head, _, rest = buf.partition(b"\r\n")
        if not head.startswith(b"$"):
            raise cmp.BenchError(f"INFO {section} on port {port}: {head[:100]!r}")
        need = int(head[1:]) + 2
        while len(rest) < need:
            chunk = s.recv(65536)
            if not chunk:
                raise cmp.BenchError(f"INFO {section}: connection closed")
            rest += chunk
    return dict(line.split(":", 1) for line in rest[:need - 2].decode().split("\r\n")
                if ":" in line and not line.startswith("#"))


def loadgen_run(port: int, workload: str, pipeline: int, size: int, conns: int,
                keyspace: int, seconds: float, timeout: float) -> dict[str, Any]:
    """One timed loadgen run through compare.run_loadgen (uniform keys)."""
    name = f"DISK-{workload.upper()}"
    cmp.LOADGEN_TESTS[name] = ["--workload", workload.lower(), "--distribution", "uniform"]
    cmp.LOADGEN.update(keyspace=keyspace, seconds=seconds)
    return cmp.run_loadgen(port, name, pipeline, size, conns, timeout, None)


def prefill(port: int, keys: int, size: int, timeout: float) -> float:
    """SETs key:0..keys-1 with `size`-byte values (loadgen --prefill; untimed). Seconds."""
    cmp._PREFILLED.discard((port, size))
    cmp.LOADGEN["keyspace"] = keys
    t0 = time.monotonic()
    cmp.loadgen_prefill(port, size, timeout)
    return time.monotonic() - t0


def prefill_random(port: int, keys: int, size: int, batch: int = 500) -> float:
    """SETs key:000000000000 .. keys-1 (loadgen's key names) to `size` random bytes each, so
    the disk engine's LZ4 cannot shrink the dataset (loadgen's values are one repeated byte,
    which compresses ~50x and would fit a "10x the cache" dataset into the cache). Seconds."""
    t0 = time.monotonic()
    head = b"$%d\r\n" % size
    with socket.create_connection(("127.0.0.1", port), timeout=300) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, keys, batch):
            end = min(start + batch, keys)
            s.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n" % i + head
                               + os.urandom(size) + b"\r\n" for i in range(start, end)))
            want, buf = b"+OK\r\n" * (end - start), b""
            while len(buf) < len(want):
                chunk = s.recv(65536)
                if not chunk:
                    raise cmp.BenchError(f"port {port} closed the connection during prefill")
                buf += chunk
            if buf != want:
                raise cmp.BenchError(f"unexpected reply during prefill on port {port}: "
                                     f"{buf[:200]!r}")
    return time.monotonic() - t0


def start_servers(args, pool: cmp.ServerPool, workdir: str, ports: dict[str, int],
                  kinds: tuple[str, ...], cache: str, memtable: str) -> dict[str, cmp.Server]:
    servers = {}
    for kind in kinds:
        if kind == "disk":
            d = os.path.join(workdir, f"disk-{ports[kind]}")
            os.makedirs(d, exist_ok=True)
            extra = ["--storage-engine", "disk", "--dir", d, "--disk-cache-size", cache,
                     "--disk-memtable-size", memtable]
            binary = args.ferrokv_bin
        elif kind == "memory":
            extra, binary = [], args.ferrokv_bin
        else:
            extra, binary = [], args.redis_bin
        servers[kind] = pool.start(cmp.Server(kind, binary, ports[kind], extra, workdir, None),
                                   args.ready_timeout)
        cmp.log(f"started {kind} pid {servers[kind].pid} on port {ports[kind]} {' '.join(extra)}")
    return servers


def measure(srv: cmp.Server, fn) -> dict[str, Any]:
    """Runs fn() (one loadgen run) and adds the server's CPU seconds and ops per CPU-second."""
    c0 = cmp.proc_cpu_ticks(srv.pid)
    try:
        r = fn()
    except (cmp.BenchError, OSError) as e:
        r = {"ok": False, "error": str(e)}
    if not srv.alive():
        r.update(ok=False, error=f"{srv.kind} died: exit {srv.proc.returncode}\n{srv.log_tail()}")
        return r
    cpu_s = (cmp.proc_cpu_ticks(srv.pid) - c0) / cmp.CLK_TCK
    r["server_cpu_s"] = cpu_s
    if r.get("ok") and cpu_s > 0:
        r["ops_per_cpu_s"] = r["requests_done"] / cpu_s
    return r


def summarize(phase: str, test: str, pipeline: int, runs: dict[str, list[dict[str, Any]]]
              ) -> dict[str, Any]:
    row: dict[str, Any] = {"phase": phase, "test": test, "pipeline": pipeline}
    for kind, rs in runs.items():
        ok = [r for r in rs if r.get("ok")]
        row[kind] = {
            "runs_ok": len(ok), "runs": len(rs),
            "rps": cmp.median([r["rps"] for r in ok]),
            "p50_ms": cmp.median([r["p50_ms"] for r in ok]),
            "p99_ms": cmp.median([r["p99_ms"] for r in ok]),
            "ops_per_cpu_s": cmp.median([r["ops_per_cpu_s"] for r in ok if "ops_per_cpu_s" in r]),
            "errors": sorted({r.get("error", "") for r in rs if not r.get("ok")}),
        }
    for other in ("memory", "redis"):
        if other not in runs:
            continue
        for key in ("rps", "ops_per_cpu_s", "p99_ms"):
            row[f"disk_over_{other}_{key}"] = cmp.paired_ratio(runs["disk"], runs[other], key)
    return row


def run_matrix(args, phase: str, servers: dict[str, cmp.Server], tests: list[str],
               keyspace: int, size: int, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """tests x pipelines, args.runs alternating rounds over the servers."""
    rows = []
    for test in tests:
        for pipeline in args.pipelines:
            label = f"[{phase}] {test} P{pipeline}"
            cmp.log(f"{label}: {args.runs} x {args.seconds}s per server, alternating")
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
            for i in range(args.runs):
                for kind, srv in servers.items():
                    port = srv.port
                    if test in COLLECTION_TESTS:
                        cmp.send_pipelined(port, [["FLUSHALL"]])
                        cmp._PREFILLED.discard((port, size))
                        ks = args.collection_keys
                    else:
                        if test == "GET" and (port, size) not in cmp._PREFILLED:
                            prefill(port, keyspace, size, args.run_timeout)
                        ks = keyspace
                    r = measure(srv, lambda: loadgen_run(
                        port, test, pipeline, size, args.connections, ks, args.seconds,
                        args.run_timeout))
                    r.update(phase=phase, server=kind, test=test, pipeline=pipeline, run=i,
                             keyspace=ks, value_size=size)
                    raw.append(r)
                    runs[kind].append(r)
                    if r.get("ok"):
                        cmp.log(f"  run {i} {kind:7s} {r['rps']:>11,.0f} ops/s  p99 "
                                f"{r['p99_ms']:7.2f} ms  {r.get('ops_per_cpu_s', 0):>11,.0f} "
                                "ops/CPU-s")
                    else:
                        cmp.log(f"  run {i} {kind:7s} FAILED: {r.get('error')}")
            rows.append(summarize(phase, test, pipeline, runs))
    return rows


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| phase | workload | P | disk op/s | memory op/s | redis op/s | **disk/memory** | "
           "disk/redis | p99 ms disk / mem / redis | op per CPU-s disk / mem / redis |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        g = lambda k, f: r[k][f] if k in r else None  # noqa: E731
        out.append(
            f"| {r['phase']} | {r['test']} | {r['pipeline']} | {fmt(g('disk', 'rps'), ',.0f')} | "
            f"{fmt(g('memory', 'rps'), ',.0f')} | {fmt(g('redis', 'rps'), ',.0f')} | "
            f"**{fmt(r.get('disk_over_memory_rps'), '.2f')}** | "
            f"{fmt(r.get('disk_over_redis_rps'), '.2f')} | "
            f"{fmt(g('disk', 'p99_ms'), '.2f')} / {fmt(g('memory', 'p99_ms'), '.2f')} / "
            f"{fmt(g('redis', 'p99_ms'), '.2f')} | "
            f"{fmt(g('disk', 'ops_per_cpu_s'), ',.0f')} / {fmt(g('memory', 'ops_per_cpu_s'), ',.0f')}"
            f" / {fmt(g('redis', 'ops_per_cpu_s'), ',.0f')} |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, cmp._sigterm)
    pool = cmp.ServerPool()
    try:
        args.ferrokv_bin = cmp.resolve_binary(args.ferrokv_bin, "ferrokv (--ferrokv-bin)")
        args.redis_bin = cmp.resolve_binary(args.redis_bin, "redis-server (--redis-bin)")
        cmp.LOADGEN["bin"] = cmp.resolve_binary(args.loadgen_bin, "ferrokv-loadgen (--loadgen-bin)")
        cmp.LOADGEN["threads"] = args.loadgen_threads
        meta = {
            "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "cpus": os.cpu_count(), "git_rev": cmp.git_rev(),
            "ferrokv_version": cmp.tool_version(args.ferrokv_bin),
            "redis_version": cmp.tool_version(args.redis_bin),
            "loadavg_start": os.getloadavg(), "argv": argv,
            "settings": {k: cmp._jsonable(v) for k, v in vars(args).items()},
        }
        out = args.out or os.path.join(
            cmp.BENCH_DIR, "results",
            "disk-" + _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".json")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        raw: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        extra: dict[str, Any] = {}
        b = args.port_base
        with tempfile.TemporaryDirectory(prefix="ferrokv-disk-bench-") as workdir:
            if "cache" in args.phases:
                ports = {"disk": b, "memory": b + 1, "redis": b + 2}
                servers = start_servers(args, pool, workdir, ports, KINDS, args.cache,
                                        args.memtable)
                rows += run_matrix(args, "cache", servers, args.tests, args.keyspace,
                                   args.value_size, raw)
                extra["cache_disk_info"] = info_fields(ports["disk"], "disk")
                pool.stop_all()
            if "big" in args.phases:
                ports = {"disk": b + 3, "memory": b + 4, "redis": b + 5}
                kinds = ("disk",) if args.big_disk_only else KINDS
                servers = start_servers(args, pool, workdir, ports, kinds, args.big_cache,
                                        args.big_memtable)
                big: dict[str, Any] = {"keys": args.big_keys, "value_size": args.big_value_size,
                                       "dataset_bytes": args.big_keys * args.big_value_size}
                for kind, srv in servers.items():
                    secs = prefill_random(srv.port, args.big_keys, args.big_value_size)
                    cmp._PREFILLED.add((srv.port, args.big_value_size))
                    cmp.log(f"  prefilled {args.big_keys:,} keys of {args.big_value_size} random "
                            f"bytes on port {srv.port} in {secs:.1f}s")
                    big[f"{kind}_prefill_s"] = secs
                    big[f"{kind}_rss_after_prefill"] = cmp.proc_rss_bytes(srv.pid)
                rows += run_matrix(args, "big", servers, ["GET"], args.big_keys,
                                   args.big_value_size, raw)
                for kind, srv in servers.items():
                    big[f"{kind}_rss_end"] = cmp.proc_rss_bytes(srv.pid)
                big["disk_info"] = info_fields(ports["disk"], "disk")
                extra["big"] = big
                pool.stop_all()
        meta["loadavg_end"] = os.getloadavg()
        print(f"\n# disk engine vs memory engine vs {meta['redis_version']}: "
              f"{args.runs} run(s) of {args.seconds}s each, medians, {args.connections} "
              f"connections, ratios = median of per-run ratios")
        print(table(rows))
        if "big" in extra:
            bi = extra["big"]
            di = bi["disk_info"]
            print(f"\nphase big: {bi['keys']:,} keys x {bi['value_size']} B = "
                  f"{bi['dataset_bytes'] / 2**20:,.0f} MiB; disk budget cache {args.big_cache} + "
                  f"memtables {args.big_memtable}; disk prefill {bi['disk_prefill_s']:.1f} s, "
                  f"RSS after prefill / end: " + ", ".join(
                      f"{k} {bi[k + '_rss_after_prefill'] / 2**20:.0f} / "
                      f"{bi[k + '_rss_end'] / 2**20:.0f} MiB" for k in KINDS
                      if k + "_rss_end" in bi)
                  + f"; disk used {int(di.get('disk_used_bytes', 0)) / 2**20:.0f} MiB, block "
                  f"cache hit rate {di.get('disk_cache_hit_rate', '?')}%")
        with open(out, "w") as f:
            json.dump({"meta": meta, "summary": rows, "extra": extra, "runs": raw}, f, indent=1)
        print(f"\nresults: {os.path.relpath(out)}")
        failed = any(r[k]["runs_ok"] == 0 for r in rows for k in KINDS if k in r)
        return 1 if failed else 0
    except cmp.BenchError as e:
        cmp.log(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        cmp.log("interrupted; stopping servers")
        return 130
    finally:
        pool.stop_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
