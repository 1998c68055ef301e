"""Redis Cluster edge cases on real clusters: a primary with no slots, a cluster in ``fail`` state (a primary
killed under cluster-require-full-coverage yes), a replica promoted while ``keys`` scans: a clear report or
one line, never a crash.

Each test starts its own cluster (it changes the topology): the shared session cluster stays untouched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from redisguard.cli import run
from redisguard.connect import ConnectionOptions, discover
from redisguard.keyspace import ScanSettings, scan_deployment
from redisguard.localserver import LocalCluster, LocalServer, RedisBinary

FAST_FAILOVER = {"cluster-node-timeout": "1000", "cluster-require-full-coverage": "yes"}


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll (bounded) until the cluster reaches a state; fails the test with ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def cluster_state(node: LocalServer) -> str:
    with node.client() as client:
        return str(client.cluster("INFO").get("cluster_state"))


@pytest.fixture
def fresh_cluster(redis_binary: RedisBinary) -> Iterator[Callable[..., LocalCluster]]:
    started: list[LocalCluster] = []

    def start(**kwargs: object) -> LocalCluster:
        local = LocalCluster(redis_binary, **kwargs)  # type: ignore[arg-type]
        started.append(local)
        return local.start()

    yield start
    for local in started:
        local.close()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "internal error" not in err, err
    if code != 0 and not out:
        assert len(err.strip().splitlines()) == 1, err
    return code, out, err


def test_primary_without_slots_is_named_not_scanned(fresh_cluster, redis_binary: RedisBinary, capsys) -> None:
    local = fresh_cluster(primaries=3)
    empty = LocalServer(redis_binary, config={"cluster-enabled": "yes", "cluster-config-file": "nodes-extra.conf",
                                             "cluster-node-timeout": "5000"})
    local.nodes.append(empty.start())  # closed with the cluster
    with local.nodes[0].client() as client:
        client.execute_command("CLUSTER", "MEET", "127.0.0.1", empty.port)
    wait_until(lambda: all(int(node.client().cluster("INFO")["cluster_known_nodes"]) == 4 for node in local.nodes),
               "the fourth node to join")
    seeded = RedisCluster(host="127.0.0.1", port=local.nodes[0].port)
    try:
        for index in range(60):
            seeded.set(f"edge:{index}", "v")
    finally:
        seeded.close()
    empty_address = f"127.0.0.1:{empty.port}"
    topology = discover(ConnectionOptions.build(local.url))
    assert empty_address not in {node.address for node in topology.primaries}
    assert any(empty_address in what and "no slots" in why for what, why in topology.not_visible)

    code, out, err = _run(capsys, "doctor", local.url, "--json")
    assert code in (0, 1, 2), err
    report = json.loads(out)
    assert len(report["nodes"]) == 3
    assert sum(node["keys"] for node in report["nodes"]) == 60
    assert any(empty_address in gap["what"] for gap in report["not_visible"])
    code, out, err = _run(capsys, "keys", local.url, "--json")
    assert code == 0, err
    assert sum(row["keys"] for row in json.loads(out)["patterns"]) == 60
    code, _, err = _run(capsys, "streams", local.url)
    assert code == 0, err


def test_cluster_in_fail_state_is_a_critical_finding(fresh_cluster, capsys) -> None:
    local = fresh_cluster(primaries=3, config=dict(FAST_FAILOVER))
    victim = local.primary_nodes[2]
    victim_address = f"127.0.0.1:{victim.port}"
    victim.stop()  # by its PID; no replica, full coverage required: the survivors go to fail
    survivors = local.primary_nodes[:2]
    wait_until(lambda: all(cluster_state(node) == "fail" for node in survivors), "cluster_state:fail")
    url = survivors[0].url

    code, out, err = _run(capsys, "doctor", url, "--json")
    assert code == 2, err
    report = json.loads(out)
    assert len(report["nodes"]) == 2
    fail_findings = [f for f in report["findings"] if f["id"] == "cluster.state-fail"]
    assert len(fail_findings) == 2
    assert all(f["evidence"]["cluster_state"] == "fail" for f in fail_findings)
    assert any(victim_address in gap["what"] for gap in report["not_visible"])
    for text_format in ("--markdown", None):
        code_text, text, _ = _run(capsys, "doctor", url, *([text_format] if text_format else []))
        assert code_text == 2
        assert "fail" in text
    code, _, _ = _run(capsys, "snapshot", url)
    assert code == 0
    # keys and streams on a failed cluster: a report, or one line (exit 3) naming what is unreachable
    code, out, err = _run(capsys, "keys", url, "--json")
    assert code in (0, 3), err
    if code == 0:  # a report of the reachable primaries that names the failed one
        assert any(victim_address in note for note in json.loads(out)["notes"]), out
    code, out, err = _run(capsys, "streams", url, "--json")
    assert code in (0, 3), err


def test_replica_promoted_during_keys_scan(fresh_cluster) -> None:
    """CLUSTER FAILOVER on one shard's replica while that shard is being scanned (the scan thread is held
    in its first progress call until the replica is the primary): the scan finishes or fails in one error,
    and never reports keys that do not exist."""
    local = fresh_cluster(primaries=3, replicas_per_primary=1)
    seeded = RedisCluster(host="127.0.0.1", port=local.nodes[0].port)
    try:
        pipe = seeded.pipeline()
        for index in range(3000):
            pipe.set(f"promo:{index}", "x" * 20)
        pipe.execute()
    finally:
        seeded.close()
    replica = local.nodes[3]  # replicates primary 0 (LocalCluster attaches replica i to primary i)
    with replica.client() as client:
        wait_until(lambda: client.info("replication").get("master_link_status") == "up", "the replica to sync")
    failed_over = threading.Event()
    lock = threading.Lock()

    def progress(_: int) -> None:
        with lock:
            if failed_over.is_set():
                return
            failed_over.set()
            with replica.client() as client:
                client.execute_command("CLUSTER", "FAILOVER")
                wait_until(lambda: client.info("replication").get("role") == "master", "the replica's promotion")

    options = ConnectionOptions.build(local.url)
    try:
        report = scan_deployment(options, ScanSettings(count=50), progress=progress)
    except redis.exceptions.RedisError as exc:  # a clean, single error is acceptable
        assert failed_over.is_set()
        assert str(exc)
        return
    except Exception as exc:  # the product's own one-line errors (exit 3 in the CLI)
        assert failed_over.is_set()
        assert getattr(exc, "exit_code", None) in (2, 3), repr(exc)
        return
    assert failed_over.is_set()
    assert sum(row.keys for row in report.patterns) + report.vanished == 3000
    assert report.patterns, "the scan saw no keys at all"
    if report.vanished:  # nothing was deleted: the keys the demoted node stopped serving, and it says why
        old_primary = f"127.0.0.1:{local.nodes[0].port}"
        assert any(old_primary in note and "failover" in note for note in report.notes), report.notes
