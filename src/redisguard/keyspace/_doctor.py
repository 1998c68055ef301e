"""The doctor's key analysis: the keys engine's report, cut to what the rules need.

A bounded sample (or, when it fits, a full scan) of one node, with the big-key pass of a sampled run:
every aggregate of at least :data:`~redisguard.keyspace._bigkeys.MIN_ELEMENTS` elements and every
string of at least a megabyte is measured exactly, so the big-key and backlog rules see them whatever
the sample drew. The caller (``cli/doctor``) hands :func:`doctor_key_sampler` to the collectors, which
know nothing of this engine.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from redisguard.keyspace._report import build_report
from redisguard.keyspace._scan import ScanSettings, scan_client
from redisguard.snapshot.keyspace import KeyspaceReport

__all__ = ["DOCTOR_PASS_BUDGET_S", "doctor_key_sampler", "sample_for_doctor"]

DOCTOR_PASS_BUDGET_S = 60.0  # the big-key pass stops here on a huge keyspace (and the report says so)


def sample_for_doctor(client: redis.Redis, *, max_keys: int, db: int = 0,
                      pass_budget_s: float | None = DOCTOR_PASS_BUDGET_S) -> KeyspaceReport:
    """Look at up to ``max_keys`` keys of ``db`` through ``client`` (a standalone server or one node).

    When the database holds at most ``max_keys`` keys it is scanned in full (``exact``); otherwise
    ``max_keys`` uniform draws (RANDOMKEY, with replacement) are analysed, and the big-key pass measures
    the big keys exactly beside them.
    """
    kwargs = client.connection_pool.connection_kwargs
    current = int(kwargs.get("db", 0) or 0)
    settings = ScanSettings(sample=max(1, max_keys), db=None if db == current else db, top_k=10,
                            budget_s=None)
    address = f"{kwargs.get('host', '')}:{kwargs.get('port', '')}" if kwargs.get("host") else ""
    scan = scan_client(client, settings, address=address, impact=False, pass_budget_s=pass_budget_s)
    report = build_report([scan], target=address, topology="standalone", cap=settings.cap, db=db)
    return report.for_doctor()


def doctor_key_sampler(max_keys: int) -> Callable[[redis.Redis], KeyspaceReport]:
    """What ``collect_snapshot(key_sampler=...)`` calls per node: :func:`sample_for_doctor` of the client's
    database (``redis://host:port/N`` samples db N)."""

    def sample(client: redis.Redis) -> KeyspaceReport:
        db = int(client.connection_pool.connection_kwargs.get("db", 0) or 0)
        return sample_for_doctor(client, max_keys=max_keys, db=db)

    return sample
