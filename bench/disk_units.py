#!/usr/bin/env python3
"""Latency of multi-command units on big field-level keys, disk engine (issue #7).

Starts ``ferrokv-server --storage-engine disk`` (``--appendfsync`` as given), builds a hash
``bighash`` and a set ``bigset`` of ``--size`` elements, a 300-member set ``midset`` (field-level,
below the native paths' 1024) and then times, one client, no pipelining across units:

* ``watch-multi-hset``: ``WATCH bighash; MULTI; HSET bighash f<i> v; EXEC``;
* ``multi-3``: ``MULTI; HSET bighash f<i> v; SADD bigset m<i>; SET small <i>; EXEC``;
* ``evalsha-3``: the same three writes in one EVALSHA;
* ``hset-top``: a plain ``HSET bighash f<i> v`` (native, its own batch);
* ``sadd-mid``: ``SADD midset m<i>`` (load path, written back as an element delta);
* ``multi-same-key`` (10 units only): ``MULTI; HINCRBY bighash cnt 1; HINCRBY bighash cnt 1;
  EXEC``: the second command on a key with staged operations reads through them (before
  that read-through existed it loaded the whole hash: 65 ms on 100K fields).

Prints the median and p90 per unit in microseconds. Python 3 standard library only.

    python3 bench/disk_units.py --bin target/release/ferrokv-server --port 42300
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time


def enc(*args: str) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Client:
    def __init__(self, port: int) -> None:
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def reply(self) -> object:
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t in (b"+", b":"):
            return rest.decode()
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return [self.reply() for _ in range(max(n, 0))]
        raise RuntimeError(f"bad reply {line!r}")

    def run(self, cmds: list[tuple[str, ...]]) -> list[object]:
        self.s.sendall(b"".join(enc(*c) for c in cmds))
        return [self.reply() for _ in cmds]


SCRIPT = ("redis.call('HSET', KEYS[1], 'f' .. ARGV[1], 'v') "
          "redis.call('SADD', KEYS[2], 'm' .. ARGV[1]) "
          "redis.call('SET', KEYS[3], ARGV[1]) return 1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--port", type=int, default=42300)
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--units", type=int, default=300)
    p.add_argument("--fsync", default="everysec")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        srv = subprocess.Popen([a.bin, "--port", str(a.port), "--dir", d, "--storage-engine",
                                "disk", "--appendfsync", a.fsync, "--save", ""],
                               stdout=subprocess.DEVNULL, stderr=None)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    c = Client(a.port)
                    c.run([("PING",)])
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            for key, cmd, n in (("bighash", "HSET", a.size), ("bigset", "SADD", a.size),
                                ("midset", "SADD", 300)):
                for lo in range(0, n, 1000):
                    args: list[str] = [cmd, key]
                    for i in range(lo, min(lo + 1000, n)):
                        args.append(f"seed{i}")
                        if cmd == "HSET":
                            args.append("x")
                    c.run([tuple(args)])
            sha = c.run([("SCRIPT", "LOAD", SCRIPT)])[0]
            units = {
                "watch-multi-hset": lambda i: [("WATCH", "bighash"), ("MULTI",),
                                               ("HSET", "bighash", f"w{i}", "v"), ("EXEC",)],
                "multi-3": lambda i: [("MULTI",), ("HSET", "bighash", f"t{i}", "v"),
                                      ("SADD", "bigset", f"t{i}"), ("SET", "small", str(i)),
                                      ("EXEC",)],
                "evalsha-3": lambda i: [("EVALSHA", sha, "3", "bighash", "bigset", "small",
                                         f"e{i}")],
                "hset-top": lambda i: [("HSET", "bighash", f"h{i}", "v")],
                "sadd-mid": lambda i: [("SADD", "midset", f"m{i}")],
                "multi-same-key": lambda i: [("MULTI",), ("HINCRBY", "bighash", "cnt", "1"),
                                             ("HINCRBY", "bighash", "cnt", "1"), ("EXEC",)],
            }
            for name, unit in units.items():
                times = []
                for i in range(10 if name == "multi-same-key" else a.units):
                    t0 = time.perf_counter()
                    c.run(unit(i))
                    times.append((time.perf_counter() - t0) * 1e6)
                times.sort()
                print(f"{name:18} median {statistics.median(times):9.0f} us"
                      f"   p90 {times[int(len(times) * 0.9)]:9.0f} us")
        finally:
            srv.kill()
            srv.wait()


if __name__ == "__main__":
    main()
