"""A consumer-group worker: read, handle, acknowledge; reclaim what dead consumers left; dead-letter poison.

- The group is created (MKSTREAM) if asked. XGROUP CREATE is refused with OOM when memory is full even if
  the group exists, so an OOM there is checked against XINFO GROUPS and, if the group is there, ignored:
  a consumer must be able to start during an incident (XREADGROUP and XACK still work then).
- Entries are read with XREADGROUP in batches, handled with bounded concurrency, and acknowledged after
  the handler succeeds. The XACK of a batch goes in the same non-transactional pipeline (MULTI is refused
  under OOM before Redis 7.4) as the XREADGROUP of the next one: one round trip per batch, not two. Redis
  runs the XACK before the read (which may block), so an ack waits for no read; what is handled is
  acknowledged before a claim round, before ``run()`` returns, and on its way out after an error (an
  ack that cannot be sent then is added to the error's notes, never dropped silently).
- Entries idle longer than ``claim_idle_ms`` (a dead consumer's pending entries) are taken over with
  XAUTOCLAIM. An entry delivered more than ``max_deliveries`` times goes to the dead-letter stream with
  its last error and is only then acknowledged: if the dead-letter XADD is refused (OOM), it stays pending.
- A handler that suspends and does not finish within ``handler_timeout`` seconds is cancelled and its
  entry counts as failed: left pending, retried after ``claim_idle_ms``, dead-lettered after
  ``max_deliveries`` like any other failure.
- A restart, failover or network cut does not end ``run()``: it backs off (doubling up to
  ``max_backoff``), reconnects, sends the acknowledgements still owed, re-creates the group if the
  restarted server lost it, and resumes from this consumer's own pending entries (XREADGROUP from id 0:
  what was delivered to it before the fault, reply lost or not yet acknowledged) before reading new ones.
  The first connection is not retried: a wrong URL fails at once.
- ``stop()`` stops reading; in-flight entries finish (bounded by ``handler_timeout``) and are acknowledged
  before ``run()`` returns. If Redis is unreachable then, ``run()`` still returns (after at most about 5 s);
  what it could not acknowledge is counted in ``metrics.not_acknowledged`` and is redelivered later.
- Consumers of the group idle longer than ``remove_idle_ms`` and holding no pending entries are removed
  (XGROUP DELCONSUMER would silently drop pending entries, so a consumer holding any is never removed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import CoroutineType
from typing import Any, TypeVar, cast

import redis.asyncio
import redis.exceptions as rex

from redisguard._wire.decode import text
from redisguard._wire.resp import bulk, command
from redisguard._wire.streams import packable
from redisguard.streams._batchwrite import RETRYABLE, BatchInterrupted, transient, write_batch
from redisguard.streams._clients import AsyncClient, resolve_client

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
    timed_out: int = 0              # handler calls cancelled by handler_timeout (counted in failed too)
    connection_errors: int = 0      # faults (refused, reset, timeout, LOADING) the consumer recovered from
    resumed: int = 0                # own pending entries read again after a fault or at start
    not_acknowledged: int = 0       # handled but not acknowledged when run() returned (redelivered later)
    errors: dict[str, str] = field(default_factory=dict)  # entry id -> last handler error (bounded)


_text = text  # the wire layer's one decode helper


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


def _history_rows(reply: Any) -> list[Any]:
    """The ``(id, fields)`` rows of a parsed XREADGROUP reply for one stream: RESP2 ``[[stream, rows]]``,
    RESP3 (a caller's client) ``{stream: [rows]}``."""
    if isinstance(reply, dict):
        return [row for value in reply.values() for rows in value for row in rows]
    return [row for _, rows in reply or [] for row in rows]


def _bounded_block(block_ms: int | None, client: AsyncClient) -> int | None:
    """XREADGROUP's BLOCK, at most half the client's socket timeout (0, "for ever", too): a longer block
    would end in a client-side TimeoutError. The read loop simply reads again after an empty block."""
    if block_ms is None:
        return None
    kwargs = client.connection_pool.connection_kwargs if isinstance(client, redis.asyncio.Redis) \
        else client.connection_kwargs
    timeout = kwargs.get("socket_timeout")
    if not timeout:
        return block_ms
    limit = max(1, int(timeout * 1000 / 2))
    return limit if block_ms == 0 else min(block_ms, limit)


class Consumer:
    def __init__(
        self,
        target: str | AsyncClient,
        *,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
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
        handler_timeout: float | None = 60.0,
        max_backoff: float = 2.0,
    ) -> None:
        if handler_timeout is not None and handler_timeout <= 0:
            raise ValueError("handler_timeout is in seconds and must be positive (or None: unbounded)")
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
        self.handler_timeout, self.max_backoff = handler_timeout, max_backoff
        self._resume = True  # read this consumer's own pending entries first (at start, after a fault)
        self._fault_backoff = 0.0
        self._stopping = asyncio.Event()
        self._client: AsyncClient | None = None
        self._owned = False
        self._last_claim = 0.0
        self._unacked: list[str] = []  # handled (or dead-lettered), to acknowledge with the next read
        self._packed = False
        self._xreadgroup = b""
        self._block_ms: int | None = block_ms
        self._xack_args = b""

    def stop(self) -> None:
        """Stop reading; ``run()`` returns once in-flight entries are handled and acknowledged."""
        self._stopping.set()

    async def run(self) -> None:
        self._client, self._owned = await resolve_client(self._target)
        self._prepare_commands(self._client)
        try:
            try:
                await self._ensure_group()
                while not self._stopping.is_set():
                    try:
                        await self._cycle()
                    except RETRYABLE as fault:
                        if not transient(fault):
                            raise
                        await self._connection_fault(fault)
                    except rex.ResponseError as exc:
                        if not (self.create_group and str(exc).startswith("NOGROUP")):
                            raise
                        await self._connection_fault(exc)  # a restarted server lost the group: re-create it
                await self._final_acks()
            except BaseException as exc:
                await self._flush_acks_after(exc)
                raise
        finally:
            if self._owned:
                with contextlib.suppress(TimeoutError, *RETRYABLE):
                    await asyncio.wait_for(self._client.aclose(), timeout=5.0)

    async def _cycle(self) -> None:
        """One round: after a fault (or at start) resume, else claim on schedule, read, handle."""
        if self._resume:
            await self._ensure_group()
            await self._flush_acks()
            await self._read_own_pending()
            self._resume = False
        if time.monotonic() - self._last_claim >= self.claim_interval:
            self._last_claim = time.monotonic()
            await self._flush_acks()  # what we handled must not be pending while we claim
            await self._claim_idle()
            await self._remove_idle_consumers()
        entries = await self._read()
        self._fault_backoff = 0.0
        if entries:
            await self._process(entries)

    async def _connection_fault(self, fault: BaseException) -> None:
        """Back off (doubling up to ``max_backoff``, cut short by ``stop()``), then resume."""
        self.metrics.connection_errors += 1
        self._resume = True
        self._fault_backoff = min(max(self._fault_backoff * 2, 0.05), self.max_backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=self._fault_backoff)

    async def _final_acks(self) -> None:
        """On ``stop()``: send the acknowledgements still owed, trying for at most about 5 s."""
        deadline = time.monotonic() + 5.0
        while self._unacked:
            try:
                await asyncio.wait_for(self._flush_acks(), timeout=max(0.1, deadline - time.monotonic()))
            except Exception as fault:
                if not (isinstance(fault, TimeoutError) or transient(fault)):
                    raise
                if time.monotonic() >= deadline:
                    self.metrics.not_acknowledged = len(self._unacked)
                    return
                await asyncio.sleep(0.2)

    async def _read_own_pending(self) -> None:
        """Handle again what was delivered to this consumer and never acknowledged (XREADGROUP from 0)."""
        assert self._client is not None
        cursor = "0"
        while not self._stopping.is_set():
            reply: Any = await self._client.xreadgroup(self.group, self.name, {self.stream: cursor},
                                                       count=self.batch_size)
            rows = _history_rows(reply)
            if not rows:
                return
            cursor = _text(rows[-1][0])
            gone = [_text(entry_id) for entry_id, fields in rows if not fields]  # deleted meanwhile
            self._unacked.extend(gone)
            live = [(_text(entry_id), fields) for entry_id, fields in rows if fields]
            if live:
                deliveries = await self._deliveries([entry_id for entry_id, _ in live])
                self.metrics.resumed += len(live)
                await self._process([Entry(self.stream, entry_id, dict(fields), deliveries.get(entry_id, 2))
                                     for entry_id, fields in live])
            await self._flush_acks()

    def _prepare_commands(self, client: AsyncClient) -> None:
        """On a standalone client, XREADGROUP and XACK are sent as RESP bytes built here (see
        :mod:`redisguard._wire.streams`): redis-py's packing of a 500-id XACK and its XREADGROUP reply
        callback were the largest costs per batch. On a cluster, redis-py's pipeline is used."""
        self._packed = packable(client)
        self._block_ms = _bounded_block(self.block_ms, client)
        encode = client.get_encoder().encode
        stream, group, name = encode(self.stream), encode(self.group), encode(self.name)
        block = [] if self._block_ms is None else [b"BLOCK", b"%d" % self._block_ms]
        self._xreadgroup = command(b"XREADGROUP", b"GROUP", group, name, b"COUNT", b"%d" % self.batch_size,
                                   *block, b"STREAMS", stream, b">")
        self._xack_args = bulk(b"XACK") + bulk(stream) + bulk(group)

    def _xack(self, ids: list[str]) -> bytes:
        # ids come from Redis ("<ms>-<seq>", ASCII): their length in characters is their length in bytes
        return b"*%d\r\n" % (3 + len(ids)) + self._xack_args + "".join([f"${len(i)}\r\n{i}\r\n" for i in ids]).encode()

    async def _flush_acks(self) -> None:
        """Acknowledge what was handled and not yet acknowledged (one XACK, in its own round trip)."""
        assert self._client is not None
        acks = list(self._unacked)
        if not acks:
            return
        if self._packed:
            assert isinstance(self._client, redis.asyncio.Redis)
            replies = await self._write(self._xack(acks), 1, acks=len(acks))
        else:
            pipe = self._client.pipeline(transaction=False)
            pipe.xack(self.stream, self.group, *acks)
            replies = await pipe.execute(raise_on_error=False)
        self._acked(replies[0], len(acks))

    async def _write(self, payload: bytes, count: int, *, acks: int) -> list[Any]:
        """Send pre-built commands (an XACK of ``acks`` ids first, when ``acks``), not retried here: a fault
        goes up to run(), which backs off and resumes from the pending entries (a read whose reply was lost
        delivered entries nobody has seen). An XACK whose reply did arrive is counted first."""
        assert isinstance(self._client, redis.asyncio.Redis)
        try:
            return await write_batch(self._client, payload, count)
        except BatchInterrupted as cut:
            if acks and cut.replies:
                self._acked(cut.replies[0], acks)
            raise cut.cause from None

    def _acked(self, reply: Any, count: int) -> None:
        """The XACK of the first ``count`` queued ids replied ``reply``."""
        if isinstance(reply, Exception):
            raise reply  # the ids stay queued: run() tries once more on its way out
        self.metrics.acked += count
        del self._unacked[:count]

    async def _flush_acks_after(self, error: BaseException) -> None:
        """On run()'s way out with ``error``: send the pending acks (bounded), or say on ``error`` that
        they were not sent (those entries stay pending, and are reclaimed and handled again)."""
        if not self._unacked:
            return
        try:
            await asyncio.wait_for(self._flush_acks(), timeout=5.0)
        except (Exception, asyncio.CancelledError) as ack_error:
            error.add_note(f"redisguard Consumer: {len(self._unacked)} handled entries were not acknowledged "
                           f"({type(ack_error).__name__}: {ack_error}); they stay pending and will be redelivered")

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
        """The next batch, read in the same round trip as the XACK of what was handled since the last."""
        assert self._client is not None
        acks = list(self._unacked)
        if not self._packed:  # cluster: redis-py's pipeline (XACK and XREADGROUP hash to one slot)
            pipe = self._client.pipeline(transaction=False)
            if acks:
                pipe.xack(self.stream, self.group, *acks)
            pipe.xreadgroup(self.group, self.name, {self.stream: ">"}, count=self.batch_size, block=self._block_ms)
            replies = await pipe.execute(raise_on_error=False)
            if acks:
                self._acked(replies[0], len(acks))
            if isinstance(replies[-1], Exception):
                raise replies[-1]
            return [Entry(self.stream, _text(entry_id), fields or {}, 1)
                    for _, entries in replies[-1] or [] for entry_id, fields in entries]
        assert isinstance(self._client, redis.asyncio.Redis)
        payload = self._xack(acks) + self._xreadgroup if acks else self._xreadgroup
        replies = await self._write(payload, 2 if acks else 1, acks=len(acks))
        if acks:
            self._acked(replies[0], len(acks))
        reply = replies[-1]
        if isinstance(reply, Exception):
            raise reply
        if not reply:
            return []  # BLOCK timed out: nil
        stream = self.stream
        entries: list[Entry] = []
        append = entries.append
        # RESP2: [[stream, [[id, [field, value, ...]], ...]]]; RESP3 (a caller's client): {stream: [...]}
        for _, rows in reply.items() if isinstance(reply, dict) else reply:
            for entry_id, values in rows:
                fields: dict[bytes, bytes] = {}
                if values:  # this loop is twice as fast as dict(zip(it, it)) for a few fields
                    pairs = iter(values)
                    for name in pairs:
                        fields[name] = next(pairs)
                append(Entry(stream, entry_id.decode(), fields, 1))
        return entries

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
                await self._flush_acks()
            if cursor == "0-0" or self._stopping.is_set():
                return

    async def _deliveries(self, ids: list[str]) -> dict[str, int]:
        assert self._client is not None
        rows = await self._client.xpending_range(self.stream, self.group, min=ids[0], max=ids[-1],
                                                 count=len(ids) * 2, consumername=self.name)
        return {_text(row["message_id"]): int(row["times_delivered"]) for row in rows}

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
        except RETRYABLE as fault:
            if not transient(fault):
                raise
            return False  # the same: Redis went away; the read loop notices and resumes
        self.metrics.dead_lettered += 1
        self.metrics.errors.pop(entry.id, None)
        return True

    async def _process(self, entries: list[Entry]) -> None:
        """Handle ``entries`` (at most ``concurrency`` suspended at once); what succeeded is queued for XACK.

        Most handlers finish without suspending: such a handler's coroutine is driven here by hand (no
        Task, no wrapper coroutine), which was most of the consumer's own time per entry.
        """
        handler, done, metrics = self.handler, self._unacked, self.metrics
        active: set[asyncio.Task[str | None]] = set()
        try:
            for entry in entries:
                while len(active) >= self.concurrency:
                    finished, active = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                    self._collect(finished)
                if entry.deliveries > self.max_deliveries:
                    active.add(asyncio.ensure_future(self._dead_letter_id(entry)))
                    continue
                try:
                    awaitable: Any = handler(entry)
                    if awaitable.__class__ is not CoroutineType:  # another kind of awaitable: a Task awaits it
                        active.add(asyncio.ensure_future(self._handle(entry, awaitable)))
                        continue
                    yielded = awaitable.send(None)
                except StopIteration:
                    metrics.handled += 1
                    if metrics.errors:
                        metrics.errors.pop(entry.id, None)
                    done.append(entry.id)
                except Exception as exc:  # the handler's failure: leave pending, retried after claim_idle_ms
                    self._failed(entry, exc)
                else:  # suspended: a Task finishes it
                    active.add(asyncio.ensure_future(self._handle(entry, _finish(awaitable, yielded))))
            if active:
                finished, active = await asyncio.wait(active)
                self._collect(finished)
        finally:
            if active:  # leaving with an error: no handler is left running unwatched, no success unacked
                for task in active:
                    task.cancel()
                finished, _ = await asyncio.wait(active)
                self._collect(finished, raising=False)

    def _collect(self, finished: set[asyncio.Task[str | None]], *, raising: bool = True) -> None:
        """Queue the ids of the finished tasks that succeeded, all of them, and only then raise the
        first error among them (a dead-letter write that failed otherwise than with OOM, a cancellation)."""
        error: BaseException | None = None
        for task in finished:
            if task.cancelled():
                error = error or asyncio.CancelledError()
                continue
            if (failure := task.exception()) is not None:
                error = error or failure
            elif (entry_id := task.result()) is not None:
                self._unacked.append(entry_id)
        if error is not None and raising:
            raise error

    async def _handle(self, entry: Entry, handling: Awaitable[None]) -> str | None:
        """The entry id to acknowledge, or None to leave it pending."""
        try:
            if self.handler_timeout is None:
                await handling
            else:
                try:
                    await asyncio.wait_for(handling, self.handler_timeout)
                except TimeoutError:
                    self.metrics.timed_out += 1
                    raise TimeoutError(f"handler did not finish within handler_timeout={self.handler_timeout:g} s"
                                       ) from None
        except Exception as exc:
            self._failed(entry, exc)
            return None
        self.metrics.handled += 1
        self.metrics.errors.pop(entry.id, None)
        return entry.id

    def _failed(self, entry: Entry, exc: Exception) -> None:
        self.metrics.failed += 1
        if len(self.metrics.errors) < 10_000:
            self.metrics.errors[entry.id] = f"{type(exc).__name__}: {exc}"

    async def _dead_letter_id(self, entry: Entry) -> str | None:
        return entry.id if await self._dead_letter(entry) else None

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
