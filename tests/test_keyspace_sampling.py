"""Sampling: the 95 % intervals cover the true per-pattern counts and bytes at about the stated rate."""

from __future__ import annotations

import random

import pytest

from redisguard.connect import ConnectionOptions
from redisguard.keyspace import ScanSettings, Stratum, estimate, scan_deployment
from redisguard.localserver import LocalServer

RUNS = 60
DRAWS = 300


def build(server: LocalServer, seed: int = 11) -> dict[str, tuple[int, int]]:
    """2,000 keys in four patterns of different shares and size spreads; returns the truth per pattern."""
    rng = random.Random(seed)
    with server.client() as admin:
        pipe = admin.pipeline(transaction=False)
        for n in range(1000):
            pipe.set(f"page:{n}", "x" * rng.randint(10, 400))
        for n in range(500):
            pipe.hset(f"sess:{n}", mapping={f"f{i}": "v" * rng.randint(1, 20) for i in range(rng.randint(1, 12))})
        for n in range(400):
            pipe.rpush(f"queue:{n}", *("job" * rng.randint(1, 5) for _ in range(rng.randint(1, 60))))
        for n in range(100):
            pipe.set(f"flag:{n}", "1")
        pipe.execute()
        truth: dict[str, tuple[int, int]] = {}
        for prefix, count in (("page", 1000), ("sess", 500), ("queue", 400), ("flag", 100)):
            size = sum(int(admin.memory_usage(f"{prefix}:{n}")) for n in range(count))
            truth[f"{prefix}:*"] = (count, size)
    return truth


def test_confidence_intervals_cover_at_about_the_stated_rate(server: LocalServer) -> None:
    truth = build(server)
    options = ConnectionOptions.build(server.url)
    covered = checks = 0
    for _ in range(RUNS):  # each run draws afresh on the server (RANDOMKEY): independent repetitions
        report = scan_deployment(options, ScanSettings(sample=DRAWS))
        assert not report.exact and report.seen == DRAWS
        rows = {row.pattern: row for row in report.patterns}
        for pattern, (keys, size) in truth.items():
            row = rows.get(pattern)
            checks += 2
            if row is None:
                continue
            assert row.keys_low is not None and row.keys_high is not None
            assert row.bytes_low is not None and row.bytes_high is not None
            covered += row.keys_low <= keys <= row.keys_high
            covered += row.bytes_low <= size <= row.bytes_high
    rate = covered / checks
    # 480 intervals; a 95 % procedure lands within a few points of 0.95 (runs share nothing but the data)
    assert 0.88 <= rate <= 0.995, rate


def test_estimate_combines_exact_and_sampled_strata() -> None:
    exact = Stratum(population=100, draws=100, hits=40, bytes_sum=4000, bytes_sq_sum=160_000, exact=True)
    sampled = Stratum(population=1000, draws=100, hits=50, bytes_sum=5000, bytes_sq_sum=500_000)
    est = estimate([exact, sampled])
    assert est.keys == pytest.approx(40 + 500)
    assert est.bytes == pytest.approx(4000 + 50_000)
    assert est.keys_low < est.keys < est.keys_high
    alone = estimate([exact])
    assert (alone.keys_low, alone.keys, alone.keys_high) == (40, 40, 40)
