"""redisguard.streams against raw redis-py, in one run, on a redis-server this script starts on loopback.

1. producer throughput: raw pipelined XADD (redis-py asyncio, same batch size) vs Producer with gates on
2. consumer throughput: raw XREADGROUP + XACK loop vs Consumer (handler does nothing)
3. producer memory while upstream outpaces Redis (maxmemory 64mb, noeviction, consumer stopped) for
   --seconds (default 60), the same upstream (UPSTREAM_RATE events/s) for both: the guarded Producer vs
   a naive producer with an unbounded asyncio.Queue that re-queues refused events (stopped at 1 GiB).
   Each runs in a child process whose RSS is sampled.
Usage: python bench/streams.py [--events N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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


async def raw_produce(url: str, events: int) -> float:
    client = aredis.Redis.from_url(url, protocol=2)
    start = time.perf_counter()
    for offset in range(0, events, BATCH):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(BATCH, events - offset)):
            pipe.xadd("raw", PAYLOAD)
        await pipe.execute()
    elapsed = time.perf_counter() - start
    await client.aclose()
    return events / elapsed


async def guarded_produce(url: str, events: int) -> float:
    start = time.perf_counter()
    async with Producer(url, memory_limit=0.8, high_water=10_000_000, batch_size=BATCH) as producer:
        for _ in range(events):
            await producer.send("guarded", PAYLOAD)
    return events / (time.perf_counter() - start)


async def raw_consume(url: str, stream: str, events: int) -> float:
    client = aredis.Redis.from_url(url, protocol=2)
    await client.xgroup_create(stream, "raw", id="0")
    done, start = 0, time.perf_counter()
    while done < events:
        reply = await client.xreadgroup("raw", "c", {stream: ">"}, count=BATCH)
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        pipe = client.pipeline(transaction=False)
        pipe.xack(stream, "raw", *ids)
        await pipe.execute()
        done += len(ids)
    elapsed = time.perf_counter() - start
    await client.aclose()
    return events / elapsed


async def guarded_consume(url: str, stream: str, events: int) -> float:
    count = 0

    async def handler(entry: Entry) -> None:
        nonlocal count
        count += 1

    consumer = Consumer(url, stream=stream, group="guarded", name="c", handler=handler,
                        batch_size=BATCH, block_ms=10, concurrency=BATCH)
    start = time.perf_counter()
    task = asyncio.create_task(consumer.run())
    while count < events:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    consumer.stop()
    await task
    return events / elapsed


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
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child[0], args.child[1], float(args.child[2])))
        return
    binary = find_redis_binaries()[0]
    rows: list[tuple[str, str, str, str]] = []
    with LocalServer(binary) as server:
        raw_p = asyncio.run(raw_produce(server.url, args.events))
        guarded_p = asyncio.run(guarded_produce(server.url, args.events))
        rows.append(("producer events/s", f"{raw_p:,.0f}", f"{guarded_p:,.0f}", f"{guarded_p / raw_p:.2f}"))
        raw_c = asyncio.run(raw_consume(server.url, "raw", args.events))
        guarded_c = asyncio.run(guarded_consume(server.url, "guarded", args.events))
        rows.append(("consumer events/s (with ack)", f"{raw_c:,.0f}", f"{guarded_c:,.0f}", f"{guarded_c / raw_c:.2f}"))
    for mode in ("guarded", "naive"):
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
    print(f"# redis-server {binary.version_text}, batch {BATCH}, {args.events} events, "
          f"overflow run {args.seconds:.0f} s per producer, upstream {UPSTREAM_RATE:,} events/s")
    print(f"{'measure':36} {'raw redis-py':>14} {'redisguard':>14} {'ratio':>18}")
    for name, raw, ours, ratio in rows:
        print(f"{name:36} {raw:>14} {ours:>14} {ratio:>18}")


if __name__ == "__main__":
    main()
