"""Consumer: a killed consumer's entries are reclaimed; poison entries are dead-lettered; clean shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from redisguard.localserver import LocalServer
from redisguard.streams import Consumer, Entry, Producer


def _produce(client: redis.Redis, stream: str, count: int, poison: set[int] = frozenset()) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for index in range(count):
        pipe.xadd(stream, {"n": str(index), "poison": "1" if index in poison else "0"})
    return [entry_id.decode() for entry_id in pipe.execute()]


async def _run_until(consumer: Consumer, done, timeout: float = 60) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(int(timeout * 20)):
            if done() or task.done():
                break
            await asyncio.sleep(0.05)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=30)


async def test_killed_consumer_entries_are_claimed_and_processed(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    admin.xgroup_create("work", "workers", id="0", mkstream=True)
    ids = _produce(admin, "work", 200)
    victim = subprocess.Popen([sys.executable, str(Path(__file__).with_name("streams_victim.py")), srv.url, "work"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout is not None
        first = victim.stdout.readline()
        assert first.startswith("got ")
        os.kill(victim.pid, signal.SIGKILL)  # mid-batch: it holds 50 delivered, unacknowledged entries
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
        if victim.stdout is not None:
            victim.stdout.close()
    pending = admin.xpending("work", "workers")
    assert pending["pending"] == 50
    assert {c["name"]: c["pending"] for c in pending["consumers"]} == {b"victim": 50}

    handled: list[str] = []

    async def handler(entry: Entry) -> None:
        handled.append(entry.id)

    survivor = Consumer(srv.url, stream="work", group="workers", name="survivor", handler=handler,
                        claim_idle_ms=300, claim_interval=0.1,
                        block_ms=50)
    await _run_until(survivor, lambda: set(handled) >= set(ids))
    assert set(handled) == set(ids)  # nothing lost
    assert survivor.metrics.claimed == 50
    assert admin.xpending("work", "workers")["pending"] == 0
    admin.close()


async def test_poison_entry_goes_to_dead_letter_and_the_rest_flows(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    ids = _produce(admin, "orders", 30, poison={7})
    handled: list[int] = []

    async def handler(entry: Entry) -> None:
        if entry.fields[b"poison"] == b"1":
            raise ValueError("cannot parse order")
        handled.append(int(entry.fields[b"n"]))

    consumer = Consumer(srv.url, stream="orders", group="billing", name="b1", handler=handler,
                        max_deliveries=3, claim_idle_ms=50, claim_interval=0.05, block_ms=20)
    await _run_until(consumer, lambda: admin.exists("orders:dead") == 1)
    assert sorted(handled) == [n for n in range(30) if n != 7]
    dead = admin.xrange("orders:dead")
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"dead:id"].decode() == ids[7]
    assert fields[b"dead:deliveries"] == b"4"
    assert b"ValueError: cannot parse order" in fields[b"dead:error"]
    assert fields[b"n"] == b"7"
    assert admin.xpending("orders", "billing")["pending"] == 0
    assert consumer.metrics.dead_lettered == 1
    admin.close()


async def test_group_creation_tolerates_oom_when_group_exists(make_server) -> None:
    srv: LocalServer = make_server(maxmemory_policy="noeviction")
    admin = srv.client()
    admin.xgroup_create("s", "g", id="0", mkstream=True)
    _produce(admin, "s", 20)
    admin.set("ballast", "x" * 2 * 1024 * 1024)
    admin.config_set("maxmemory", "1mb")
    try:
        admin.xgroup_create("s", "g", id="0")
        raise AssertionError("expected OOM")
    except redis.exceptions.OutOfMemoryError:
        pass  # the fact the consumer must survive: OOM, not BUSYGROUP
    handled: list[str] = []

    async def handler(entry: Entry) -> None:
        handled.append(entry.id)

    consumer = Consumer(srv.url, stream="s", group="g", name="c", handler=handler, block_ms=20)
    await _run_until(consumer, lambda: len(handled) == 20)
    assert len(handled) == 20  # it started during the incident, read and acknowledged
    assert admin.xpending("s", "g")["pending"] == 0
    admin.close()


async def test_idle_consumers_without_pending_are_removed(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    admin.xgroup_create("s", "g", id="0", mkstream=True)
    _produce(admin, "s", 10)
    admin.xreadgroup("g", "holder", {"s": ">"}, count=3)  # holds 3 pending: must never be removed
    admin.xgroup_createconsumer("s", "g", "empty")
    await asyncio.sleep(0.3)

    async def handler(entry: Entry) -> None:
        return None

    consumer = Consumer(srv.url, stream="s", group="g", name="worker", handler=handler,
                        remove_idle_ms=200, claim_idle_ms=60_000, claim_interval=0.05, block_ms=20)
    await _run_until(consumer, lambda: consumer.metrics.consumers_removed >= 1, timeout=10)
    names = {c["name"] for c in admin.xinfo_consumers("s", "g")}
    assert b"empty" not in names
    assert b"holder" in names
    assert admin.xpending("s", "g")["pending"] == 3
    admin.close()


async def test_acks_sent_with_the_next_read_are_all_sent_by_stop(make_server) -> None:
    # A batch's XACK travels with the next XREADGROUP. stop() from inside a handler: the last batch's
    # acks have no next read, and must still be sent before run() returns.
    srv: LocalServer = make_server()
    admin = srv.client()
    ids = _produce(admin, "s", 1000)
    handled: list[str] = []

    async def handler(entry: Entry) -> None:
        handled.append(entry.id)
        if len(handled) == len(ids):
            consumer.stop()

    consumer = Consumer(srv.url, stream="s", group="g", name="c", handler=handler, batch_size=64, block_ms=20)
    await asyncio.wait_for(consumer.run(), timeout=30)
    assert sorted(handled) == sorted(ids)
    assert admin.xpending("s", "g")["pending"] == 0
    assert consumer.metrics.acked == consumer.metrics.handled == 1000
    admin.close()


async def test_acks_do_not_wait_for_a_blocked_read(make_server) -> None:
    # The XACK runs before the XREADGROUP it is pipelined with: while that read blocks (nothing new to
    # read), what was handled is already acknowledged.
    srv: LocalServer = make_server()
    admin = srv.client()
    _produce(admin, "s", 10)
    handled: list[str] = []

    async def handler(entry: Entry) -> None:
        handled.append(entry.id)

    consumer = Consumer(srv.url, stream="s", group="g", name="c", handler=handler, block_ms=2000, claim_interval=3600)
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(200):  # bounded wait (10 s) for the state, not a timing assertion
            if len(handled) == 10 and admin.xpending("s", "g")["pending"] == 0:
                break
            await asyncio.sleep(0.05)
        assert len(handled) == 10
        assert admin.xpending("s", "g")["pending"] == 0
        assert not task.done()  # still running: the acks did not wait for run() to end
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=30)
    assert consumer.metrics.acked == 10
    admin.close()


async def test_cancelled_consumer_acknowledges_what_it_handled(make_server) -> None:
    # Cancelled while one handler is suspended: every entry handled before is acknowledged on the way
    # out (the previous batch's queued acks and this batch's); only the interrupted entry stays pending.
    srv: LocalServer = make_server()
    admin = srv.client()
    ids = _produce(admin, "s", 20)
    started, never = asyncio.Event(), asyncio.Event()
    handled: list[str] = []

    async def handler(entry: Entry) -> None:
        if entry.id == ids[15]:
            started.set()
            await never.wait()
        handled.append(entry.id)

    consumer = Consumer(srv.url, stream="s", group="g", name="c", handler=handler, batch_size=10, block_ms=20)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=30)
    assert sorted(handled) == sorted(ids[:15] + ids[16:])
    pending = admin.xpending_range("s", "g", min="-", max="+", count=100)
    assert [row["message_id"].decode() for row in pending] == [ids[15]]
    assert consumer.metrics.acked == 19
    admin.close()


class _Fatal(BaseException):
    """Not a handler failure (those are Exceptions): it ends run()."""


async def test_acks_that_cannot_be_sent_on_error_are_reported(make_server) -> None:
    # run() leaves with an error and the server is gone: the acks it could not send are named on the
    # error (those entries stay pending and are redelivered), not dropped silently.
    srv: LocalServer = make_server()
    admin = srv.client()
    ids = _produce(admin, "s", 5)
    admin.close()

    async def handler(entry: Entry) -> None:
        if entry.id == ids[3]:
            srv.stop()
            raise _Fatal("the worker must stop")

    consumer = Consumer(srv.url, stream="s", group="g", name="c", handler=handler, batch_size=10, block_ms=20)
    with pytest.raises(_Fatal) as caught:
        await asyncio.wait_for(consumer.run(), timeout=60)
    notes = getattr(caught.value, "__notes__", [])
    assert any("3 handled entries were not acknowledged" in note for note in notes), notes
    assert consumer.metrics.handled == 3 and consumer.metrics.acked == 0


async def test_resp3_client_of_the_caller(make_server) -> None:
    # A caller's own client may speak RESP3 (XREADGROUP then replies with a map): same entries, same acks.
    import redis.asyncio as aredis

    srv: LocalServer = make_server()
    admin = srv.client()
    client = aredis.Redis(host="127.0.0.1", port=srv.port, protocol=3)
    try:
        async with Producer(client, batch_size=50) as producer:
            for index in range(300):
                await producer.send("s", {"n": str(index)})
        seen: list[int] = []

        async def handler(entry: Entry) -> None:
            seen.append(int(entry.fields[b"n"]))
            if len(seen) == 300:
                consumer.stop()

        consumer = Consumer(client, stream="s", group="g", name="c", handler=handler, batch_size=64, block_ms=20)
        await asyncio.wait_for(consumer.run(), timeout=30)
    finally:
        await client.aclose()
    assert seen == list(range(300))
    assert admin.xpending("s", "g")["pending"] == 0
    admin.close()


@pytest.mark.parametrize("block_ms", [0, 1500], ids=["block-forever", "block-longer-than-timeout"])
async def test_block_longer_than_the_clients_socket_timeout(server: LocalServer, block_ms: int) -> None:
    """A caller's client with a 0.5 s socket timeout and a longer (or endless) BLOCK: the consumer waits
    through idle periods without a TimeoutError, still sees new entries, and stops cleanly."""
    import redis.asyncio as aredis

    client = aredis.Redis(host="127.0.0.1", port=server.port, socket_timeout=0.5, protocol=2)
    seen: list[bytes] = []

    async def handler(entry: Entry) -> None:
        seen.append(entry.fields[b"n"])

    consumer = Consumer(client, stream="quiet", group="g", name="c1", handler=handler, block_ms=block_ms)
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.sleep(1.6)  # three socket timeouts with nothing to read
        assert not task.done()
        with server.client() as admin:
            admin.xadd("quiet", {"n": "1"})
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == [b"1"]
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=10)  # raises here if run() failed
        await client.aclose()
    with server.client() as admin:
        assert admin.xpending("quiet", "g")["pending"] == 0


async def test_cluster_client_block_is_bounded_too(cluster) -> None:
    from redis.asyncio.cluster import RedisCluster

    from redisguard.streams._consumer import _bounded_block

    node = cluster.nodes[0]
    client = RedisCluster(host="127.0.0.1", port=node.port, socket_timeout=0.4)
    try:
        assert _bounded_block(5000, client) == 200
        assert _bounded_block(0, client) == 200
        assert _bounded_block(100, client) == 100
        assert _bounded_block(None, client) is None
    finally:
        await client.aclose()
