"""Faults: Redis killed (SIGKILL, by PID) and restarted on the same port while the library works."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import redis

from redisguard.localserver import LocalServer
from redisguard.streams import Consumer, Entry, EventsNotStoredError, Producer, Trimmer


def _kill(srv: LocalServer) -> None:
    """SIGKILL the server we started (by its PID): no shutdown, no final AOF rewrite."""
    assert srv.process is not None
    os.kill(srv.process.pid, signal.SIGKILL)
    srv.process.wait(timeout=10)
    if srv.process.stderr is not None:
        srv.process.stderr.close()
    srv.process = None


def _kill_and_restart(srv: LocalServer, down_for: float) -> None:
    port = srv.port
    _kill(srv)
    time.sleep(down_for)
    srv.start()
    assert srv.port == port, "the restarted server must be on the same port"


def _durable(make_server) -> LocalServer:
    # Every write acknowledged is on disk before its reply: what the producer was told is stored, is.
    return make_server(appendonly="yes", appendfsync="always")


async def test_producer_survives_a_restart_while_producing(make_server) -> None:
    srv = _durable(make_server)
    total = 30_000
    checkpoints: list[int] = []
    producer = Producer(srv.url, batch_size=200, max_buffer_events=2_000, memory_limit=0.9, high_water=10**9,
                        max_backoff=0.5, checkpoint=checkpoints.append)
    await producer.start()
    restart: asyncio.Task[None] | None = None
    written_at_kill = -1
    for index in range(total):
        await producer.send("firehose", {"seq": str(index), "pad": "x" * 32}, cursor=index)
        if index == 8_000:
            written_at_kill = producer.metrics.events_written
            restart = asyncio.create_task(asyncio.to_thread(_kill_and_restart, srv, 2.0))
    assert restart is not None
    await restart
    await producer.close(timeout=60)
    assert 0 < written_at_kill < total  # the server died while events were still being produced
    admin = srv.client()
    seqs = [int(fields[b"seq"]) for _, fields in admin.xrange("firehose")]
    admin.close()
    assert set(seqs) == set(range(total))  # every accepted event is stored
    duplicates = len(seqs) - len(set(seqs))
    assert duplicates <= producer.metrics.possible_duplicates  # and every duplicate was counted as possible
    assert producer.metrics.connection_errors >= 1
    assert producer.metrics.events_written == total
    assert producer.metrics.events_not_stored == 0
    assert checkpoints[-1] == total - 1


async def test_producer_close_counts_what_it_could_not_store(make_server) -> None:
    srv = _durable(make_server)
    producer = Producer(srv.url, batch_size=50, max_buffer_events=1_000, memory_limit=None, max_backoff=0.2)
    await producer.start()
    for index in range(500):
        await producer.send("s", {"seq": str(index)})
    await producer.flush()
    _kill(srv)  # and it never comes back
    for index in range(500, 800):
        await producer.send("s", {"seq": str(index)})  # accepted into the buffer: send() does not fail
    with pytest.raises(EventsNotStoredError) as caught:
        await producer.close(timeout=1.5)
    assert caught.value.count == 300
    assert "300 events" in str(caught.value)
    assert producer.metrics.events_not_stored == 300
    assert producer.metrics.events_written == 500
    assert isinstance(caught.value.__cause__, redis.ConnectionError)


def _add(client: redis.Redis, stream: str, start: int, count: int) -> None:
    pipe = client.pipeline(transaction=False)
    for index in range(start, start + count):
        pipe.xadd(stream, {"n": str(index)})
    pipe.execute()


async def _wait_for(condition, task: asyncio.Task[None], timeout: float = 60.0) -> None:
    for _ in range(int(timeout * 20)):
        if condition() or task.done():
            return
        await asyncio.sleep(0.05)


def _pending(client: redis.Redis, stream: str, group: str) -> int:
    return int(client.xpending(stream, group)["pending"])


async def test_consumer_survives_a_restart_and_loses_nothing(make_server) -> None:
    srv = _durable(make_server)
    admin = srv.client()
    admin.xgroup_create("jobs", "workers", id="0", mkstream=True)
    _add(admin, "jobs", 0, 3_000)
    seen: set[int] = set()
    restart: list[asyncio.Task[None]] = []

    async def handler(entry: Entry) -> None:
        await asyncio.sleep(0.001)
        seen.add(int(entry.fields[b"n"]))
        if len(seen) == 600 and not restart:
            restart.append(asyncio.create_task(asyncio.to_thread(_kill_and_restart, srv, 2.0)))

    # claim_idle_ms of 10 minutes: an entry delivered in a read whose reply was lost can only come back
    # through the consumer resuming from its own pending entries, not through XAUTOCLAIM.
    consumer = Consumer(srv.url, stream="jobs", group="workers", name="w1", handler=handler, batch_size=100,
                        block_ms=50, claim_idle_ms=600_000, max_backoff=0.5)
    task = asyncio.create_task(consumer.run())
    await _wait_for(lambda: bool(restart) and restart[0].done(), task)
    assert restart and not task.done(), "the consumer must still run after the restart"
    await restart[0]
    admin = srv.client()
    _add(admin, "jobs", 3_000, 2_000)  # produced after the restart
    await _wait_for(lambda: len(seen) == 5_000 and _pending(admin, "jobs", "workers") == 0, task)
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)  # run() returns, without an error
    assert seen == set(range(5_000))
    assert _pending(admin, "jobs", "workers") == 0  # every entry acknowledged
    assert consumer.metrics.connection_errors >= 1
    admin.close()


async def test_consumer_resumes_from_its_own_pending_entries(make_server) -> None:
    # Entries delivered to "w1" whose reply never reached it (a read lost in a fault, a process restart):
    # a consumer of that name handles them at once, without waiting for claim_idle_ms.
    srv = make_server()
    admin = srv.client()
    admin.xgroup_create("jobs", "workers", id="0", mkstream=True)
    _add(admin, "jobs", 0, 30)
    admin.xreadgroup("workers", "w1", {"jobs": ">"}, count=30)
    seen: list[int] = []

    async def handler(entry: Entry) -> None:
        seen.append(int(entry.fields[b"n"]))

    consumer = Consumer(srv.url, stream="jobs", group="workers", name="w1", handler=handler, block_ms=20,
                        claim_idle_ms=600_000)
    task = asyncio.create_task(consumer.run())
    await _wait_for(lambda: len(seen) == 30, task)
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)
    assert sorted(seen) == list(range(30))
    assert consumer.metrics.resumed == 30
    assert _pending(admin, "jobs", "workers") == 0
    admin.close()


async def test_hanging_handler_is_bounded_retried_then_dead_lettered(make_server) -> None:
    srv = make_server()
    admin = srv.client()
    admin.xgroup_create("jobs", "workers", id="0", mkstream=True)
    _add(admin, "jobs", 0, 10)
    calls: dict[int, int] = {}

    async def handler(entry: Entry) -> None:
        n = int(entry.fields[b"n"])
        calls[n] = calls.get(n, 0) + 1
        if n == 3:
            await asyncio.Event().wait()  # hangs for ever

    consumer = Consumer(srv.url, stream="jobs", group="workers", name="w1", handler=handler, block_ms=20,
                        handler_timeout=0.3, claim_idle_ms=100, claim_interval=0.05, max_deliveries=2)
    task = asyncio.create_task(consumer.run())
    await _wait_for(lambda: admin.xlen("jobs:dead") >= 1, task)
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)
    dead = admin.xrange("jobs:dead")
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"n"] == b"3"
    assert b"handler_timeout" in fields[b"dead:error"]
    assert calls[3] == 2  # delivered, timed out, retried once, timed out again: then dead-lettered
    assert consumer.metrics.timed_out == 2
    assert consumer.metrics.failed == 2
    assert all(calls[n] == 1 for n in range(10) if n != 3)
    assert _pending(admin, "jobs", "workers") == 0
    admin.close()


async def test_stop_returns_when_redis_is_gone(make_server) -> None:
    srv = make_server()
    admin = srv.client()
    admin.xgroup_create("jobs", "workers", id="0", mkstream=True)
    _add(admin, "jobs", 0, 50)
    admin.close()
    seen: list[int] = []

    async def handler(entry: Entry) -> None:
        seen.append(int(entry.fields[b"n"]))

    consumer = Consumer(srv.url, stream="jobs", group="workers", name="w1", handler=handler, block_ms=20,
                        max_backoff=0.2)
    task = asyncio.create_task(consumer.run())
    await _wait_for(lambda: len(seen) == 50, task)
    _kill(srv)
    await _wait_for(lambda: consumer.metrics.connection_errors >= 2, task)
    assert not task.done()  # still trying to reconnect
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)  # returns, without an error
    assert consumer.metrics.connection_errors >= 2


async def test_trimmer_survives_a_restart(make_server) -> None:
    srv = _durable(make_server)
    admin = srv.client()
    admin.xgroup_create("t", "g", id="$", mkstream=True)
    trimmer = Trimmer(srv.url, ["t"], interval=0.05, exact=True)
    task = asyncio.create_task(trimmer.run())
    await _wait_for(lambda: trimmer.runs >= 2, task)  # connected and trimming
    await asyncio.to_thread(_kill_and_restart, srv, 1.0)
    admin = srv.client()
    _add(admin, "t", 0, 10)  # added after the group was created at $: the group has read none of them...
    admin.xgroup_setid("t", "g", id="$")  # ...until it is moved past them: all 10 are now safe to trim
    await _wait_for(lambda: admin.xlen("t") == 0, task)
    trimmer.stop()
    await asyncio.wait_for(task, timeout=30)
    assert admin.xlen("t") == 0 and trimmer.trimmed == 10
    assert trimmer.connection_errors >= 1
    admin.close()
