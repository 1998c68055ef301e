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
from redisguard.streams._ids import next_id, parse_id

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


MAX = 2**64 - 1
# Id parts anywhere in 64 bits, with weight on the places doubles get wrong (around 2^53) and the top.
part = st.one_of(st.integers(0, MAX), st.integers(2**53 - 2, 2**53 + 2), st.integers(MAX - 2, MAX),
                 st.integers(0, 3))
stream_ids = st.lists(st.tuples(part, part).filter(lambda i: i != (0, 0)), min_size=1, max_size=10, unique=True)
group_state = st.tuples(
    st.sampled_from(["never-read", "set-id", "pending"]),
    st.integers(0, 12),           # set-id: index into the ids (an index past the end: an arbitrary id)
    st.tuples(part, part),        # set-id: that arbitrary id
    st.lists(st.booleans(), max_size=12),  # pending: which delivered entries are acknowledged
)


def _fmt(value: tuple[int, int]) -> str:
    return f"{value[0]}-{value[1]}"


def _python_point(client: redis.Redis, key: str) -> tuple[int, int] | None:
    groups = []
    for raw in client.xinfo_groups(key):
        name = raw["name"].decode()
        group = StreamGroup(name=name, consumers=int(raw["consumers"]), pending=int(raw["pending"]),
                            last_delivered_id=raw["last-delivered-id"].decode())
        if group.pending:
            group.oldest_pending_id = client.xpending(key, name)["min"].decode()
        groups.append(group)
    point = safe_point_of_groups(groups)
    return None if point is None else point.id


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=stream_ids, states=st.lists(group_state, min_size=0, max_size=3))
def test_trim_script_agrees_with_python_on_64_bit_ids(shared_server: LocalServer, ids: list[tuple[int, int]],
                                                      states: list[tuple[str, int, tuple[int, int], list[bool]]]
                                                      ) -> None:
    """Arbitrary 64-bit ids and group states (pending, last-delivered anywhere, never read): the Lua script
    picks the same safe point as the Python function, trims exactly the entries before it, and never one
    that some group still needs."""
    ids = sorted(ids)
    client = shared_server.client()
    client.delete("x")
    for entry_id in ids:
        client.xadd("x", {"v": "1"}, id=_fmt(entry_id))
    needed: set[tuple[int, int]] = set()
    for index, (kind, at, arbitrary, acks) in enumerate(states):
        name = f"g{index}"
        if kind == "never-read":
            client.xgroup_create("x", name, id="0")
            needed.update(ids)
        elif kind == "set-id":
            last = ids[at] if at < len(ids) else arbitrary
            client.xgroup_create("x", name, id=_fmt(last))
            needed.update(i for i in ids if i > last)
        else:
            client.xgroup_create("x", name, id="0")
            reply = client.xreadgroup(name, "c", {"x": ">"}, count=len(acks)) if acks else []
            delivered = [parse_id(entry_id) for _, rows in reply for entry_id, _ in rows]
            done = [i for i, ack in zip(delivered, acks, strict=False) if ack]
            if done:
                client.xack("x", name, *map(_fmt, done))
            needed.update(i for i in ids if i not in done)
    expected = _python_point(client, "x")
    trim_safe(client, "x", limit=1)  # approximate first (whole nodes): never past the point either
    assert needed <= {parse_id(entry_id) for entry_id, _ in client.xrange("x")}
    result = trim_safe(client, "x", exact=True)
    remaining = [parse_id(entry_id) for entry_id, _ in client.xrange("x")]
    client.close()
    if expected is None:  # no groups: nothing is known processed, nothing trimmed
        assert result.point is None
        assert remaining == ids
        return
    assert result.point == _fmt(expected)  # Lua and Python agree, to the last digit
    assert remaining == [i for i in ids if i >= expected]  # exact trim: everything before, nothing after
    assert needed <= set(remaining)  # no entry some group still needs is gone


def test_ids_above_2_53_compare_exactly(make_server) -> None:
    # Two groups whose positions differ only beyond a double's precision: the later one must not win.
    srv: LocalServer = make_server()
    client = srv.client()
    base = 2**53
    for seq in range(1, 6):
        client.xadd("big", {"v": "1"}, id=f"{base}-{seq}")
    client.xgroup_create("big", "behind", id=f"{base}-1")
    client.xgroup_create("big", "ahead", id=f"{base}-4")
    result = trim_safe(client, "big", exact=True)
    assert result.point == f"{base}-2"  # a double would round 2^53+... parts and pick the wrong group
    assert [e[0].decode() for e in client.xrange("big")] == [f"{base}-{seq}" for seq in range(2, 6)]
    client.xgroup_destroy("big", "behind")
    client.xgroup_destroy("big", "ahead")
    client.xadd("big", {"v": "1"}, id=f"{base + 1}-{MAX}")
    client.xgroup_create("big", "top", id=f"{base + 1}-{MAX}")
    assert trim_safe(client, "big", exact=True).point == f"{base + 2}-0"  # seq overflow carries into ms
    client.close()


def test_parse_id_refuses_what_is_not_an_id() -> None:
    assert parse_id(f"{MAX}-{MAX}") == (MAX, MAX)
    assert next_id((MAX, MAX)) == (MAX, MAX)  # no id after the last one: keep it
    assert next_id((5, MAX)) == (6, 0)
    for bad in ("", "-", "1-", "a-1", "1-2-3", "-1-0", " 1-0", f"{MAX + 1}-0", f"0-{MAX + 1}", "١-0"):
        with pytest.raises(ValueError, match="not a stream id"):
            parse_id(bad)


def test_exact_trim_keeps_entries_far_apart_in_one_node(make_server) -> None:
    # Redis 6.2's exact XTRIM MINID also deletes an entry after the point when its id is 2^32 - 1 or more
    # past the first of its node (a quiet stream: 49.7 days between two entries). The safe trim must not.
    srv: LocalServer = make_server()
    client = srv.client()
    client.xadd("quiet", {"v": "1"}, id="1000-0")
    client.xadd("quiet", {"v": "1"}, id=f"{1000 + 2**32}-0")
    client.xgroup_create("quiet", "g", id="1000-0")
    result = trim_safe(client, "quiet", exact=True)
    assert result.point == "1000-1"
    assert result.trimmed == 1
    assert [e[0].decode() for e in client.xrange("quiet")] == [f"{1000 + 2**32}-0"]
    client.close()
