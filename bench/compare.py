#!/usr/bin/env python3
"""Benchmark ferrokv against redis-server on this machine, side by side.

Both servers are started on loopback ports with the same arguments
(``--port N --save "" --appendonly no``), driven by the same load generator
(``redis-benchmark``) in alternating runs (ferrokv, redis, ferrokv, redis, ...),
and compared on:

* throughput (requests/s as reported by redis-benchmark),
* efficiency (requests per CPU-second of the *server* process, from /proc),
* latency (p50 / p99 from redis-benchmark's CSV output),
* memory (RSS growth per key after loading N keys through a raw-socket loader).

Python 3 standard library only.  See bench/README.md for usage and caveats.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

DEFAULT_TESTS = ["SET", "GET", "INCR", "MSET"]
# Built-in redis-benchmark tests (-t NAME) that also work here; see --tests.
OPTIONAL_TESTS = ["LPUSH", "RPUSH", "LPOP", "RPOP", "HSET", "SADD", "SPOP", "ZADD", "ZPOPMIN"]
# Workloads redis-benchmark has no -t name for: run as an explicit command line.
# EVALSHA of a small script: INCR of one key through redis.call (SCRIPT LOAD in preload).
EVALSHA_SCRIPT = "return redis.call('INCR', KEYS[1])"
EVALSHA_SHA = hashlib.sha1(EVALSHA_SCRIPT.encode()).hexdigest()
CUSTOM_TESTS = {
    "EVALSHA": ["EVALSHA", EVALSHA_SHA, "1", "bench:counter"],
    "ZRANGE": ["ZRANGE", "bench:zset", "0", "9", "WITHSCORES"],
    "HGET": ["HGET", "bench:hash", "field:7"],
    "SISMEMBER": ["SISMEMBER", "bench:set", "member:7"],
    "LINDEX": ["LINDEX", "bench:list", "50"],
}
# Workloads redis-benchmark cannot express (several commands per request): driven by this
# script's own client (run_txn_benchmark); a request is one MULTI + 10 SET + EXEC.
TXN_TESTS = ["MULTI10"]
# Workloads driven by the repository's own load generator (crates/loadgen, ferrokv-loadgen):
# mixed SET:GET 1:10 over --loadgen-keyspace keys (default 1M, written once per server and value
# size before the first of them runs), uniform or Zipf(0.99) key choice.
LOADGEN_TESTS = {
    "MIXED": ["--workload", "mixed", "--ratio", "1:10", "--distribution", "uniform"],
    "MIXED-ZIPF": ["--workload", "mixed", "--ratio", "1:10", "--distribution", "zipf",
                   "--zipf-exponent", "0.99"],
}
# The matrix of issue #8 (--suite): every workload x value size x pipeline x connections.
SUITE_TESTS = ["GET", "SET", "INCR", "MSET", "LPUSH", "LPOP", "HSET", "HGET", "SADD", "ZADD",
               "ZRANGE", "EVALSHA", "MIXED", "MIXED-ZIPF"]
# Where main() writes the results; throughput_phase() rewrites it after every workload (marked
# "partial") so that an interrupted long run still leaves its finished rows behind.
CHECKPOINT: dict[str, Any] = {"path": None, "meta": None, "done": []}
# Loadgen settings, filled in by main() from the command line.
LOADGEN: dict[str, Any] = {"bin": None, "threads": 2, "keyspace": 1_000_000, "seconds": 4.0}
# redis-benchmark's CSV names the MSET test "MSET (10 keys)".
CSV_NAME = {"MSET": "MSET (10 keys)"}
# Collections the memory phase can load (--memory-types): 10 elements per key.
MEMORY_TYPES = ["string", "hash", "set", "zset", "list"]


class BenchError(Exception):
    """A fatal, user-facing error (missing binary, busy port, server died...)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

def proc_cpu_ticks(pid: int) -> int:
    """utime+stime (clock ticks) of the whole process, i.e. all its threads."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    # comm (field 2) may contain spaces/parens: split after the last ')'.
    rest = data[data.rindex(b")") + 2:].split()
    # rest[0] is field 3 (state); utime is field 14, stime field 15.
    return int(rest[11]) + int(rest[12])


def proc_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS in /proc/{pid}/status")


def proc_threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


# --------------------------------------------------------------------------
# Tiny RESP client (enough for PING and the loader)
# --------------------------------------------------------------------------

def encode_command(*args: bytes | str) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(64)
                if not chunk:
                    return False
                buf += chunk
            return buf.startswith(b"+PONG")
    except OSError:
        return False


def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def load_keys(port: int, nkeys: int, ttl: int | None, batch: int = 1000) -> float:
    """SET key:%012d -> 16-byte value for nkeys keys, pipelined in batches.

    Each batch is written in one sendall and all of its replies are read back
    before the next batch is sent.  Returns the elapsed wall time.  Raises on
    any non +OK reply.
    """
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, nkeys, batch):
            end = min(start + batch, nkeys)
            if ttl is None:
                payload = b"".join(
                    b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nval:%012d\r\n" % (i, i)
                    for i in range(start, end))
            else:
                t = str(ttl).encode()
                payload = b"".join(
                    b"*5\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nval:%012d\r\n"
                    b"$2\r\nEX\r\n$%d\r\n%s\r\n" % (i, i, len(t), t)
                    for i in range(start, end))
            s.sendall(payload)
            want = end - start
            buf = b""
            # All expected replies are "+OK\r\n" (5 bytes each).
            while buf.count(b"\r\n") < want:
                chunk = s.recv(65536)
                if not chunk:
                    raise BenchError(f"server on port {port} closed the connection during load")
                buf += chunk
            if buf != b"+OK\r\n" * want:
                bad = next((ln for ln in buf.split(b"\r\n") if ln != b"+OK"), buf[:80])
                raise BenchError(f"unexpected reply while loading keys on port {port}: {bad[:200]!r}")
    return time.monotonic() - t0


def send_pipelined(port: int, commands, batch: int = 1000) -> None:
    """Sends commands (lists of bytes/str) in pipelined batches; every reply must be a single
    line that is not an error (+OK, :n)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending: list[bytes] = []

        def flush() -> None:
            s.sendall(b"".join(pending))
            want = len(pending)
            pending.clear()
            buf = b""
            while buf.count(b"\r\n") < want:
                chunk = s.recv(65536)
                if not chunk:
                    raise BenchError(f"server on port {port} closed the connection during load")
                buf += chunk
            if b"\r\n-" in b"\r\n" + buf:
                bad = next(ln for ln in buf.split(b"\r\n") if ln.startswith(b"-"))
                raise BenchError(f"error reply while loading on port {port}: {bad[:200]!r}")

        for c in commands:
            pending.append(encode_command(*c))
            if len(pending) >= batch:
                flush()
        if pending:
            flush()


def preload(port: int, test: str, requests: int) -> None:
    """Data a workload reads or consumes, written before the timed run (not measured): the
    pops get as many elements as they will pop; the read-only custom tests get their key."""
    n = requests
    if test in ("LPOP", "RPOP"):
        send_pipelined(port, (["RPUSH", "mylist"] + ["x" * 3] * min(1000, n - i)
                              for i in range(0, n, 1000)))
    elif test == "SPOP":
        send_pipelined(port, (["SADD", "myset"] + [f"m{j}" for j in range(i, min(i + 1000, n))]
                              for i in range(0, n, 1000)))
    elif test == "ZPOPMIN":
        send_pipelined(port, (["ZADD", "myzset"] + [x for j in range(i, min(i + 1000, n))
                                                    for x in (str(j), f"m{j}")]
                              for i in range(0, n, 1000)))
    elif test == "EVALSHA":
        send_pipelined(port, [["SCRIPT", "LOAD", EVALSHA_SCRIPT]])
    elif test == "ZRANGE":
        send_pipelined(port, [["DEL", "bench:zset"],
                              ["ZADD", "bench:zset"] + [x for j in range(100)
                                                        for x in (str(j), f"member:{j}")]])
    elif test == "HGET":
        send_pipelined(port, [["DEL", "bench:hash"],
                              ["HSET", "bench:hash"] + [x for j in range(10)
                                                        for x in (f"field:{j}", f"value:{j}")]])
    elif test == "SISMEMBER":
        send_pipelined(port, [["DEL", "bench:set"],
                              ["SADD", "bench:set"] + [f"member:{j}" for j in range(10)]])
    elif test == "LINDEX":
        send_pipelined(port, [["DEL", "bench:list"],
                              ["RPUSH", "bench:list"] + [f"element:{j}" for j in range(100)]])


def collection_commands(kind: str, nkeys: int):
    """One command per key creating a 10-element collection of `kind` (memory phase)."""
    for i in range(nkeys):
        key = f"{kind}:{i:012d}"
        if kind == "hash":
            yield ["HSET", key] + [x for j in range(10) for x in (f"field:{j}", f"value:{j}")]
        elif kind == "set":
            yield ["SADD", key] + [f"member:{j}" for j in range(10)]
        elif kind == "zset":
            yield ["ZADD", key] + [x for j in range(10) for x in (str(j), f"member:{j}")]
        elif kind == "list":
            yield ["RPUSH", key] + [f"element:{j}" for j in range(10)]


# --------------------------------------------------------------------------
# Server process management
# --------------------------------------------------------------------------

try:
    import ctypes
    _LIBC = ctypes.CDLL(None, use_errno=True)
except (ImportError, OSError):
    _LIBC = None


def _child_setup(cpus: set[int] | None):
    """preexec_fn: die with the parent (Linux PDEATHSIG) and optional CPU pinning."""
    def setup() -> None:
        if _LIBC is not None:
            try:
                _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphans if we are killed
            except Exception:  # noqa: BLE001 - best effort only
                pass
        if cpus:
            os.sched_setaffinity(0, cpus)
    return setup


class Server:
    """One server process (ferrokv or redis) started on a loopback port."""

    def __init__(self, kind: str, binary: str, port: int, extra_args: list[str],
                 workdir: str, cpus: set[int] | None):
        self.kind = kind
        self.binary = binary
        self.port = port
        self.args = [binary, "--port", str(port), "--save", "", "--appendonly", "no"] + extra_args
        self.workdir = workdir
        self.cpus = cpus
        self.proc: subprocess.Popen | None = None
        self.logpath = os.path.join(workdir, f"{kind}-{port}.log")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, ready_timeout: float) -> None:
        if port_in_use(self.port):
            raise BenchError(f"port {self.port} is already in use; pick another --port-base")
        logf = open(self.logpath, "wb")
        try:
            self.proc = subprocess.Popen(
                self.args, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_child_setup(self.cpus))
        finally:
            logf.close()
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind} exited with status {self.proc.returncode} during "
                                 f"startup; command: {shlex.join(self.args)}\n"
                                 f"--- log ---\n{self.log_tail()}")
            if ping(self.port):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"{self.kind} did not answer PING on port {self.port} within "
                                 f"{ready_timeout}s\n--- log ---\n{self.log_tail()}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, nbytes: int = 3000) -> str:
        try:
            with open(self.logpath, "rb") as f:
                data = f.read()
            return data[-nbytes:].decode(errors="replace")
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        except (ProcessLookupError, OSError):
            pass


class ServerPool:
    """Keeps track of every started server so all get stopped on exit."""

    def __init__(self) -> None:
        self.servers: list[Server] = []

    def start(self, server: Server, ready_timeout: float) -> Server:
        self.servers.append(server)
        server.start(ready_timeout)
        return server

    def stop_all(self) -> None:
        for s in self.servers:
            s.stop()
        self.servers.clear()


# --------------------------------------------------------------------------
# redis-benchmark driver
# --------------------------------------------------------------------------

def parse_csv(text: str) -> list[dict[str, str]]:
    import csv
    import io
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    # Skip anything before the header (e.g. "WARNING: Could not fetch server CONFIG").
    start = next((i for i, r in enumerate(rows) if r[0] == "test"), None)
    if start is None:
        raise ValueError(f"unexpected redis-benchmark CSV output: {text[:300]!r}")
    header = rows[start]
    return [dict(zip(header, r)) for r in rows[start + 1:] if len(r) == len(header)]


def run_txn_benchmark(port: int, pipeline: int, size: int, requests: int, clients: int,
                      keyspace: int) -> dict[str, Any]:
    """MULTI + 10 SET + EXEC per request over `clients` connections (at most 16 threads, one
    connection each), `pipeline` transactions per write. Python drives it, so absolute rates
    are bounded by this client; the ferrokv/redis ratio is what it is for."""
    nthreads = max(1, min(clients, 16))
    per = max(1, requests // nthreads)
    value = "x" * size
    lines_per_txn = 1 + 10 + 1 + 10  # +OK, 10 x +QUEUED, *10, 10 x +OK
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(tid: int) -> None:
        rnd = random.Random(tid)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                done, local = 0, []
                while done < per:
                    batch = min(pipeline, per - done)
                    out = bytearray()
                    for _ in range(batch):
                        out += encode_command("MULTI")
                        for _ in range(10):
                            out += encode_command("SET", f"key:{rnd.randrange(keyspace):012d}", value)
                        out += encode_command("EXEC")
                    t0 = time.perf_counter()
                    s.sendall(out)
                    need, buf = lines_per_txn * batch, b""
                    while buf.count(b"\r\n") < need:
                        chunk = s.recv(1 << 16)
                        if not chunk:
                            raise BenchError("connection closed")
                        buf += chunk
                    if b"-" in buf[:1] or b"\r\n-" in buf:
                        raise BenchError(f"error reply: {buf[:200]!r}")
                    local.append((time.perf_counter() - t0) * 1000.0)
                    done += batch
                with lock:
                    lat.extend(local)
        except (OSError, BenchError) as e:
            with lock:
                errors.append(str(e))

    t0 = time.monotonic()
    ths = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = time.monotonic() - t0
    res: dict[str, Any] = {"cmd": ["<python MULTI/10xSET/EXEC driver>"], "wall_s": wall}
    if errors or not lat:
        res.update(ok=False, error="; ".join(errors[:3]) or "no requests")
        return res
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    res.update(ok=True, rps=per * nthreads / wall, p50_ms=pct(0.5), p99_ms=pct(0.99),
               avg_ms=sum(lat) / len(lat))
    return res


def run_benchmark(rb: str, port: int, test: str, pipeline: int, size: int, requests: int,
                  clients: int, keyspace: int, threads: int, timeout: float,
                  cpus: set[int] | None, do_preload: bool = True) -> dict[str, Any]:
    """One run of `test`. With do_preload=False the caller has already called preload() (the
    timed runs do, so that the server CPU spent on preloading is outside the measured window)."""
    if test in TXN_TESTS:
        return run_txn_benchmark(port, pipeline, size, requests, clients, keyspace)
    if test in LOADGEN_TESTS:
        loadgen_prefill(port, size, timeout)
        return run_loadgen(port, test, pipeline, size, clients, timeout, cpus)
    cmd = [rb, "-h", "127.0.0.1", "-p", str(port), "-n", str(requests),
           "-c", str(clients), "-P", str(pipeline), "-d", str(size), "-r", str(keyspace), "--csv"]
    if threads > 0:
        cmd += ["--threads", str(threads)]
    if test in CUSTOM_TESTS:
        cmd += CUSTOM_TESTS[test]
    else:
        cmd[1:1] = ["-t", test.lower()]
    if do_preload:
        preload(port, test, requests)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=_child_setup(cpus))
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"redis-benchmark timed out after {timeout:.0f}s",
                "cmd": cmd}
    wall = time.monotonic() - t0
    res: dict[str, Any] = {"cmd": cmd, "wall_s": wall, "returncode": p.returncode,
                           "stderr": p.stderr[-2000:]}
    if p.returncode != 0:
        res.update(ok=False, error=f"redis-benchmark exited {p.returncode}: {p.stderr.strip()[-500:]}")
        return res
    try:
        rows = parse_csv(p.stdout)
    except ValueError as e:
        res.update(ok=False, error=str(e), stdout=p.stdout[-2000:])
        return res
    want = CSV_NAME.get(test, test)
    if test in CUSTOM_TESTS:
        # The CSV names a command-line test by its text; there is exactly one row.
        row = rows[0] if rows else None
    else:
        row = next((r for r in rows if r.get("test") == want), None)
    if row is None:
        res.update(ok=False, error=f"test {want!r} missing from CSV output", stdout=p.stdout[-2000:])
        return res
    try:
        res.update(ok=True, csv=row, rps=float(row["rps"]),
                   p50_ms=float(row["p50_latency_ms"]), p99_ms=float(row["p99_latency_ms"]),
                   avg_ms=float(row["avg_latency_ms"]))
    except (KeyError, ValueError) as e:
        res.update(ok=False, error=f"bad CSV row {row!r}: {e}")
    return res


_PREFILLED: set[tuple[int, int]] = set()


def loadgen_prefill(port: int, size: int, timeout: float) -> None:
    """Writes key:000000000000 .. --loadgen-keyspace once with `size`-byte values (untimed),
    once per server and value size, so that the GETs of the mixed workloads find their keys."""
    if (port, size) in _PREFILLED:
        return
    cmd = [LOADGEN["bin"], "--port", str(port), "--workload", "get", "--prefill",
           "--keyspace", str(LOADGEN["keyspace"]), "--value-size", str(size), "--requests", "1",
           "--connections", "16", "--threads", str(LOADGEN["threads"])]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BenchError(f"loadgen prefill failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    log(f"  prefilled {LOADGEN['keyspace']:,} keys of {size} B on port {port} "
        f"in {time.monotonic() - t0:.1f}s")
    _PREFILLED.add((port, size))


def run_loadgen(port: int, test: str, pipeline: int, size: int, clients: int, timeout: float,
                cpus: set[int] | None) -> dict[str, Any]:
    """One timed run of ferrokv-loadgen (--duration LOADGEN['seconds']); latency from its
    HdrHistogram (microseconds in its JSON, converted to ms here)."""
    if not LOADGEN["bin"]:
        return {"ok": False, "error": "no ferrokv-loadgen binary (see --loadgen-bin)", "cmd": []}
    cmd = [LOADGEN["bin"], "--port", str(port), "--json", "--connections", str(clients),
           "--threads", str(LOADGEN["threads"]), "--pipeline", str(pipeline),
           "--value-size", str(size), "--keyspace", str(LOADGEN["keyspace"]),
           "--duration", str(LOADGEN["seconds"]), "--seed", "1"] + LOADGEN_TESTS[test]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=_child_setup(cpus))
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"loadgen timed out after {timeout:.0f}s", "cmd": cmd}
    res: dict[str, Any] = {"cmd": cmd, "wall_s": time.monotonic() - t0,
                           "returncode": p.returncode, "stderr": p.stderr[-2000:]}
    try:
        rep = json.loads(p.stdout)
    except ValueError:
        res.update(ok=False, error=f"loadgen exited {p.returncode}: {p.stderr.strip()[-500:]}")
        return res
    res["loadgen"] = {k: v for k, v in rep.items() if k != "keys_written"}
    if p.returncode != 0 or rep.get("errors") or rep.get("connection_errors"):
        res.update(ok=False, error=f"loadgen: {rep.get('errors')} error replies, "
                                   f"{rep.get('connection_errors')} failed connections, first: "
                                   f"{rep.get('error_sample')}")
        return res
    lat = rep.get("latency_us") or {}
    res.update(ok=True, rps=rep["ops_per_sec"], requests_done=rep["requests"],
               p50_ms=lat.get("p50", 0) / 1000.0, p99_ms=lat.get("p99", 0) / 1000.0,
               avg_ms=lat.get("mean", 0) / 1000.0)
    return res


def rb_supports_threads(rb: str) -> bool:
    p = subprocess.run([rb, "--help"], capture_output=True, text=True)
    return "--threads" in (p.stdout + p.stderr)


def tool_version(binary: str) -> str:
    try:
        p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (p.stdout or p.stderr).strip().splitlines()[0] if (p.stdout or p.stderr) else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------

def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def paired_ratios(a_runs: list[dict[str, Any]], b_runs: list[dict[str, Any]],
                  key: str) -> list[float]:
    """a[i][key] / b[i][key] for every run pair where both runs succeeded."""
    rs = [ratio(a.get(key), b.get(key)) for a, b in zip(a_runs, b_runs)
          if a.get("ok") and b.get("ok")]
    return [r for r in rs if r is not None]


def paired_ratio(a_runs: list[dict[str, Any]], b_runs: list[dict[str, Any]],
                 key: str) -> float | None:
    """Median of the paired ratios (see paired_ratios)."""
    return median(paired_ratios(a_runs, b_runs, key))


def throughput_phase(args, pool: ServerPool, workdir: str, rb: str, threads: int,
                     raw: list[dict[str, Any]], tests: list[str] | None = None,
                     pipelines: list[int] | None = None, server_cpus: set[int] | None = None,
                     client_cpus: set[int] | None = None, scaling: str | None = None
                     ) -> list[dict[str, Any]]:
    """Runs tests x value sizes x pipelines x client counts, alternating the two servers.
    `tests`/`pipelines`/`*_cpus` override the command line (the --scaling phases use them);
    `scaling` labels the rows of such a phase."""
    tests = tests if tests is not None else args.tests
    pipelines = pipelines if pipelines is not None else args.pipelines
    if scaling is None:
        server_cpus, client_cpus = args.server_cpus, args.client_cpus
    ports = {"ferrokv": args.port_base, "redis": args.port_base + 1}
    bins = {"ferrokv": args.ferrokv_bin, "redis": args.redis_bin}
    servers = {}
    _PREFILLED.clear()
    for kind in ("ferrokv", "redis"):
        servers[kind] = pool.start(Server(kind, bins[kind], ports[kind], server_args(args, kind),
                                          workdir, server_cpus), args.ready_timeout)
        log(f"started {kind} pid {servers[kind].pid} on port {ports[kind]}"
            + (f" (cpus {sorted(server_cpus)})" if server_cpus else ""))
    dead: dict[str, str] = {}
    summary = []
    combos = [(size, pipeline, clients, test) for size in args.value_sizes
              for pipeline in pipelines for clients in args.clients for test in tests]
    t_phase = time.monotonic()

    for ci, (size, pipeline, clients, test) in enumerate(combos):
        label = f"{test} P{pipeline} c{clients} d{size}" + (f" [{scaling}]" if scaling else "")
        if ci:
            left = (time.monotonic() - t_phase) / ci * (len(combos) - ci)
            log(f"({ci}/{len(combos)} done, about {left / 60:.0f} min left in this phase)")
        # How many requests: fixed, or calibrated so the faster server takes ~target s.
        if test in LOADGEN_TESTS:
            n = 0  # timed by --duration; the request count comes from each run
        elif args.requests:
            n = args.requests
        else:
            # A rough rate is enough; slow tests (MSET, EVALSHA) at P16 must not probe for long.
            probe_n = 40000 if pipeline > 1 else 10000
            best = 0.0
            for kind in ("ferrokv", "redis"):
                if kind in dead:
                    continue
                r = run_benchmark(rb, ports[kind], test, pipeline, size, probe_n,
                                  clients, args.keyspace, threads, args.run_timeout,
                                  client_cpus)
                if r.get("ok"):
                    best = max(best, r["rps"])
            n = int(best * args.seconds) if best > 0 else probe_n
            n = max(n, probe_n)
        log(f"[{label}] " + (f"{LOADGEN['seconds']}s" if not n else f"{n} requests")
            + f" per run, {args.runs} runs each, alternating")
        runs: dict[str, list[dict[str, Any]]] = {"ferrokv": [], "redis": []}
        for i in range(args.runs):
            for kind in ("ferrokv", "redis"):
                srv = servers[kind]
                if kind in dead:
                    continue
                try:
                    # Untimed set-up first, outside the CPU window.
                    if test in LOADGEN_TESTS:
                        loadgen_prefill(ports[kind], size, args.run_timeout)
                    elif test not in TXN_TESTS:
                        preload(ports[kind], test, n)
                    c0 = proc_cpu_ticks(srv.pid)
                    r = run_benchmark(rb, ports[kind], test, pipeline, size, n, clients,
                                      args.keyspace, threads, args.run_timeout,
                                      client_cpus, do_preload=False)
                except (BenchError, OSError) as e:
                    c0 = proc_cpu_ticks(srv.pid) if srv.alive() else 0
                    r = {"ok": False, "error": str(e)}
                if not srv.alive():
                    dead[kind] = f"{kind} died during {label}: exit {srv.proc.returncode}"
                    log(dead[kind] + "\n--- log ---\n" + srv.log_tail())
                    r.update(ok=False, error=dead[kind])
                else:
                    c1 = proc_cpu_ticks(srv.pid)
                    cpu_s = (c1 - c0) / CLK_TCK
                    r.update(server_cpu_ticks=[c0, c1], server_cpu_s=cpu_s,
                             server_threads=proc_threads(srv.pid))
                    if r.get("ok") and cpu_s > 0:
                        r["ops_per_cpu_s"] = r.get("requests_done", n) / cpu_s
                r.update(server=kind, test=test, pipeline=pipeline, value_size=size,
                         clients=clients, requests=r.get("requests_done", n), run=i,
                         scaling=scaling,
                         server_cpus=sorted(server_cpus) if server_cpus else None)
                raw.append(r)
                runs[kind].append(r)
                if r.get("ok"):
                    log(f"  run {i} {kind:8s} {r['rps']:>12,.0f} ops/s  "
                        f"cpu {r.get('server_cpu_s', 0):6.2f}s  p99 {r['p99_ms']:.3f} ms")
                else:
                    log(f"  run {i} {kind:8s} FAILED: {r.get('error')}")
        row: dict[str, Any] = {"test": test, "pipeline": pipeline, "value_size": size,
                               "clients": clients, "requests": n, "scaling": scaling,
                               "server_cpus": sorted(server_cpus) if server_cpus else None,
                               "client_cpus": sorted(client_cpus) if client_cpus else None,
                               "load_generator": "ferrokv-loadgen"
                               if test in LOADGEN_TESTS else "redis-benchmark"}
        for kind in ("ferrokv", "redis"):
            ok = [r for r in runs[kind] if r.get("ok")]
            row[kind] = {
                "runs_ok": len(ok), "runs": len(runs[kind]),
                "rps": median([r["rps"] for r in ok]),
                "ops_per_cpu_s": median([r["ops_per_cpu_s"] for r in ok
                                         if "ops_per_cpu_s" in r]),
                "p50_ms": median([r["p50_ms"] for r in ok]),
                "p99_ms": median([r["p99_ms"] for r in ok]),
                "errors": sorted({r.get("error", "") for r in runs[kind] if not r.get("ok")}),
            }
        # Ratios: median over adjacent (ferrokv run i, redis run i) pairs, which cancels
        # slow drifts in background load better than a ratio of medians; the latter is
        # kept in the JSON as "ratio_of_medians".
        for key, name in (("rps", "ratio_rps"), ("ops_per_cpu_s", "ratio_ops_per_cpu_s"),
                          ("p50_ms", "ratio_p50"), ("p99_ms", "ratio_p99")):
            row[name] = paired_ratio(runs["ferrokv"], runs["redis"], key)
            rs = paired_ratios(runs["ferrokv"], runs["redis"], key)
            row[name + "_range"] = [min(rs), max(rs)] if rs else None
            row.setdefault("ratio_of_medians", {})[key] = ratio(
                row["ferrokv"][key], row["redis"][key])
        summary.append(row)
        if CHECKPOINT["path"]:
            with open(CHECKPOINT["path"], "w") as f:
                json.dump({"partial": True, "meta": CHECKPOINT["meta"],
                           "summary": CHECKPOINT["done"] + summary, "runs": raw}, f, indent=1)
    for kind in ("ferrokv", "redis"):
        servers[kind].stop()
    return summary


def server_args(args, kind: str) -> list[str]:
    """Extra arguments of one server: --server-arg (both), then --ferrokv-arg (ferrokv only)."""
    return args.server_arg + (args.ferrokv_arg if kind == "ferrokv" else [])


def scaling_phase(args, pool: ServerPool, workdir: str, rb: str, threads: int,
                  raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GET,SET at P16 (first --clients and --value-sizes value) with both servers pinned to
    one core (load generator pinned to another), then to two cores (load generator unpinned:
    on a 2-core machine it shares them with the server)."""
    import copy
    a = copy.copy(args)
    a.value_sizes = args.value_sizes[:1]
    a.clients = args.clients[:1]
    s1, c1, s2 = args.scaling_cpus
    rows = throughput_phase(a, pool, workdir, rb, threads, raw, tests=["GET", "SET"],
                            pipelines=[16], server_cpus=s1, client_cpus=c1,
                            scaling=f"server on {len(s1 or [])} core(s)")
    rows += throughput_phase(a, pool, workdir, rb, threads, raw, tests=["GET", "SET"],
                             pipelines=[16], server_cpus=s2, client_cpus=None,
                             scaling=f"server on {len(s2 or [])} core(s)")
    return rows


def settled_rss(pid: int, timeout: float = 5.0) -> int:
    """RSS once it stopped changing for 0.5 s (background rehash/expiry), or after timeout."""
    deadline = time.monotonic() + timeout
    last = proc_rss_bytes(pid)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        cur = proc_rss_bytes(pid)
        if cur != last:
            last, stable_since = cur, time.monotonic()
        elif time.monotonic() - stable_since >= 0.5:
            break
    return last


def loadgen_load_keys(port: int, nkeys: int, ttl: int | None, timeout: float) -> float:
    """The memory phase's string load through ferrokv-loadgen's prefill: key:%012d -> 16 bytes
    (plus EX ttl), the same sizes as load_keys(), over 4 connections in batches of 512; several
    times faster than the Python loader (10M keys: seconds instead of most of a minute)."""
    cmd = [LOADGEN["bin"], "--port", str(port), "--workload", "get", "--prefill",
           "--keyspace", str(nkeys), "--value-size", "16", "--requests", "1",
           "--connections", "4", "--threads", "2"] + (["--ttl", str(ttl)] if ttl else [])
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=max(timeout, 600))
    if p.returncode != 0:
        raise BenchError(f"loadgen load failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return time.monotonic() - t0


def memory_phase(args, pool: ServerPool, workdir: str) -> list[dict[str, Any]]:
    results = []
    variants: list[int | None | str] = []
    if "string" in args.memory_types:
        variants += [None] + ([args.ttl] if args.ttl else [])
    variants += [t for t in args.memory_types if t != "string"]
    port = args.port_base + 2
    bins = {"ferrokv": args.ferrokv_bin, "redis": args.redis_bin}
    for ttl in variants:
        kind_of_data = ttl if isinstance(ttl, str) else "string"
        row: dict[str, Any] = {"keys": args.keys, "ttl": None if isinstance(ttl, str) else ttl,
                               "type": kind_of_data}
        for kind in ("ferrokv", "redis"):
            srv = pool.start(Server(kind, bins[kind], port, server_args(args, kind), workdir,
                                    args.server_cpus), args.ready_timeout)
            port += 1
            try:
                rss0 = proc_rss_bytes(srv.pid)
                if kind_of_data == "string" and LOADGEN["bin"]:
                    secs = loadgen_load_keys(srv.port, args.keys, ttl, args.run_timeout)
                elif kind_of_data == "string":
                    secs = load_keys(srv.port, args.keys, ttl)
                else:
                    t0 = time.monotonic()
                    send_pipelined(srv.port, collection_commands(kind_of_data, args.keys))
                    secs = time.monotonic() - t0
                rss1 = settled_rss(srv.pid)
                row[kind] = {"rss_before": rss0, "rss_after": rss1, "load_s": secs,
                             "bytes_per_key": (rss1 - rss0) / args.keys}
                log(f"memory {kind:8s} {kind_of_data} ttl={row['ttl']}: RSS {rss0/2**20:.1f} -> {rss1/2**20:.1f} MiB "
                    f"({(rss1 - rss0) / args.keys:.1f} B/key, load {secs:.1f}s)")
            except BenchError as e:
                row[kind] = {"error": str(e)}
                log(f"memory {kind}: {e}")
            finally:
                srv.stop()
        row["ratio"] = ratio(row["ferrokv"].get("bytes_per_key"), row["redis"].get("bytes_per_key"))
        results.append(row)
    return results


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def fmt_num(x: float | None, spec: str) -> str:
    return "ERR" if x is None else format(x, spec)


def print_table(summary: list[dict[str, Any]], memory: list[dict[str, Any]]) -> None:
    cols = [("workload", 10, "<"), ("P", 3, ">"), ("c", 4, ">"), ("size", 5, ">"),
            ("ferrokv op/s", 13, ">"), ("redis op/s", 13, ">"), ("ratio", 6, ">"),
            ("ferrokv op/cpu-s", 17, ">"), ("redis op/cpu-s", 15, ">"), ("ratio", 6, ">"),
            ("p50 f/r ms", 13, ">"), ("p99 f/r ms", 13, ">"), ("p99 ratio", 9, ">")]
    head = "  ".join(format(name, f"{al}{w}") for name, w, al in cols)
    print(head)
    print("-" * len(head))
    section = None
    for r in summary:
        if r.get("scaling") != section:
            section = r.get("scaling")
            print(f"## scaling: {section}" if section else "## all cores, unpinned")
        f, rd = r["ferrokv"], r["redis"]
        cells = [
            r["test"], str(r["pipeline"]), str(r.get("clients", "")), str(r["value_size"]),
            fmt_num(f["rps"], ",.0f"), fmt_num(rd["rps"], ",.0f"), fmt_num(r["ratio_rps"], ".2f"),
            fmt_num(f["ops_per_cpu_s"], ",.0f"), fmt_num(rd["ops_per_cpu_s"], ",.0f"),
            fmt_num(r["ratio_ops_per_cpu_s"], ".2f"),
            f"{fmt_num(f['p50_ms'], '.3f')}/{fmt_num(rd['p50_ms'], '.3f')}",
            f"{fmt_num(f['p99_ms'], '.3f')}/{fmt_num(rd['p99_ms'], '.3f')}",
            fmt_num(r["ratio_p99"], ".2f"),
        ]
        print("  ".join(format(c, f"{al}{w}") for c, (_, w, al) in zip(cells, cols)))
        for kind in ("ferrokv", "redis"):
            for err in r[kind]["errors"]:
                print(f"    ! {kind}: {err}")
    if memory:
        print()
        for m in memory:
            if m.get("type", "string") == "string":
                what = f"{m['keys']:,} keys x 16 B values" + (f", EX {m['ttl']}" if m["ttl"] else "")
            else:
                what = f"{m['keys']:,} {m['type']}es x 10 elements" if m["type"] == "hash" \
                    else f"{m['keys']:,} {m['type']}s x 10 elements"
            parts = []
            for kind in ("ferrokv", "redis"):
                d = m[kind]
                parts.append(f"{kind} {d['bytes_per_key']:.1f} B/key" if "bytes_per_key" in d
                             else f"{kind} ERR ({d.get('error')})")
            print(f"memory ({what}): " + ", ".join(parts)
                  + f", ratio {fmt_num(m['ratio'], '.2f')}")


def _esc(t: str) -> str:
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(summary: list[dict[str, Any]], path: str, title: str) -> None:
    """Horizontal grouped bars, one group per workload row: ferrokv/redis ratios of throughput,
    of requests per server CPU-second and of p99 latency, with a line at 1.0. Plain SVG text (no
    plotting library). Bars longer than the axis are clipped and labelled with their value."""
    series = [("ratio_rps", "throughput (ops/s), >1 = ferrokv faster", "#4e79a7"),
              ("ratio_ops_per_cpu_s", "ops per server CPU-second, >1 = ferrokv cheaper", "#59a14f"),
              ("ratio_p99", "p99 latency, <1 = ferrokv lower", "#e15759")]
    xmax = 3.0
    bar_h, gap = 5, 6
    row_h = bar_h * len(series) + gap
    left, right, top = 230, 70, 78
    width = 900
    plot_w = width - left - right
    height = top + row_h * max(1, len(summary)) + 40
    x = lambda v: left + plot_w * min(max(v, 0.0), xmax) / xmax  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="10">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="16" font-size="13" font-weight="bold">{_esc(title)}</text>']
    for i, (_, name, color) in enumerate(series):
        lx = left + i * 215
        out.append(f'<rect x="{lx}" y="26" width="10" height="10" fill="{color}"/>'
                   f'<text x="{lx + 14}" y="35">{_esc(name)}</text>')
    out.append(f'<text x="{left}" y="54" fill="#555">ratio ferrokv / redis-server '
               f'(median of paired runs); axis clipped at {xmax:g}</text>')
    for t in [0.5 * k for k in range(int(xmax / 0.5) + 1)]:
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 6}" x2="{x(t):.1f}" y2="{height - 34}" '
                   f'stroke="{"#000" if t == 1.0 else "#ddd"}" '
                   f'stroke-width="{1.5 if t == 1.0 else 1}"/>'
                   f'<text x="{x(t):.1f}" y="{height - 22}" text-anchor="middle">{t:g}</text>')
    for i, r in enumerate(summary):
        y0 = top + i * row_h
        label = (f"{r['test']} P{r['pipeline']} c{r.get('clients', '')} {r['value_size']}B"
                 + (f" [{r['scaling']}]" if r.get("scaling") else ""))
        out.append(f'<text x="{left - 6}" y="{y0 + row_h / 2 + 2:.1f}" text-anchor="end">'
                   f'{_esc(label)}</text>')
        for j, (key, _, color) in enumerate(series):
            v = r.get(key)
            yb = y0 + j * bar_h
            if v is None:
                out.append(f'<text x="{left + 2}" y="{yb + bar_h}" font-size="6" fill="{color}">'
                           f'n/a</text>')
                continue
            out.append(f'<rect x="{left}" y="{yb}" width="{x(v) - left:.1f}" height="{bar_h - 1}" '
                       f'fill="{color}"><title>{_esc(label)}: {v:.2f}</title></rect>')
            if v > xmax:
                out.append(f'<text x="{x(v) + 2:.1f}" y="{yb + bar_h - 1}" font-size="7">'
                           f'{v:.1f}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def parse_cpus(s: str | None) -> set[int] | None:
    if not s:
        return None
    out: set[int] = set()
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO_DIR, "target")
    p = argparse.ArgumentParser(
        description="Benchmark ferrokv against redis-server (throughput, CPU efficiency, "
                    "latency, memory per key).")
    p.add_argument("--ferrokv-bin", default=os.path.join(target, "release", "ferrokv-server"),
                   help="ferrokv server binary (default: $CARGO_TARGET_DIR or ./target, "
                        "then release/ferrokv-server)")
    p.add_argument("--redis-bin", default="redis-server", help="redis-server binary (default: PATH)")
    p.add_argument("--redis-benchmark", default="redis-benchmark", help="redis-benchmark binary")
    p.add_argument("--loadgen-bin", default=os.path.join(target, "release", "ferrokv-loadgen"),
                   help="the repository's load generator (crates/loadgen; default next to "
                        "--ferrokv-bin's default), used by the MIXED and MIXED-ZIPF workloads")
    p.add_argument("--loadgen-threads", type=int, default=os.cpu_count() or 2,
                   help="ferrokv-loadgen --threads (default: number of CPUs)")
    p.add_argument("--loadgen-keyspace", type=int, default=None,
                   help="keys of the MIXED workloads, all written once before they run "
                        "(default 1000000; 10000 with --quick)")
    p.add_argument("--build", action="store_true",
                   help="run 'cargo build --release --bin ferrokv-server --bin ferrokv-loadgen' "
                        "first")
    p.add_argument("--suite", action="store_true",
                   help="the whole matrix of issue #8: --tests " + ",".join(SUITE_TESTS)
                        + " --value-sizes 16,256,1024 --pipelines 1,16 --clients 50,500 "
                        "(each can still be overridden), 3 runs of 2 s, plus --scaling and "
                        "memory at 10M keys")
    p.add_argument("--scaling", action="store_true",
                   help="also run GET,SET at P16 with both servers pinned to CPU 0 (load "
                        "generator on CPU 1), then to CPUs 0-1 (load generator unpinned)")
    p.add_argument("--scaling-cpus", default="0;1;0-1",
                   help="for --scaling: 'S1;C1;S2' = server CPUs of the 1-core phase, client "
                        "CPUs of the 1-core phase, server CPUs of the 2-core phase (default 0;1;0-1)")
    p.add_argument("--publish", action="store_true",
                   help="copy the SVG plot to docs/bench/latest.svg (committed)")
    p.add_argument("--no-plot", action="store_true", help="do not write the SVG plot")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 run, few requests, 20k keys; a few seconds total")
    p.add_argument("--runs", type=int, default=None,
                   help="runs per server per workload (default 5; 3 with --suite; 1 with --quick)")
    p.add_argument("--tests", default=None,
                   help="comma list from SET,GET,INCR,MSET,LPUSH,HSET,ZADD, EVALSHA, MULTI10, "
                        "MIXED, MIXED-ZIPF ... (default SET,GET,INCR,MSET; SET,GET,MIXED with "
                        "--quick)")
    p.add_argument("--pipelines", default=None, help="pipeline depths (default 1,16)")
    p.add_argument("--value-sizes", default=None, help="value sizes in bytes, e.g. 16,256,1024")
    p.add_argument("--clients", default=None,
                   help="connections (redis-benchmark -c, loadgen --connections), comma list "
                        "(default 50)")
    p.add_argument("--keyspace", type=int, default=100000, help="redis-benchmark -r (default 100000)")
    p.add_argument("--seconds", type=float, default=None,
                   help="target duration of one run for the faster server, and the --duration "
                        "of loadgen runs (default 4; 2 with --suite; 0.5 with --quick)")
    p.add_argument("--requests", type=int, default=0,
                   help="fixed request count per run (default: calibrated from --seconds)")
    p.add_argument("--bench-threads", type=int, default=0,
                   help="redis-benchmark --threads N (default 0 = off: in thread mode "
                        "redis-benchmark 7.0 rounds run time up to 250 ms steps; -1 = 2 if "
                        "supported)")
    p.add_argument("--keys", type=int, default=None,
                   help="keys for the memory test (default 1000000; 20000 with --quick)")
    p.add_argument("--ttl", type=int, default=100000,
                   help="also measure memory with SET ... EX TTL (0 disables; default 100000)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory test")
    p.add_argument("--memory-types", default="string",
                   help="comma-separated data types for the memory test: "
                        + ",".join(MEMORY_TYPES) + " (default string; collections get 10 "
                        "elements per key)")
    p.add_argument("--no-throughput", action="store_true", help="skip the throughput tests")
    p.add_argument("--port-base", type=int, default=7400,
                   help="ports used: base..base+5 on 127.0.0.1 (default 7400)")
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra argument passed to both servers (repeatable)")
    p.add_argument("--ferrokv-arg", action="append", default=[],
                   help="extra argument for ferrokv only (repeatable), e.g. the disk engine: "
                        "--ferrokv-arg=--storage-engine --ferrokv-arg=disk")
    p.add_argument("--server-cpus", default="",
                   help="pin servers to these CPUs, e.g. 0 (default: no pinning)")
    p.add_argument("--client-cpus", default="",
                   help="pin redis-benchmark to these CPUs, e.g. 1 (default: no pinning)")
    p.add_argument("--ready-timeout", type=float, default=10.0,
                   help="seconds to wait for a server to answer PING (default 10)")
    p.add_argument("--run-timeout", type=float, default=0,
                   help="kill a redis-benchmark run after this many seconds "
                        "(default max(60, 15 x --seconds))")
    p.add_argument("--out", default="", help="JSON output path (default bench/results/<UTC ts>.json)")
    a = p.parse_args(argv)

    if a.runs is None:
        a.runs = 1 if a.quick else 3 if a.suite else 5
    if a.keys is None:
        a.keys = 20000 if a.quick else 10_000_000 if a.suite else 1_000_000
    if a.seconds is None:
        a.seconds = 0.5 if a.quick else 2.0 if a.suite else 4.0
    if a.loadgen_keyspace is None:
        a.loadgen_keyspace = 10000 if a.quick else 1_000_000
    if a.quick and not a.requests:
        a.requests = 10000
    if a.suite:
        a.scaling = True
    if a.tests is None:
        a.tests = ",".join(SUITE_TESTS if a.suite else ["SET", "GET", "MIXED"] if a.quick
                           else DEFAULT_TESTS)
    if a.pipelines is None:
        a.pipelines = "1,16"
    if a.value_sizes is None:
        a.value_sizes = "16,256,1024" if a.suite else "16"
    if a.clients is None:
        a.clients = "50,500" if a.suite else "50"
    a.clients = [int(x) for x in str(a.clients).split(",") if x.strip()]
    try:
        s1, c1, s2 = a.scaling_cpus.split(";")
        a.scaling_cpus = (parse_cpus(s1), parse_cpus(c1), parse_cpus(s2))
    except ValueError:
        p.error("--scaling-cpus wants 'S1;C1;S2', e.g. 0;1;0-1")
    a.tests = [t.strip().upper() for t in a.tests.split(",") if t.strip()]
    for t in a.tests:
        if t not in (DEFAULT_TESTS + OPTIONAL_TESTS + list(CUSTOM_TESTS) + TXN_TESTS
                     + list(LOADGEN_TESTS)):
            p.error(f"unknown test {t!r}")
    a.memory_types = [t.strip().lower() for t in a.memory_types.split(",") if t.strip()]
    for t in a.memory_types:
        if t not in MEMORY_TYPES:
            p.error(f"unknown memory type {t!r} (one of {', '.join(MEMORY_TYPES)})")
    a.pipelines = [int(x) for x in a.pipelines.split(",") if x.strip()]
    a.value_sizes = [int(x) for x in a.value_sizes.split(",") if x.strip()]
    a.server_cpus = parse_cpus(a.server_cpus)
    a.client_cpus = parse_cpus(a.client_cpus)
    if not a.run_timeout:
        a.run_timeout = max(60.0, 15 * a.seconds)
    if a.runs < 1 or a.keys < 1:
        p.error("--runs and --keys must be >= 1")
    return a


def resolve_binary(name: str, what: str) -> str:
    path = shutil.which(name) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
    if not path:
        raise BenchError(f"{what} binary not found or not executable: {name}")
    return os.path.abspath(path)


def _short_version(v: str) -> str:
    """'Redis server v=7.0.15 sha=...' -> '7.0.15'."""
    return next((t[2:] for t in v.split() if t.startswith("v=")), v[:20])


def _reference_name(v: str) -> str:
    """The reference server's name from its --version line: 'valkey-server' for Valkey
    ('Valkey server v=8.0.1 ...', e.g. `--redis-bin /usr/bin/valkey-server`), else 'redis-server'.
    Tables and JSON keep the key "redis" for whichever reference server ran."""
    return "valkey-server" if v.lower().startswith("valkey") else "redis-server"


def _jsonable(v: Any) -> Any:
    """Sets (CPU lists) as sorted lists, recursively through tuples and lists."""
    if isinstance(v, set):
        return sorted(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def tool_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def git_rev() -> str:
    try:
        p = subprocess.run(["git", "-C", REPO_DIR, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _sigterm(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # Ctrl-C must raise KeyboardInterrupt even if SIGINT was inherited as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGHUP, _sigterm)
    pool = ServerPool()
    try:
        if args.build:
            log("building ferrokv-server (release)...")
            r = subprocess.run(["cargo", "build", "--release", "--bin", "ferrokv-server",
                                "--bin", "ferrokv-loadgen"], cwd=REPO_DIR)
            if r.returncode != 0:
                raise BenchError("cargo build failed")
        args.ferrokv_bin = resolve_binary(args.ferrokv_bin, "ferrokv (--ferrokv-bin)")
        args.redis_bin = resolve_binary(args.redis_bin, "redis-server (--redis-bin)")
        if not args.no_memory and os.access(args.loadgen_bin, os.X_OK):
            LOADGEN["bin"] = os.path.abspath(args.loadgen_bin)  # fast loader for the memory phase
        if any(t in LOADGEN_TESTS for t in args.tests) and not args.no_throughput:
            try:
                LOADGEN["bin"] = resolve_binary(args.loadgen_bin, "ferrokv-loadgen (--loadgen-bin)")
            except BenchError as e:
                raise BenchError(f"{e}; build it with 'cargo build --release -p ferrokv-loadgen' "
                                 "or pass --build") from None
        LOADGEN.update(threads=args.loadgen_threads, keyspace=args.loadgen_keyspace,
                       seconds=args.seconds)
        rb = resolve_binary(args.redis_benchmark, "redis-benchmark (--redis-benchmark)")
        if args.bench_threads < 0:
            threads = 2 if rb_supports_threads(rb) else 0
        elif args.bench_threads > 0 and not rb_supports_threads(rb):
            raise BenchError(f"{rb} does not support --threads")
        else:
            threads = args.bench_threads
        meta = {
            "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "git_rev": git_rev(),
            "ferrokv_bin": args.ferrokv_bin, "ferrokv_version": tool_version(args.ferrokv_bin),
            "redis_bin": args.redis_bin, "redis_version": tool_version(args.redis_bin),
            "redis_benchmark": rb, "redis_benchmark_version": tool_version(rb),
            "redis_benchmark_threads": threads, "clk_tck": CLK_TCK,
            "loadgen_bin": LOADGEN["bin"], "loadgen_threads": LOADGEN["threads"],
            "loadgen_keyspace": LOADGEN["keyspace"], "nproc": tool_output(["nproc"]),
            "free_g": tool_output(["free", "-g"]), "loadavg_start": os.getloadavg(),
            "argv": argv,
            "settings": {k: _jsonable(v) for k, v in vars(args).items()},
        }
        log(f"ferrokv: {args.ferrokv_bin} ({meta['ferrokv_version']})")
        log(f"redis:   {args.redis_bin} ({meta['redis_version']})")
        log(f"load:    {rb} (--threads {threads or 'off'}), {os.cpu_count()} CPUs")
        out = args.out or os.path.join(
            BENCH_DIR, "results",
            _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".json")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        CHECKPOINT.update(path=out, meta=meta, done=[])
        raw: list[dict[str, Any]] = []
        summary: list[dict[str, Any]] = []
        memory: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="ferrokv-bench-") as workdir:
            if not args.no_throughput:
                summary = throughput_phase(args, pool, workdir, rb, threads, raw)
            if args.scaling:
                CHECKPOINT["done"] = list(summary)
                summary += scaling_phase(args, pool, workdir, rb, threads, raw)
            if not args.no_memory:
                memory = memory_phase(args, pool, workdir)
            pool.stop_all()
        print()
        print(f"# ferrokv vs {_reference_name(meta['redis_version'])} ({meta['redis_version']}), "
              f"{os.cpu_count()} CPUs, "
              f"{args.runs} run(s) each, medians; -c {','.join(map(str, args.clients))} -r {args.keyspace}, "
              f"redis-benchmark --threads {threads or 'off'}")
        print("# ratio = ferrokv / redis (throughput: >1 is ferrokv faster; "
              "latency: <1 is ferrokv lower)")
        print_table(summary, memory)
        meta["loadavg_end"] = os.getloadavg()
        with open(out, "w") as f:
            json.dump({"meta": meta, "summary": summary, "memory": memory, "runs": raw}, f,
                      indent=1)
        print(f"\nraw results: {os.path.relpath(out)}")
        if summary and not args.no_plot:
            svg = os.path.splitext(out)[0] + ".svg"
            write_svg(summary, svg, f"ferrokv vs {_reference_name(meta['redis_version'])} "
                                    f"{_short_version(meta['redis_version'])} - "
                                    f"{meta['timestamp_utc']} - {os.cpu_count()} CPUs, "
                                    f"{args.runs} run(s) each")
            print(f"plot: {os.path.relpath(svg)}")
            if args.publish:
                dest = os.path.join(REPO_DIR, "docs", "bench", "latest.svg")
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(svg, dest)
                print(f"published: {os.path.relpath(dest)}")
        failed = any(r[k]["runs_ok"] == 0 for r in summary for k in ("ferrokv", "redis")) or \
            any("error" in m[k] for m in memory for k in ("ferrokv", "redis"))
        return 1 if failed else 0
    except BenchError as e:
        log(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        return 130
    finally:
        pool.stop_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
