"""redisguard.streams against raw redis-py, in one run, on a redis-server this script starts on loopback.

1. producer throughput: the yardstick is a plain synchronous redis-py client with hiredis writing the same
   batches with a non-transactional pipeline; vs the Producer with every gate on
2. consumer throughput: a plain synchronous XREADGROUP + XACK loop (hiredis) vs Consumer (handler does
   nothing). Both pairs alternate (which side runs first changes each round), --rounds times (default 3);
   the table gives min / median / max of each side and of the ratio per pair.
3. producer memory while upstream outpaces Redis (maxmemory 64mb, noeviction, consumer stopped) for
   --seconds (default 60), the same upstream (UPSTREAM_RATE events/s) for both: the guarded Producer vs
   a naive producer with an unbounded asyncio.Queue that re-queues refused events (stopped at 1 GiB).
   Each runs in a child process whose RSS is sampled.
Usage: python bench/streams.py [--events N] [--rounds R] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import psutil
import redis
import redis.asyncio as aredis

from redisguard.localserver import LocalServer, find_redis_binaries
from redisguard.streams import Consumer, Entry, Producer

BATCH = 500
PAYLOAD = {"source": "websocket", "body": "x" * 100}


def plain_produce(url: str, stream: str, events: int) -> float:
    """The yardstick: a plain synchronous redis-py client (hiredis parser), non-transactional pipeline of
    BATCH XADDs per round trip, the same payload."""
    client = redis.Redis.from_url(url, protocol=2)
    start = time.perf_counter()
    for offset in range(0, events, BATCH):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(BATCH, events - offset)):
            pipe.xadd(stream, PAYLOAD)
        pipe.execute()
    elapsed = time.perf_counter() - start
    client.close()
    return events / elapsed


async def guarded_produce(url: str, stream: str, events: int) -> float:
    """The Producer with every gate on: memory (INFO), backlog (the group's lag or XLEN), OOM replies."""
    start = time.perf_counter()
    async with Producer(url, memory_limit=0.8, high_water=10_000_000, batch_size=BATCH,
                        max_buffer_events=10 * BATCH) as producer:
        for _ in range(events):
            await producer.send(stream, PAYLOAD)
    return events / (time.perf_counter() - start)


def fill(url: str, stream: str, events: int) -> None:
    client = redis.Redis.from_url(url, protocol=2)
    client.delete(stream)
    for offset in range(0, events, 5_000):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(5_000, events - offset)):
            pipe.xadd(stream, PAYLOAD)
        pipe.execute()
    client.xgroup_create(stream, "g", id="0")
    client.close()


def plain_consume(url: str, stream: str, events: int) -> float:
    """The yardstick: a plain synchronous XREADGROUP (BATCH entries) + XACK loop with hiredis."""
    client = redis.Redis.from_url(url, protocol=2)
    done, start = 0, time.perf_counter()
    while done < events:
        reply = client.xreadgroup("g", "c", {stream: ">"}, count=BATCH)
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        client.xack(stream, "g", *ids)
        done += len(ids)
    elapsed = time.perf_counter() - start
    client.close()
    return events / elapsed


async def guarded_consume(url: str, stream: str, events: int) -> float:
    count = 0
    finished = asyncio.Event()

    async def handler(entry: Entry) -> None:
        nonlocal count
        count += 1
        if count >= events:
            finished.set()

    consumer = Consumer(url, stream=stream, group="g", name="c", handler=handler,
                        batch_size=BATCH, block_ms=10, concurrency=BATCH)
    start = time.perf_counter()
    task = asyncio.create_task(consumer.run())
    await finished.wait()
    elapsed = time.perf_counter() - start
    consumer.stop()
    await task
    return events / elapsed


def _stats(values: list[float]) -> str:
    return f"{min(values):,.0f} / {statistics.median(values):,.0f} / {max(values):,.0f}"


def throughput(url: str, events: int, rounds: int) -> list[tuple[str, str, str, str]]:
    """Alternating pairs (the yardstick first in odd rounds, second in even ones), ratio per pair."""
    produce: list[tuple[float, float]] = []
    consume: list[tuple[float, float]] = []
    for index in range(rounds):
        order = ("plain", "ours") if index % 2 == 0 else ("ours", "plain")
        result: dict[str, float] = {}
        for side in order:
            with redis.Redis.from_url(url) as admin:
                admin.delete("bench")
                admin.xgroup_create("bench", "lagging", id="$", mkstream=True)  # the backlog gate has a group
            result[side] = (plain_produce(url, "bench", events) if side == "plain"
                            else asyncio.run(guarded_produce(url, "bench", events)))
        produce.append((result["plain"], result["ours"]))
        for side in order:
            fill(url, "bench", events)
            result[side] = (plain_consume(url, "bench", events) if side == "plain"
                            else asyncio.run(guarded_consume(url, "bench", events)))
        consume.append((result["plain"], result["ours"]))
        with redis.Redis.from_url(url) as admin:
            admin.delete("bench")
    rows = []
    for name, pairs in (("producer events/s", produce), ("consumer events/s (with ack)", consume)):
        ratios = [ours / plain for plain, ours in pairs]
        rows.append((name, _stats([p for p, _ in pairs]), _stats([o for _, o in pairs]),
                     f"{min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f}"))
    return rows


UPSTREAM_RATE = 20_000  # events/s offered by the upstream in the overflow run: 5x the incident's firehose


async def child(mode: str, url: str, seconds: float) -> None:
    """Upstream at UPSTREAM_RATE events/s for ``seconds``; print RSS samples (MiB) and events accepted as JSON.

    Both producers get the same upstream. The guarded one slows it down (``send`` waits while a gate is
    closed); the naive one accepts everything into an unbounded queue and re-queues what Redis refuses,
    as the ingester of seeds/001 did.
    """
    process = psutil.Process()
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    stop = False
    accepted = 0

    async def sampler() -> None:
        while not stop:
            samples.append(process.memory_info().rss / 2**20)
            await asyncio.sleep(0.5)

    async def paced(offer: Callable[[], Awaitable[None]]) -> None:
        nonlocal accepted
        start = time.monotonic()
        while time.monotonic() < deadline and process.memory_info().rss < 2**30:
            for _ in range(100):
                await offer()
                accepted += 1
            ahead = start + accepted / UPSTREAM_RATE - time.monotonic()
            await asyncio.sleep(max(0.0, ahead))

    sampling = asyncio.create_task(sampler())
    if mode == "guarded":
        producer = Producer(url, memory_limit=0.8, batch_size=BATCH)
        await producer.start()

        async def send() -> None:
            await producer.send("overflow", PAYLOAD)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(paced(send), timeout=seconds + 5)
        await producer.close(timeout=0.1)
    else:
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()  # the unbounded channel of seeds/001
        client = aredis.Redis.from_url(url, protocol=2)

        async def writer() -> None:
            while True:
                batch = [await queue.get()]
                while not queue.empty() and len(batch) < BATCH:
                    batch.append(queue.get_nowait())
                pipe = client.pipeline(transaction=False)
                for event in batch:
                    pipe.xadd("overflow", event)
                replies = await pipe.execute(raise_on_error=False)
                refused = [event for event, reply in zip(batch, replies, strict=True) if isinstance(reply, Exception)]
                for event in refused:
                    queue.put_nowait(event)  # keep it to retry later: the buffer grows
                if refused:
                    await asyncio.sleep(0.05)  # back off a little, as a retry loop would

        async def put() -> None:
            queue.put_nowait(dict(PAYLOAD))

        writing = asyncio.create_task(writer())
        await paced(put)
        writing.cancel()
        await client.aclose()
    stop = True
    await sampling
    print(json.dumps({"rss": samples, "accepted": accepted}))


def rss_run(mode: str, url: str, seconds: float) -> tuple[list[float], int]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, url, str(seconds)], capture_output=True,
                         text=True, timeout=seconds + 120, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return list(result["rss"]), int(result["accepted"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="overflow run per producer (0: skip it)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child[0], args.child[1], float(args.child[2])))
        return
    binary = find_redis_binaries()[0]
    rows: list[tuple[str, str, str, str]] = []
    with LocalServer(binary) as server:
        rows += throughput(server.url, args.events, args.rounds)
    for mode in ("guarded", "naive") if args.seconds > 0 else ():
        with LocalServer(binary, config={"maxmemory": "64mb", "maxmemory-policy": "noeviction"}) as server:
            with server.client() as client:
                client.xgroup_create("overflow", "stopped", id="0", mkstream=True)
            samples, accepted = rss_run(mode, server.url, args.seconds)
            with redis.Redis(host="127.0.0.1", port=server.port) as client:
                ooms = client.info("errorstats").get("errorstat_OOM", {}).get("count", 0)
                stored = client.xlen("overflow")
        half = samples[len(samples) // 2] if samples else float("nan")
        rows.append((f"{mode} producer RSS MiB (mid / peak)", f"{half:.0f}", f"{max(samples):.0f}",
                     f"OOM replies {ooms}"))
        rows.append((f"{mode}: upstream events taken / stored", f"{accepted:,}", f"{stored:,}", ""))
    print(f"# redis-server {binary.version_text}, batch {BATCH}, {args.events} events, {args.rounds} alternating "
          f"rounds (min / median / max; ratio per pair), overflow run {args.seconds:.0f} s per producer, "
          f"upstream {UPSTREAM_RATE:,} events/s")
    print(f"{'measure':36} {'plain sync redis-py':>28} {'redisguard':>28} {'ratio':>18}")
    for name, raw, ours, ratio in rows:
        print(f"{name:36} {raw:>28} {ours:>28} {ratio:>18}")


if __name__ == "__main__":
    main()
