"""Big keys are never missed silently: sampled runs measure them exactly and state their coverage; a full
scan of a production-like keyspace equals MEMORY USAGE key by key and pattern by pattern."""

from __future__ import annotations

import redis
from bench.keyspaces import BIG_KEYS, load, prod
from tests.rules_states import diagnose

from redisguard.connect import ConnectionOptions, open_client
from redisguard.keynames import to_bytes
from redisguard.keyspace import PatternGrouper, ScanSettings, sample_for_doctor, scan_deployment
from redisguard.localserver import LocalServer
from redisguard.rules import Thresholds

SMALL, BIG = 4000, (20_000, 5_000, 3_000)  # small keys; (list, zset, stream) elements of the big keys


def _options(server: LocalServer) -> ConnectionOptions:
    return ConnectionOptions.build(server.url)


def _fill(server: LocalServer) -> None:
    load(server.port, prod(SMALL, big=BIG))
    with server.client() as admin:
        admin.set("blob:avatar:2024-05-01", "x" * (3 << 20))  # a 3 MiB string: big by bytes
        admin.hset("profile:huge", mapping={f"f{i}": "v" * 200 for i in range(1500)})  # 1,500 elements


def _planted() -> dict[bytes, str]:
    return {**{key: typ for key, typ, _ in BIG_KEYS}, b"blob:avatar:2024-05-01": "string", b"profile:huge": "hash"}


def test_sampled_run_measures_every_planted_big_key_exactly_and_states_coverage(server: LocalServer) -> None:
    _fill(server)
    report = scan_deployment(_options(server), ScanSettings(sample=200))
    assert not report.exact
    found = {to_bytes(row.key): row for row in report.biggest()}
    with server.client() as admin:
        for key, typ in _planted().items():
            row = found[key]
            assert row.exact and row.type == typ
            assert row.bytes == admin.memory_usage(key)  # the same default SAMPLES as MEMORY USAGE
            length = {"list": admin.llen, "zset": admin.zcard, "stream": admin.xlen, "hash": admin.hlen,
                      "string": admin.strlen}[typ](key)
            assert row.length == length
        dataset = int(admin.info("memory")["used_memory_dataset"])
    cover = report.coverage
    assert cover is not None and cover.pass_complete
    assert cover.big_keys == len(_planted())
    assert cover.big_keys_bytes == sum(found[key].bytes for key in _planted())
    assert cover.estimated_bytes + cover.big_keys_bytes == report.total_bytes
    # INFO's dataset figure moves a little with client buffers between our read and the scan's.
    assert cover.dataset_bytes is not None and abs(cover.dataset_bytes - dataset) < 0.1 * dataset
    assert cover.unaccounted_bytes == cover.dataset_bytes - report.total_bytes
    assert cover.unaccounted_share == round(cover.unaccounted_bytes / cover.dataset_bytes, 4)
    # The big keys are an exact stratum: their patterns count them exactly beside the estimate.
    by_pattern = {row.pattern: row for row in report.patterns}
    assert by_pattern["queue:ingest:backlog"].exact_keys == 1
    assert by_pattern["queue:ingest:backlog"].keys == 1  # never drawn or scaled: exactly one key


def test_sampled_run_without_the_pass_misses_them_which_is_why_it_exists(server: LocalServer) -> None:
    _fill(server)
    report = scan_deployment(_options(server), ScanSettings(sample=50, big_pass=False))
    exact = {to_bytes(row.key) for row in report.biggest() if row.exact}
    assert exact.isdisjoint(_planted())
    assert report.coverage is not None and report.coverage.big_keys == 0


def test_doctor_sees_the_big_list_and_zset_with_a_small_key_sample(make_server: object) -> None:
    server: LocalServer = make_server(maxmemory="200mb", maxmemory_policy="noeviction")  # type: ignore[operator]
    _fill(server)
    with open_client(_options(server)) as client:
        sample = sample_for_doctor(client, max_keys=100)
    assert not sample.exact and sample.scanned == 100
    kinds = {to_bytes(row.key): row.type for row in sample.biggest()}
    assert kinds[b"queue:ingest:backlog"] == "list" and kinds[b"leaderboard:global:2024"] == "zset"
    findings = diagnose(server, key_sample=100, list_backlog_entries=10_000, big_key_bytes=100_000)
    backlog = next(f for f in findings if f.id == "eviction.noeviction-backlog")
    assert "1 list(s)" in backlog.title
    big = next(f for f in findings if f.id == "keys.big-keys")
    assert any("queue:ingest:backlog" in name for name in big.evidence)
    assert any("leaderboard:global:2024" in name for name in big.evidence)
    assert Thresholds().list_backlog_entries >= 1_000  # the pass's default threshold sees every such list


def test_full_scan_equals_memory_usage_per_key_and_per_pattern(server: LocalServer) -> None:
    load(server.port, prod(3000, big=(12_000, 3_000, 1_500)))
    report = scan_deployment(_options(server), ScanSettings(count=200))
    assert report.exact and report.vanished == 0
    with server.client() as admin:
        keys = sorted(admin.scan_iter(count=1000))
        truth = _truth(admin, keys)
    groups = PatternGrouper(cap=report.pattern_cap).group_all(keys)
    per_pattern: dict[str, list[int]] = {}
    for key in keys:
        row = per_pattern.setdefault(groups[key], [0, 0, 0])
        row[0] += 1
        row[1] += truth[key][1]
        row[2] += truth[key][2] if truth[key][2] is not None else 0
    got = {row.pattern: [row.keys, row.bytes, row.total_length or 0] for row in report.patterns}
    assert got == per_pattern
    types: dict[str, dict[str, int]] = {}
    for key in keys:
        by = types.setdefault(groups[key], {})
        by[truth[key][0]] = by.get(truth[key][0], 0) + 1
    assert {row.pattern: row.types for row in report.patterns} == types
    for row in report.biggest():  # the biggest keys: bytes, length, type and TTL, key by key
        typ, size, length, pttl = truth[to_bytes(row.key)]
        assert (row.type, row.bytes, row.length) == (typ, size, length)
        assert (row.ttl_ms is None) == (pttl < 0)


def _truth(admin: redis.Redis, keys: list[bytes]) -> dict[bytes, tuple[str, int, int | None, int]]:
    pipe = admin.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
        pipe.memory_usage(key)
        pipe.pttl(key)
    replies = pipe.execute()
    lengths = admin.pipeline(transaction=False)
    commands = {"string": "STRLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "hash": "HLEN", "stream": "XLEN"}
    for at, key in enumerate(keys):
        lengths.execute_command(commands[replies[3 * at].decode()], key)
    counted = lengths.execute()
    return {key: (replies[3 * at].decode(), replies[3 * at + 1], counted[at], replies[3 * at + 2])
            for at, key in enumerate(keys)}


def test_a_version_1_snapshot_is_refused_in_one_line() -> None:
    """Version 2 holds the keys engine's report as the key sample; a version-1 file says what to do."""
    import json
    from pathlib import Path

    import pytest

    from redisguard.snapshot import SNAPSHOT_VERSION, SnapshotFormatError, snapshot_from_dict

    recorded = json.loads((Path(__file__).parent / "snapshots" / "healthy-cache--redis-7.0.15.json").read_text())
    assert recorded["version"] == SNAPSHOT_VERSION == 2
    with pytest.raises(SnapshotFormatError) as refused:
        snapshot_from_dict({**recorded, "version": 1})
    message = str(refused.value)
    assert "version 1 is not supported" in message and "redisguard snapshot" in message
    assert "\n" not in message
