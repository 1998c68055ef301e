"""Keeping the scan's impact on production bounded: ``--rate`` (keys/s) and ``--max-impact MS``.

How other clients feel a scan. Redis runs one command at a time; a pipelined batch from the scanner is
read in chunks of up to 16 KB per event-loop turn, and every command in a chunk runs before the next
client is served. What another client sees is therefore the time the server spends on the scanner's
chunk ahead of it, not the scanner's throughput. So ``--max-impact`` measures exactly that: with one
batch in flight at a time, the scanner sends a PING on a second connection right behind each batch
and times it against the PING latency measured while idle before the scan. Added latency over the
budget shrinks the batch; comfortably under it, the batch grows by a tenth. See
:meth:`Throttle.observe` for the two measures used. The keys scan probes every batch only until INFO
commandstats has given the server's own cost per command (after 0.1 s); then every 20 ms, and sizes the
batches in between by that cost (:meth:`Throttle.observe_untimed`), so the client aggregates one batch
while the server runs the next instead of waiting on a PING each time (``fix``'s bulk work probes every
batch, as before).

The batch bounds how long one wait behind the scanner can be; how *often* others wait depends on how
busy the server is. So once a second the probe connection also reads ``INFO stats``: the server's
``instantaneous_ops_per_sec`` and its ``total_commands_processed``, whose growth less the commands the
scanner itself sent is the other clients' load. Their share of the server's time is estimated from that
rate and the per-command cost the scanner measures on its own batches; the scanner then takes at most
what keeps the server under 70 % busy (between 5 % and 50 % of its time) by pausing after each batch:
a server that other clients already keep busy gets a slower scan, an idle one a faster one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redisguard._wire.info import parse_info_text
from redisguard._wire.pipe import RawPipe

__all__ = ["ServerLoad", "Throttle"]

_PING = b"*1\r\n$4\r\nPING\r\n"
_INFO_STATS = b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n"
_INFO_COMMANDSTATS = b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n"
# What the scanner sends: their usec counters in INFO commandstats are the server's own time on them.
_SCAN_COMMANDS = frozenset({"memory|usage", "memory", "pttl", "object|encoding", "object", "strlen", "llen", "hlen",
                            "scard", "zcard", "xlen", "type", "scan", "randomkey"})
_MIN_BATCH = 5
_LOAD_INTERVAL_S = 1.0  # how often INFO stats is read (its instantaneous ops are a ~1.6 s average)
# The second reading comes this soon: until two readings give the server's own cost per command, each
# batch is sized by its round trip, which a busy machine inflates (measured: batches of 11-55 keys for
# the first second, 75-115 after).
_FIRST_INTERVAL_S = 0.1
_TARGET_BUSY = 0.7  # the server's busy share, others' and the scanner's together, to stay under
_MIN_DUTY = 0.05  # the scan always gets at least this share of the server's time...
_MAX_DUTY = 0.5  # ...and never more than this
_MAX_PAUSE_S = 0.25
_PROBE_INTERVAL_S = 0.02  # the keys scan: once the server's own cost is known, a probe PING this often


@dataclass
class ServerLoad:
    """What ``INFO stats`` said of the load, for the report (``--max-impact`` only)."""

    server_ops_per_s: int = 0  # the highest instantaneous_ops_per_sec read
    others_ops_per_s: float = 0.0  # the highest rate of commands from other clients
    min_duty: float = _MAX_DUTY  # the smallest share of the server's time the scan allowed itself
    readings: int = 0


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
    load: ServerLoad = field(default_factory=ServerLoad)
    duty: float = _MAX_DUTY  # the share of the server's time the scan may take (impact mode)
    _cost_s: float | None = None  # server seconds per scanner command, smoothed
    # The same from INFO commandstats (the server's own usec, not a round trip a busy machine inflates).
    _server_cost_s: float | None = None
    _last_usec: tuple[int, int] | None = None  # (usec of the scanner's commands, own commands then)
    _modeled_s: float = 0.0  # the last batch's server time by that measure
    _last_stats: tuple[float, int, int] | None = None  # (time, total_commands_processed, own + probe's)
    _pings: int = 0  # PINGs and INFOs the probe sent: commands that are not the other clients' either
    _load_visible: bool = True
    _started: float | None = None
    _sent: int = 0
    _next_probe: float = 0.0
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
        self._pings += 1
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

    def observe(self, batch_seconds: float, probe_added_ms: float, commands: int = 0) -> None:
        """Adapt the batch to the worse of two measures of the impact of the batch just done.

        The batch's own round trip (less an idle round trip) is how long the server was busy with it,
        and so the longest another client could have waited behind it: measured on Redis 7.0, other
        clients' p99 follows it closely, while a PING sent behind the batch often slips in between
        its chunks and under-reports. The PING still matters when *other* load slows the server.
        """
        if self.max_impact_ms is None:
            return
        busy_ms = batch_seconds * 1000.0 - self.baseline_ms
        if commands > 0 and busy_ms > 0:
            cost = busy_ms / 1000.0 / commands
            self._cost_s = cost if self._cost_s is None else 0.8 * self._cost_s + 0.2 * cost
        if self._server_cost_s is not None and commands > 0:
            # The server's own time on the batch is how long another client could wait behind it; the round
            # trip also counts the time either process waited for a CPU, which on a busy machine is most of it.
            self._modeled_s = commands * self._server_cost_s
            added = max(self._modeled_s * 1000.0, min(probe_added_ms, 2 * self._modeled_s * 1000.0))
        else:
            self._modeled_s = 0.0
            added = max(probe_added_ms, busy_ms)
        self._resize(added)

    def probe_due(self) -> bool:
        """Whether the next batch should be timed with a probe PING (:meth:`probe_in_flight`): every batch
        until INFO commandstats has given the server's own cost per command, then every 20 ms. A batch
        without one is sized by that cost alone (:meth:`observe_untimed`), and the client does its own
        work while the server runs it instead of waiting for the PING."""
        if self._probe is None or self.max_impact_ms is None:
            return False
        if self._server_cost_s is None:
            return True
        now = self.clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + _PROBE_INTERVAL_S
        return True

    def observe_untimed(self, commands: int) -> None:
        """Adapt the batch after one sent without a probe: its server time is its commands times the
        server's own cost per command (nothing is learnt before that cost is known)."""
        if self.max_impact_ms is None or self._server_cost_s is None or commands <= 0:
            return
        self._modeled_s = commands * self._server_cost_s
        self._resize(self._modeled_s * 1000.0)

    def _resize(self, added: float) -> None:
        assert self.max_impact_ms is not None
        self.probes.append(added)
        if len(self.probes) > 10_000:
            del self.probes[:5_000]
        # Aim well under the budget: a batch's cost varies with the keys in it, and other clients also
        # pay their own round trip on top of the wait.
        if added > 0.4 * self.max_impact_ms:
            self.batch = max(_MIN_BATCH, int(self.batch * 0.7))
        elif added < 0.25 * self.max_impact_ms:
            self.batch = min(self.max_batch, self.batch + max(1, self.batch // 10))

    def watch_load(self, own_commands: int) -> None:
        """Read INFO stats on the probe connection at most once per interval and set :attr:`duty`.

        ``own_commands`` is how many commands the scanner has sent in all, so that its own share of the
        server's command count can be taken out.
        """
        if self._probe is None or self.max_impact_ms is None or not self._load_visible:
            return
        now = self.clock()
        interval = _LOAD_INTERVAL_S if self.load.readings >= 2 else _FIRST_INTERVAL_S
        if self._last_stats is not None and now - self._last_stats[0] < interval:
            return
        self._pings += 1
        self._probe.send(_INFO_STATS, 1)
        reply = self._probe.read()
        stats = parse_info_text(reply.decode("ascii", "replace")).get("stats", {}) if reply.__class__ is bytes else {}
        if not stats.get("total_commands_processed", "").isdigit():  # INFO denied or renamed: latency alone paces
            self._load_visible = False
            return
        total = int(stats["total_commands_processed"])
        self.load.readings += 1
        if stats.get("instantaneous_ops_per_sec", "").isdigit():
            self.load.server_ops_per_s = max(self.load.server_ops_per_s, int(stats["instantaneous_ops_per_sec"]))
        ours = own_commands + self._pings  # the scanner's commands and the probe's are not the others' load
        if self._last_stats is not None:
            then, before, ours_before = self._last_stats
            # total_commands_processed counts a command once it has run, so neither reading counts its own
            # INFO: between the two, ours - ours_before of the server's commands were the scanner's.
            others = max(0.0, (total - before - (ours - ours_before)) / max(now - then, 1e-3))
            self.set_others_rate(others)
        self._last_stats = (now, total, ours)
        self._read_command_costs(ours)

    def _read_command_costs(self, ours: int) -> None:
        """The server's usec per scanner command from INFO commandstats (between two readings)."""
        assert self._probe is not None
        self._pings += 1
        self._probe.send(_INFO_COMMANDSTATS, 1)
        reply = self._probe.read()
        if reply.__class__ is not bytes:
            return
        section = parse_info_text(reply.decode("ascii", "replace")).get("commandstats", {})
        usec = 0
        for name, value in section.items():
            if name.removeprefix("cmdstat_") in _SCAN_COMMANDS:
                fields = dict(item.split("=", 1) for item in value.split(",") if "=" in item)
                usec += int(fields.get("usec", "0") or 0)
        if self._last_usec is not None and ours > self._last_usec[1] and usec >= self._last_usec[0]:
            self.set_server_cost((usec - self._last_usec[0]) / 1e6 / (ours - self._last_usec[1]))
        self._last_usec = (usec, ours)

    def set_server_cost(self, seconds_per_command: float) -> None:
        """The server's own time per scanner command (smoothed), as INFO commandstats measured it."""
        cost = seconds_per_command
        self._server_cost_s = cost if self._server_cost_s is None else 0.5 * self._server_cost_s + 0.5 * cost
        self._cost_s = self._server_cost_s

    def set_others_rate(self, others_per_s: float) -> None:
        """The share of the server's time the scan may take, given the other clients' command rate."""
        self.load.others_ops_per_s = max(self.load.others_ops_per_s, others_per_s)
        others_busy = min(1.0, others_per_s * (self._cost_s or 0.0))
        self.duty = min(_MAX_DUTY, max(_MIN_DUTY, _TARGET_BUSY - others_busy))
        self.load.min_duty = min(self.load.min_duty, self.duty)

    def after_batch(self, seconds: float) -> None:
        """Leave the server to everyone else after a batch, so the scan takes at most :attr:`duty` of its
        time (impact mode only). With the server's own cost known, the time the batch's round trip spent
        beyond it (the network, the client, waiting for a CPU) already counts as the pause."""
        if self.max_impact_ms is None:
            return
        if self._modeled_s > 0:
            pause = self._modeled_s * (1.0 / self.duty - 1.0) - max(0.0, seconds - self._modeled_s)
            if pause > 0:
                self.sleep(min(_MAX_PAUSE_S, pause))
            return
        self.sleep(min(_MAX_PAUSE_S, seconds * (1.0 / self.duty - 1.0)))
