"""Safe trimming: no sequence of produce/read/ack/claim/trim ever removes an entry a group still needs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redisguard.localserver import LocalServer
from redisguard.snapshot import StreamGroup
from redisguard.streams import safe_point_of_groups, trim_safe
from redisguard.streams.ids import next_id, parse_id

GROUPS = ("fast", "slow")
Op = tuple[str, int, int]
ops = st.lists(
    st.tuples(st.sampled_from(["produce", "read", "ack", "claim", "trim"]), st.integers(0, 1), st.integers(1, 40)),
    min_size=1, max_size=25,
)


def _ids(reply: list) -> list[str]:
    return [entry_id.decode() for _, entries in reply for entry_id, _ in entries]


@pytest.fixture(scope="module")
def shared_server(redis_binary) -> Iterator[LocalServer]:
    """One server per version for all hypothesis examples (each example starts from a fresh stream)."""
    with LocalServer(redis_binary) as srv:
        yield srv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_no_operation_sequence_trims_an_unacknowledged_entry(shared_server: LocalServer,
                                                             sequence: list[Op]) -> None:
    client = shared_server.client()
    client.delete("s")
    client.xgroup_create("s", "fast", id="0", mkstream=True)
    client.xgroup_create("s", "slow", id="0")
    produced: list[str] = []
    acked: dict[str, set[str]] = {group: set() for group in GROUPS}
    for op, group_index, count in sequence:
        group = GROUPS[group_index]
        if op == "produce":
            pipe = client.pipeline(transaction=False)
            for _ in range(count):
                pipe.xadd("s", {"v": "x"})
            produced += [entry_id.decode() for entry_id in pipe.execute()]
        elif op == "read":
            client.xreadgroup(group, "c1", {"s": ">"}, count=count)
        elif op == "ack":
            pending = client.xpending_range("s", group, min="-", max="+", count=count)
            ids = [row["message_id"] for row in pending]
            if ids:
                client.xack("s", group, *ids)
                acked[group].update(i.decode() for i in ids)
        elif op == "claim":
            client.xautoclaim("s", group, "c2", 0, start_id="0-0", count=count)
        else:
            trim_safe(client, "s", limit=max(count, 1))
            trim_safe(client, "s", exact=True)
        remaining = {entry_id.decode() for entry_id, _ in client.xrange("s")}
        for entry_id in produced:
            needed = any(entry_id not in acked[g] for g in GROUPS)
            if needed:
                assert entry_id in remaining, (entry_id, op)
    client.close()


def test_safe_point_recipe_on_real_group_states(make_server) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    ids = [client.xadd("s", {"n": str(n)}).decode() for n in range(10)]
    assert trim_safe(client, "s").point is None  # no groups: nothing is known processed
    assert client.xlen("s") == 10
    client.xgroup_create("s", "a", id="0")
    client.xgroup_create("s", "b", id=ids[5])  # started later: entries 0-5 are not needed by b
    delivered = _ids(client.xreadgroup("a", "c", {"s": ">"}, count=8))
    client.xack("s", "a", *delivered[:3])
    groups = [StreamGroup(name="a", consumers=1, pending=5, last_delivered_id=ids[7], oldest_pending_id=ids[3]),
              StreamGroup(name="b", consumers=0, pending=0, last_delivered_id=ids[5])]
    point = safe_point_of_groups(groups)
    assert point is not None and point.pinned_by == "a" and point.id == parse_id(ids[3])
    result = trim_safe(client, "s", exact=True)
    assert result.point == ids[3]
    assert result.trimmed == 3
    assert [e[0].decode() for e in client.xrange("s")] == ids[3:]
    client.close()


def test_ids_compare_as_numbers_not_strings() -> None:
    groups = [StreamGroup(name="x", consumers=0, pending=0, last_delivered_id="9-0"),
              StreamGroup(name="y", consumers=0, pending=0, last_delivered_id="10-0")]
    point = safe_point_of_groups(groups)
    assert point is not None and point.id == next_id((9, 0)) and point.pinned_by == "x"


def test_large_backlog_trimmed_in_several_rounds(make_server) -> None:
    srv: LocalServer = make_server()
    client: redis.Redis = srv.client()
    pipe = client.pipeline(transaction=False)
    for n in range(25_000):
        pipe.xadd("big", {"n": str(n)})
    pipe.execute()
    client.xgroup_create("big", "g", id="$")
    result = trim_safe(client, "big", limit=10_000)
    assert result.rounds >= 3
    assert client.xlen("big") < 200  # approximate: whole macro nodes only
    assert result.trimmed == 25_000 - client.xlen("big")
    client.close()
