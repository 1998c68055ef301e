"""Sizing fix's bulk batches by the server's own time on them (pure: no I/O).

Measured on Redis 7.0.15 (200k matching keys + 100k others, ``--max-impact 1``, 1 December 2026): the
keys engine's throttle sized the per-key batch only, and the runner asked ``SCAN ... COUNT 4 x batch``.
A single multi-key UNLINK is one command, so the throttle let its batch grow to 1,000 keys and with it
``SCAN COUNT 4000``: INFO commandstats put that SCAN at about 1.1 us per COUNT (4.5 ms per call, p99
5.9 ms by INFO latencystats) and the 1,000-key UNLINK at about 1.5 ms, each one blocking call that no
other client can slip between. Lazyfree played no part (``lazyfreed_objects`` 0: small values are freed
synchronously); a plain DEL loop and ``activerehashing no`` gave the same excess.

So each kind of command the runner sends gets its cost per unit from INFO commandstats (usec per
COUNT for SCAN, per key argument otherwise), and the next SCAN's COUNT and the next batch's keys are
capped so that either one costs the server at most :data:`SHARE` of the ``--max-impact`` budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["FIRST_BATCH", "SHARE", "BulkPace", "command_name", "key_args"]

SHARE = 0.3  # one blocking call (a SCAN, an UNLINK of many keys) may take this share of the budget
MIN_SCAN_COUNT = 10
FIRST_SCAN_COUNT = 100  # until the server's cost is known: ~0.1 ms on a 7.0 keyspace of small keys
MIN_BATCH = 5
FIRST_BATCH = 100  # keys per batch until its cost is known (~0.15 ms of UNLINK or EXPIRE on 7.0)
# Commands that name several keys, each a unit of work; every other command is one unit.
_MULTI_KEY = frozenset({"unlink", "del"})


def command_name(resp: bytes) -> str:
    """The lowercase name of one RESP command (``*N\\r\\n$L\\r\\nNAME\\r\\n...``)."""
    return resp.split(b"\r\n", 3)[2].decode("ascii", "replace").lower()


def key_args(resp: bytes, name: str) -> int:
    """How many units of work the command is: its key arguments for UNLINK/DEL, else 1."""
    if name in _MULTI_KEY:
        return max(1, int(resp[1:resp.index(b"\r\n")]) - 1)
    return 1


def _usec(commandstats: Mapping[str, str], name: str) -> int | None:
    """The server's total usec on ``name`` and its subcommands (``memory|usage`` on 7.0+, ``memory`` on 6.2)."""
    total, seen = 0, False
    for key, value in commandstats.items():
        base = key.removeprefix("cmdstat_").partition("|")[0]
        if base != name:
            continue
        for item in value.split(","):
            label, _, number = item.partition("=")
            if label == "usec" and number.isdigit():
                total, seen = total + int(number), True
    return total if seen else None


@dataclass
class BulkPace:
    """Per-command server cost (usec per unit), learnt between two INFO commandstats readings."""

    budget_ms: float
    cost_us: dict[str, float] = field(default_factory=dict)  # usec per unit, smoothed
    units: dict[str, int] = field(default_factory=dict)  # units sent since the last reading
    _usec: dict[str, int] = field(default_factory=dict)  # usec at the last reading
    _readings: int = 0

    def sent(self, name: str, units: int) -> None:
        self.units[name] = self.units.get(name, 0) + units

    def sent_batch(self, commands: Iterable[bytes]) -> dict[str, int]:
        """Record a batch's commands; returns its units per command name."""
        batch: dict[str, int] = {}
        for resp in commands:
            name = command_name(resp)
            batch[name] = batch.get(name, 0) + key_args(resp, name)
        return self.sent_units(batch)

    def sent_units(self, batch: Mapping[str, int]) -> dict[str, int]:
        """Record a batch given as units per command name; returns them."""
        for name, units in batch.items():
            self.sent(name, units)
        return dict(batch)

    def read(self, commandstats: Mapping[str, str]) -> None:
        """A new INFO commandstats reading: the cost per unit of every command sent since the last one.

        A command the server has not run yet has no line: 0 usec so far, once one reading was taken."""
        first = self._readings == 0
        self._readings += 1
        for name in set(self.units) | set(self._usec):
            usec = _usec(commandstats, name)
            if usec is None:
                usec = 0
            before = self._usec.get(name, None if first else 0)
            units = self.units.get(name, 0)
            if before is not None and units > 0 and usec > before:
                cost = (usec - before) / units
                old = self.cost_us.get(name)
                self.cost_us[name] = cost if old is None else 0.5 * old + 0.5 * cost
            self._usec[name] = usec
            self.units[name] = 0

    def estimate_ms(self, batch: Mapping[str, int]) -> float | None:
        """The server's time on a batch (units per command name), where every command's cost is known."""
        if not batch or any(name not in self.cost_us for name in batch):
            return None
        return sum(self.cost_us[name] * units for name, units in batch.items()) / 1000.0

    def scan_count(self, wanted: int) -> int:
        """The COUNT for the next SCAN: ``wanted``, capped so that one SCAN stays within its share."""
        cost = self.cost_us.get("scan")
        cap = FIRST_SCAN_COUNT if cost is None or cost <= 0 else int(SHARE * self.budget_ms * 1000.0 / cost)
        return max(MIN_SCAN_COUNT, min(wanted, cap))

    def batch_cap(self, batch: Mapping[str, int], keys: int) -> int:
        """The most keys a batch like this one may hold to stay within its share; :data:`FIRST_BATCH` until
        its cost is known (measured: without it the throttle grew a many-key UNLINK to 1,000 keys, 1.5 ms,
        in the fraction of a second before the first INFO commandstats reading)."""
        spent = self.estimate_ms(batch)
        if spent is None or spent <= 0 or keys <= 0:
            return FIRST_BATCH
        return max(MIN_BATCH, int(keys * SHARE * self.budget_ms / spent))
