"""``redisguard fix`` on a Redis Cluster: one plan over every primary, each action run on the node it names.

The shared three-primary cluster (``cluster`` fixture) serves the plan, apply, stream and undo tests; each
test uses its own key prefix and removes its keys, and the configuration it changes is undone (and
restored again in ``finally``). The failover and the slot migration change the cluster, so they run on a
six-node cluster of their own, once, on the newest Redis.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from tests.conftest import BINARIES
from tests.fix_data import dataset_digest, run_cli, run_json

from redisguard.localserver import LocalCluster, LocalServer
from redisguard.remedy.auditlog import AuditLog, read_audit
from redisguard.remedy.engine import apply_plan
from redisguard.remedy.plan import Plan
from redisguard.remedy.stop import StopFlag

pytestmark = pytest.mark.cluster


def _address(node: LocalServer) -> str:
    return f"127.0.0.1:{node.port}"


def _cluster_client(local: LocalCluster) -> redis.RedisCluster:
    return redis.RedisCluster(host="127.0.0.1", port=local.primary_nodes[0].port, protocol=2)


def _owner(rc: redis.RedisCluster, key: str) -> str:
    node = rc.get_node_from_key(key)
    return f"127.0.0.1:{node.port}"


def _fill(rc: redis.RedisCluster, prefix: str, matching: int = 300, with_ttl: int = 60, other: int = 200) -> None:
    for index in range(matching):
        rc.set(f"{prefix}:tmp:{index}", "v")
    for index in range(with_ttl):
        rc.set(f"{prefix}:tmp:ttl:{index}", "v", ex=50_000)
    for index in range(other):
        rc.set(f"{prefix}:keep:{index}", "v")


def _drop(local: LocalCluster, prefix: str) -> None:
    for node in local.primary_nodes:
        with node.client() as client:
            pipe = client.pipeline(transaction=False)
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                pipe.delete(key)  # one key a command: a node's keys hash to many slots
            pipe.execute()


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[redis.RedisCluster]:
    client = _cluster_client(cluster)
    try:
        yield client
    finally:
        client.close()


def _digests(local: LocalCluster) -> dict[str, dict[bytes, str]]:
    out = {}
    for node in local.primary_nodes:
        with node.client() as client:
            out[_address(node)] = dataset_digest(client)
    return out


def _config(local: LocalCluster, names: tuple[str, ...], every: bool = False) -> dict[str, dict[str, str]]:
    out = {}
    for node in local.nodes if every else local.primary_nodes:
        with node.client() as client:
            out[_address(node)] = {name: str(client.config_get(name)[name]) for name in names}
    return out


def test_plan_covers_every_primary_and_a_dry_run_changes_no_node(cluster: LocalCluster, rc, tmp_path: Path) -> None:
    prefix = "fixcl-plan"
    _fill(rc, prefix)
    try:
        before = _digests(cluster)
        plan_file = tmp_path / "plan.json"
        code, plan = run_json("fix", cluster.url, "--expire-pattern", f"{prefix}:tmp:*", "--workload", "cache",
                              "--key-sample", "0", "--plan-out", str(plan_file))
        assert code == 0, plan
        primaries = {_address(n) for n in cluster.primary_nodes}
        assert set(plan["layout"]) == primaries and set(plan["nodes"]) == primaries
        expires = [a for a in plan["actions"] if a["kind"] == "expire"]
        assert {a["node"] for a in expires} == primaries  # SCAN is per node: one action per primary
        # each node's action counts exactly the matching keys without a TTL that node holds
        expected = {address: 0 for address in primaries}
        for index in range(300):
            expected[_owner(rc, f"{prefix}:tmp:{index}")] += 1
        for action in expires:
            assert f"give the {expected[action['node']]} keys" in action["title"], (action["title"], expected)
        assert all(a["node"] in primaries for a in plan["actions"])
        saved = Plan.load(plan_file)
        assert saved.is_cluster and saved.layout == plan["layout"] and set(saved.nodes) == primaries
        one = sorted(primaries)[0]
        code, only = run_json("fix", cluster.url, "--expire-pattern", f"{prefix}:tmp:*", "--workload", "cache",
                              "--key-sample", "0", "--only", f"expire@{one}")
        assert code == 0 and [(a["kind"], a["node"]) for a in only["actions"]] == [("expire", one)], only
        assert _digests(cluster) == before
        text = run_cli("fix", cluster.url, "--expire-pattern", f"{prefix}:tmp:*", "--workload", "cache",
                       "--key-sample", "0", "--only", "expire")
        assert text.returncode == 0, text.stderr
        assert all(f"node:   {address}" in text.stdout for address in primaries)
        assert f"Redis Cluster: {len(primaries)} primaries" in text.stdout
        assert all(f"  {address}: 1 action(s), about " in text.stdout for address in primaries)  # per node
        assert _digests(cluster) == before
    finally:
        _drop(cluster, prefix)


def test_apply_expires_exactly_the_matching_keys_on_every_primary(cluster: LocalCluster, rc, tmp_path: Path) -> None:
    prefix = "fixcl-expire"
    _fill(rc, prefix)
    audit = tmp_path / "audit.jsonl"
    try:
        began = time.monotonic()
        code, out = run_json("fix", cluster.url, "--expire-pattern", f"{prefix}:tmp:*", "--ttl", "1000",
                             "--jitter", "0.5", "--only", "expire", "--key-sample", "0", "--apply", "--yes",
                             "--audit", str(audit))
        assert code == 0, out
        assert len(out["results"]) == 3 and all(r["status"] == "done" for r in out["results"]), out["results"]
        ttls = [rc.ttl(f"{prefix}:tmp:{index}") for index in range(300)]
        elapsed = int(time.monotonic() - began) + 1
        assert all(1000 - elapsed <= ttl <= 1500 for ttl in ttls), (min(ttls), max(ttls))
        assert all(49_000 <= rc.ttl(f"{prefix}:tmp:ttl:{index}") <= 50_000 for index in range(60))
        assert all(rc.ttl(f"{prefix}:keep:{index}") == -1 for index in range(200))
        # every EXPIRE batch ran on the node it names, and only on keys that node holds
        batches = [r for r in read_audit(audit) if r.get("phase") == "before" and r["command"][0] == "EXPIRE"]
        assert {r["node"] for r in batches} == {_address(n) for n in cluster.primary_nodes}
        expired = [key for r in batches for key in r["keys"]]
        without_ttl = {f"{prefix}:tmp:{index}" for index in range(300)}
        with_ttl = {f"{prefix}:tmp:ttl:{index}" for index in range(60)}  # sent EXPIRE ... NX on 7.0+: a no-op
        assert without_ttl <= set(expired) <= without_ttl | with_ttl and len(expired) == len(set(expired))
        assert all(_owner(rc, key) == r["node"] for r in batches for key in r["keys"])
    finally:
        _drop(cluster, prefix)


def test_config_set_on_every_primary_and_undo_restores_each_node(cluster: LocalCluster, rc, tmp_path: Path) -> None:
    names = ("maxmemory", "maxmemory-policy")
    before = _config(cluster, names)
    audit = tmp_path / "audit.jsonl"
    try:
        code, out = run_json("fix", cluster.url, "--workload", "cache", "--only", "maxmemory", "--only",
                             "maxmemory-policy", "--key-sample", "0", "--memory", "3gb", "--apply", "--yes",
                             "--audit", str(audit))
        assert code == 0, out
        by_node: dict[str, dict[str, str]] = {}
        for action in out["plan"]["actions"]:
            by_node.setdefault(action["node"], {}).update(action["params"]["set"])
        assert set(by_node) == set(before)  # every primary
        after = _config(cluster, names)
        for address, wanted in by_node.items():
            assert {name: after[address][name] for name in wanted} == wanted
        # three nodes on one host share its 3 GB: each maxmemory fits in a third of it
        assert all(0 < int(after[address]["maxmemory"]) <= 1024 ** 3 for address in by_node)
        assert all(r.get("node") in before for r in read_audit(audit) if r.get("command", [""])[0] == "CONFIG")
        undo = run_cli("fix", cluster.url, "--undo", str(audit), "--audit", str(tmp_path / "undo.jsonl"))
        assert undo.returncode == 0, undo.stdout + undo.stderr
        assert _config(cluster, names) == before
        assert all(f"on {address}" in undo.stdout for address in before)
    finally:
        for node in cluster.primary_nodes:
            with node.client() as client:
                for name, value in before[_address(node)].items():
                    client.config_set(name, value)


def test_a_stream_is_trimmed_on_the_node_serving_its_slot(cluster: LocalCluster, rc, tmp_path: Path) -> None:
    key = "fixcl-stream:events"
    try:
        rc.xgroup_create(key, "workers", id="0", mkstream=True)
        for index in range(500):
            rc.xadd(key, {"n": str(index), "payload": "x" * 100})
        read = rc.xreadgroup("workers", "w1", {key: ">"}, count=500)
        ids = [entry_id for _, entries in read for entry_id, _ in entries]
        rc.xack(key, "workers", *ids[:450])
        code, plan = run_json("fix", cluster.url, "--only", f"trim:{key}", "--key-sample", "0", "--workload", "queue")
        assert code == 0, plan
        assert [(a["id"], a["node"]) for a in plan["actions"]] == [(f"trim:{key}", _owner(rc, key))]
        code, out = run_json("fix", cluster.url, "--only", f"trim:{key}", "--key-sample", "0", "--workload",
                             "queue", "--apply", "--yes", "--audit", str(tmp_path / "audit.jsonl"))
        assert code == 0 and out["results"][0]["status"] == "done", out
        assert rc.xlen(key) < 500
        assert rc.xpending(key, "workers")["pending"] == 50  # the unacknowledged entries are all still there
        assert len(rc.xrange(key, min=ids[450])) == 50
    finally:
        rc.delete(key)


def test_a_standalone_plan_is_refused_on_a_cluster(cluster: LocalCluster, make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    plan_file = tmp_path / "plan.json"
    made = run_cli("fix", srv.url, "--workload", "cache", "--key-sample", "0", "--plan-out", str(plan_file))
    assert made.returncode == 0, made.stderr
    result = run_cli("fix", cluster.url, "--apply", "--yes", "--plan", str(plan_file),
                     "--audit", str(tmp_path / "audit.jsonl"))
    assert result.returncode == 2
    assert "made for a standalone server" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "audit.jsonl").exists()


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _replicas_seen(node: LocalServer) -> int:
    with node.client() as client:
        raw = client.execute_command("CLUSTER NODES")
    return sum(1 for entry in raw.values() if "slave" in entry["flags"] and entry.get("master_id", "-") != "-")


def _primaries_seen(node: LocalServer) -> set[int]:
    with node.client() as client:
        raw = client.execute_command("CLUSTER NODES")
    return {int(address.split("@")[0].rsplit(":", 1)[1]) for address, entry in raw.items()
            if "master" in entry["flags"] and entry.get("slots")}


def test_replica_url_saved_plan_refused_after_slot_move_and_failover(redis_binary, tmp_path: Path) -> None:
    """Through a replica the plan covers the primaries; a saved plan is refused once a slot moved, and
    again after a failover; nothing is written by a refused plan."""
    if redis_binary != BINARIES[0]:
        pytest.skip("a six-node cluster: run once, on the newest Redis")
    with LocalCluster(redis_binary, primaries=3, replicas_per_primary=1) as local:
        rc = _cluster_client(local)
        try:
            for index in range(60):
                rc.set(f"tmp:{index}", "v")
            replica = local.nodes[local.primaries]
            primaries = {_address(n) for n in local.primary_nodes}

            # configuration goes to every node, replicas included (so a failover keeps it); undo restores all
            _wait(lambda: all(_replicas_seen(node) == local.primaries for node in local.nodes),
                  "every node to know the replicas")
            names = ("maxmemory", "maxmemory-policy")
            before = _config(local, names, every=True)
            code, out = run_json("fix", local.url, "--workload", "cache", "--only", "maxmemory", "--only",
                                 "maxmemory-policy", "--key-sample", "0", "--memory", "3gb", "--apply", "--yes",
                                 "--audit", str(tmp_path / "config.jsonl"))
            assert code == 0, out
            assert {a["node"] for a in out["plan"]["actions"]} == set(before)  # all six nodes
            after = _config(local, names, every=True)
            assert len({tuple(v.values()) for v in after.values()}) == 1 and after != before
            undo = run_cli("fix", replica.url, "--undo", str(tmp_path / "config.jsonl"),
                           "--audit", str(tmp_path / "undo.jsonl"))
            assert undo.returncode == 0, undo.stdout + undo.stderr
            assert _config(local, names, every=True) == before
            plan_file = tmp_path / "plan.json"
            made = run_cli("fix", replica.url, "--expire-pattern", "tmp:*", "--only", "expire", "--key-sample", "0",
                           "--workload", "cache", "--plan-out", str(plan_file))
            assert made.returncode == 0, made.stderr
            assert "is a replica" in made.stderr
            code, plan = run_json("fix", replica.url, "--expire-pattern", "tmp:*", "--only", "expire",
                                  "--key-sample", "0", "--workload", "cache")
            assert code == 0, plan
            assert {a["node"] for a in plan["actions"]} == primaries  # never the replica

            # a slot moves (an empty one, between two primaries): the saved plan is refused
            source, target = local.primary_nodes[0], local.primary_nodes[1]
            with target.client() as client:
                target_id = client.execute_command("CLUSTER", "MYID").decode()
            with source.client() as client:
                slot = next(s for s in range(0, 5000) if client.execute_command("CLUSTER", "COUNTKEYSINSLOT", s) == 0)
            for node in (target, source):
                with node.client() as client:
                    client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            moved = run_cli("fix", local.url, "--apply", "--yes", "--plan", str(plan_file),
                            "--audit", str(tmp_path / "moved.jsonl"))
            assert moved.returncode == 2, moved.stdout + moved.stderr
            assert "refused" in moved.stderr and "slot migration" in moved.stderr
            assert all(rc.ttl(f"tmp:{index}") == -1 for index in range(60))

            # a failover: the replica takes over its primary's slots
            plan_file2 = tmp_path / "plan2.json"
            made = run_cli("fix", local.url, "--expire-pattern", "tmp:*", "--only", "expire", "--key-sample", "0",
                           "--workload", "cache", "--plan-out", str(plan_file2))
            assert made.returncode == 0, made.stderr
            with replica.client() as client:
                client.execute_command("CLUSTER", "FAILOVER")
            _wait(lambda: replica.port in _primaries_seen(local.nodes[1]), "the failover")
            refused = run_cli("fix", local.nodes[1].url, "--apply", "--yes", "--plan", str(plan_file2),
                              "--audit", str(tmp_path / "failover.jsonl"))
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert "refused" in refused.stderr and "no longer a primary" in refused.stderr
            assert "Traceback" not in refused.stderr
            assert all(rc.ttl(f"tmp:{index}") == -1 for index in range(60))
            assert not (tmp_path / "failover.jsonl").exists()

            # the engine's own guard, for a plan that got past the check: the old primary is a replica now
            old_primary = _address(local.primary_nodes[0])
            plan = Plan.load(plan_file2)
            plan.actions = [a for a in plan.actions if a.matches(old_primary)]
            assert plan.actions
            with local.primary_nodes[0].client() as client:
                log = AuditLog(tmp_path / "engine.jsonl", old_primary)
                outcome = apply_plan(plan, client, log, stop=StopFlag(), max_impact_ms=1.0,
                                     confirm=lambda action: True, nx=True, node_clients={old_primary: client})
                log.close()
            assert outcome.failed and "is a replica now" in outcome.results[0].detail, outcome.results
            assert all(rc.ttl(f"tmp:{index}") == -1 for index in range(60))
        finally:
            rc.close()


@pytest.mark.min_redis(7, 0)  # removing one subcommand (-cluster|nodes) needs 7.0's ACL rules
def test_without_cluster_nodes_fix_refuses_in_one_line(cluster: LocalCluster, tmp_path: Path) -> None:
    for node in cluster.primary_nodes:
        with node.client() as client:
            client.execute_command("ACL", "SETUSER", "fixcl-nocn", "on", ">pw", "~*", "&*", "+@all",
                                   "-cluster|nodes")
    try:
        url = f"redis://fixcl-nocn:pw@127.0.0.1:{cluster.primary_nodes[0].port}/0"
        result = run_cli("fix", url, "--workload", "cache", "--key-sample", "0")
        assert result.returncode == 3, result.stdout + result.stderr
        assert "needs CLUSTER NODES" in result.stderr and "+cluster|nodes" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "pw@" not in result.stderr
    finally:
        for node in cluster.primary_nodes:
            with node.client() as client:
                client.execute_command("ACL", "DELUSER", "fixcl-nocn")


def test_delete_pattern_unlinks_exactly_the_matching_keys_on_every_primary(cluster: LocalCluster, rc,
                                                                             tmp_path: Path) -> None:
    prefix = "fixcl-delete"
    _fill(rc, prefix)
    try:
        code, out = run_json("fix", cluster.url, "--delete-pattern", f"{prefix}:tmp:*", "--only", "delete",
                             "--key-sample", "0", "--apply", "--yes", "--audit", str(tmp_path / "audit.jsonl"))
        assert code == 0, out
        assert {r["node"] for r in out["results"]} == {_address(n) for n in cluster.primary_nodes}
        assert all(r["status"] == "done" for r in out["results"]), out["results"]
        assert sum(int(r["detail"].split()[0]) for r in out["results"]) == 360  # 300 + the 60 with a TTL
        assert not any(rc.exists(f"{prefix}:tmp:{index}") for index in range(300))
        assert all(rc.exists(f"{prefix}:keep:{index}") for index in range(200))
    finally:
        _drop(cluster, prefix)


def test_idle_clients_are_killed_on_the_node_they_are_connected_to(cluster: LocalCluster, tmp_path: Path) -> None:
    node = cluster.primary_nodes[1]
    leaked = []
    for index in range(2):
        sock = socket.create_connection(("127.0.0.1", node.port))
        name = f"fixcl-leak{index}"
        sock.sendall(f"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n${len(name)}\r\n{name}\r\n".encode())
        sock.recv(100)
        leaked.append(sock)
    try:
        with node.client() as client:
            ids = {int(c["id"]) for c in client.client_list() if c.get("name", "").startswith("fixcl-leak")}
        assert len(ids) == 2
        time.sleep(1.5)
        args = ("--threshold", "idle_client_s=1", "--threshold", "idle_clients_count=1", "--key-sample", "0",
                "--workload", "cache")
        code, plan = run_json("fix", cluster.url, *args, "--only", "kill")
        assert code == 0, plan
        on_node = [a for a in plan["actions"] if a["kind"] == "kill" and a["node"] == _address(node)]
        assert on_node and ids <= set(on_node[0]["params"]["ids"])
        assert not any(ids & set(a["params"]["ids"]) for a in plan["actions"] if a["node"] != _address(node))
        code, out = run_json("fix", cluster.url, *args, "--only", f"kill:idle@{_address(node)}", "--apply", "--yes",
                             "--audit", str(tmp_path / "audit.jsonl"))
        assert code == 0 and [r["node"] for r in out["results"]] == [_address(node)], out
        with node.client() as client:
            assert not {c.get("name") for c in client.client_list()} & {"fixcl-leak0", "fixcl-leak1"}
    finally:
        for sock in leaked:
            sock.close()


def test_config_rewrite_runs_on_every_primary_with_its_own_config_file(redis_binary, tmp_path: Path) -> None:
    if redis_binary != BINARIES[0]:
        pytest.skip("a cluster of its own: run once, on the newest Redis")
    confs = tmp_path / "confs"
    confs.mkdir()
    wrapper = tmp_path / "redis-server-with-conf"  # each node starts with a config file of its own
    wrapper.write_text(f'#!/bin/sh\nconf=$(mktemp -p "{confs}" node-XXXXXX.conf)\n'
                       f'echo "# the operator\'s file" > "$conf"\nexec "{redis_binary.path}" "$conf" "$@"\n')
    wrapper.chmod(0o755)
    with LocalCluster(type(redis_binary)(redis_binary.version, str(wrapper)), primaries=3) as local:
        files = {}
        for node in local.primary_nodes:
            with node.client() as client:
                files[_address(node)] = Path(client.info("server")["config_file"])
        assert len(set(files.values())) == 3
        code, out = run_json("fix", local.url, "--workload", "cache", "--only", "maxmemory-policy", "--only",
                             "config-rewrite", "--key-sample", "0", "--apply", "--yes",
                             "--audit", str(tmp_path / "audit.jsonl"))
        assert code == 0, out
        rewrites = [r for r in out["results"] if r["id"] == "config-rewrite"]
        assert sorted(r["node"] for r in rewrites) == sorted(files) and all(r["status"] == "done" for r in rewrites)
        for path in files.values():
            text = path.read_text()
            assert "maxmemory-policy allkeys-lru" in text and "# the operator's file" in text
