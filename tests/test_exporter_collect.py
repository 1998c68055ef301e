"""Collection sets and the long-lived Deployment, against real servers: what each set costs in commands and
connections, and how the deployment reuses and rebuilds its clients."""

from __future__ import annotations

import pytest

from redisguard.collect.sets import CollectionSet, NodeSample, collect_full, collect_sample, discover_streams
from redisguard.connect import ConnectionOptions
from redisguard.connect.acl import acl_setuser_line
from redisguard.connect.deployment import Deployment


def _stats(admin) -> dict[str, int]:
    info = admin.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in info.items()}


def _connections(admin) -> int:
    return int(admin.info("stats")["total_connections_received"])


def _fill_streams(admin, streams: int = 3) -> None:
    for index in range(streams):
        for _ in range(5):
            admin.xadd(f"events:{index}", {"v": "x"})
        admin.xgroup_create(f"events:{index}", "workers", id="0")
        admin.xreadgroup("workers", "w1", {f"events:{index}": ">"}, count=2)


def test_deployment_reuses_one_client_per_node(make_server) -> None:
    server = make_server()
    admin = server.client()
    deployment = Deployment(ConnectionOptions.build(server.url, environ={}), command_timeout=2.0)
    try:
        first = deployment.nodes()
        assert len(first) == 1 and first[0].client is not None
        before = _connections(admin)
        for _ in range(20):
            entries = deployment.nodes()
            sample = NodeSample(address="n", role="primary", started_at=0.0)
            assert entries[0].client is not None
            collect_sample(entries[0].client, sample, CollectionSet.INFO)
            assert sample.complete and sample.info is not None
        assert _connections(admin) == before  # twenty collections, no new connection
    finally:
        deployment.close()


def test_info_set_is_one_info_per_collection(make_server) -> None:
    server = make_server()
    admin = server.client()
    _fill_streams(admin)
    deployment = Deployment(ConnectionOptions.build(server.url, environ={}))
    try:
        client = deployment.nodes()[0].client
        assert client is not None
        before = _stats(admin)
        for _ in range(5):
            collect_sample(client, NodeSample(address="n", role="primary", started_at=0.0), CollectionSet.INFO)
        after = _stats(admin)
        delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
        # INFO commandstats above is the test's own call (one before, one after): five more are ours.
        assert delta.pop("info") == 5 + 1
        assert {name: calls for name, calls in delta.items() if calls} == {}
    finally:
        deployment.close()


@pytest.mark.min_redis(7, 0)
def test_streams_set_summarises_each_stream(make_server) -> None:
    server = make_server()
    admin = server.client()
    _fill_streams(admin, streams=3)
    admin.set("not-a-stream", "v")
    client = server.client()
    keys, total = discover_streams(client, limit=2)
    assert total == 3 and len(keys) == 2
    keys, total = discover_streams(client, limit=10)
    sample = NodeSample(address="n", role="primary", started_at=0.0)
    collect_sample(client, sample, CollectionSet.STREAMS, streams=sorted(keys), consumers=True)
    assert sample.complete
    assert [s.key for s in sample.streams] == ["events:0", "events:1", "events:2"]
    for stream in sample.streams:
        assert stream.length == 5 and stream.memory_bytes
        (group,) = stream.groups
        assert (group.name, group.pending, group.lag) == ("workers", 2, 3)
        assert group.oldest_pending_id is not None and group.consumer_details[0].pending == 2


def test_stream_that_vanished_is_skipped(make_server) -> None:
    server = make_server()
    admin = server.client()
    _fill_streams(admin, streams=2)
    sample = NodeSample(address="n", role="primary", started_at=0.0)
    collect_sample(server.client(), sample, CollectionSet.STREAMS, streams=[b"events:0", b"gone", b"events:1"])
    assert [s.key for s in sample.streams] == ["events:0", "events:1"]
    assert sample.not_visible == []


def test_denied_commands_are_not_visible_and_info_still_arrives(make_server) -> None:
    server = make_server()
    admin = server.client()
    _fill_streams(admin, streams=1)
    # a user that may run INFO and SCAN only: the stream summary is denied command by command
    line = "ACL SETUSER infoonly on >pw ~* -@all +ping +info +client|setname +scan +time"
    admin.execute_command(*line.split())
    options = ConnectionOptions.build(server.url.replace("redis://", "redis://infoonly:pw@"), environ={})
    deployment = Deployment(options)
    try:
        client = deployment.nodes()[0].client
        assert client is not None
        sample = NodeSample(address="n", role="primary", started_at=0.0)
        collect_sample(client, sample, CollectionSet.STREAMS, streams=[b"events:0"])
        assert sample.info is not None and sample.info["memory"]["used_memory"]
        assert sample.complete and sample.streams == []
        assert {gap.what for gap in sample.not_visible} >= {"XINFO STREAM"}
        assert all("denied" in gap.reason for gap in sample.not_visible)
    finally:
        deployment.close()


def test_full_set_is_the_doctor_set(make_server) -> None:
    server = make_server(maxmemory="10mb")
    _fill_streams(server.client(), streams=1)
    snapshot, missing = collect_full(server.client(), "n", "primary")
    assert snapshot.maxmemory == 10 * 1024 * 1024
    assert snapshot.memory_stats and snapshot.clients is not None and len(snapshot.streams) == 1
    assert missing == []


def test_deployment_reconnects_after_a_restart(make_server) -> None:
    server = make_server()
    deployment = Deployment(ConnectionOptions.build(server.url, environ={}), command_timeout=1.0,
                            rediscover_interval=0.0, reconnect_interval=0.0)
    try:
        entry = deployment.nodes()[0]
        assert entry.client is not None
        port = server.port
        server.stop()
        with pytest.raises(Exception) as failure:
            entry.client.info()
        deployment.failed(entry, failure.value)
        assert entry.client is None and entry.error
        server.port = port
        server.start()
        entry = deployment.nodes()[0]
        assert entry.client is not None and entry.client.ping()
    finally:
        deployment.close()


@pytest.mark.cluster
def test_deployment_on_a_cluster_holds_every_primary(cluster) -> None:
    deployment = Deployment(ConnectionOptions.build(cluster.url, environ={}))
    try:
        entries = deployment.nodes()
        assert deployment.mode == "cluster"
        assert sorted(int(e.node.address.rsplit(":", 1)[1]) for e in entries) == sorted(
            node.port for node in cluster.primary_nodes)
        assert all(e.client is not None and e.client.ping() for e in entries)
    finally:
        deployment.close()


def test_acl_exporter_profile_line() -> None:
    line = acl_setuser_line("exp", password="pw", profile="exporter")
    assert line.startswith("ACL SETUSER exp reset on >pw ~* resetchannels -@all ")
    assert "+info" in line and "+xinfo|groups" in line and "config" not in line and "client|list" not in line


@pytest.mark.cluster
def test_deployment_follows_a_failover(redis_binary) -> None:
    """A replica taking over (CLUSTER FAILOVER): the old primary answers INFO as a replica, the target
    rediscovers, and the next collections cover the new primary instead."""
    import time

    from tests.conftest import BINARIES

    from redisguard.exporter import ExporterSettings, Target
    from redisguard.localserver import LocalCluster

    if redis_binary != BINARIES[0]:
        pytest.skip("a six-node cluster: run once, on the newest Redis")
    with LocalCluster(redis_binary, primaries=3, replicas_per_primary=1) as local:
        target = Target(ConnectionOptions.build(local.url, environ={}),
                        ExporterSettings(cache_ttl=0, keys_interval=0))
        target.deployment.rediscover_interval = 0.2
        try:
            before = {node.node for node in target.collect().nodes}
            assert before == {f"127.0.0.1:{n.port}" for n in local.primary_nodes}
            replica = local.nodes[local.primaries]
            with replica.client() as client:
                client.execute_command("CLUSTER", "FAILOVER")
            promoted = f"127.0.0.1:{replica.port}"
            deadline = time.monotonic() + 30
            nodes: set[str] = set()
            while time.monotonic() < deadline:
                collection = target.collect()
                nodes = {node.node for node in collection.nodes if node.up}
                if promoted in nodes and len(nodes) == 3:
                    break
                time.sleep(0.3)
            assert promoted in nodes and len(nodes) == 3, nodes
            assert len(before & nodes) == 2  # the other two primaries stayed
        finally:
            target.close()
