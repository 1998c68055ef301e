"""A stream producer that cannot run Redis (or itself) out of memory, and never drops an event.

- ``send`` puts the event in a bounded buffer (events and bytes); when it is full, ``send`` waits, so the
  caller (a websocket reader, an HTTP paginator) is slowed down instead of buffered without bound.
- One writer task batches by size and linger time and writes with a non-transactional pipeline (MULTI
  is refused under OOM before Redis 7.4). On a standalone server each XADD is packed into RESP bytes once,
  in ``send`` (so a caller mutating its dict afterwards changes nothing), and a batch is one write of those
  bytes on a pooled connection (:mod:`redisguard._wire.streams`), with one reply read per event: redis-py's
  per-command packing was most of the writer's time. On Redis Cluster the batch goes through redis-py's
  cluster pipeline (per-slot routing).
- Before a batch it passes the gates: Redis used memory plus the batch's estimated cost under
  ``memory_limit`` x maxmemory (INFO read at most every ``gate_interval`` unless the bytes written since
  suggest the limit is near), and every target stream's backlog under ``high_water`` (the slowest
  group's lag where Redis reports it, else XLEN: an unknown lag is never taken as 0).
- An OOM reply pauses with backoff and retries exactly the events that were refused.
- A restart, failover or network cut (connection refused or reset, a reply that never comes, a server
  still loading its data) never fails the writer: it backs off (doubling up to ``max_backoff``), reconnects
  and writes again every event not known to be stored, for as long as it takes; meanwhile the buffer fills
  and ``send`` waits. Replies are read one by one, so a batch cut in the middle re-sends only the events
  whose reply was lost: each of those may be stored twice (at-least-once), and is counted in
  ``metrics.possible_duplicates``. ``close(timeout)`` raises :class:`EventsNotStoredError` with the count of
  accepted events it could not store.
- ``checkpoint(cursor)`` is called with an upstream cursor only after its event (and every event before
  it) is stored, so a resumable upstream restarts without loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio
import redis.exceptions as rex

from redisguard._wire.streams import packable
from redisguard.streams._batchwrite import RETRYABLE, BatchInterrupted, transient, write_batch
from redisguard.streams._clients import AsyncClient, resolve_client
from redisguard.streams._errors import EventsNotStoredError
from redisguard.streams._metrics import ProducerMetrics

__all__ = ["Producer", "SyncProducer"]

Fields = Mapping[str | bytes, str | bytes | int | float]
Checkpoint = Callable[[Any], Awaitable[None] | None]
MEMORY_OVERHEAD = 1.6  # used-memory bytes per payload byte in a stream entry, for the estimate between reads


@dataclass(slots=True)
class _Event:
    stream: str
    command: bytes | tuple[Any, ...]  # the XADD in RESP bytes (standalone) or its arguments (cluster)
    size: int
    cursor: Any


def _size(fields: Fields) -> int:
    """Payload bytes of one event (field names and values; numbers count 8): what the byte bound counts."""
    size = 0
    for name, value in fields.items():
        size += len(name) + (len(value) if value.__class__ is str or value.__class__ is bytes else 8)
    return size


def _packed_xadd(key: bytes, fields: Fields, encoding: str, errors: str, encode: Callable[[Any], Any]
                 ) -> tuple[bytes, int]:
    """``XADD key * name value ...`` in RESP, and the event's payload size as :func:`_size` counts it.

    Arguments are encoded as redis-py would (``encode`` is the client's encoder: numbers as their repr,
    a bool refused with DataError); str and bytes, the usual case, skip the call.
    """
    parts = []
    size = 0
    for name, value in fields.items():
        size += len(name)
        key_bytes = name.encode(encoding, errors) if name.__class__ is str else encode(name)
        if value.__class__ is str:
            size += len(value)
            value_bytes = value.encode(encoding, errors)
        elif value.__class__ is bytes:
            size += len(value)
            value_bytes = value
        else:
            size += 8
            value_bytes = encode(value)
        parts.append(b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(key_bytes), key_bytes, len(value_bytes), value_bytes))
    head = b"*%d\r\n$4\r\nXADD\r\n$%d\r\n%b\r\n$1\r\n*\r\n" % (3 + 2 * len(parts), len(key), key)
    return head + b"".join(parts), size


class Producer:
    """``async with Producer(url_or_client, memory_limit=0.8, high_water=1_000_000) as p: await p.send(...)``."""

    def __init__(
        self,
        target: str | AsyncClient,
        *,
        memory_limit: float | None = 0.8,
        high_water: int | None = None,
        max_buffer_events: int = 10_000,
        max_buffer_bytes: int = 16 * 1024 * 1024,
        batch_size: int = 500,
        linger: float = 0.005,
        gate_interval: float = 0.1,
        max_backoff: float = 2.0,
        checkpoint: Checkpoint | None = None,
        close_timeout: float | None = None,
    ) -> None:
        if memory_limit is not None and not 0 < memory_limit <= 1:
            raise ValueError("memory_limit is a fraction of maxmemory, in (0, 1]")
        self._target = target
        self.memory_limit = memory_limit
        self.high_water = high_water
        self.max_buffer_events = max_buffer_events
        self.max_buffer_bytes = max_buffer_bytes
        self.batch_size = batch_size
        self.linger = linger
        self.gate_interval = gate_interval
        self.max_backoff = max_backoff
        self.checkpoint = checkpoint
        self.close_timeout = close_timeout  # for ``async with``: None waits until every event is stored
        self.metrics = ProducerMetrics()
        self._client: AsyncClient | None = None
        self._owned = False
        self._encoder: Any = None
        self._packed = False  # XADDs packed by us, written on a connection borrowed from the client's pool
        self._buffer: deque[_Event] = deque()
        self._nonempty = asyncio.Event()  # the writer has something to write
        self._room = asyncio.Event()  # a send() waiting for buffer room may retry
        self._idle = asyncio.Event()  # nothing in flight (flush)
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._error: BaseException | None = None
        self._last_fault: BaseException | None = None  # the last connection fault (for close()'s message)
        self._fault_backoff = 0.0
        self._memory_read_at = 0.0
        self._memory_used = 0
        self._memory_max = 0
        self._written_since_read = 0
        self._backlog_read_at: dict[str, float] = {}
        self._backlog: dict[str, int] = {}
        self._added_since_read: dict[str, int] = {}

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, *rest: object) -> None:
        if exc is None:
            await self.close(timeout=self.close_timeout)
            return
        # Leaving because of an error: try to flush, but do not wait forever on a closed gate; what could
        # not be stored is said on that error rather than replacing it.
        try:
            await self.close(timeout=5.0)
        except EventsNotStoredError as not_stored:
            exc.add_note(f"redisguard Producer: {not_stored}")

    async def start(self) -> None:
        self._client, self._owned = await resolve_client(self._target)
        client = self._client
        self._encoder = client.get_encoder()
        self._packed = packable(client)
        self._writer = asyncio.create_task(self._write_loop(), name="redisguard-producer-writer")

    async def send(self, stream: str, fields: Fields, *, cursor: Any = None) -> None:
        """Queue one event; waits while the buffer is full (that wait is the backpressure).

        ``fields`` is encoded (or copied) here: changing the mapping after ``send`` returns changes nothing.
        """
        if self._writer is None:
            raise RuntimeError("Producer not started: use 'async with Producer(...)' or await start()")
        if not fields:
            raise rex.DataError("XADD fields must be a non-empty mapping")
        encoder = self._encoder  # encoding here: an encoding error (a bool value) is the caller's, not the writer's
        if self._packed:
            encoding, errors = encoder.encoding, encoder.encoding_errors
            key = stream.encode(encoding, errors) if stream.__class__ is str else encoder.encode(stream)
            command, size = _packed_xadd(key, fields, encoding, errors, encoder.encode)
            event = _Event(stream, command, size, cursor)
        else:
            args = tuple(encoder.encode(item) for pair in fields.items() for item in pair)
            event = _Event(stream, args, _size(fields), cursor)
        metrics = self.metrics
        if not self._has_room(event.size):
            started = time.monotonic()
            while not self._has_room(event.size):
                self._raise_if_failed()
                self._room.clear()
                await self._room.wait()
            metrics.send_wait_seconds += time.monotonic() - started
        self._buffer.append(event)
        metrics.events_sent += 1
        metrics.events_in_flight += 1
        metrics.bytes_in_flight += event.size
        metrics.max_events_in_flight = max(metrics.max_events_in_flight, metrics.events_in_flight)
        metrics.max_bytes_in_flight = max(metrics.max_bytes_in_flight, metrics.bytes_in_flight)
        self._nonempty.set()

    def _has_room(self, size: int) -> bool:
        if self.metrics.events_in_flight == 0:
            return True  # one event larger than the byte bound still goes through, alone
        return (self.metrics.events_in_flight < self.max_buffer_events
                and self.metrics.bytes_in_flight + size <= self.max_buffer_bytes)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError("the producer's writer failed") from self._error

    async def flush(self) -> None:
        """Wait until every event sent so far is stored."""
        while self.metrics.events_in_flight:
            self._raise_if_failed()
            self._idle.clear()
            await self._idle.wait()

    async def close(self, timeout: float | None = None) -> None:
        """Flush (waiting at most ``timeout`` seconds), stop the writer, and close a client we created.

        Raises :class:`EventsNotStoredError` (with the count) if accepted events are still not stored then:
        Redis did not come back in time, or the writer stopped on an error reply (its ``__cause__``).
        """
        try:
            if self._writer is not None and self._error is None:
                with contextlib.suppress(TimeoutError, RuntimeError):  # RuntimeError: the writer failed
                    await asyncio.wait_for(self.flush(), timeout)
        finally:
            self._closing = True
            if self._writer is not None:
                self._writer.cancel()
                # A writer cancelled in the middle of a pipeline write is given 5 s to unwind, not forever.
                await asyncio.wait({self._writer}, timeout=5.0)
            if self._client is not None and self._owned:
                with contextlib.suppress(TimeoutError, *RETRYABLE):
                    await asyncio.wait_for(self._client.aclose(), timeout=5.0)
        unstored = self.metrics.events_in_flight
        if unstored:
            self.metrics.events_not_stored = unstored
            cause = self._error or self._last_fault
            reason = "Redis unreachable" if self._error is None else "the writer stopped"
            if cause is not None:
                reason += f": {type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}".rstrip(": ")
            raise EventsNotStoredError(unstored, reason) from cause

    async def _next_batch(self) -> list[_Event]:
        while not self._buffer:
            self._nonempty.clear()
            await self._nonempty.wait()
        if len(self._buffer) < self.batch_size and self.linger > 0:
            await asyncio.sleep(self.linger)
        return [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]

    async def _write_loop(self) -> None:
        try:
            while True:
                batch = await self._next_batch()
                await self._write(batch)
                await self._stored(batch)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._error = exc
            self._room.set()  # wake send() and flush() so they raise
            self._idle.set()
            raise

    async def _write(self, batch: list[_Event]) -> None:
        """Write ``batch`` until every event in it is stored: through closed gates, OOM replies (the refused
        events again) and connection faults (the events not known to be stored again, after a backoff)."""
        remaining = batch
        backoff = 0.05
        while remaining:
            try:
                await self._pass_gates(remaining)
                replies = await self._execute(remaining)
            except BatchInterrupted as cut:
                if not transient(cut.cause):
                    raise cut.cause from None
                settled = len(cut.replies)
                refused = self._settle(remaining[:settled], cut.replies)
                self.metrics.possible_duplicates += cut.unsettled
                remaining = refused + remaining[settled:]
                await self._connection_fault(cut.cause)
                continue
            except RETRYABLE as fault:  # a gate's read (INFO, XINFO) or the cluster pipeline
                if not transient(fault):
                    raise
                await self._connection_fault(fault)
                continue
            self._fault_backoff = 0.0
            refused = self._settle(remaining, replies)
            if refused:
                self.metrics.oom_replies += 1
                await asyncio.sleep(backoff)
                self.metrics.paused_seconds["oom"] += backoff
                backoff = min(backoff * 2, self.max_backoff)
            remaining = refused

    def _settle(self, events: list[_Event], replies: list[Any]) -> list[_Event]:
        """Count what ``replies`` stored; return the events to write again (refused with OOM, or whose
        reply says the connection failed: a cluster pipeline's node that went away)."""
        again: list[_Event] = []
        added = self._added_since_read
        for event, reply in zip(events, replies, strict=True):
            if isinstance(reply, Exception):
                if isinstance(reply, rex.OutOfMemoryError):
                    again.append(event)
                    continue
                if transient(reply):
                    self.metrics.possible_duplicates += 1
                    self._last_fault = reply
                    again.append(event)
                    continue
                raise reply  # any other error reply (WRONGTYPE, NOPERM ...) stops the writer
            self._written_since_read += event.size
            added[event.stream] = added.get(event.stream, 0) + 1
        return again

    async def _connection_fault(self, fault: BaseException) -> None:
        """Back off before writing again (doubling up to ``max_backoff``); the client reconnects then."""
        self.metrics.connection_errors += 1
        self._last_fault = fault
        self._fault_backoff = min(max(self._fault_backoff * 2, 0.05), self.max_backoff)
        await asyncio.sleep(self._fault_backoff)
        self.metrics.paused_seconds["disconnected"] += self._fault_backoff

    async def _execute(self, events: list[_Event]) -> list[Any]:
        """One reply per event, in order: the stored id, or the error reply as an exception."""
        assert self._client is not None
        if not self._packed:  # cluster (or a single-connection client): redis-py's pipeline
            pipe = self._client.pipeline(transaction=False)
            for event in events:
                pipe.execute_command("XADD", event.stream, "*", *event.command)
            try:
                return list(await pipe.execute(raise_on_error=False))
            except RETRYABLE as fault:  # which commands ran is unknown: all are written again
                raise BatchInterrupted([], len(events), fault) from fault
        assert isinstance(self._client, redis.asyncio.Redis)
        # Replies are read one by one: a connection lost in the middle re-sends only the events after the
        # last reply read (see _write).
        return await write_batch(self._client, b"".join([event.command for event in events]),  # type: ignore[misc]
                                 len(events))

    async def _stored(self, batch: list[_Event]) -> None:
        self.metrics.events_written += len(batch)
        self.metrics.bytes_written += sum(event.size for event in batch)
        self.metrics.batches_written += 1
        cursors = [event.cursor for event in batch if event.cursor is not None]
        if cursors and self.checkpoint is not None:
            result = self.checkpoint(cursors[-1])
            if inspect.isawaitable(result):
                await result
        self.metrics.events_in_flight -= len(batch)
        self.metrics.bytes_in_flight -= sum(event.size for event in batch)
        self._room.set()
        if not self.metrics.events_in_flight:
            self._idle.set()

    async def _pass_gates(self, batch: list[_Event]) -> None:
        streams = {event.stream for event in batch}
        incoming = sum(event.size for event in batch) * MEMORY_OVERHEAD
        while True:
            reason = await self._closed_gate(streams, incoming)
            if reason is None:
                return
            await asyncio.sleep(self.gate_interval)
            self.metrics.paused_seconds[reason] += self.gate_interval

    def _over_gate(self, used: float, incoming: float) -> bool:
        """Would ``used`` plus the batch's cost (at most half the gate) reach the memory gate?"""
        gate = self._memory_max * (self.memory_limit or 1.0)
        return bool(self._memory_max) and used + min(incoming, gate / 2) >= gate

    async def _closed_gate(self, streams: set[str], incoming: float) -> str | None:
        """The first closed gate's name, or None. ``incoming``: the estimated used-memory cost of the batch
        about to be written, which must fit under the memory gate too (so used memory stays under the gate,
        not the gate plus a batch); capped at half the gate, so that one huge batch cannot wait forever."""
        assert self._client is not None
        now = time.monotonic()
        if self.memory_limit is not None:
            estimate = self._memory_used + self._written_since_read * MEMORY_OVERHEAD
            if now - self._memory_read_at >= self.gate_interval or self._over_gate(estimate, incoming):
                info = await self._client.info("memory")
                self._memory_used, self._memory_max = int(info["used_memory"]), int(info.get("maxmemory", 0))
                self._memory_read_at, self._written_since_read = now, 0
            if self._over_gate(self._memory_used, incoming):
                self._memory_read_at = 0.0  # re-read on the next check
                return "memory"
        if self.high_water is not None:
            for stream in streams:
                estimate = self._backlog.get(stream, 0) + self._added_since_read.get(stream, 0)
                if now - self._backlog_read_at.get(stream, 0.0) >= self.gate_interval or estimate >= self.high_water:
                    self._backlog[stream] = await self._backlog_of(stream)
                    self._backlog_read_at[stream], self._added_since_read[stream] = now, 0
                if self._backlog[stream] >= self.high_water:
                    self._backlog_read_at[stream] = 0.0
                    return "backlog"
        return None

    async def _backlog_of(self, stream: str) -> int:
        assert self._client is not None
        try:
            groups = await self._client.xinfo_groups(stream)
        except rex.ResponseError:
            return 0  # no such stream yet
        length = int(await self._client.xlen(stream))
        lags = [group.get("lag") for group in groups]
        if groups and all(lag is not None for lag in lags):
            # lag is not lowered by trimming (redis issue 13957): no more than the entries still there
            return min(length, max(int(lag) for lag in lags if lag is not None))
        return length  # lag unknown (Redis < 7, after deletions): never taken as 0


class SyncProducer:
    """A thin blocking wrapper: the asyncio Producer runs in a background thread with its own loop."""

    def __init__(self, url: str, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="redisguard-producer")
        self._thread.start()
        self._producer = Producer(url, **options)
        self._call(self._producer.start())

    def _call(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()  # type: ignore[arg-type]

    @property
    def metrics(self) -> ProducerMetrics:
        return self._producer.metrics

    def send(self, stream: str, fields: Fields, *, cursor: Any = None) -> None:
        self._call(self._producer.send(stream, fields, cursor=cursor))

    def flush(self) -> None:
        self._call(self._producer.flush())

    def close(self) -> None:
        try:
            self._call(self._producer.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> SyncProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
