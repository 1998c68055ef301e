"""fix's bulk pacing by the server's own time (remedy/bulkpace.py, remedy/bulk.py) on real servers.

What was measured (Redis 7.0.15, see bulkpace's docstring): one ``SCAN COUNT 4000`` or one 1,000-key UNLINK
blocks every other client for milliseconds. These tests check the mechanism, never a timing: the costs are
learnt from the server's INFO commandstats, SCAN's COUNT and the batch are capped by them, lazyfree's
backlog holds the next batch back, and without INFO the runner still works with the small first sizes.
"""

from __future__ import annotations

import json
import time

import redis
from hypothesis import given
from hypothesis import strategies as st
from tests.fix_data import fill_strings

from redisguard._wire.resp import bulk, command, keyed
from redisguard.cli import run as cli_run
from redisguard.localserver import LocalServer
from redisguard.remedy.auditlog import AuditLog, _jsonable, read_audit
from redisguard.remedy.bulk import BatchRunner
from redisguard.remedy.bulkpace import FIRST_BATCH, FIRST_SCAN_COUNT, SHARE, BulkPace, command_name, key_args


def _unlink_all(runner: BatchRunner, pattern: bytes) -> int:
    deleted = 0
    for keys in runner.keys(pattern):
        deleted += int(runner.run([command(b"UNLINK", *keys)])[0])
    return deleted


def _usec(client: redis.Redis, name: str) -> int:
    stats = client.info("commandstats")
    return sum(int(v["usec"]) for k, v in stats.items() if k.removeprefix("cmdstat_").partition("|")[0] == name)


def test_resp_names_and_units() -> None:
    assert command_name(command(b"UNLINK", b"a", b"b\r\nc")) == "unlink"
    assert key_args(command(b"UNLINK", b"a", b"b\r\nc", b"d"), "unlink") == 3
    assert key_args(command(b"EXPIRE", b"a", b"10", b"NX"), "expire") == 1
    assert command_name(command(b"MEMORY", b"USAGE", b"k")) == "memory"


@given(head=st.lists(st.binary(max_size=12), min_size=1, max_size=3), key=st.binary(max_size=80),
       after=st.lists(st.binary(max_size=12), max_size=3))
def test_a_keyed_builder_writes_what_command_writes(head: list[bytes], key: bytes, after: list[bytes]) -> None:
    """``%``, CR LF and empty strings included: the pre-framed head plus the key is the same RESP."""
    built = keyed(*head, after=len(after))(key) + b"".join(bulk(arg) for arg in after)
    assert built == command(*head, key, *after)


@given(record=st.recursive(st.none() | st.booleans() | st.integers() | st.text() | st.binary(),
                           lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                           | st.dictionaries(st.text() | st.binary() | st.integers(), inner, max_size=3),
                           max_leaves=12))
def test_an_audit_record_is_written_as_jsonable_writes_it(tmp_path_factory, record: object) -> None:
    """The audit log's fast path (json.dumps with a default for bytes) gives the line the slow one gave."""
    path = tmp_path_factory.mktemp("audit") / "a.jsonl"
    log = AuditLog(path, "srv")
    log.event("x", value=record)
    log.close()
    written = read_audit(path)[0]["value"]
    assert written == json.loads(json.dumps(_jsonable(record), ensure_ascii=True))


def test_caps_follow_the_cost_per_unit() -> None:
    pace = BulkPace(budget_ms=1.0, cost_us={"scan": 1.0, "unlink": 1.5, "expire": 2.0})
    assert pace.scan_count(4000) == int(SHARE * 1000 / 1.0)  # a SCAN of at most 0.3 ms of server time
    assert pace.scan_count(40) == 40  # never more than asked
    assert pace.batch_cap({"unlink": 1000}, 1000) == int(SHARE * 1000 / 1.5)
    assert pace.batch_cap({"expire": 100}, 100) == int(SHARE * 1000 / 2.0)
    assert pace.batch_cap({"pttl": 500}, 500) == FIRST_BATCH  # cost not known yet: a small batch
    assert BulkPace(budget_ms=1.0).scan_count(4000) == FIRST_SCAN_COUNT


def test_unlink_costs_learnt_from_commandstats_and_scan_capped_by_them(server: LocalServer) -> None:
    with server.client() as client:
        fill_strings(client, "tmp:", 40_000)
        fill_strings(client, "keep:", 5_000)
        client.config_resetstat()
        with BatchRunner(client, max_impact_ms=1.0) as runner:
            deleted = _unlink_all(runner, b"tmp:*")
            runner._next_read = 0.0  # a fast server may finish before the next reading is due: take it now
            runner._maybe_read()
            costs = dict(runner.pace.cost_us)
            largest = runner.largest_scan
        assert deleted == 40_000 and client.dbsize() == 5_000 and not list(client.scan_iter("tmp:*"))
        assert costs["scan"] > 0 and costs["unlink"] > 0
        # The learnt per-key cost is the server's own: near its total usec on UNLINK over the keys deleted.
        mean = _usec(client, "unlink") / 40_000
        assert mean / 5 <= costs["unlink"] <= mean * 5, (costs, mean)
        # The old runner sent SCAN COUNT 4 x batch, up to 4000; now the first is small and the rest capped.
        assert largest < 4000
        assert largest <= max(FIRST_SCAN_COUNT, int(SHARE * 1000 / min(costs["scan"], 1e9)) * 4), (largest, costs)


def test_memory_usage_cost_learnt_under_either_commandstats_name(server: LocalServer) -> None:
    """6.2 names it cmdstat_memory, 7.0+ cmdstat_memory|usage: both are found."""
    with server.client() as client:
        fill_strings(client, "m:", 20_000)
        with BatchRunner(client, max_impact_ms=1.0) as runner:
            sizes = 0
            for keys in runner.keys(b"m:*"):
                sizes += sum(runner.run([command(b"MEMORY", b"USAGE", k) for k in keys]))
            assert sizes > 20_000
            runner._next_read = 0.0  # take one more reading now rather than after the interval
            runner._maybe_read()
            assert runner.pace.cost_us.get("memory", 0) > 0


def test_big_values_unlinked_in_the_background_hold_the_next_batch(make_server) -> None:
    """Whether the lazyfree thread is still busy when the runner looks is a race, so a backlog is set as a
    reading that saw one would set it; the wait itself asks the real server until it reports none."""
    srv: LocalServer = make_server()
    with srv.client() as client:
        for name in ("big:a", "big:b"):
            for start in range(0, 400_000, 2_000):
                client.hset(name, mapping={f"f{i}": "v" for i in range(start, start + 2_000)})
        fill_strings(client, "small:", 100)
        freed_before = client.info("memory").get("lazyfreed_objects")
        with BatchRunner(client, max_impact_ms=1.0) as runner:
            client.unlink("big:a", "big:b")  # handed to the lazyfree thread
            runner._lazyfree_pending = max(runner._lazyfree_pending, 1)
            small = [f"small:{index}".encode() for index in range(100)]
            assert runner.run([command(b"UNLINK", *small)]) == [100]
            assert runner.lazyfree_waits == 1
            # It went on once the server said nothing was pending, or after its bounded wait (a loaded machine).
            assert runner._lazyfree_pending == 0 or runner.lazyfree_wait_s >= 2.0, runner.lazyfree_wait_s
        if freed_before is not None:  # 7.0+: the two hashes went to the background thread (counted once freed)
            deadline = time.monotonic() + 30
            while int(client.info("memory")["lazyfreed_objects"]) < int(freed_before) + 2:
                assert time.monotonic() < deadline, "the lazyfree thread never freed the two hashes"
                time.sleep(0.05)


def test_without_info_the_runner_still_works_with_the_first_sizes(server: LocalServer) -> None:
    with server.client() as admin:
        fill_strings(admin, "tmp:", 3_000)
        admin.acl_setuser("noinfo", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-info"])
    with (redis.Redis(host="127.0.0.1", port=server.port, username="noinfo", password="pw") as client,
          BatchRunner(client, max_impact_ms=1.0) as runner):
        assert _unlink_all(runner, b"tmp:*") == 3_000
        assert not runner._costs_visible and runner.largest_scan <= FIRST_SCAN_COUNT
    with server.client() as admin:
        assert admin.dbsize() == 0


def test_the_units_a_batch_names_are_the_ones_its_commands_carry(make_server, monkeypatch, tmp_path) -> None:
    """fix's batches name their units (per command, per key argument of UNLINK) instead of the runner
    reading every command back: on a whole plan and apply, with UNLINK and without it (renamed away: DEL,
    TYPE and MEMORY USAGE), each named count equals what the commands themselves carry."""
    seen: list[str] = []
    original = BatchRunner.run

    def checked(self: BatchRunner, commands: list[bytes], units=None):
        if units is not None:
            assert dict(units) == BulkPace(budget_ms=1.0).sent_batch(commands)
            seen.extend(units)
        return original(self, commands, units)

    monkeypatch.setattr(BatchRunner, "run", checked)
    for extra in ((), ("--rename-command", "UNLINK", "")):
        srv: LocalServer = make_server(extra_args=list(extra))
        with srv.client() as client:
            fill_strings(client, "tmp:", 3_000)
            for action in (["--only", "expire", "--expire-pattern", "tmp:*", "--ttl", "9000"],
                           ["--only", "delete", "--delete-pattern", "tmp:*"]):
                audit = tmp_path / f"{len(seen)}.jsonl"
                code = cli_run(["fix", srv.url, *action, "--key-sample", "0", "--apply", "--yes", "--audit",
                                str(audit), "--json"])
                assert code == 0
            assert client.dbsize() == 0
    assert {"memory", "pttl", "type", "expire", "unlink"} <= set(seen), set(seen)
