"""The demo's two runs of the same load, on the demo's own throwaway server (seeds 000 and 001 replayed).

``naive_incident``: an upstream offers events at a steady rate to a producer with an unbounded buffer
that re-queues what Redis refuses (the ingester of seed 001), while the consumer group lags and one of
its consumers died holding entries (seed 000): the stream fills a ``noeviction`` Redis, writes fail with
OOM, and the producer's buffer grows. ``drain_and_trim``: the indexers catch up (XREADGROUP and XACK
still run when memory is full); ``redisguard fix`` then trims only what every group acknowledged
(:func:`run_redisguard` runs it). ``guarded_replay``:
the same upstream through :class:`redisguard.streams.Producer`, a :class:`Consumer` and a
:class:`Trimmer`: the producer's gates slow the upstream, Redis stays under its limit, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis
import redis.exceptions as rex

from redisguard.streams import Consumer, Entry, Producer, Trimmer

__all__ = ["GROUP", "STREAM", "DrainResult", "GuardedResult", "IncidentResult", "Tick", "drain_and_trim",
           "guarded_replay", "naive_incident", "run_redisguard", "used_memory"]

STREAM = "firehose"
GROUP = "indexers"
RATE = 2_500  # events/s offered by the upstream: the firehose of seed 001, sped up (10 MB/s fills 64 MB in seconds)
PAYLOAD = "e" * 4000  # the ~4 KB events of seed 001: few events per MB, so the demo's time is not the CPU's
BATCH = 100
INDEXER_BATCH = 20  # per indexer every 50 ms: 400 entries/s, a sixth of the upstream

Report = Callable[["Tick"], None]


@dataclass(frozen=True)
class Tick:
    """What the narration prints once a second (and the report's memory series)."""

    at: float  # unix time
    elapsed_s: float
    used_memory: int
    maxmemory: int
    stream_length: int
    lag: int | None
    pending: int
    oom_replies: int
    producer_buffer_events: int
    producer_buffer_bytes: int


@dataclass
class IncidentResult:
    offered: int = 0  # events the upstream produced
    stored: int = 0  # XADDs Redis accepted
    oom_replies: int = 0  # XADDs Redis refused with OOM
    buffer_events: int = 0  # left in the naive producer's buffer at the end (not stored, not lost yet)
    buffer_bytes: int = 0
    buffer_peak_events: int = 0
    max_used_memory: int = 0
    ticks: list[Tick] = field(default_factory=list)


@dataclass
class DrainResult:
    handled: int  # entries the catching-up consumer handled and acknowledged
    claimed: int  # of them, claimed (XAUTOCLAIM) from the dead consumer


@dataclass
class GuardedResult:
    offered: int = 0  # events the upstream handed to Producer.send (it waits while a gate is closed)
    written: int = 0  # stored in Redis (ProducerMetrics.events_written)
    handled: int = 0  # distinct ids the consumer handled and acknowledged
    oom_replies: int = 0
    max_buffer_events: int = 0
    max_buffer_bytes: int = 0
    paused_s: dict[str, float] = field(default_factory=dict)
    send_wait_s: float = 0.0
    trimmed: int = 0
    max_used_memory: int = 0
    ticks: list[Tick] = field(default_factory=list)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _state(client: aredis.Redis) -> tuple[int, int, int, int | None, int]:
    memory = await client.info("memory")
    length, lag, pending = 0, None, 0
    with contextlib.suppress(rex.ResponseError):
        length = int(await client.xlen(STREAM))
        for group in await client.xinfo_groups(STREAM):
            if _text(group["name"]) == GROUP:
                lag = group.get("lag")
                pending = int(group["pending"])
                if lag is None:  # Redis < 7.0 has no lag: caught up when the group delivered the last entry
                    last = _text((await client.xinfo_stream(STREAM))["last-generated-id"])
                    lag = 0 if _text(group["last-delivered-id"]) == last else None
    return int(memory["used_memory"]), int(memory["maxmemory"]), length, lag, pending


async def _ticker(client: aredis.Redis, started: float, sink: list[Tick], report: Report,
                  producer: Callable[[], tuple[int, int, int]], every: float = 1.0) -> None:
    while True:
        await asyncio.sleep(every)
        used, limit, length, lag, pending = await _state(client)
        oom, events, size = producer()
        tick = Tick(time.time(), time.monotonic() - started, used, limit, length,
                    None if lag is None else int(lag), pending, oom, events, size)
        sink.append(tick)
        report(tick)


async def _lagging_indexers(client: aredis.Redis, stop: asyncio.Event) -> None:
    """indexer-1 reads INDEXER_BATCH entries every 50 ms and acknowledges them; indexer-2 reads as much and died
    before acknowledging any: its entries stay pending (seed 000: 2.9M pending)."""
    while not stop.is_set():
        for consumer in ("indexer-1", "indexer-2"):
            reply: Any = await client.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=INDEXER_BATCH)
            ids = [entry_id for _, entries in reply or [] for entry_id, _ in entries]
            if ids and consumer == "indexer-1":
                await client.xack(STREAM, GROUP, *ids)
        await asyncio.sleep(0.05)


async def naive_incident(url: str, report: Report, *, oom_seconds: float = 4.0, max_seconds: float = 25.0,
                         max_buffer: int = 25_000) -> IncidentResult:
    """Flood until Redis refuses writes, then ``oom_seconds`` more (the buffer grows), at most ``max_seconds``
    or until the naive buffer holds ``max_buffer`` events (~100 MiB: the demo spares the laptop)."""
    client = aredis.Redis.from_url(url)
    result = IncidentResult()
    buffer: deque[dict[Any, Any]] = deque()  # the unbounded channel of seed 001
    buffered_bytes = len(PAYLOAD) + 20
    stop = asyncio.Event()
    first_oom: list[float] = []
    try:
        await client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        started = time.monotonic()

        async def upstream() -> None:
            while not stop.is_set():
                due = int((time.monotonic() - started) * RATE) - result.offered
                for _ in range(max(0, due)):
                    buffer.append({"seq": str(result.offered), "payload": PAYLOAD})
                    result.offered += 1
                result.buffer_peak_events = max(result.buffer_peak_events, len(buffer))
                await asyncio.sleep(0.01)

        async def writer() -> None:
            while not stop.is_set():
                if not buffer:
                    await asyncio.sleep(0.005)
                    continue
                batch = [buffer.popleft() for _ in range(min(BATCH, len(buffer)))]
                pipe = client.pipeline(transaction=False)
                for event in batch:
                    pipe.xadd(STREAM, event)
                replies = await pipe.execute(raise_on_error=False)
                refused = [event for event, reply in zip(batch, replies, strict=True) if isinstance(reply, Exception)]
                result.stored += len(batch) - len(refused)
                result.oom_replies += len(refused)
                if refused:
                    first_oom[:] = first_oom or [time.monotonic()]
                    buffer.extendleft(reversed(refused))  # keep them to retry: the buffer only grows
                    result.buffer_peak_events = max(result.buffer_peak_events, len(buffer))
                    await asyncio.sleep(0.05)

        def producer_state() -> tuple[int, int, int]:
            return result.oom_replies, len(buffer), len(buffer) * buffered_bytes

        flood = [asyncio.create_task(upstream()), asyncio.create_task(writer())]
        others = [asyncio.create_task(_lagging_indexers(client, stop)),
                  asyncio.create_task(_ticker(client, started, result.ticks, report, producer_state))]
        finished = False
        try:
            while time.monotonic() - started < max_seconds:
                if first_oom and (time.monotonic() - first_oom[0] >= oom_seconds or len(buffer) >= max_buffer):
                    break
                await asyncio.sleep(0.05)
            finished = True
        finally:
            stop.set()
            for task in others if finished else (*others, *flood):  # interrupted: nothing is waited for
                task.cancel()
            await asyncio.gather(*others, *flood, return_exceptions=True)
        for task in flood:  # the writer ended after its batch in flight: every event is accounted for
            task.result()
        result.buffer_events = len(buffer)
        result.buffer_bytes = len(buffer) * buffered_bytes
        final = (await _state(client))[0]  # the flood stopped at the limit: one last look, beside the ticks
        result.max_used_memory = max([final, *(tick.used_memory for tick in result.ticks)])
        buffer.clear()
        return result
    finally:
        await client.aclose()


async def drain_and_trim(url: str, *, timeout: float = 30.0) -> DrainResult:
    """The indexers catch up: a redisguard Consumer handles the backlog and claims the dead consumer's entries
    (XREADGROUP and XACK still run when memory is full). The trim itself is ``redisguard fix``'s."""
    client = aredis.Redis.from_url(url)
    try:
        seen: set[str] = set()

        async def handler(entry: Entry) -> None:
            seen.add(entry.id)

        consumer = Consumer(url, stream=STREAM, group=GROUP, name="indexer-1", handler=handler, batch_size=2000,
                            concurrency=64, block_ms=100, claim_idle_ms=500, claim_interval=0.2)
        running = asyncio.create_task(consumer.run())
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                _, _, _, lag, pending = await _state(client)
                if lag == 0 and pending == 0:
                    break
        finally:
            consumer.stop()
            await asyncio.gather(running, return_exceptions=True)
        running.result()
        return DrainResult(len(seen), consumer.metrics.claimed)
    finally:
        await client.aclose()


async def used_memory(url: str) -> int:
    client = aredis.Redis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def run_redisguard(*args: str, timeout: float = 120.0) -> tuple[int, str]:
    """``redisguard ARGS`` in a child process: (exit code, what it printed). Killed if we are interrupted."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "redisguard", *args,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                   stdin=asyncio.subprocess.DEVNULL)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return int(process.returncode or 0), output.decode("utf-8", "replace")


async def guarded_replay(url: str, report: Report, *, seconds: float = 12.0, high_water: int | None = None,
                         handler_delay: float = 0.025, concurrency: int = 32,
                         drain_timeout: float = 40.0) -> GuardedResult:
    """The same upstream for ``seconds`` through the library; then wait until the consumer has everything."""
    client = aredis.Redis.from_url(url)
    result = GuardedResult()
    seen: set[str] = set()

    async def handler(entry: Entry) -> None:
        await asyncio.sleep(handler_delay)  # a slow indexer, with more of them: the doctor's advice
        seen.add(entry.fields[b"seq"].decode())

    try:
        # A 4 MiB buffer (a thousand 4 KB events): at a closed gate send() soon waits, the upstream is slowed
        producer = Producer(url, memory_limit=0.8, high_water=high_water, batch_size=BATCH,
                            max_buffer_bytes=4 * 1024 * 1024)
        consumer = Consumer(url, stream=STREAM, group=GROUP, name="indexer-1", handler=handler, batch_size=200,
                            concurrency=concurrency,
                            block_ms=100, claim_idle_ms=2000)
        trimmer = Trimmer(url, [STREAM], interval=0.5)
        stop = asyncio.Event()
        started = time.monotonic()

        def producer_state() -> tuple[int, int, int]:
            metrics = producer.metrics
            return metrics.oom_replies, metrics.events_in_flight, metrics.bytes_in_flight

        await producer.start()
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(consumer.run()), asyncio.create_task(trimmer.run()),
            asyncio.create_task(_ticker(client, started, result.ticks, report, producer_state)),
        ]
        try:
            while time.monotonic() - started < seconds:  # the same paced upstream; send() waits at a closed gate
                due = int((time.monotonic() - started) * RATE) - result.offered
                for _ in range(max(0, min(due, 1000))):
                    await producer.send(STREAM, {"seq": str(result.offered), "payload": PAYLOAD})
                    result.offered += 1
                await asyncio.sleep(0.005)
            deadline = time.monotonic() + drain_timeout  # every wait below is bounded: the demo always ends
            with contextlib.suppress(TimeoutError):  # what is still unwritten shows as written < offered
                await asyncio.wait_for(producer.flush(), drain_timeout)
            while len(seen) < result.offered and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            consumer.stop()
            trimmer.stop()
            tasks[2].cancel()
            closing = asyncio.ensure_future(producer.close(timeout=5.0))
            await asyncio.gather(closing, *tasks, return_exceptions=True)
        metrics = producer.metrics
        result.written, result.oom_replies = metrics.events_written, metrics.oom_replies
        result.max_buffer_events, result.max_buffer_bytes = metrics.max_events_in_flight, metrics.max_bytes_in_flight
        result.paused_s = dict(metrics.paused_seconds)
        result.send_wait_s = metrics.send_wait_seconds
        result.handled = len(seen)
        result.trimmed = trimmer.trimmed
        result.max_used_memory = max((tick.used_memory for tick in result.ticks), default=0)
        return result
    finally:
        await client.aclose()
