#!/usr/bin/env python3
"""SET throughput and p99 latency with the AOF on: ferrokv vs redis-server.

For each ``appendfsync`` policy (``always``, ``everysec`` by default) both servers are started
fresh in a temporary directory with ``--appendonly yes --appendfsync <policy> --save ""`` and
driven by ``redis-benchmark -t set -c <clients> -P 1 -r <keyspace>`` in alternating runs
(ferrokv, redis, ferrokv, redis, ...). The table shows the median requests/s and p99 of each
server and the ratio ferrokv / redis. With ``always`` every acknowledged SET is on disk, so
the number is bounded by fsync latency: what it measures is group commit (how many clients'
writes one fsync covers).

Python 3 standard library only.  Usage::

    python3 bench/aof.py                      # 3 runs per server and policy, 50 clients
    python3 bench/aof.py --runs 5 --requests 200000 --policies always
    python3 bench/aof.py --quick              # 1 run, few requests (smoke test)
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ping(port: int, timeout: float = 20.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def run_one(binary: str, policy: str, args: argparse.Namespace) -> dict:
    d = tempfile.mkdtemp(prefix="aofbench-")
    port = free_port()
    log = open(os.path.join(d, "server.log"), "w")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", policy, "--dir", d],
        stdout=log, stderr=subprocess.STDOUT, cwd=d)
    try:
        if not wait_ping(port):
            raise RuntimeError(f"{binary} did not start; see {d}/server.log")
        out = subprocess.run(
            [args.benchmark, "-p", str(port), "-t", "set", "-c", str(args.clients),
             "-P", "1", "-n", str(args.requests), "-r", str(args.keyspace),
             "-d", str(args.value_size), "--csv", "-q"],
            capture_output=True, text=True, timeout=600).stdout
        rows = [r for r in csv.DictReader(io.StringIO(out)) if r.get("test", "").startswith("SET")]
        if not rows:
            raise RuntimeError(f"no CSV from redis-benchmark: {out!r}")
        r = rows[0]
        size = sum(os.path.getsize(os.path.join(root, f))
                   for root, _, files in os.walk(os.path.join(d, "appendonlydir")) for f in files)
        return {"rps": float(r["rps"]), "p99": float(r["p99_latency_ms"]), "aof_bytes": size}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO_DIR, "target"))
    ap.add_argument("--ferrokv-bin", default=os.path.join(target, "release", "ferrokv-server"))
    ap.add_argument("--redis-bin", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--benchmark", default=shutil.which("redis-benchmark") or "redis-benchmark")
    ap.add_argument("--policies", default="always,everysec")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--value-size", type=int, default=16)
    ap.add_argument("--quick", action="store_true", help="1 run, 10k requests")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.requests = 1, 10000
    for b in (args.ferrokv_bin, args.redis_bin, args.benchmark):
        if not shutil.which(b) and not os.path.exists(b):
            print(f"missing binary: {b}", file=sys.stderr)
            return 2
    results: dict = {}
    for policy in args.policies.split(","):
        for i in range(args.runs):
            for name, binary in (("ferrokv", args.ferrokv_bin), ("redis", args.redis_bin)):
                r = run_one(binary, policy, args)
                results.setdefault((policy, name), []).append(r)
                print(f"{policy:8} run {i + 1} {name:7} {r['rps']:>10.0f} req/s  p99 {r['p99']:.3f} ms",
                      file=sys.stderr)
    print(f"SET, {args.clients} clients, -P 1, {args.requests} requests, {args.runs} alternating runs (medians)")
    print(f"{'appendfsync':12} {'ferrokv req/s':>14} {'redis req/s':>12} {'ratio':>6}"
          f" {'ferrokv p99':>12} {'redis p99':>10}")
    for policy in args.policies.split(","):
        f = results[(policy, "ferrokv")]
        r = results[(policy, "redis")]
        frps = statistics.median(x["rps"] for x in f)
        rrps = statistics.median(x["rps"] for x in r)
        fp = statistics.median(x["p99"] for x in f)
        rp = statistics.median(x["p99"] for x in r)
        print(f"{policy:12} {frps:>14.0f} {rrps:>12.0f} {frps / rrps:>6.2f} {fp:>10.3f}ms {rp:>8.3f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
