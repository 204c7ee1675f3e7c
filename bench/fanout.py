#!/usr/bin/env python3
"""Pub/Sub fan-out benchmark: one publisher, many subscribers, ferrokv vs redis-server.

Every subscriber connection SUBSCRIBEs to one channel; one publisher connection pipelines
PUBLISH commands (batches of ``--pipeline``) for ``--seconds``.  The metric is the number of
messages *delivered* per second, counted by the subscribers themselves over the measuring
window (after a short warm-up): every frame has the same size, so a subscriber process counts
bytes and divides.  Subscribers are spread over ``--procs`` processes, each multiplexing its
sockets with ``selectors``, so that the load generator is not the bottleneck (it only counts
bytes).  The servers run with ``client-output-buffer-limit pubsub 0 0 0`` so that a publisher
running ahead of delivery never gets subscribers disconnected.

Runs alternate (ferrokv, redis, ferrokv, ...); the report gives each run and the median of
each server, plus the ratio of the medians.  Python 3 standard library only.

    python3 bench/fanout.py --ferrokv-bin target/release/ferrokv-server
    python3 bench/fanout.py --subscribers 1000 --runs 3 --seconds 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import time

CHANNEL = b"fanout-bench"


def enc(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def frame_len(payload: int) -> int:
    """Bytes of one RESP2 `message` frame for CHANNEL with a payload of `payload` bytes."""
    return len(enc(b"message", CHANNEL, b"x" * payload))


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_exact_reply(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed during handshake")
        buf += d
    return buf


def subscriber_proc(port, count, counter, ready, stop):
    """Opens `count` subscriber connections and counts received bytes into `counter`."""
    socks = []
    sub = enc(b"SUBSCRIBE", CHANNEL)
    want = len(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL))
    for _ in range(count):
        s = connect(port)
        s.sendall(sub)
        read_exact_reply(s, want)
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    ready.release()
    total = 0
    last_pub = time.monotonic()
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.05):
            try:
                d = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            if not d:
                sel.unregister(key.fileobj)
                continue
            total += len(d)
        now = time.monotonic()
        if now - last_pub >= 0.02:
            counter.value = total
            last_pub = now
    counter.value = total
    for s in socks:
        s.close()


def publisher_proc(port, payload, pipeline, stop, published):
    s = connect(port)
    cmd = enc(b"PUBLISH", CHANNEL, b"x" * payload) * pipeline
    n = 0
    buf = b""
    while not stop.is_set():
        s.sendall(cmd)
        # Each reply is one ":N\r\n" line: wait for all of them (flow control).
        got = buf.count(b"\n")
        while got < pipeline:
            d = s.recv(1 << 16)
            if not d:
                return
            buf += d
            got = buf.count(b"\n")
        buf = b""
        n += pipeline
        published.value = n
    s.close()


def start_server(binary: str, port: int) -> subprocess.Popen:
    p = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            s = connect(port)
            s.sendall(enc(b"PING"))
            if s.recv(64).startswith(b"+PONG"):
                s.sendall(enc(b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 0 0 0"))
                s.recv(64)
                s.close()
                return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit(f"{binary} did not start on port {port}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def numsub(port: int) -> int:
    s = connect(port)
    s.sendall(enc(b"PUBSUB", b"NUMSUB", CHANNEL))
    r = s.recv(256)
    s.close()
    return int(r.rsplit(b":", 1)[1].split(b"\r\n")[0])


def one_run(binary, port, args):
    srv = start_server(binary, port)
    try:
        ctx = mp.get_context("fork")
        stop = ctx.Event()
        ready = ctx.Semaphore(0)
        per = [args.subscribers // args.procs] * args.procs
        per[0] += args.subscribers - sum(per)
        counters = [ctx.Value("q", 0, lock=False) for _ in per]
        procs = [
            ctx.Process(target=subscriber_proc, args=(port, n, c, ready, stop))
            for n, c in zip(per, counters)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            if not ready.acquire(timeout=60):
                raise SystemExit("subscribers did not connect")
        subs = numsub(port)
        if subs != args.subscribers:
            raise SystemExit(f"NUMSUB says {subs}, expected {args.subscribers}")
        published = ctx.Value("q", 0, lock=False)
        pub = ctx.Process(
            target=publisher_proc, args=(port, args.payload, args.pipeline, stop, published)
        )
        pub.start()
        time.sleep(args.warmup)
        b0 = sum(c.value for c in counters)
        p0 = published.value
        c0 = cpu_seconds(srv.pid)
        t0 = time.monotonic()
        time.sleep(args.seconds)
        b1 = sum(c.value for c in counters)
        p1 = published.value
        c1 = cpu_seconds(srv.pid)
        t1 = time.monotonic()
        stop.set()
        pub.join(10)
        for p in procs:
            p.join(10)
        fl = frame_len(args.payload)
        delivered = (b1 - b0) / fl / (t1 - t0)
        return {
            "delivered_per_s": delivered,
            "published_per_s": (p1 - p0) / (t1 - t0),
            "server_cpu": (c1 - c0) / (t1 - t0),
        }
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    ap.add_argument("--ferrokv-bin", default=os.path.join(target, "release", "ferrokv-server"))
    ap.add_argument("--redis-bin", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=4, help="subscriber processes")
    ap.add_argument("--payload", type=int, default=16, help="message size in bytes")
    ap.add_argument("--pipeline", type=int, default=32, help="PUBLISH commands per batch")
    ap.add_argument("--seconds", type=float, default=3.0, help="measuring window per run")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port-base", type=int, default=26600)
    args = ap.parse_args()
    for b in (args.ferrokv_bin, args.redis_bin):
        if not (os.path.exists(b) or shutil.which(b)):
            print(f"missing binary: {b}", file=sys.stderr)
            return 2
    results = {"ferrokv": [], "redis": []}
    for i in range(args.runs):
        for name, binary, port in (
            ("ferrokv", args.ferrokv_bin, args.port_base),
            ("redis", args.redis_bin, args.port_base + 1),
        ):
            r = one_run(binary, port, args)
            results[name].append(r)
            print(
                f"run {i + 1} {name:8} delivered {r['delivered_per_s']:>12,.0f} msg/s  "
                f"published {r['published_per_s']:>9,.0f}/s  server cpu {r['server_cpu']:.2f}",
                file=sys.stderr,
            )
    med = {k: statistics.median(x["delivered_per_s"] for x in v) for k, v in results.items()}
    print(
        f"fan-out, {args.subscribers} subscribers, {args.payload}-byte messages, "
        f"median of {args.runs} runs of {args.seconds}s:"
    )
    for k in ("ferrokv", "redis"):
        print(f"  {k:8} {med[k]:>12,.0f} messages delivered/s")
    if med["redis"] > 0:
        print(f"  ratio ferrokv/redis: {med['ferrokv'] / med['redis']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
