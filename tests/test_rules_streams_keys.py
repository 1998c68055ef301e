"""Stream and key rules, each on a real server in that state."""

from __future__ import annotations

import time

from redisguard.localserver import LocalServer
from rules_states import diagnose, ids, only


def _stream(client, key: str, entries: int, size: int = 50) -> None:
    pipe = client.pipeline(transaction=False)
    for index in range(entries):
        pipe.xadd(key, {"n": str(index), "body": "b" * size})
    pipe.execute()


def test_stream_backlog_reports_lag_or_unknown(make_server, redis_binary) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        _stream(client, "orders", 500)
        client.xgroup_create("orders", "billing", id="0")
        client.xreadgroup("billing", "b1", {"orders": ">"}, count=100)
    finding = only(diagnose(srv, backlog_entries=300), "streams.backlog")
    assert finding.evidence["length"] == 500
    if redis_binary.version >= (7, 0, 0):
        assert finding.evidence["lag billing"] == 400
    else:
        assert finding.evidence["lag billing"] == "unknown"  # 6.2 has no lag: never reported as 0
    assert (finding.bytes_at_stake or 0) > 0
    assert "streams.backlog" not in ids(diagnose(srv))


def test_pending_entries_and_dead_consumers(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        _stream(client, "jobs", 200)
        client.xgroup_create("jobs", "workers", id="0")
        client.xreadgroup("workers", "crashed-worker", {"jobs": ">"}, count=150)
        time.sleep(0.6)
        client.xreadgroup("workers", "live-worker", {"jobs": ">"}, count=10)
        client.xack("jobs", "workers", *[entry_id for _, entries in
                                         client.xreadgroup("workers", "live-worker", {"jobs": "0"}) for entry_id, _
                                         in entries])
    findings = diagnose(srv, pending_entries=100, dead_consumer_idle_ms=500)
    pending = only(findings, "streams.pending")
    assert pending.evidence["pending"] == 150
    dead = only(findings, "streams.dead-consumers")
    assert "consumer crashed-worker" in dead.evidence
    assert "consumer live-worker" not in dead.evidence
    assert "DELCONSUMER" in dead.fixes[1].command and "ONLY after" in dead.fixes[1].risk


def test_group_that_never_read_pins_the_stream(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        _stream(client, "audit-log", 50)
        client.xgroup_create("audit-log", "archiver", id="0")
        client.xgroup_create("audit-log", "reader", id="0")
        client.xreadgroup("reader", "r1", {"audit-log": ">"})
    finding = only(diagnose(srv), "streams.group-never-read")
    assert finding.evidence["group"] == "archiver"


def test_untrimmed_stream(make_server, redis_binary) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        # An explicit id two days in the past: 6.2 cannot say whether a stream was ever trimmed, so the
        # rule only flags one whose first entry is over a day old.
        first = int(time.time() * 1000) - 2 * 86_400_000
        client.xadd("telemetry", {"n": "0"}, id=f"{first}-0")
        _stream(client, "telemetry", 299)
        _stream(client, "trimmed", 300)
        client.xtrim("trimmed", maxlen=250, approximate=False)
    findings = diagnose(srv, untrimmed_stream_entries=200)
    untrimmed = [finding for finding in findings if finding.id == "streams.untrimmed"]
    assert [finding.evidence["stream"] for finding in untrimmed] == ["telemetry"]
    if redis_binary.version >= (7, 0, 0):
        assert untrimmed[0].evidence["entries_added"] == 300  # all ever added are still there


def test_cache_keys_without_ttl_and_big_keys(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="128mb", maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(300):
            pipe.set(f"session:{index:08x}", "s" * 100)  # no TTL
            pipe.set(f"cache:page:{index}", "p" * 100, ex=600)
            pipe.set(f"user:{index}", "u" * 100)  # not cache-like: no finding
        pipe.execute()
        for index in range(3):  # cache-like names, no TTL, but streams: a queue, never a cache to expire
            _stream(client, f"tmp:queue:{index}", 5)
        client.hset("catalog:all", mapping={f"item{index}": "i" * 100 for index in range(20_000)})
        size = int(client.memory_usage("catalog:all") or 0)
    findings = diagnose(srv, key_sample=10_000, big_key_bytes=size // 2)
    cache = only(findings, "keys.cache-without-ttl")
    assert cache.evidence["pattern"] == "session:*"
    assert cache.evidence["without_ttl"] == 300
    assert cache.evidence["sampled"] is False  # 904 keys: scanned in full
    big = only(findings, "keys.big-keys")
    assert "hash catalog:all" in big.evidence
    assert big.bytes_at_stake == size
    assert big.fixes[0].command == "UNLINK catalog:all"


def test_few_big_events_are_a_backlog_by_memory(make_server) -> None:
    """Seed 001's 4 KB events: 1,500 entries are far below every count threshold, yet they hold most of an
    8 MB maxmemory; with a group behind and a consumer holding 500 of them, the default thresholds see the
    backlog (by its share of maxmemory) and the pending entries (about a third of it)."""
    srv: LocalServer = make_server(maxmemory="8mb", maxmemory_policy="noeviction")
    with srv.client() as client:
        _stream(client, "firehose", 1500, size=4000)
        client.xgroup_create("firehose", "indexers", id="0")
        client.xreadgroup("indexers", "indexer-2", {"firehose": ">"}, count=500)
        _stream(client, "small", 50)
        client.xgroup_create("small", "readers", id="0")  # a group behind on a small stream: no finding
    findings = diagnose(srv)
    backlog = only(findings, "streams.backlog")
    assert backlog.evidence["stream"] == "firehose" and backlog.evidence["length"] == 1500
    assert float(backlog.evidence["share_of_maxmemory"] or 0) >= 0.25 and "of maxmemory" in backlog.title
    pending = only(findings, "streams.pending")
    assert pending.evidence["pending"] == 500
    estimate = int(pending.evidence["pending_bytes_estimate"] or 0)
    assert 500 * 4000 <= estimate <= 500 * 5000  # the 500 entries at the stream's mean size (~4.5 KB each)
    held = only(findings, "eviction.noeviction-backlog")
    assert "stream firehose" in held.evidence and "stream small" not in held.evidence
    # the same stream with every entry read and acknowledged is not a backlog (it is untrimmed: another rule)
    with srv.client() as client:
        for _, entries in client.xreadgroup("indexers", "indexer-1", {"firehose": ">"}) or []:
            client.xack("firehose", "indexers", *[entry_id for entry_id, _ in entries])
        client.xack("firehose", "indexers", *[entry_id for _, entries in
                                              client.xreadgroup("indexers", "indexer-2", {"firehose": "0"})
                                              for entry_id, _ in entries])
        client.delete("small")
    after = ids(diagnose(srv))
    assert "streams.backlog" not in after and "streams.pending" not in after
    assert "eviction.noeviction-backlog" not in after
