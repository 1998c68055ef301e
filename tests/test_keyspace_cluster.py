"""Redis Cluster (three primaries, scanned in parallel and merged) and scanning a replica."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster
from tests.keyspace_data import KNOWN_PATTERNS, fill_known

from redisguard.connect import ConnectionOptions
from redisguard.keyspace import ScanSettings, scan_deployment
from redisguard.localserver import LocalCluster

PREFIX = "kscl:"


@pytest.fixture
def cluster_keys(cluster: LocalCluster) -> Iterator[tuple[LocalCluster, dict[str, set[bytes]], RedisCluster]]:
    node = cluster.primary_nodes[0]
    client = RedisCluster(host="127.0.0.1", port=node.port)
    try:
        made = fill_known(client, per_pattern=60, prefix=PREFIX)  # type: ignore[arg-type]
        yield cluster, made, client
    finally:
        for keys in made.values():
            for key in keys:
                client.delete(key)
        client.close()


Keys = tuple[LocalCluster, dict[str, set[bytes]], RedisCluster]


def test_cluster_scans_every_primary_and_merges(cluster_keys: Keys) -> None:
    cluster, made, client = cluster_keys
    expected = {PREFIX + pattern: (len(keys), sum(int(client.memory_usage(key)) for key in keys))
                for pattern, keys in made.items()}
    report = scan_deployment(ConnectionOptions.build(cluster.url), ScanSettings(match=PREFIX.encode() + b"*"))
    assert report.topology == "cluster"
    assert len(report.nodes) == 3
    assert all(node.seen > 0 for node in report.nodes)  # the keys spread over every primary
    got = {row.pattern: (row.keys, row.bytes) for row in report.patterns}
    assert got == expected
    assert {PREFIX + p for p in KNOWN_PATTERNS} == set(got)


def test_cluster_sampling_is_stratified(cluster_keys: Keys) -> None:
    cluster, _, _ = cluster_keys
    report = scan_deployment(ConnectionOptions.build(cluster.url), ScanSettings(sample=150))
    assert len(report.nodes) == 3
    assert sum(node.seen for node in report.nodes) >= 150
    total = sum(row.keys for row in report.patterns)
    assert total == pytest.approx(report.keyspace_size, rel=0.02)  # shares per node sum to one


def test_one_shard_failing_cancels_the_others(cluster: LocalCluster) -> None:
    """The first shard to fail ends the whole scan at once: the other shards stop within a batch rather
    than scanning to the end (which is also what makes Ctrl-C on a cluster scan stop it)."""
    import threading

    client = RedisCluster(host="127.0.0.1", port=cluster.primary_nodes[0].port)
    names = [f"kscancel:{n}" for n in range(45_000)]
    try:
        for start in range(0, len(names), 5000):
            pipe = client.pipeline()
            for name in names[start:start + 5000]:
                pipe.set(name, "v")
            pipe.execute()
        progressed: list[int] = []
        lock = threading.Lock()

        def progress(keys: int) -> None:
            with lock:
                progressed.append(keys)
                if len(progressed) == 1:
                    raise RuntimeError("shard failed")

        with pytest.raises(RuntimeError, match="shard failed"):
            scan_deployment(ConnectionOptions.build(cluster.url), ScanSettings(count=100), progress=progress)
        # 3 shards of ~15,000 keys in batches of 100: each stops within a few batches of the failure
        assert sum(progressed) < len(names) // 3
    finally:
        for start in range(0, len(names), 5000):
            pipe = client.pipeline()
            for name in names[start:start + 5000]:
                pipe.delete(name)
            pipe.execute()
        client.close()


def test_replica_is_scanned_instead_of_the_primary(make_server: object) -> None:
    primary = make_server(repl_diskless_sync_delay=0)  # type: ignore[operator]
    replica = make_server(replicaof=["127.0.0.1", str(primary.port)])  # type: ignore[operator]
    with primary.client() as admin:
        fill_known(admin, per_pattern=20)
    with replica.client() as follower:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = follower.info("replication")
            if info.get("master_link_status") == "up" and follower.dbsize() == 100:
                break
            time.sleep(0.05)
        assert follower.dbsize() == 100
    with primary.client() as admin:
        deadline = time.monotonic() + 10
        while int(admin.info("replication").get("connected_slaves", 0)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    report = scan_deployment(ConnectionOptions.build(primary.url), ScanSettings(), replica=True)
    assert [node.role for node in report.nodes] == ["replica"]
    assert report.nodes[0].address.endswith(f":{replica.port}")
    assert report.seen == 100
    own = scan_deployment(ConnectionOptions.build(primary.url), ScanSettings())
    assert [node.role for node in own.nodes] == ["primary"]
    # same keys; sizes may differ (a replica loads its data from an RDB, which can pack it differently)
    assert {(r.pattern, r.keys) for r in own.patterns} == {(r.pattern, r.keys) for r in report.patterns}


def test_replica_of_db_n_scans_db_n_of_the_replica(make_server: object) -> None:
    """``keys redis://primary/3 --replica``: the replica's own options point at db 0; db 3 is scanned."""
    primary = make_server(repl_diskless_sync_delay=0)  # type: ignore[operator]
    replica = make_server(replicaof=["127.0.0.1", str(primary.port)])  # type: ignore[operator]
    with primary.client() as admin:
        admin.set("in:db0", "x")
        admin.execute_command("SELECT", 3)
        for n in range(7):
            admin.set(f"in:db3:{n}", "y")
    deadline = time.monotonic() + 20
    with replica.client() as follower:
        while time.monotonic() < deadline:
            follower.execute_command("SELECT", 3)
            if follower.dbsize() == 7:
                break
            time.sleep(0.05)
    with primary.client() as admin:
        while int(admin.info("replication").get("connected_slaves", 0)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    url = primary.url.rsplit("/", 1)[0] + "/3"
    report = scan_deployment(ConnectionOptions.build(url), ScanSettings(), replica=True)
    assert [node.role for node in report.nodes] == ["replica"]
    assert report.seen == 7 and report.db == 3
    assert {row.pattern for row in report.patterns} == {"in:db3:*"}  # no key of db 0


def test_replica_flag_without_replicas_notes_it(make_server: object) -> None:
    alone = make_server()  # type: ignore[operator]
    with alone.client() as admin:
        admin.set("k", "v")
    report = scan_deployment(ConnectionOptions.build(alone.url), ScanSettings(), replica=True)
    assert report.nodes[0].role == "primary"
    assert any("no replica" in note for note in report.notes)




def test_pick_nodes_prefers_one_replica_per_shard() -> None:
    from redisguard.connect import Node, Topology
    from redisguard.keyspace import pick_nodes

    def node(address: str, role: str, primary: str | None = None) -> Node:
        host, port = address.split(":")
        return Node(address, role, ConnectionOptions().for_node(host, int(port)), primary_address=primary)  # type: ignore[arg-type]

    topology = Topology("cluster", (
        node("10.0.0.1:7000", "primary"), node("10.0.0.2:7000", "primary"),
        node("10.0.0.4:7000", "replica", "10.0.0.1:7000"), node("10.0.0.3:7000", "replica", "10.0.0.1:7000"),
    ))
    chosen, notes = pick_nodes(topology, replica=True)
    assert [n.address for n in chosen] == ["10.0.0.3:7000", "10.0.0.2:7000"]
    assert notes == ["--replica: 10.0.0.2:7000 has no replica; scanned the primary instead"]
    chosen, notes = pick_nodes(topology, replica=False)
    assert [n.address for n in chosen] == ["10.0.0.1:7000", "10.0.0.2:7000"] and not notes
