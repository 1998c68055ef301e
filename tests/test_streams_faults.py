"""Faults: Redis killed (SIGKILL, by PID) and restarted on the same port while the library works."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import redis

from redisguard.localserver import LocalServer
from redisguard.streams import EventsNotStoredError, Producer


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
