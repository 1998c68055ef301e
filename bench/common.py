"""What several bench scripts share: another client timing PINGs, a process's CPU time, and a plain string
keyspace to act on."""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from pathlib import Path

import redis

__all__ = ["LatencyProbe", "cpu_seconds", "fill_strings"]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The CPU time process ``pid`` has used so far (user + system, from ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


class LatencyProbe:
    """Another client: one PING every 2 ms on its own connection, timing each round trip; stops by itself after
    ``limit_s`` if nobody stops it."""

    def __init__(self, port: int, limit_s: float = 1800.0) -> None:
        self.port = port
        self.limit_s = limit_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            deadline = time.monotonic() + self.limit_s
            while not self._stop.is_set() and time.monotonic() < deadline:
                start = time.perf_counter()
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                got = b""
                while not got.endswith(b"\r\n"):
                    got += sock.recv(64)
                self.samples.append((time.perf_counter() - start) * 1000)
                time.sleep(0.002)

    def __enter__(self) -> LatencyProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def percentiles(self) -> tuple[float, float]:
        """(p50, p99) in ms of the round trips so far."""
        if len(self.samples) < 2:
            return float("nan"), float("nan")
        cuts = statistics.quantiles(self.samples, n=100)
        return cuts[49], cuts[98]

    def p99(self) -> float:
        return self.percentiles()[1]


def fill_strings(client: redis.Redis, count: int, prefix: str) -> None:
    """``count`` keys ``<prefix>0`` … each holding ``"v"``, in pipelines of 20,000."""
    for start in range(0, count, 20_000):
        pipe = client.pipeline(transaction=False)
        for index in range(start, min(count, start + 20_000)):
            pipe.set(f"{prefix}{index}", "v")
        pipe.execute()
