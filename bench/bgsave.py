#!/usr/bin/env python3
"""BGSAVE under load: ferrokv (fork-free snapshot) vs redis-server (fork).

For each server: load N keys with DEBUG POPULATE, run redis-benchmark (SET/GET on random keys of
the dataset) once without a snapshot and once while BGSAVE runs back to back, and report the
p50/p99 latency of both runs, the snapshot time, and the extra memory the snapshot needed:
ferrokv: peak RSS during the run minus RSS before it; redis: the parent's RSS growth plus the
private (copy-on-write and own) memory of the saving child, sampled every 10 ms.

Usage: python3 bench/bgsave.py [--keys 1000000] [--requests 300000] [--ferrokv-bin PATH]
Only the standard library; Linux (/proc).
"""

import argparse
import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time


def cmd(port, *args, timeout=600):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    buf = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
        if buf.startswith((b"+", b"-", b":")) and buf.endswith(b"\r\n"):
            break
        if buf.startswith(b"$"):
            head, _, rest = buf.partition(b"\r\n")
            n = int(head[1:])
            if n < 0 or len(rest) >= n + 2:
                break
    s.close()
    return buf


def info(port, field):
    raw = cmd(port, "INFO", "persistence").decode(errors="replace")
    for line in raw.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def private_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            total = 0
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
            return total
    except OSError:
        return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_ready(port):
    for _ in range(3000):
        try:
            if cmd(port, "PING", timeout=1).startswith(b"+PONG"):
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError("server did not start")


def bench(port, keys, requests, clients=50):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", str(requests),
         "-c", str(clients), "-r", str(keys), "-d", "16", "--csv", "--precision", "3"],
        capture_output=True, text=True, check=True).stdout
    rows = {}
    for r in csv.DictReader(io.StringIO(out)):
        rows[r["test"]] = (float(r["rps"]), float(r["p50_latency_ms"]), float(r["p99_latency_ms"]),
                           float(r["max_latency_ms"]))
    return rows


def run(name, argv, port, keys, requests):
    d = tempfile.mkdtemp(prefix=f"bgsave-{name}-")
    p = subprocess.Popen(argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", d,
                                 "--enable-debug-command", "yes"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        cmd(port, "DEBUG", "POPULATE", keys, "key", 16)
        time.sleep(1)
        base = bench(port, keys, requests)
        # One timed BGSAVE alone.
        t0 = time.time()
        cmd(port, "BGSAVE")
        while info(port, "rdb_bgsave_in_progress") != "0":
            time.sleep(0.01)
        alone = time.time() - t0
        rss0 = rss_kb(p.pid)
        stop = threading.Event()
        peak = [0]
        saves = [0]

        def sampler():
            while not stop.is_set():
                extra = rss_kb(p.pid) - rss0
                for c in children(p.pid):
                    extra += private_kb(c)
                peak[0] = max(peak[0], extra)
                time.sleep(0.01)

        def saver():
            while not stop.is_set():
                r = cmd(port, "BGSAVE")
                if r.startswith(b"+"):
                    saves[0] += 1
                while info(port, "rdb_bgsave_in_progress") != "0" and not stop.is_set():
                    time.sleep(0.005)

        ts = [threading.Thread(target=sampler), threading.Thread(target=saver)]
        for t in ts:
            t.start()
        during = bench(port, keys, requests)
        stop.set()
        for t in ts:
            t.join()
        while info(port, "rdb_bgsave_in_progress") != "0":
            time.sleep(0.01)
        size = os.path.getsize(os.path.join(d, "dump.rdb"))
        return dict(base=base, during=during, alone=alone, peak_kb=peak[0], rss0=rss0,
                    saves=saves[0], size=size)
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=300_000)
    ap.add_argument("--ferrokv-bin",
                    default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"),
                                         "release", "ferrokv-server"))
    ap.add_argument("--port", type=int, default=25600)
    a = ap.parse_args()
    res = {
        "ferrokv": run("ferrokv", [a.ferrokv_bin], a.port, a.keys, a.requests),
        "redis": run("redis", ["redis-server"], a.port + 1, a.keys, a.requests),
    }
    print(f"keys={a.keys} requests={a.requests} clients=50 value=16B")
    for name, r in res.items():
        print(f"\n{name}: RSS before {r['rss0'] / 1024:.0f} MiB, file {r['size'] / 1e6:.1f} MB, "
              f"BGSAVE alone {r['alone']:.2f} s, saves during load {r['saves']}, "
              f"extra memory peak {r['peak_kb'] / 1024:.1f} MiB")
        for t in ("SET", "GET"):
            b, d = r["base"][t], r["during"][t]
            print(f"  {t}: rps {b[0]:.0f} -> {d[0]:.0f}; p50 {b[1]:.3f} -> {d[1]:.3f} ms; "
                  f"p99 {b[2]:.3f} -> {d[2]:.3f} ms (x{d[2] / max(b[2], 1e-9):.2f}); "
                  f"max {b[3]:.1f} -> {d[3]:.1f} ms")


if __name__ == "__main__":
    main()
