"""Forecast accuracy against a real Redis, through the exporter's own collection path.

A writer grows memory at a steady pace for 30 s, with a sawtooth on top (temporary keys written alongside
and deleted every 2.5 s, as expiry or a cleanup job does), while the exporter's Target collects every
0.5 s. The true rate is the least-squares slope of the counted memory read from INFO right after each
cleanup (the troughs), and the true time to the limit is the headroom at the forecast's own last sample
divided by that rate. The exporter's estimate must be within 25 % of it (measured: within 1 %).

The bounds must contain the truth; the truth is itself a fit, so this is checked as "the forecast's
interval overlaps the truth's 95 % interval". Sen's interval alone was about ±0.6 % wide here and missed
the truth's by 0.3-0.6 % (e.g. bounds 281.2-284.8 s, truth 285.8-286.3 s); the forecast now allows the
rate at least ±5 % (RATE_SPREAD_FLOOR), since a slope fitted over the past window says little about how
steady the next minutes are.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest

from redisguard.connect import ConnectionOptions
from redisguard.exporter import ExporterSettings, Target

pytestmark = pytest.mark.slow


def _counted(client) -> tuple[float, int]:
    info = client.info("memory")
    return time.time(), int(info["used_memory"]) - int(info.get("mem_not_counted_for_evict", 0))


CYCLE = 125  # writes between two cleanups of the temporary keys


def _writer(client, stop: threading.Event, period: float, troughs: list[tuple[float, int]]) -> None:
    value = "v" * 4000
    began = time.monotonic()
    index = 0
    while not stop.is_set():  # a fixed schedule, so the growth is linear however long each write takes
        client.set(f"grow:{index}", value)
        client.set(f"tmp:{index % CYCLE}", value)
        index += 1
        if index % CYCLE == 0:
            client.delete(*[f"tmp:{n}" for n in range(CYCLE)])
            troughs.append(_counted(client))
        pause = began + index * period - time.monotonic()
        if pause > 0:
            stop.wait(pause)


@pytest.fixture
def measured(redis_binary, make_server) -> tuple[Any, float, float, float]:
    """(forecast, truth's lower, truth, truth's upper), seconds to the limit."""
    from tests.conftest import BINARIES

    if redis_binary != BINARIES[0]:
        pytest.skip("a 30 s measurement: run once, on the newest Redis")
    maxmemory = 64 * 1024 * 1024
    server = make_server(maxmemory=str(maxmemory), maxmemory_policy="noeviction")
    target = Target(ConnectionOptions.build(server.url, environ={}),
                    ExporterSettings(cache_ttl=0, keys_interval=0, max_streams=0))
    stop = threading.Event()
    troughs: list[tuple[float, int]] = []
    writer = threading.Thread(target=_writer, args=(server.client(), stop, 0.02, troughs), daemon=True)
    try:
        target.collect()
        writer.start()
        ends = time.monotonic() + 30
        while time.monotonic() < ends:
            target.collect()
            time.sleep(0.5)
        result = target.collect()
    finally:
        stop.set()
        writer.join(timeout=10)
        target.close()
    seen = troughs[1:]  # the first cleanup comes before the sawtooth is established
    assert len(seen) >= 8
    mean_t = sum(t for t, _ in seen) / len(seen)
    mean_b = sum(b for _, b in seen) / len(seen)
    spread = sum((t - mean_t) ** 2 for t, _ in seen)
    true_rate = sum((t - mean_t) * (b - mean_b) for t, b in seen) / spread
    residuals = [b - (mean_b + true_rate * (t - mean_t)) for t, b in seen]
    rate_error = 2 * math.sqrt(sum(r * r for r in residuals) / (len(seen) - 2) / spread)
    (node,) = result.nodes
    fc = node.forecast
    assert fc is not None, "no forecast after 30 s of steady growth"
    headroom = maxmemory - fc.current_bytes
    true_seconds = headroom / true_rate
    true_low, true_high = headroom / (true_rate + rate_error), headroom / (true_rate - rate_error)
    assert abs(fc.rate_bytes_per_second - true_rate) <= 0.25 * true_rate
    return fc, true_low, true_seconds, true_high


@pytest.mark.timeout(120)
def test_forecast_estimate_is_within_25_percent_of_the_truth(measured) -> None:
    fc, _, true_seconds, _ = measured
    assert fc.consequence == "write errors"  # noeviction: the limit means refused writes
    assert abs(fc.seconds_to_limit - true_seconds) <= 0.25 * true_seconds, (fc, true_seconds)
    assert fc.seconds_lower <= fc.seconds_to_limit <= fc.seconds_upper


@pytest.mark.timeout(120)
def test_forecast_bounds_contain_the_truth(measured) -> None:
    fc, true_low, true_seconds, true_high = measured
    assert fc.seconds_lower <= true_high and true_low <= fc.seconds_upper, (fc, true_low, true_seconds, true_high)
