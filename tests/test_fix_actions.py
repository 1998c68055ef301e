"""Every fix action against a real server: the state before, the plan, the state after."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from tests.fix_data import run_cli, run_json

from redisguard.connect import ConnectionOptions
from redisguard.localserver import LocalServer
from redisguard.remedy.auditlog import read_audit
from redisguard.remedy.build_config import config_actions
from redisguard.remedy.facts import FixOptions
from redisguard.remedy.gather import collect, gather


def _apply(srv: LocalServer, tmp_path: Path, *args: str) -> dict:
    code, out = run_json("fix", srv.url, *args, "--apply", "--yes", "--audit", str(tmp_path / "audit.jsonl"))
    summary = [(r["id"], r["status"], r["detail"]) for r in out.get("results", [])]
    assert code == 0, summary or out
    assert all(r["status"] == "done" for r in out["results"]), summary
    return out


def _ids(plan: dict) -> list[str]:
    return [a["id"] for a in plan["actions"]]


def test_cache_gets_maxmemory_with_headroom_and_an_lru_policy(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        for index in range(500):
            client.set(f"page:{index}", "html", ex=3600)
        _code, plan = run_json("fix", srv.url, "--memory", "100mb")
        assert plan["workload"] == "cache" and "TTL" in plan["workload_reason"]
        assert {"maxmemory", "maxmemory-policy"} <= set(_ids(plan))
        _apply(srv, tmp_path, "--memory", "100mb", "--only", "maxmemory", "--only", "maxmemory-policy")
        assert client.config_get("maxmemory")["maxmemory"] == str(75 * 1024 * 1024)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"


def test_a_store_is_never_given_an_evicting_policy(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory="50mb", maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        for index in range(500):
            client.set(f"order:{index}", "row")
        _code, plan = run_json("fix", srv.url, "--memory", "100mb")
        assert plan["workload"] == "cache"  # allkeys-* without TTLs is taken as a cache...
        _code, plan = run_json("fix", srv.url, "--memory", "100mb", "--workload", "store")
        policy = next(a for a in plan["actions"] if a["id"] == "maxmemory-policy")
        assert policy["params"]["set"] == {"maxmemory-policy": "noeviction"}  # ...unless told it is a store
        _apply(srv, tmp_path, "--memory", "100mb", "--workload", "store", "--only", "maxmemory-policy")
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"


def test_idle_consumers_removed_and_dead_consumers_entries_claimed(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        for _ in range(100):
            client.xadd("jobs", {"n": "1"})
        client.xgroup_create("jobs", "workers", id="0")
        client.xreadgroup("workers", "dead", {"jobs": ">"}, count=30)  # holds 30, then never comes back
        client.xreadgroup("workers", "idle-empty", {"jobs": ">"}, count=10)
        rows = client.xpending_range("jobs", "workers", "-", "+", 100, consumername="idle-empty")
        client.xack("jobs", "workers", *[row["message_id"] for row in rows])
        time.sleep(2.2)
        client.xreadgroup("workers", "live", {"jobs": ">"}, count=5)
        dead_ids = [r["message_id"] for r in client.xpending_range("jobs", "workers", "-", "+", 100, "dead")]
        stop = threading.Event()

        def keep_live() -> None:  # the live consumer keeps reading (its own history: nothing new delivered)
            with srv.client() as reader:
                while not stop.wait(0.2):
                    reader.xreadgroup("workers", "live", {"jobs": "0"}, count=1)

        worker = threading.Thread(target=keep_live)
        worker.start()
        try:
            args = ("--consumer-idle", "2", "--claim-to", "live", "--only", "consumers", "--only", "claim")
            _code, plan = run_json("fix", srv.url, *args)
            assert set(_ids(plan)) == {"consumers:jobs:workers", "claim:jobs:workers"}, plan["notes"]
            _apply(srv, tmp_path, *args)
        finally:
            stop.set()
            worker.join()
        names = {c["name"].decode(): c["pending"] for c in client.xinfo_consumers("jobs", "workers")}
        assert "idle-empty" not in names and names["dead"] == 0 and names["live"] == 35
        live_ids = {r["message_id"] for r in client.xpending_range("jobs", "workers", "-", "+", 100, "live")}
        assert set(dead_ids) <= live_ids
        assert client.xpending("jobs", "workers")["pending"] == 35  # nothing dropped from the pending list


def test_expire_pattern_only_keys_without_ttl_within_the_jitter_window(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(3000):
            pipe.set(f"cache:item:{index}", "v")
        for index in range(200):
            pipe.set(f"cache:kept:{index}", "v", ex=50_000)
            pipe.set(f"other:{index}", "v")
        pipe.execute()
        began = time.monotonic()
        _apply(srv, tmp_path, "--expire-pattern", "cache:*", "--ttl", "1000", "--jitter", "0.5", "--only", "expire",
               "--key-sample", "0")
        ttls = [client.ttl(f"cache:item:{index}") for index in range(3000)]
        elapsed = int(time.monotonic() - began) + 1  # TTLs count down while the run and this read take
        assert all(1000 - elapsed <= ttl <= 1500 for ttl in ttls), (min(ttls), max(ttls), elapsed)
        assert len(set(ttls)) > 100  # spread, not one instant
        assert all(49_000 <= client.ttl(f"cache:kept:{index}") <= 50_000 for index in range(200))
        assert all(client.ttl(f"other:{index}") == -1 for index in range(200))


def test_delete_pattern_unlinks_exactly_the_matching_keys(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(3000):
            pipe.set(f"tmp:{index}", "v")
            pipe.set(f"keep:{index}", "v")
        pipe.execute()
        client.set(b"tmp:\xff\nodd", "v")
        _code, plan = run_json("fix", srv.url, "--delete-pattern", "tmp:*", "--key-sample", "0")
        delete = next(a for a in plan["actions"] if a["kind"] == "delete")
        assert delete["bytes_freed"] > 0 and "3001" in delete["title"]
        _apply(srv, tmp_path, "--delete-pattern", "tmp:*", "--only", "delete", "--key-sample", "0")
        assert not list(client.scan_iter("tmp:*")) and client.dbsize() == 3000
        logged = [k for r in read_audit(tmp_path / "audit.jsonl") for k in r.get("keys", [])]
        assert "tmp:\udcff\nodd" in logged  # the audit keeps the exact key name


def test_without_unlink_big_aggregates_are_emptied_in_steps_never_one_del(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as admin:
        for name, fill in (("big:hash", lambda p, i: p.hset("big:hash", f"f{i}", "v" * 50)),
                           ("big:set", lambda p, i: p.sadd("big:set", f"m{i}" + "v" * 50)),
                           ("big:zset", lambda p, i: p.zadd("big:zset", {f"m{i}" + "v" * 50: i})),
                           ("big:list", lambda p, i: p.rpush("big:list", "v" * 50))):
            pipe = admin.pipeline(transaction=False)
            for index in range(5000):
                fill(pipe, index)
            pipe.execute()
            assert admin.memory_usage(name) > 100_000
        admin.set("big:small", "v")
        admin.execute_command("ACL", "SETUSER", "nounlink", "on", ">pw", "~*", "+@all", "-unlink")
        url = srv.url.replace("redis://", "redis://nounlink:pw@")
        code, out = run_json("fix", url, "--delete-pattern", "big:*", "--big", "100kb", "--only", "delete",
                             "--key-sample", "0", "--apply", "--yes", "--audit", str(tmp_path / "a.jsonl"))
        assert code == 0, out
        assert "step" in out["results"][0]["detail"]
        assert not list(admin.scan_iter("big:*"))
        records = read_audit(tmp_path / "a.jsonl")
        sent = [r["command"] for r in records if r.get("phase") == "before"]
        assert any(c[0] == "HDEL" for c in sent) and any(c[0] == "SREM" for c in sent)
        assert any(c[0] == "ZREM" for c in sent) and any(c[0] == "LTRIM" for c in sent)
        deleted = [c[1] for c in sent if c[0] == "DEL"]
        assert "big:hash" not in deleted and "big:set" not in deleted and "big:zset" not in deleted


def _idle_socket(port: int, name: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    payload = f"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n${len(name)}\r\n{name}\r\n".encode()
    sock.sendall(payload.replace(b"*4", b"*3", 1))
    sock.recv(100)
    return sock


def test_idle_clients_killed_by_id_only_plain_idle_ones_and_timeout_set(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    leaked = [_idle_socket(srv.port, f"leak{i}") for i in range(3)]
    subscriber = srv.client()
    pubsub = subscriber.pubsub()
    pubsub.subscribe("news")
    with srv.client():
        time.sleep(1.5)
        args = ("--threshold", "idle_client_s=1", "--threshold", "idle_clients_count=1", "--only", "kill",
                "--only", "timeout", "--key-sample", "0")
        _code, plan = run_json("fix", srv.url, *args)
        kill = next(a for a in plan["actions"] if a["id"] == "kill:idle")
        assert all(cmd[:3] == ["CLIENT", "KILL", "ID"] for cmd in kill["commands"])
        out = _apply(srv, tmp_path, *args)
        assert "disconnected" in out["results"][0]["detail"]
    with srv.client() as fresh:
        names = {c.get("name") for c in fresh.client_list()}
        assert not names & {"leak0", "leak1", "leak2"}
        assert any("P" in c["flags"] or c["cmd"] == "subscribe" for c in fresh.client_list())  # subscriber kept
        assert fresh.config_get("timeout")["timeout"] == "300"
    pubsub.close()
    subscriber.close()
    for sock in leaked:
        sock.close()


def test_buffer_leaking_subscriber_killed_and_pubsub_limit_set(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(client_output_buffer_limit=["pubsub", "0", "0", "0"])
    reader = socket.create_connection(("127.0.0.1", srv.port))
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nfeed\r\n")
    with srv.client() as admin:
        for _ in range(200):
            admin.publish("feed", "x" * 50_000)
        time.sleep(0.3)
        args = ("--threshold", "client_omem_bytes=1000000", "--only", "kill", "--only", "pubsub-buffer-limit",
                "--key-sample", "0")
        _code, plan = run_json("fix", srv.url, *args)
        assert {"kill:buffers", "pubsub-buffer-limit"} <= set(_ids(plan))
        _apply(srv, tmp_path, *args)
        assert not [c for c in admin.client_list() if int(c["omem"]) > 1_000_000]
        limits = admin.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
        assert "pubsub 33554432 8388608 60" in limits
    reader.close()


def test_fragmentation_purge_and_defrag_where_the_allocator_and_version_allow(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        allocator = client.info("memory")["mem_allocator"]
        version = client.info("server")
        args = ("--threshold", "fragmentation_ratio=0", "--threshold", "fragmentation_min_bytes=0",
                "--key-sample", "0", "--only", "fragmentation.high")
        _code, plan = run_json("fix", srv.url, *args)
        ids = _ids(plan)
        if "jemalloc" not in allocator:
            assert ids == [] and any("not jemalloc" in n for n in plan["notes"])
            return
        assert "memory-purge" in ids
        in_crash_range = version.get("server_name") != "valkey" and (7, 4) <= tuple(
            int(p) for p in version["redis_version"].split(".")[:2]) <= (8, 2)
        assert ("activedefrag" in ids) == (not in_crash_range)
        if in_crash_range:
            assert any("crash" in n for n in plan["notes"])
        code, out = run_json("fix", srv.url, *args, "--apply", "--yes", "--audit", str(tmp_path / "a.jsonl"))
        assert code == 0, out
        status = {r["id"]: r for r in out["results"]}
        assert status["memory-purge"]["status"] == "done"
        if not in_crash_range:
            defrag = status["activedefrag"]
            supported = defrag["status"] == "done"
            assert supported or "without active defragmentation support" in defrag["detail"]
            assert client.config_get("activedefrag")["activedefrag"] == ("yes" if supported else "no")


def test_persistence_relaxed_and_aof_for_a_store_then_undone_exactly(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory_policy="noeviction", save=["60", "100"])
    with srv.client() as client:
        for index in range(100):
            client.set(f"order:{index}", "row")
        touched = ["save", "lazyfree-lazy-eviction", "lazyfree-lazy-expire", "lazyfree-lazy-server-del",
                   "lazyfree-lazy-user-del", "maxmemory"]
        before = {name: client.config_get(name)[name] for name in touched}
        out = _apply(srv, tmp_path, "--workload", "store", "--memory", "100mb", "--only", "save",
                     "--only", "lazyfree", "--only", "maxmemory", "--key-sample", "0")
        assert client.config_get("save")["save"] == "3600 1 300 100"
        assert client.config_get("lazyfree-lazy-user-del")["lazyfree-lazy-user-del"] == "yes"
        audit = out["audit"]
        prev = [r for r in read_audit(Path(audit)) if r.get("command", [""])[:2] == ["CONFIG", "SET"]]
        assert prev and all("previous" in r for r in prev)
        code, undone = run_json("fix", "--undo", audit, srv.url, "--audit", str(tmp_path / "undo.jsonl"))
        assert code == 0, undone
        assert {name: client.config_get(name)[name] for name in touched} == before
        assert undone["cannot_undo"] == [] and undone["changed_since"] == {}


def test_undo_leaves_a_setting_someone_changed_since_the_run(make_server, tmp_path: Path) -> None:
    """An operator set maxmemory 2gb after fix set it: undo must not put back the old value (0, no limit)
    over theirs. It restores the rest, names what it left, and exits 2."""
    srv: LocalServer = make_server(maxmemory_policy="noeviction")
    with srv.client() as client:
        client.set("order:1", "row")
        out = _apply(srv, tmp_path, "--workload", "cache", "--memory", "1gb", "--only", "maxmemory-policy",
                     "--only", "maxmemory", "--key-sample", "0")
        assert client.config_get("maxmemory")["maxmemory"] != "0"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] != "noeviction"
        client.config_set("maxmemory", "2gb")
        code, undone = run_json("fix", "--undo", out["audit"], srv.url, "--audit", str(tmp_path / "undo.jsonl"))
        assert code == 2 and undone["changed_since"] == {"maxmemory": str(2 * 1024**3)}, undone
        assert client.config_get("maxmemory")["maxmemory"] == str(2 * 1024**3)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert "maxmemory-policy" in undone["restored"] and "maxmemory" not in undone["restored"]
        text = run_cli("fix", "--undo", out["audit"], srv.url, "--audit", str(tmp_path / "undo2.jsonl"))
        assert "left maxmemory at '2147483648': changed since that run" in text.stdout, text.stdout


@pytest.mark.parametrize("workload", ["store"])
def test_none_on_store_enables_aof(make_server, tmp_path: Path, workload: str) -> None:
    srv: LocalServer = make_server(maxmemory_policy="noeviction")
    with srv.client() as client:
        client.set("order:1", "row")
        _apply(srv, tmp_path, "--workload", workload, "--only", "appendonly", "--key-sample", "0")
        assert client.config_get("appendonly")["appendonly"] == "yes"


def test_drop_unprocessed_shows_each_groups_loss_first_then_trims_past_the_safe_point(make_server,
                                                                                        tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        for _ in range(5000):
            client.xadd("events", {"v": "x" * 100})
        client.xgroup_create("events", "fast", id="0")
        client.xgroup_create("events", "slow", id="0")
        client.xreadgroup("fast", "f", {"events": ">"}, count=4000)
        got = client.xreadgroup("slow", "s", {"events": ">"}, count=1000)
        client.xack("events", "slow", *[i for i, _ in got[0][1][:500]])
        args = ("--drop-unprocessed", "--maxlen", "1000", "--only", "trim", "--key-sample", "0")
        _code, plan = run_json("fix", srv.url, *args)
        trim = plan["actions"][0]
        # entries before the newest 1000 that each group has not finished: fast holds all 4000 pending
        assert "group fast: 4000 unprocessed" in trim["title"] and "group slow: 3500 unprocessed" in trim["title"]
        assert "LOST" in trim["title"] and trim["undoable"] is False
        _apply(srv, tmp_path, *args)
        assert 1000 <= client.xlen("events") < 1200


def test_config_rewrite_persists_the_changes_where_the_server_has_a_config_file(redis_binary, tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("# the operator's file\nmaxmemory-policy allkeys-lru\n")
    wrapper = tmp_path / "redis-server-with-conf"  # starts the real binary with the config file first
    wrapper.write_text(f'#!/bin/sh\nexec "{redis_binary.path}" "{conf}" "$@"\n')
    wrapper.chmod(0o755)
    srv = LocalServer(type(redis_binary)(redis_binary.version, str(wrapper)), workdir=tmp_path)
    with srv, srv.client() as client:
        assert client.info("server")["config_file"] == str(conf)
        for index in range(100):
            client.set(f"order:{index}", "row")
        out = _apply(srv, tmp_path, "--workload", "store", "--only", "maxmemory-policy", "--only", "config-rewrite",
                     "--key-sample", "0")
        assert [r["id"] for r in out["results"]] == ["maxmemory-policy", "config-rewrite"]
        text = conf.read_text()
        assert "maxmemory-policy noeviction" in text and "# the operator's file" in text


def test_a_selector_that_matches_nothing_is_said_with_the_plans_action_ids(make_server, tmp_path: Path) -> None:
    """`--only lazyfre` (a typo) used to print "Nothing to do: no finding here has an automatic remedy"."""
    srv: LocalServer = make_server()
    full = run_json("fix", srv.url, "--memory", "100mb", "--key-sample", "0")[1]
    ids = _ids(full)
    assert ids, full
    typo = run_cli("fix", srv.url, "--memory", "100mb", "--key-sample", "0", "--only", "lazyfre", "--json")
    assert typo.returncode == 0 and _ids(json.loads(typo.stdout)) == []
    assert "--only 'lazyfre' matches no action of this plan" in typo.stderr
    assert all(action_id in typo.stderr for action_id in ids)
    skip = run_cli("fix", srv.url, "--memory", "100mb", "--key-sample", "0", "--skip", "nosuch", "--json")
    assert skip.returncode == 0 and _ids(json.loads(skip.stdout)) == ids
    assert "--skip 'nosuch' matches no action" in skip.stderr
    fine = run_cli("fix", srv.url, "--memory", "100mb", "--key-sample", "0", "--only", ids[0], "--json")
    assert "matches no action" not in fine.stderr and _ids(json.loads(fine.stdout)) == ids[:1]
    shown = run_cli("fix", srv.url, "--memory", "100mb", "--key-sample", "0", "--only", "lazyfre")
    assert f"Nothing to do: --only/--skip left out all {len(ids)} action(s) of the plan." in shown.stdout
    # Applying, a typo is refused before anything is written: no audit log, nothing changed.
    before = srv.client().config_get("*")
    audit = tmp_path / "audit.jsonl"
    refused = run_cli("fix", srv.url, "--memory", "100mb", "--key-sample", "0", "--only", "lazyfre",
                      "--apply", "--yes", "--audit", str(audit))
    assert refused.returncode == 2 and "--only 'lazyfre' matches no action" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1 and not audit.exists() and srv.client().config_get("*") == before


def test_a_host_memory_redis_cannot_measure_is_a_note_not_a_crash(make_server) -> None:
    """INFO total_system_memory is 0 on platforms Redis cannot measure: without --memory the plan leaves
    maxmemory out and says to give --memory, and the settings that do not depend on memory are still planned."""
    srv: LocalServer = make_server()
    conn = ConnectionOptions.build(srv.url)
    with srv.client() as client:
        facts = replace(gather(client, collect(conn, 0), FixOptions(), [], None), host_memory=0)
        notes: list[str] = []
        ids = [action.id for action in config_actions(facts, [], "cache", notes)]
    assert "maxmemory" not in ids and "maxmemory-policy" in ids
    assert ("lazyfree" in ids) == (facts.config.get("lazyfree-lazy-eviction") == "no")  # Valkey's default is yes
    assert any("--memory" in note and "total_system_memory 0" in note for note in notes), notes


def test_the_lines_to_persist_name_only_the_settings_the_filtered_plan_changes(make_server) -> None:
    """Without a config file, fix says which lines to add to redis.conf. After --only, they listed every
    recommended setting, although the plan changed only one: an operator would persist settings never
    applied or reviewed."""
    srv: LocalServer = make_server(maxmemory_policy="noeviction")
    full = run_json("fix", srv.url, "--workload", "cache", "--memory", "100mb", "--key-sample", "0")[1]
    note = [n for n in full["notes"] if "add these lines" in n]
    assert note and "maxmemory-policy allkeys-lru" in note[0] and "maxmemory " in note[0]
    only = run_json("fix", srv.url, "--workload", "cache", "--memory", "100mb", "--key-sample", "0",
                    "--only", "maxmemory-policy")[1]
    (line,) = [n for n in only["notes"] if "add these lines" in n]
    assert line.endswith("(or its command line): maxmemory-policy allkeys-lru"), line
    none = run_json("fix", srv.url, "--workload", "cache", "--memory", "100mb", "--key-sample", "0",
                    "--skip", "config")[1]
    assert not [n for n in none["notes"] if "add these lines" in n], none["notes"]
