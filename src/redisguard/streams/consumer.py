"""A consumer-group worker: read, handle, acknowledge; reclaim what dead consumers left; dead-letter poison.

- The group is created (MKSTREAM) if asked. XGROUP CREATE is refused with OOM when memory is full even if
  the group exists, so an OOM there is checked against XINFO GROUPS and, if the group is there, ignored:
  a consumer must be able to start during an incident (XREADGROUP and XACK still work then).
- Entries are read with XREADGROUP in batches, handled with bounded concurrency, and acknowledged with a
  non-transactional pipeline (MULTI is refused under OOM before Redis 7.4) after the handler succeeds.
- Entries idle longer than ``claim_idle_ms`` (a dead consumer's pending entries) are taken over with
  XAUTOCLAIM. An entry delivered more than ``max_deliveries`` times goes to the dead-letter stream with
  its last error and is only then acknowledged: if the dead-letter XADD is refused (OOM), it stays pending.
- ``stop()`` stops reading; in-flight entries finish and are acknowledged before ``run()`` returns.
- Consumers of the group idle longer than ``remove_idle_ms`` and holding no pending entries are removed
  (XGROUP DELCONSUMER would silently drop pending entries, so a consumer holding any is never removed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import redis.exceptions as rex

from redisguard.streams.clients import AsyncClient, resolve_client

__all__ = ["Consumer", "ConsumerMetrics", "Entry"]

T = TypeVar("T")


@dataclass(slots=True)
class Entry:
    stream: str
    id: str
    fields: dict[bytes, bytes]
    deliveries: int


Handler = Callable[[Entry], Awaitable[None]]


@dataclass
class ConsumerMetrics:
    handled: int = 0
    acked: int = 0
    failed: int = 0
    claimed: int = 0
    dead_lettered: int = 0
    consumers_removed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # entry id -> last handler error (bounded)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _finish(coroutine: Coroutine[Any, Any, T], yielded: Any) -> T:
    """Drive a coroutine that suspended during its eager first step, as a Task would."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait([yielded])  # wait for the future it awaits, without consuming its result
        except asyncio.CancelledError:
            coroutine.close()
            raise
        try:
            yielded = coroutine.send(None)  # the future's __await__ now returns (or raises) its result
        except StopIteration as stop:
            return cast(T, stop.value)


async def _run_eagerly(coroutines: list[Coroutine[Any, Any, T]], limit: int) -> list[T]:
    """Like gather(), with at most ``limit`` coroutines suspended at once, and a coroutine that completes
    without suspending costs no Task (Python 3.12's eager tasks, by hand): most handlers finish
    synchronously, and a Task (plus a semaphore) per entry was over half the consumer's time."""
    results: list[Any] = [None] * len(coroutines)
    active: dict[asyncio.Task[T], int] = {}

    def collect(done: set[asyncio.Task[T]]) -> None:
        for task in done:
            results[active.pop(task)] = task.result()

    for index, coroutine in enumerate(coroutines):
        while len(active) >= limit:
            done, _ = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
            collect(done)
        try:
            yielded = coroutine.send(None)
        except StopIteration as stop:
            results[index] = stop.value
            continue
        active[asyncio.ensure_future(_finish(coroutine, yielded))] = index
    if active:
        done, _ = await asyncio.wait(active)
        collect(done)
    return results


class Consumer:
    def __init__(
        self,
        target: str | AsyncClient,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
        *,
        create_group: bool = True,
        start_id: str = "0",
        batch_size: int = 100,
        concurrency: int = 16,
        block_ms: int = 200,
        claim_idle_ms: int = 30_000,
        claim_interval: float = 1.0,
        max_deliveries: int = 5,
        dead_letter_stream: str | None = None,
        remove_idle_ms: int | None = 3_600_000,
    ) -> None:
        self._target = target
        self.stream, self.group, self.name, self.handler = stream, group, name, handler
        self.create_group, self.start_id = create_group, start_id
        self.batch_size, self.block_ms = batch_size, block_ms
        self.claim_idle_ms, self.claim_interval = claim_idle_ms, claim_interval
        self.max_deliveries = max_deliveries
        self.dead_letter_stream = dead_letter_stream or f"{stream}:dead"
        self.remove_idle_ms = remove_idle_ms
        self.metrics = ConsumerMetrics()
        self.concurrency = concurrency
        self._stopping = asyncio.Event()
        self._client: AsyncClient | None = None
        self._owned = False
        self._last_claim = 0.0

    def stop(self) -> None:
        """Stop reading; ``run()`` returns once in-flight entries are handled and acknowledged."""
        self._stopping.set()

    async def run(self) -> None:
        self._client, self._owned = await resolve_client(self._target)
        try:
            await self._ensure_group()
            while not self._stopping.is_set():
                if time.monotonic() - self._last_claim >= self.claim_interval:
                    self._last_claim = time.monotonic()
                    await self._claim_idle()
                    await self._remove_idle_consumers()
                entries = await self._read()
                if entries:
                    await self._process(entries)
        finally:
            if self._owned:
                await self._client.aclose()

    async def _ensure_group(self) -> None:
        assert self._client is not None
        if not self.create_group:
            return
        try:
            await self._client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except rex.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return
            if isinstance(exc, rex.OutOfMemoryError) and await self._group_exists():
                return  # refused with OOM although the group exists: carry on (reads and acks still work)
            raise

    async def _group_exists(self) -> bool:
        assert self._client is not None
        try:
            groups = await self._client.xinfo_groups(self.stream)
        except rex.ResponseError:
            return False
        return any(_text(group.get("name")) == self.group for group in groups)

    async def _read(self) -> list[Entry]:
        assert self._client is not None
        reply = cast("list[Any] | None", await self._client.xreadgroup(
            self.group, self.name, {self.stream: ">"}, count=self.batch_size, block=self.block_ms))
        return [Entry(self.stream, _text(entry_id), fields or {}, 1)
                for _, entries in reply or [] for entry_id, fields in entries]

    async def _claim_idle(self) -> None:
        assert self._client is not None
        cursor = "0-0"
        for _ in range(100):  # bounded: at most 100 x batch_size entries per claim round
            reply = await self._client.xautoclaim(self.stream, self.group, self.name, self.claim_idle_ms,
                                                  start_id=cursor, count=self.batch_size)
            cursor, claimed = _text(reply[0]), reply[1]
            live = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
            if live:
                deliveries = await self._deliveries([_text(entry_id) for entry_id, _ in live])
                entries = [Entry(self.stream, _text(entry_id), fields, deliveries.get(_text(entry_id), 2))
                           for entry_id, fields in live]
                self.metrics.claimed += len(entries)
                await self._process(entries)
            if cursor == "0-0" or self._stopping.is_set():
                return

    async def _deliveries(self, ids: list[str]) -> dict[str, int]:
        assert self._client is not None
        rows = await self._client.xpending_range(self.stream, self.group, min=ids[0], max=ids[-1],
                                                 count=len(ids) * 2, consumername=self.name)
        return {_text(row["message_id"]): int(row["times_delivered"]) for row in rows}

    async def _handle(self, entry: Entry) -> str | None:
        """The entry id to acknowledge, or None to leave it pending."""
        if entry.deliveries > self.max_deliveries:
            return entry.id if await self._dead_letter(entry) else None
        try:
            await self.handler(entry)
        except Exception as exc:  # the handler's failure: leave pending, retried after claim_idle_ms
            self.metrics.failed += 1
            if len(self.metrics.errors) < 10_000:
                self.metrics.errors[entry.id] = f"{type(exc).__name__}: {exc}"
            return None
        self.metrics.handled += 1
        self.metrics.errors.pop(entry.id, None)
        return entry.id

    async def _dead_letter(self, entry: Entry) -> bool:
        assert self._client is not None
        fields: dict[Any, Any] = dict(entry.fields)
        fields.update({"dead:stream": self.stream, "dead:group": self.group, "dead:id": entry.id,
                       "dead:deliveries": str(entry.deliveries),
                       "dead:error": self.metrics.errors.get(entry.id, "unknown (failed in another consumer)")})
        try:
            await self._client.xadd(self.dead_letter_stream, fields)
        except rex.OutOfMemoryError:
            return False  # keep it pending until the dead-letter write succeeds
        self.metrics.dead_lettered += 1
        self.metrics.errors.pop(entry.id, None)
        return True

    async def _process(self, entries: list[Entry]) -> None:
        assert self._client is not None
        handled = await _run_eagerly([self._handle(entry) for entry in entries], self.concurrency)
        done = [entry_id for entry_id in handled if entry_id is not None]
        if done:
            pipe = self._client.pipeline(transaction=False)
            pipe.xack(self.stream, self.group, *done)
            await pipe.execute()
            self.metrics.acked += len(done)

    async def _remove_idle_consumers(self) -> None:
        assert self._client is not None
        if self.remove_idle_ms is None:
            return
        for consumer in await self._client.xinfo_consumers(self.stream, self.group):
            name = _text(consumer.get("name"))
            if name != self.name and int(consumer.get("pending", 0)) == 0 and \
                    int(consumer.get("idle", 0)) >= self.remove_idle_ms:
                # Re-checked by Redis at deletion time? No: DELCONSUMER drops pending entries, so only
                # consumers that held none when listed are removed; one that read meanwhile is idle < limit.
                await self._client.xgroup_delconsumer(self.stream, self.group, name)
                self.metrics.consumers_removed += 1
