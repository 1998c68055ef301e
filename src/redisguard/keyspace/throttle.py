"""Keeping the scan's impact on production bounded: ``--rate`` (keys/s) and ``--max-impact MS``.

How other clients feel a scan. Redis runs one command at a time; a pipelined batch from the scanner is
read in chunks of up to 16 KB per event-loop turn, and every command in a chunk runs before the next
client is served. What another client sees is therefore the time the server spends on the scanner's
chunk ahead of it, not the scanner's throughput. So ``--max-impact`` measures exactly that: with one
batch in flight at a time, the scanner sends a PING on a second connection right behind each batch
and times it against the PING latency measured while idle before the scan. Added latency over the
budget shrinks the batch; comfortably under it, the batch grows by a tenth. A short pause after
each batch leaves the server (and, on a small machine, the CPU) to everyone else. See
:meth:`Throttle.observe` for the two measures used.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redisguard.keyspace.resp import RawPipe

__all__ = ["Throttle"]

_PING = b"*1\r\n$4\r\nPING\r\n"
_MIN_BATCH = 5


@dataclass
class Throttle:
    """Pacing for one node's scan. ``rate`` caps keys/s; ``max_impact_ms`` bounds added latency."""

    rate: float | None = None
    max_impact_ms: float | None = None
    max_batch: int = 1000
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    batch: int = 0
    baseline_ms: float = 0.0
    probes: list[float] = field(default_factory=list)  # added latency (ms) seen by each probe PING
    _started: float | None = None
    _sent: int = 0
    _probe: RawPipe | None = None

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ValueError("--rate must be positive")
        if self.max_impact_ms is not None and self.max_impact_ms <= 0:
            raise ValueError("--max-impact must be positive")
        self.batch = self.max_batch
        if self.max_impact_ms is not None:
            self.batch = min(self.max_batch, 50)
        if self.rate is not None:
            self.batch = max(1, min(self.batch, int(self.rate / 10) or 1))

    @property
    def serial(self) -> bool:
        """One batch in flight at a time (needed to measure and bound each batch's impact)."""
        return self.max_impact_ms is not None

    @property
    def active(self) -> bool:
        return self.rate is not None or self.max_impact_ms is not None

    def attach_probe(self, probe: RawPipe) -> None:
        """A second connection for PINGs; measures the idle baseline now, before the scan starts."""
        self._probe = probe
        samples = [self._ping_ms() for _ in range(15)]
        self.baseline_ms = statistics.median(samples)

    def _ping_ms(self) -> float:
        assert self._probe is not None
        start = time.perf_counter()
        self._probe.send(_PING, 1)
        self._probe.read()
        return (time.perf_counter() - start) * 1000.0

    def before_send(self, keys: int) -> None:
        """Sleep as long as the rate cap requires before ``keys`` more keys go out."""
        now = self.clock()
        if self._started is None:
            self._started = now
        if self.rate is not None:
            due = self._started + self._sent / self.rate
            if due > now:
                self.sleep(due - now)
        self._sent += keys

    def probe_in_flight(self) -> float:
        """Called right after a batch was written: time a PING queued behind it (added ms)."""
        if self._probe is None or self.max_impact_ms is None:
            return 0.0
        return max(0.0, self._ping_ms() - self.baseline_ms)

    def observe(self, batch_seconds: float, probe_added_ms: float) -> None:
        """Adapt the batch to the worse of two measures of the impact of the batch just done.

        The batch's own round trip (less an idle round trip) is how long the server was busy with it,
        and so the longest another client could have waited behind it: measured on Redis 7.0, other
        clients' p99 follows it closely, while a PING sent behind the batch often slips in between
        its chunks and under-reports. The PING still matters when *other* load slows the server.
        """
        if self.max_impact_ms is None:
            return
        added = max(probe_added_ms, batch_seconds * 1000.0 - self.baseline_ms)
        self.probes.append(added)
        if len(self.probes) > 10_000:
            del self.probes[:5_000]
        # Aim well under the budget: a batch's cost varies with the keys in it, and other clients also
        # pay their own round trip on top of the wait.
        if added > 0.4 * self.max_impact_ms:
            self.batch = max(_MIN_BATCH, int(self.batch * 0.7))
        elif added < 0.25 * self.max_impact_ms:
            self.batch = min(self.max_batch, self.batch + max(1, self.batch // 10))

    def after_batch(self, seconds: float) -> None:
        """Leave the server to everyone else for a while after a batch (impact mode only)."""
        if self.max_impact_ms is not None:
            self.sleep(min(0.05, seconds))
