#!/usr/bin/env python3
"""Foreground latency of the disk engine under sustained writes, with and without the
compaction rate limit (``disk-compaction-rate``, issue #7).

For each configuration (``--rates``, e.g. ``0,4mb``: 0 = unlimited) a fresh release server runs
``--storage-engine disk`` with a small budget (``--cache``/``--memtable``, default 16 MB each)
and ``appendfsync no``, and for ``--seconds``:

* a *writer* connection sends batches of ``--batch`` pipelined SETs of ``--value-size`` random
  (incompressible) bytes over ``--keyspace`` keys as fast as it can: the sustained load that
  makes fjall flush and compact; the latency of each batch is recorded;
* a *prober* connection sends one ``SET`` of the same size every ``--probe-interval`` seconds
  and records its latency: what another client sees meanwhile;
* a sampler reads ``INFO disk`` every 0.25 s (level-0 tables, write-stall state, compaction
  bytes and throttled time) and the server's RSS.

Configurations alternate (``--repeat`` rounds: unlimited, limited, unlimited, limited, ...) so
paired runs share the machine's background load. Output: one table row per run (batch and probe
latency p50/p99/p99.9/max in ms, SETs/s, MiB/s written, compaction MiB/s, level-0 peak, stall
samples, peak RSS) and, with ``--out``, the raw figures as JSON.

    python3 bench/disk_latency.py --rates 0,4mb --seconds 40 --repeat 2

Python 3 standard library only. Ports: ``--port`` (default 37100) and up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.sysconf("SC_PAGE_SIZE")
UNITS = {"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "k": 1000, "m": 1000_000, "g": 10**9}


def mem(s: str) -> int:
    s = s.strip().lower()
    for u in ("kb", "mb", "gb", "k", "m", "g"):
        if s.endswith(u):
            return int(float(s[: -len(u)]) * UNITS[u])
    return int(s)


def resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A minimal blocking RESP client (enough for +OK, integers and bulk replies)."""

    def __init__(self, port: int):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self) -> bytes:
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return b""
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 16)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        return line

    def call(self, *args: bytes) -> bytes:
        self.s.sendall(resp(*args))
        return self.reply()


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def info_disk(c: Conn) -> dict[str, int]:
    out = {}
    for line in c.call(b"INFO", b"disk").decode().splitlines():
        k, _, v = line.partition(":")
        if v.isdigit():
            out[k] = int(v)
    return out


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) per thread name of process `pid`, summed over threads."""
    out: dict[str, float] = {}
    tck = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1: st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tck
    return out


def run_one(args, rate: int, port: int) -> dict:
    workdir = tempfile.mkdtemp(prefix="ferrokv-lat-", dir=args.dir)
    cmd = [args.server, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
           "--save", "", "--appendonly", "no", "--appendfsync", "no",
           "--storage-engine", "disk", "--disk-cache-size", str(args.cache),
           "--disk-memtable-size", str(args.memtable), "--disk-compaction-rate", str(rate)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while True:
            try:
                Conn(port).call(b"PING")
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("server did not start")
                time.sleep(0.05)
        if args.renice:
            # Experiment: lower the priority of fjall's flush/compaction threads from outside.
            for tid in os.listdir(f"/proc/{proc.pid}/task"):
                with open(f"/proc/{proc.pid}/task/{tid}/comm") as f:
                    if f.read().strip() == "fjall:worker":
                        os.setpriority(os.PRIO_PROCESS, int(tid), args.renice)
        stop = threading.Event()
        batch_lat: list[float] = []
        probe_lat: list[float] = []
        samples: list[dict[str, int]] = []
        written = [0]

        def writer():
            c = Conn(port)
            rnd = random.Random(1)
            while args.batch == 0 and not stop.is_set():
                stop.wait(0.1)  # --batch 0: no writer, the machine's baseline latency
            while not stop.is_set():
                payload = b"".join(
                    resp(b"SET", b"k%d" % rnd.randrange(args.keyspace),
                         os.urandom(args.value_size))
                    for _ in range(args.batch))
                t = time.perf_counter()
                c.s.sendall(payload)
                for _ in range(args.batch):
                    c.reply()
                batch_lat.append(time.perf_counter() - t)
                written[0] += args.batch

        def prober():
            c = Conn(port)
            i = 0
            while not stop.is_set():
                v = os.urandom(args.value_size)
                t = time.perf_counter()
                c.call(b"SET", b"probe:%d" % (i % 1000), v)
                probe_lat.append(time.perf_counter() - t)
                i += 1
                stop.wait(args.probe_interval)

        def sampler():
            c = Conn(port)
            while not stop.is_set():
                d = info_disk(c)
                d["rss"] = rss(proc.pid)
                d["t"] = time.time()
                samples.append(d)
                stop.wait(0.25)

        threads = [threading.Thread(target=f, daemon=True) for f in (writer, prober, sampler)]
        t0 = time.time()
        cpu0 = thread_cpu(proc.pid)
        for th in threads:
            th.start()
        time.sleep(args.seconds)
        stop.set()
        for th in threads:
            th.join(timeout=30)
        elapsed = time.time() - t0
        cpu1 = thread_cpu(proc.pid)
        cpu = {k: round((v - cpu0.get(k, 0.0)) / elapsed, 2) for k, v in cpu1.items()
               if v - cpu0.get(k, 0.0) > 0.05 * elapsed}
        first, last = samples[0], samples[-1]
        span = max(last["t"] - first["t"], 1e-9)
        ms = lambda x: round(x * 1000, 1)  # noqa: E731
        return {
            "rate": rate,
            "seconds": round(elapsed, 1),
            "sets_per_s": round(written[0] / elapsed),
            "write_mib_s": round(written[0] * args.value_size / elapsed / (1 << 20), 2),
            "batches": len(batch_lat),
            "batch_p50_ms": ms(pct(batch_lat, 50)),
            "batch_p99_ms": ms(pct(batch_lat, 99)),
            "batch_p999_ms": ms(pct(batch_lat, 99.9)),
            "batch_max_ms": ms(max(batch_lat, default=0)),
            "load_avg": os.getloadavg()[0],
            "probes": len(probe_lat),
            "probe_p50_ms": ms(pct(probe_lat, 50)),
            "probe_p99_ms": ms(pct(probe_lat, 99)),
            "probe_max_ms": ms(max(probe_lat, default=0)),
            "compaction_mib_s": round((last.get("disk_compaction_bytes", 0)
                                       - first.get("disk_compaction_bytes", 0))
                                      / span / (1 << 20), 2),
            "compaction_throttled_s": round(last.get("disk_compaction_throttled_ms", 0) / 1000, 1),
            "l0_max": max(s.get("disk_l0_tables_max", 0) for s in samples),
            "stalled_samples": sum(s.get("disk_write_stalled", 0) for s in samples),
            "samples": len(samples),
            "writes_throttled": last.get("disk_writes_throttled", 0),
            "sealed_max": max(s.get("disk_sealed_memtables_max", 0) for s in samples),
            "rss_max_mb": round(max(s["rss"] for s in samples) / 1e6),
            "cpu_cores_by_thread": cpu,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


COLUMNS = ["rate", "sets_per_s", "write_mib_s", "batch_p50_ms", "batch_p99_ms", "batch_p999_ms",
           "batch_max_ms", "probe_p50_ms", "probe_p99_ms", "probe_max_ms", "compaction_mib_s",
           "compaction_throttled_s", "l0_max", "sealed_max", "stalled_samples", "writes_throttled",
           "rss_max_mb", "load_avg"]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO_DIR, "target")),
        "release", "ferrokv-server"))
    p.add_argument("--rates", default="0,4mb",
                   help="comma-separated disk-compaction-rate values (0 = unlimited)")
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--value-size", type=int, default=1024)
    p.add_argument("--keyspace", type=int, default=2_000_000)
    p.add_argument("--cache", default="16mb")
    p.add_argument("--memtable", default="16mb")
    p.add_argument("--probe-interval", type=float, default=0.01)
    p.add_argument("--port", type=int, default=37100)
    p.add_argument("--renice", type=int, default=0,
                   help="experiment: nice value given to fjall's worker threads after start")
    p.add_argument("--dir", help="parent directory of the data directories (default: $TMPDIR)")
    p.add_argument("--out", help="write the runs as JSON here")
    args = p.parse_args(argv)
    args.cache, args.memtable = mem(args.cache), mem(args.memtable)
    if not os.path.exists(args.server):
        print(f"no server binary at {args.server}", file=sys.stderr)
        return 2
    rates = [mem(r) for r in args.rates.split(",")]
    runs = []
    print(" ".join(f"{c:>14}" for c in COLUMNS))
    for rnd in range(args.repeat):
        for i, rate in enumerate(rates):
            r = run_one(args, rate, args.port + rnd * len(rates) + i)
            r["round"] = rnd
            runs.append(r)
            print(" ".join(f"{r[c]!s:>14}" for c in COLUMNS), flush=True)
            print(f"{'':>14} cores per thread: {r['cpu_cores_by_thread']}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
