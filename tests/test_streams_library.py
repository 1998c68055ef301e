"""Producer features (checkpoints, sync wrapper, metrics) and the pipeline on Redis Cluster."""

from __future__ import annotations

import asyncio

import pytest
import redis

from redisguard.connect.errors import ConnectError
from redisguard.localserver import LocalCluster, LocalServer
from redisguard.streams import Consumer, Entry, Producer, SyncProducer, Trimmer, export_prometheus, safe_trim_point


async def test_checkpoint_only_after_events_are_stored(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    checkpoints: list[int] = []

    async def checkpoint(cursor: int) -> None:
        # every event up to this cursor must already be in Redis
        assert admin.xlen("page-feed") >= cursor + 1
        checkpoints.append(cursor)

    async with Producer(srv.url, batch_size=50, checkpoint=checkpoint) as producer:
        for index in range(500):
            await producer.send("page-feed", {"n": str(index)}, cursor=index)
    assert checkpoints and checkpoints == sorted(checkpoints)
    assert checkpoints[-1] == 499
    assert admin.xlen("page-feed") == 500
    admin.close()


def test_sync_producer_and_prometheus_metrics(make_server) -> None:
    from prometheus_client import generate_latest

    srv: LocalServer = make_server()
    with SyncProducer(srv.url, batch_size=100) as producer:
        for index in range(1000):
            producer.send("sync-feed", {"n": str(index)})
        producer.flush()
        registry = export_prometheus(producer.metrics)
        text = generate_latest(registry).decode()
    assert "redisguard_producer_events_written_total 1000.0" in text
    assert 'redisguard_producer_paused_seconds_total{reason="memory"} 0.0' in text
    metrics = producer.metrics.as_dict()
    assert metrics["events_written"] == 1000 and metrics["events_in_flight"] == 0
    with srv.client() as client:
        assert client.xlen("sync-feed") == 1000


async def test_safe_trim_point_reads_live_state(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    ids = [admin.xadd("s", {"n": str(n)}).decode() for n in range(20)]
    assert await safe_trim_point(srv.url, "s") is None
    admin.xgroup_create("s", "g", id="0")
    admin.xreadgroup("g", "c", {"s": ">"}, count=5)
    point = await safe_trim_point(srv.url, "s")
    assert point is not None and point.text == ids[0] and point.pinned_by == "g"
    admin.close()


async def test_pipeline_on_cluster_over_several_slots(cluster: LocalCluster) -> None:
    streams = [f"rg-lib-{n}" for n in range(4)]
    seen: dict[str, set[int]] = {stream: set() for stream in streams}

    def handler_for(stream: str):
        async def handler(entry: Entry) -> None:
            seen[stream].add(int(entry.fields[b"n"]))
        return handler

    admin = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    try:
        slots = {admin.keyslot(stream) for stream in streams}
        assert len(slots) == len(streams)
        consumers = [Consumer(cluster.url, stream=stream, group="g", name="c1", handler=handler_for(stream),
                              block_ms=20) for stream in streams]
        tasks = [asyncio.create_task(consumer.run()) for consumer in consumers]
        async with Producer(cluster.url, batch_size=50, high_water=10_000) as producer:
            for index in range(300):
                for stream in streams:
                    await producer.send(stream, {"n": str(index)})
        for _ in range(400):
            if all(len(values) == 300 for values in seen.values()):
                break
            await asyncio.sleep(0.05)
        for consumer in consumers:
            consumer.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        assert all(values == set(range(300)) for values in seen.values())
        trimmer = Trimmer(cluster.url, streams, exact=True)
        client = redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
        try:
            freed = await trimmer.trim_once(client)
        finally:
            await client.aclose()
        assert freed == 4 * 300
        assert all(admin.xlen(stream) == 0 for stream in streams)
    finally:
        for stream in streams:
            admin.delete(stream)
        admin.close()


async def test_suspending_handlers_run_with_bounded_concurrency(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    for index in range(120):
        admin.xadd("io", {"n": str(index)})
    running, peak, done = 0, 0, set()

    async def handler(entry: Entry) -> None:  # an I/O-bound handler: it suspends
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        if entry.fields[b"n"] == b"5" and entry.deliveries == 1:
            running -= 1
            raise RuntimeError("fails once")
        running -= 1
        done.add(int(entry.fields[b"n"]))

    consumer = Consumer(srv.url, stream="io", group="g", name="c", handler=handler,
                        batch_size=60, concurrency=8, block_ms=20, claim_idle_ms=50, claim_interval=0.05)
    task = asyncio.create_task(consumer.run())
    for _ in range(400):
        if len(done) == 120:
            break
        await asyncio.sleep(0.02)
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)
    assert done == set(range(120))
    assert 1 < peak <= 8
    assert consumer.metrics.failed == 1 and consumer.metrics.claimed >= 1
    assert admin.xpending("io", "g")["pending"] == 0
    admin.close()


async def test_oom_refused_events_are_retried_exactly_never_dropped(make_server) -> None:
    # Gates off, so Redis itself refuses: the writer must retry exactly the refused events, once stored.
    srv: LocalServer = make_server(maxmemory_policy="noeviction")
    admin = srv.client()
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", str(used + 1024 * 1024))  # about 1 MB of room: 3000 x 1 KB overflows
    async with Producer(srv.url, memory_limit=None, batch_size=200, max_backoff=0.1) as producer:
        async def upstream() -> None:
            for index in range(3000):
                await producer.send("full", {"seq": str(index), "payload": "p" * 1000})

        feeding = asyncio.create_task(upstream())
        for _ in range(600):
            if producer.metrics.oom_replies >= 3:
                break
            await asyncio.sleep(0.05)
        assert producer.metrics.oom_replies >= 3
        assert producer.metrics.events_written < 3000
        admin.config_set("maxmemory", "0")  # the incident ends
        await asyncio.wait_for(feeding, timeout=60)
        await asyncio.wait_for(producer.flush(), timeout=60)
    seqs = [int(fields[b"seq"]) for _, fields in admin.xrange("full")]
    assert sorted(seqs) == list(range(3000))  # every event stored, none twice
    assert producer.metrics.events_written == 3000 and producer.metrics.events_in_flight == 0
    assert int(admin.info("errorstats").get("errorstat_OOM", {}).get("count", 0)) > 0
    admin.close()


async def test_send_encodes_at_once_and_refuses_bad_fields(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    async with Producer(srv.url, batch_size=10, linger=0.05) as producer:
        fields: dict[str | bytes, str | bytes | int | float] = {"n": "1", b"raw": b"\x00\xff", "i": 7, "f": 1.5}
        await producer.send("enc", fields)
        fields["n"] = "changed after send"  # the event was taken as it was when sent
        with pytest.raises(redis.exceptions.DataError):
            await producer.send("enc", {"flag": True})  # as redis-py: a bool is refused, to the caller
        with pytest.raises(redis.exceptions.DataError):
            await producer.send("enc", {})
        await producer.send("enc", {"é": "ü"})  # the producer carries on
    rows = [fields for _, fields in admin.xrange("enc")]
    assert rows == [{b"n": b"1", b"raw": b"\x00\xff", b"i": b"7", b"f": b"1.5"},
                    {"é".encode(): "ü".encode()}]
    assert producer.metrics.events_written == 2
    admin.close()


async def test_producer_survives_killed_connections(make_server) -> None:
    # The server drops the producer's connection between batches (at every 20th checkpoint): the next write
    # fails and is retried on a new connection (the client's retry policy). Nothing is lost.
    srv: LocalServer = make_server()
    admin = srv.client()
    kills, batches = [0], [0]

    def checkpoint(cursor: int) -> None:
        batches[0] += 1
        if batches[0] % 20 == 0:
            kills[0] += int(admin.client_kill_filter(_type="normal", skipme=True))

    async with Producer(srv.url, batch_size=100, memory_limit=None, checkpoint=checkpoint) as producer:
        for index in range(20_000):
            await producer.send("kill", {"seq": str(index)}, cursor=index)
    assert kills[0] >= 5
    assert int(admin.info("stats")["total_connections_received"]) >= kills[0] + 2  # it reconnected
    seqs = [int(fields[b"seq"]) for _, fields in admin.xrange("kill")]
    assert set(seqs) == set(range(20_000))
    assert producer.metrics.events_written == 20_000
    admin.close()


async def test_producer_and_consumer_connect_without_client_setname_or_info(make_server) -> None:
    # A pipeline user with only stream commands: no CLIENT SETNAME (which redis-py sends on connect when the
    # client is named) and no INFO (which the library uses to detect a cluster). Both must still work.
    srv: LocalServer = make_server()
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "pipe", "reset", "on", ">pw", "~jobs*", "resetchannels",
                          "+@connection", "-client", "-info", "+xadd", "+xreadgroup", "+xack", "+xgroup",
                          "+xinfo", "+xlen", "+xpending", "+xautoclaim", "+xclaim", "+xrange", "+memory|usage")
    url = f"redis://pipe:pw@127.0.0.1:{srv.port}/0"  # test-only password
    async with Producer(url, batch_size=10, memory_limit=None) as producer:
        for index in range(25):
            await producer.send("jobs", {"n": str(index)})
    assert admin.xlen("jobs") == 25
    seen: list[bytes] = []

    async def handler(entry: Entry) -> None:
        seen.append(entry.id)
        if len(seen) == 25:
            consumer.stop()

    consumer = Consumer(url, stream="jobs", group="workers", name="w1", handler=handler)
    await asyncio.wait_for(consumer.run(), timeout=30)
    assert len(seen) == 25
    assert admin.xpending("jobs", "workers")["pending"] == 0
    as_pipe = redis.Redis(host="127.0.0.1", port=srv.port, username="pipe", password="pw")
    for refused in (lambda: as_pipe.client_setname("x"), lambda: as_pipe.info("cluster")):
        with pytest.raises(redis.exceptions.NoPermissionError):  # the path under test was really taken
            refused()
    as_pipe.close()
    admin.close()


async def test_a_database_the_server_lacks_is_one_connect_error(make_server) -> None:
    """``/99`` on a 16-database server: Producer and Consumer raise the same one-line ConnectError as the
    commands (exit 3 there), not redis-py's ResponseError from the first command on the connection."""
    srv: LocalServer = make_server()
    url = f"redis://127.0.0.1:{srv.port}/99"
    with pytest.raises(ConnectError, match="no database 99"):
        async with Producer(url, memory_limit=None) as producer:
            await producer.send("jobs", {"n": "1"})

    async def handler(entry: Entry) -> None:
        raise AssertionError("nothing to consume")

    with pytest.raises(ConnectError, match="no database 99"):
        await asyncio.wait_for(Consumer(url, stream="jobs", group="g", name="c", handler=handler).run(), timeout=30)
