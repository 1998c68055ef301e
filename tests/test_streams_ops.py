"""The library's stream operations: health, plan_trim → apply_trim, counting without walking, version gates."""

from __future__ import annotations

import pytest
import redis
from tests.streams_data import two_group_stream

from redisguard.localserver import LocalServer
from redisguard.streams import (
    ServerVersion,
    acked_trim_works,
    apply_trim,
    plan_trim,
    scan_stream_health,
    server_of,
    xackdel_safe,
)
from redisguard.streams._health import WALK_CAP
from redisguard.streams._plan import ACKED_TRIM_SCRIPT


def test_plan_then_apply_a_safe_trim(make_server) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    ids = two_group_stream(client)
    plan = plan_trim(client, "events", exact=True)
    assert plan.cut_point == ids[40] and plan.health.safe_point is not None
    assert plan.health.safe_point.pinned_by == "slow"
    assert plan.entries_to_free.value == 40 and plan.entries_to_free.exact
    assert 0 < plan.bytes_to_free < (plan.stream.memory_bytes or 0)
    assert client.xlen("events") == 100  # planning is read-only
    outcome = apply_trim(client, plan)
    assert (outcome.trimmed, outcome.length_after, outcome.point) == (40, 60, ids[40])
    client.close()


def test_plan_an_emergency_trim_counts_losses_per_group(make_server) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    ids = two_group_stream(client)
    plan = plan_trim(client, "events", exact=True, drop_unprocessed=True, maxlen=10)
    assert plan.cut_point == ids[90]
    assert {loss.group: loss.unprocessed_lost.value for loss in plan.losses} == {"fast": 10, "slow": 50}
    assert plan.entries_to_free.value == 90
    outcome = apply_trim(client, plan)
    assert outcome.trimmed == 90 and client.xlen("events") == 10
    client.close()


def test_every_server_here_takes_the_portable_path(make_server, redis_binary) -> None:
    # No server on this machine has a working XTRIM ... ACKED (8.2.3 is older than 8.2.7; Valkey has none):
    # every one must take the safe-point script, and say so.
    srv: LocalServer = make_server()
    client = srv.client()
    two_group_stream(client)
    server = server_of(client.info("server"))
    plan = plan_trim(client, "events")
    assert plan.server == server
    assert plan.method == "safe-point-script"
    assert not acked_trim_works(server)
    assert apply_trim(client, plan).method == "safe-point-script"
    if redis_binary.version >= (8, 2, 0) and server.flavour == "redis":
        assert server.version == (8, 2, 3) and xackdel_safe(server)
        # The ACKED script is valid on 8.2 (it parses and runs) and never trims a stream without groups.
        client.xadd("lonely", {"n": "1"})
        assert client.eval(ACKED_TRIM_SCRIPT, 1, "lonely", "=") == 0
        assert client.xlen("lonely") == 1
    client.close()


@pytest.mark.parametrize(("name", "version", "acked", "ackdel"), [
    ("redis", (7, 0, 15), False, False), ("redis", (8, 2, 2), False, False), ("redis", (8, 2, 3), False, True),
    ("redis", (8, 2, 6), False, True), ("redis", (8, 2, 7), True, True), ("redis", (8, 4, 3), False, True),
    ("redis", (8, 4, 4), True, True), ("redis", (8, 5, 9), False, True), ("redis", (8, 6, 0), True, True),
    ("valkey", (8, 1, 8), False, False), ("valkey", (9, 2, 0), False, True), ("valkey", (99, 0, 0), False, True),
])
def test_version_gates(name: str, version: tuple[int, int, int], acked: bool, ackdel: bool) -> None:
    text = ".".join(map(str, version))
    server = ServerVersion(name, text, "7.2.4" if name == "valkey" else text)  # type: ignore[arg-type]
    assert acked_trim_works(server) is acked
    assert xackdel_safe(server) is ackdel


def test_valkey_is_named_from_server_name_not_redis_version() -> None:
    server = server_of({"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.8"})
    assert server == ServerVersion("valkey", "8.1.8", "7.2.4") and server.title == "Valkey 8.1.8"


def _fill(client: redis.Redis, key: str, count: int) -> list[str]:
    ids = [f"{1_000_000 + n}-0" for n in range(count)]
    for start in range(0, count, 10_000):
        pipe = client.pipeline(transaction=False)
        for entry_id in ids[start:start + 10_000]:
            pipe.xadd(key, {"v": "1"}, id=entry_id)
        pipe.execute()
    return ids


def _xrange_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("xrange", "xrevrange"))


def test_safe_count_never_walks_more_than_the_cap(make_server) -> None:
    # 2.5 x the cap on each side of the point: the count is estimated from the ids, after at most the cap
    # read from each end, and says so.
    srv: LocalServer = make_server()
    client = srv.client()
    total = 5 * WALK_CAP
    ids = _fill(client, "huge", total)
    middle = total // 2
    client.xgroup_create("huge", "g", id=ids[middle - 1])
    client.xreadgroup("g", "c", {"huge": ">"}, count=1)  # pending: ids[middle]
    before = _xrange_calls(client)
    scan = scan_stream_health(client, "local")
    walked = _xrange_calls(client) - before
    health = next(h for h in scan.healths if h.key == "huge")
    assert health.safe_point is not None and health.safe_point.text == ids[middle]
    assert health.safe_to_trim.source == "estimate"
    assert abs(health.safe_to_trim.value - middle) <= total // 100
    assert walked <= 2 * (WALK_CAP // 10_000 + 1)  # batches of 10,000 entries, from both ends
    client.close()


@pytest.mark.min_redis(7, 0)
def test_safe_count_from_the_groups_lag(make_server) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    total = 3 * WALK_CAP
    ids = _fill(client, "huge", total)
    client.xgroup_create("huge", "g", id=ids[WALK_CAP * 2 - 1], entries_read=WALK_CAP * 2)
    before = _xrange_calls(client)
    health = next(h for h in scan_stream_health(client, "local").healths if h.key == "huge")
    assert _xrange_calls(client) == before  # counted without reading a single entry
    assert health.safe_to_trim.source == "lag" and health.safe_to_trim.value == WALK_CAP * 2
    client.close()
