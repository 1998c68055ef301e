"""A database in which no key has a TTL: PTTL is not sent, INFO keyspace behind each batch vouches for it.

Against real servers (every version the suite runs): the results equal the per-key truth exactly, the
server's own INFO commandstats shows no PTTL was run, a TTL set mid-scan switches PTTL back on without
counting any key twice or losing one, and a user who may not run INFO gets PTTL as before.
"""

from __future__ import annotations

import threading

import pytest
import redis
from tests.keyspace_data import KNOWN_PATTERNS, fill_known
from tests.test_keyspace_scan import options, truth

from redisguard.connect import ConnectionOptions, open_client
from redisguard.keyspace import ScanSettings, scan_client, scan_deployment
from redisguard.keyspace._scan import no_ttl_in_db
from redisguard.localserver import LocalServer


def fill_without_ttl(client: redis.Redis, per_pattern: int) -> dict[str, set[bytes]]:
    made = fill_without_ttl_no_info(client, per_pattern)
    assert client.info("keyspace")["db0"]["expires"] == 0
    return made


def fill_without_ttl_no_info(client: redis.Redis, per_pattern: int) -> dict[str, set[bytes]]:
    """fill_known's keys, every TTL removed (checked by the caller where INFO is there to check it)."""
    made = fill_known(client, per_pattern=per_pattern)
    pipe = client.pipeline(transaction=False)
    for keys in made.values():
        for key in keys:
            pipe.persist(key)
    pipe.execute()
    return made


def pttl_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_pttl", {}).get("calls", 0))


@pytest.mark.parametrize("settings", [
    ScanSettings(count=50),  # overlapped writes
    ScanSettings(count=7, max_impact_ms=5.0),  # one measured batch in flight
    ScanSettings(sample=400, big_pass=False),  # RANDOMKEY draws (the keyspace is larger)
], ids=["overlapped", "max-impact", "sample"])
def test_no_ttl_database_is_scanned_exactly_without_pttl(server: LocalServer, settings: ScanSettings) -> None:
    with server.client() as admin:
        made = fill_without_ttl(admin, per_pattern=150)
        expected = truth(admin, made)
        admin.config_resetstat()
        report = scan_deployment(options(server), settings)
        assert pttl_calls(admin) == 0
    total = sum(len(keys) for keys in made.values())
    assert report.nodes[0].ttl_from_info == report.seen > 0
    assert any("PTTL was not sent" in note for note in report.notes)
    if settings.sample is not None:
        assert not report.exact and report.seen == 400
        assert all(row.no_ttl == row.keys for row in report.patterns)
        return
    assert report.exact and report.seen == total and report.vanished == 0
    assert {row.pattern for row in report.patterns} == set(KNOWN_PATTERNS)
    for row in report.patterns:
        want = expected[row.pattern]
        assert (row.keys, row.bytes, row.no_ttl, row.types, row.total_length) == (
            want["keys"], want["bytes"], want["no_ttl"], want["types"], want["length"])
        assert row.no_ttl == row.keys


@pytest.mark.parametrize("settings", [ScanSettings(count=40), ScanSettings(count=40, max_impact_ms=5.0)],
                         ids=["overlapped", "max-impact"])
def test_a_ttl_set_mid_scan_turns_pttl_back_on(server: LocalServer, settings: ScanSettings) -> None:
    """After the first batch is counted, every key gets a TTL. Batches whose INFO keyspace came before that
    were right to say "no TTL"; every later batch is asked again with PTTL: each key counted once, and
    every key counted without a TTL is one INFO keyspace vouched for."""
    with server.client() as admin:
        made = fill_without_ttl(admin, per_pattern=120)
        keys = [key for group in made.values() for key in group]
        given = threading.Event()

        def give_every_key_a_ttl(_: int) -> None:
            if not given.is_set():
                given.set()
                pipe = admin.pipeline(transaction=False)
                for key in keys:
                    pipe.pexpire(key, 7_200_000)
                pipe.execute()

        admin.config_resetstat()
        with open_client(options(server)) as client:
            scan = scan_client(client, settings, progress=give_every_key_a_ttl)
        asked = pttl_calls(admin)
    agg = scan.aggregator
    assert given.is_set()
    assert agg.seen == len(keys) and agg.vanished == 0
    assert sum(acc[0] for acc in agg.combos.values()) == len(keys)  # none lost, none twice
    no_ttl = sum(acc[0] for (_, _, _, bucket), acc in agg.combos.items() if bucket == 0)
    assert 0 < scan.ttl_from_info < len(keys)
    assert no_ttl == scan.ttl_from_info  # only keys vouched for by an INFO taken before the TTLs came
    with_ttl = sum(acc[0] for (_, _, _, bucket), acc in agg.combos.items() if bucket == 2)  # <1d
    assert with_ttl == len(keys) - no_ttl
    assert asked >= with_ttl


def test_only_the_scanned_database_counts(make_server: object) -> None:
    """db 1 holds keys with TTLs; db 0 none: scanning db 0 skips PTTL, scanning db 1 does not."""
    server: LocalServer = make_server()  # type: ignore[operator]
    with server.client() as admin:
        fill_without_ttl(admin, per_pattern=30)
        one = redis.Redis(host="127.0.0.1", port=server.port, db=1)
        one.set("temp:1", "x", px=60_000)
        one.set("temp:2", "y")
        admin.config_resetstat()
        zero = scan_deployment(options(server), ScanSettings())
        assert pttl_calls(admin) == 0 and zero.nodes[0].ttl_from_info == zero.seen
        db_one = scan_deployment(ConnectionOptions.build(f"redis://127.0.0.1:{server.port}/1"), ScanSettings())
        assert pttl_calls(admin) == 2 and db_one.nodes[0].ttl_from_info == 0
        one.close()
    assert {row.pattern: row.no_ttl for row in db_one.patterns} == {"temp:*": 1}


def test_a_user_who_may_not_run_info_gets_pttl(make_server: object) -> None:
    server: LocalServer = make_server()  # type: ignore[operator]
    with server.client() as admin:
        made = fill_without_ttl(admin, per_pattern=30)
        admin.acl_setuser("noinfo", enabled=True, passwords=["+secret-pw"], keys=["*"], commands=["+@all", "-info"])
        admin.config_resetstat()
        url = f"redis://noinfo:secret-pw@127.0.0.1:{server.port}"
        report = scan_deployment(ConnectionOptions.build(url), ScanSettings())
        assert pttl_calls(admin) == sum(len(keys) for keys in made.values())
    assert report.nodes[0].ttl_from_info == 0
    assert not any("PTTL was not sent" in note for note in report.notes)
    assert all(row.no_ttl == row.keys for row in report.patterns)


def test_info_keyspace_reading() -> None:
    reply = b"# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\ndb1:keys=5,expires=2,avg_ttl=99\r\n"
    assert no_ttl_in_db(reply, 0)
    assert not no_ttl_in_db(reply, 1)
    assert no_ttl_in_db(reply, 2)  # no line: the database holds no key
    assert not no_ttl_in_db(b"# Keyspace\r\ndb10:keys=1,expires=1,avg_ttl=5\r\n", 10)
    assert no_ttl_in_db(b"# Keyspace\r\ndb10:keys=1,expires=1,avg_ttl=5\r\n", 1)  # db1 is not db10
    assert not no_ttl_in_db(Exception("NOPERM"), 0)


def test_a_renamed_info_leaves_pttl_on_and_the_scan_exact(make_server: object) -> None:
    """Managed services rename INFO away: nothing vouches for the TTLs, so every key is asked PTTL."""
    server: LocalServer = make_server(rename_command=["INFO", ""])  # type: ignore[operator]
    with server.client() as admin:
        made = fill_without_ttl_no_info(admin, per_pattern=20)
        expected = truth(admin, made)
    report = scan_deployment(options(server), ScanSettings(count=30))
    assert report.nodes[0].ttl_from_info == 0
    assert report.seen == sum(len(keys) for keys in made.values())
    for row in report.patterns:
        assert (row.keys, row.bytes, row.no_ttl) == (expected[row.pattern]["keys"], expected[row.pattern]["bytes"],
                                                     row.keys)
