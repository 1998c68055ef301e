"""The forecast on a real Redis's memory accounting: writes at a known rate (with deletions making a
sawtooth), then writes on until Redis refuses them, and compares the forecast with what happened.

Time is the write step (one step = one second of the simulated workload), not the wall clock: the
machine is shared, and a test never asserts timings. The memory is Redis's own (INFO used_memory and
mem_not_counted_for_evict, as the exporter reads them), with jemalloc size classes, key overhead and
hash-table growth in it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import redis

from redisguard.forecast import counted_memory, forecast
from redisguard.localserver import LocalServer

MAXMEMORY = 48 * 1024 * 1024
WARM_UP_STEPS = 60            # the history the forecast is made from ("grow for 30 s", twice over)
PERIOD = 4                    # every 4th step deletes most of what the last 3 wrote: the sawtooth


def _counted(client: redis.Redis) -> int:
    info = client.info("memory")
    return counted_memory(int(info["used_memory"]), int(info.get("mem_not_counted_for_evict", 0)))


def _step(client: redis.Redis, step: int, rng: random.Random, recent: list[str]) -> None:
    if step % PERIOD == PERIOD - 1:   # "expiry": drop two thirds of the last cycle's keys
        doomed = recent[: len(recent) * 2 // 3]
        if doomed:
            client.delete(*doomed)
        recent.clear()
        return
    for index in range(3):
        key = f"k:{step}:{index}"
        client.set(key, b"x" * rng.randint(40_000, 120_000))
        recent.append(key)


def test_forecast_on_real_redis_memory_is_within_25_percent_and_its_bounds_hold_the_truth(
    make_server: Callable[..., LocalServer],
) -> None:
    srv = make_server(maxmemory=MAXMEMORY, maxmemory_policy="noeviction")
    client: redis.Redis = srv.client()
    rng = random.Random(2024)
    recent: list[str] = []
    samples: list[tuple[float, int]] = []
    for step in range(WARM_UP_STEPS):
        _step(client, step, rng, recent)
        samples.append((float(step), _counted(client)))
    made = forecast(samples, MAXMEMORY, client.config_get("maxmemory-policy")["maxmemory-policy"])
    assert made is not None
    assert made.consequence == "write errors"
    assert made.current_bytes == samples[-1][1]
    # write on with the same workload until Redis refuses a write (noeviction: OOM)
    step = WARM_UP_STEPS
    reached = None
    while reached is None and step < WARM_UP_STEPS + 2000:
        try:
            _step(client, step, rng, recent)
        except redis.exceptions.OutOfMemoryError:
            reached = step
        else:
            if _counted(client) >= MAXMEMORY:
                reached = step
        step += 1
    assert reached is not None
    truth = reached - (WARM_UP_STEPS - 1)
    assert abs(made.seconds_to_limit - truth) <= 0.25 * truth, (made, truth)
    assert made.seconds_lower <= truth <= made.seconds_upper, (made, truth)
