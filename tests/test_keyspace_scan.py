"""The scan engine against real redis-server processes: exactness, vanished keys, binary names, big keys."""

from __future__ import annotations

import threading

import pytest
import redis
from tests.keyspace_data import KNOWN_PATTERNS, fill_known

from redisguard._wire.resp import command
from redisguard.connect import ConnectionOptions, open_client
from redisguard.keynames import to_bytes
from redisguard.keyspace import ScanSettings, sample_for_doctor, scan_client, scan_deployment
from redisguard.keyspace._aggregate import TTL_BUCKETS, ttl_bucket
from redisguard.keyspace._scan import _PIECES_PER_TYPE, LENGTH_COMMANDS, Visibility, _Builder
from redisguard.localserver import LocalServer

# The type's length command, through redis-py's own methods: the independent truth for each key's length.
LENGTH_OF = {
    b"string": lambda c, k: c.strlen(k), b"list": lambda c, k: c.llen(k), b"hash": lambda c, k: c.hlen(k),
    b"set": lambda c, k: c.scard(k), b"zset": lambda c, k: c.zcard(k), b"stream": lambda c, k: c.xlen(k),
}


def populate(client: redis.Redis, count: int, prefix: str) -> None:
    """``prefix:0`` .. ``prefix:count-1`` (like DEBUG POPULATE, which servers disable by default)."""
    for start in range(0, count, 1000):
        client.mset({f"{prefix}:{n}": f"value:{n}" for n in range(start, min(count, start + 1000))})


def options(server: LocalServer) -> ConnectionOptions:
    return ConnectionOptions.build(server.url)


def truth(client: redis.Redis, made: dict[str, set[bytes]]) -> dict[str, dict[str, object]]:
    """Per-pattern totals computed here, key by key, with plain redis-py commands."""
    out: dict[str, dict[str, object]] = {}
    for pattern, keys in made.items():
        sizes = [int(client.memory_usage(key)) for key in keys]
        hist = [0] * len(TTL_BUCKETS)
        types: dict[str, int] = {}
        length = 0
        for key in keys:
            hist[ttl_bucket(int(client.pttl(key)))] += 1
            typ = client.type(key)
            types[typ.decode()] = types.get(typ.decode(), 0) + 1
            length += int(LENGTH_OF[typ](client, key))
        out[pattern] = {"keys": len(keys), "bytes": sum(sizes), "no_ttl": hist[0],
                        "hist": dict(zip(TTL_BUCKETS, hist, strict=True)), "types": types, "length": length}
    return out


@pytest.mark.parametrize("settings", [
    ScanSettings(count=50),  # overlapped writes: SCAN, a batch's first round and an earlier batch's lengths
    ScanSettings(count=1),  # one key per batch: the most writes, each round its own
    ScanSettings(count=1000, max_impact_ms=5.0),  # one measured batch in flight at a time
], ids=["overlapped", "count-1", "max-impact"])
def test_full_scan_totals_equal_independent_sums(server: LocalServer, settings: ScanSettings) -> None:
    with server.client() as admin:
        made = fill_known(admin, per_pattern=150)
        expected = truth(admin, made)
    report = scan_deployment(options(server), settings)
    assert report.exact
    assert report.seen == report.keyspace_size == sum(len(keys) for keys in made.values())
    assert report.vanished == 0
    assert {row.pattern for row in report.patterns} == set(KNOWN_PATTERNS)
    for row in report.patterns:
        want = expected[row.pattern]
        assert row.keys == want["keys"]
        assert row.bytes == want["bytes"]
        assert row.no_ttl == want["no_ttl"]
        assert row.ttl_histogram == want["hist"]
        assert row.types == want["types"]
        assert row.total_length == want["length"]
        assert row.avg_length == pytest.approx(want["length"] / want["keys"])  # type: ignore[operator]
        assert row.keys_low is None and row.bytes_high is None
    assert report.total_bytes == sum(int(w["bytes"]) for w in expected.values())  # type: ignore[call-overload]


def test_every_per_key_size_equals_memory_usage(server: LocalServer) -> None:
    """top_k as large as the keyspace: every key lands in a heap, so each size can be checked."""
    with server.client() as admin:
        made = fill_known(admin, per_pattern=40)
        with open_client(options(server)) as client:
            scan = scan_client(client, ScanSettings(top_k=1000, count=17))
        checked = 0
        for typ, heap in scan.aggregator.heaps.items():
            for size, key, encoding, _, length in heap:
                assert size == admin.memory_usage(key), key
                assert typ == admin.type(key)
                assert encoding == admin.object("encoding", key)
                assert length == LENGTH_OF[typ](admin, key), key
                checked += 1
        assert checked == sum(len(keys) for keys in made.values())


def test_binary_key_names_round_trip(server: LocalServer) -> None:
    names = [b"\xff\xfe:1", b"bin:\x00\x01", b"nl:\n\r\t", b"esc:\x1b[31mred", "utf8:é:ключ".encode(), b"sp ace:1"]
    with server.client() as admin:
        for index, name in enumerate(names):
            admin.set(name, "v" * (index + 1))
        report = scan_deployment(options(server), ScanSettings(top_k=50))
        found = {to_bytes(row.key): row for row in report.big_keys["string"]}
        assert set(found) == set(names)
        for name in names:
            assert found[name].bytes == admin.memory_usage(name)
            assert found[name].length == admin.strlen(name)
    assert sum(row.keys for row in report.patterns) == len(names)


def test_huge_key_and_lengths(server: LocalServer) -> None:
    with server.client() as admin:
        pipe = admin.pipeline(transaction=False)
        for start in range(0, 200_000, 20_000):
            pipe.rpush("huge:list", *range(start, start + 20_000))
        pipe.hset("big:hash", mapping={f"f{i}": i for i in range(5000)})
        pipe.set("small", "x")
        pipe.execute()
        report = scan_deployment(options(server), ScanSettings())
        top_list = report.big_keys["list"][0]
        assert (top_list.key, top_list.length) == ("huge:list", 200_000)
        assert top_list.bytes == admin.memory_usage("huge:list")
        assert report.big_keys["hash"][0].length == 5000
        exact = scan_deployment(options(server), ScanSettings(samples=0))
        assert exact.big_keys["list"][0].bytes == admin.memory_usage("huge:list", samples=0)


def test_keys_that_vanish_mid_scan_are_counted(server: LocalServer) -> None:
    """The first batch's progress callback deletes everything: the keys SCAN already returned vanish."""
    with server.client() as admin:
        populate(admin, 3000, "gone")
        deleted = threading.Event()

        def delete_all(_: int) -> None:
            if not deleted.is_set():
                deleted.set()
                admin.flushall()

        with open_client(options(server)) as client:
            # --max-impact holds the keys of a SCAN ahead of the batch being sent: they vanish before their turn
            scan = scan_client(client, ScanSettings(count=1000, max_impact_ms=50), progress=delete_all)
    agg = scan.aggregator
    assert deleted.is_set()
    assert agg.vanished > 0
    assert agg.seen == agg.vanished + sum(acc[0] for acc in agg.combos.values())


def test_key_retyped_mid_scan_is_asked_again_and_gets_its_new_type_and_length(server: LocalServer) -> None:
    """Every key becomes a list right after the first batch is aggregated: the next keys are still expected
    to be strings (their pattern's type so far), so their STRLEN gets WRONGTYPE; they are asked again
    (TYPE and LLEN) and counted as the lists they now are, with their real length, never a wrong one."""
    with server.client() as admin:
        populate(admin, 600, "re")
        retyped = threading.Event()

        def retype_all(_: int) -> None:
            if not retyped.is_set():
                retyped.set()
                pipe = admin.pipeline(transaction=False)
                for n in range(600):
                    pipe.delete(f"re:{n}")
                    pipe.rpush(f"re:{n}", "a", "b", "c")
                pipe.execute()

        with open_client(options(server)) as client:
            scan = scan_client(client, ScanSettings(count=1000, max_impact_ms=50), progress=retype_all)
    assert retyped.is_set()
    by_type: dict[bytes, list[int]] = {}
    for (_, typ, _, _), acc in scan.aggregator.combos.items():
        into = by_type.setdefault(typ, [0] * len(acc))
        for slot, value in enumerate(acc):
            into[slot] += value
    keys, _, _, length_sum, measured = by_type[b"string"]
    assert measured == keys  # every string's length is known...
    assert 7 * measured <= length_sum <= 9 * measured  # ...and is STRLEN of "value:0" .. "value:599"
    lists = by_type[b"list"]
    assert lists[0] > 0 and lists[4] == lists[0] and lists[3] == 3 * lists[0]  # every list has LLEN 3
    # The first retyped keys were expected to be strings and asked again; then their pattern was expected
    # to be lists, and the rest were right the first time.
    assert 0 < scan.retried < lists[0]
    assert scan.aggregator.seen == 600 and scan.aggregator.vanished == 0


def test_sampling_draws_from_the_server_with_expiring_keys(server: LocalServer) -> None:
    """Keys expiring under the sampler (RANDOMKEY skips and reaps them) neither crash nor bias the draws."""
    with server.client() as admin:
        populate(admin, 2000, "k")
        pipe = admin.pipeline(transaction=False)
        for n in range(500):
            pipe.set(f"short:{n}", "x", px=1)
        pipe.execute()
    report = scan_deployment(options(server), ScanSettings(sample=400))
    assert not report.exact
    assert report.nodes[0].mode == "sample"
    assert report.seen == 400
    keys_row = next(row for row in report.patterns if row.pattern == "k:*")
    assert keys_row.keys_low is not None and keys_row.keys_high is not None
    assert keys_row.keys_low <= keys_row.keys <= keys_row.keys_high
    assert keys_row.seen + report.vanished == 400


def test_sample_larger_than_keyspace_scans_in_full(server: LocalServer) -> None:
    with server.client() as admin:
        populate(admin, 300, "k")
    report = scan_deployment(options(server), ScanSettings(sample=10_000))
    assert report.exact and report.seen == 300


def test_match_rate_and_max_impact(server: LocalServer) -> None:
    with server.client() as admin:
        fill_known(admin, per_pattern=60)
    report = scan_deployment(options(server), ScanSettings(match=b"tags:*", rate=50_000))
    assert [row.pattern for row in report.patterns] == ["tags:*"]
    assert report.patterns[0].keys == 60
    impact = scan_deployment(options(server), ScanSettings(max_impact_ms=1.0))
    assert impact.seen == 300
    assert impact.nodes[0].max_added_latency_ms is not None


def test_other_database(make_server: object) -> None:
    server = make_server()  # type: ignore[operator]
    with server.client() as admin:
        admin.execute_command("SELECT", 3)
        admin.set("in:db3", "x")
    report = scan_deployment(options(server), ScanSettings(db=3))
    assert report.seen == 1
    with open_client(options(server)) as client:
        sample = sample_for_doctor(client, max_keys=10, db=3)
        assert sample.keyspace_size == 1 and sample.exact
        assert client.dbsize() == 0  # the pooled connection is still on db 0


def test_sample_for_doctor(server: LocalServer) -> None:
    with server.client() as admin:
        made = fill_known(admin, per_pattern=100)
        expected = truth(admin, made)
    with open_client(options(server)) as client:
        full = sample_for_doctor(client, max_keys=10_000)
        part = sample_for_doctor(client, max_keys=100)
    assert full.exact and full.scanned == full.keyspace_size == 500
    assert {p.pattern: (p.keys, p.bytes, p.no_ttl) for p in full.patterns} == {
        name: (w["keys"], w["bytes"], w["no_ttl"]) for name, w in expected.items()}
    assert full.total_bytes == sum(p.bytes for p in full.patterns)
    assert sum(sum(p.types.values()) for p in full.patterns) == 500
    biggest = full.biggest()
    assert biggest == sorted(biggest, key=lambda k: (-k.bytes, k.key))
    assert all(key.length is not None and key.exact for key in biggest)
    assert full.coverage is None  # exact: nothing to cover
    assert not part.exact and part.scanned == 100 and part.keyspace_size == 500
    assert part.coverage is not None and part.coverage.pass_complete


def test_denied_memory_usage_is_an_error_not_a_wrong_report(make_server: object) -> None:
    server = make_server(password="adminpw")  # type: ignore[operator]
    with server.client() as admin:
        admin.set("k", "v")
        admin.execute_command("ACL", "SETUSER", "limited", "on", ">pw", "~*", "+@read", "+@connection", "-memory")
    opts = ConnectionOptions.build(f"redis://limited:pw@127.0.0.1:{server.port}/0")
    with pytest.raises(redis.exceptions.NoPermissionError):
        scan_deployment(opts, ScanSettings())


def test_budget_samples_a_large_keyspace_and_scans_a_small_one(server: LocalServer) -> None:
    with server.client() as admin:
        populate(admin, 2000, "b")
    tight = scan_deployment(options(server), ScanSettings(budget_s=0.005))  # 2,000 keys > 0.005 s x 50k/s
    assert not tight.exact and 0 < tight.seen < 2000
    roomy = scan_deployment(options(server), ScanSettings(budget_s=10))
    assert roomy.exact and roomy.seen == 2000


def test_the_builder_frames_every_key_length_and_keeps_a_bounded_table() -> None:
    """Keys of 0 to 1,199 bytes (more lengths than the table keeps), any bytes, of every type: each key's commands are
    exactly MEMORY USAGE, its type's length command, OBJECT ENCODING and PTTL, as RESP."""
    builder = _Builder(None, Visibility())
    keys = [bytes((n * 7 + i) % 256 for i in range(n)) for n in range(1200)] * 2
    types = [b"string"] * 1200 + [list(LENGTH_COMMANDS)[n % len(LENGTH_COMMANDS)] for n in range(1200)]
    expected = b"".join(command(b"MEMORY", b"USAGE", key) + command(LENGTH_COMMANDS[typ], key)
                        + command(b"OBJECT", b"ENCODING", key) + command(b"PTTL", key)
                        for key, typ in zip(keys, types, strict=True))
    assert builder.build(keys, types) == expected
    assert builder.build(keys, types) == expected  # from the table this time, where it kept the length
    assert len(builder.pieces[b"string"]) == _PIECES_PER_TYPE < 1200
    assert all(len(table) <= _PIECES_PER_TYPE for table in builder.pieces.values())
