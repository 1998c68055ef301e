"""The harness itself: servers start on loopback with the asked config and stop by PID."""

from __future__ import annotations

import os

import redis

from redisguard.localserver import LocalCluster, LocalServer


def test_server_starts_with_config_and_stops(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="7mb", maxmemory_policy="allkeys-lru")
    assert srv.port != 6379
    with srv.client() as client:
        assert client.config_get("maxmemory")["maxmemory"] == str(7 * 1024 * 1024)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    assert srv.process is not None
    pid = srv.process.pid
    srv.stop()
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_password_server_rejects_anonymous(make_server) -> None:
    srv: LocalServer = make_server(password="pw-harness")
    anon = redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=2, retry=None)
    try:
        anon.ping()
        raised = False
    except redis.exceptions.AuthenticationError:
        raised = True
    finally:
        anon.close()
    assert raised
    with srv.client() as client:
        assert client.ping() is True


def test_cluster_has_three_primaries_covering_all_slots(cluster: LocalCluster) -> None:
    with cluster.nodes[0].client() as client:
        info = client.cluster("INFO")
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_slots_assigned"]) == 16384
    assert int(info["cluster_known_nodes"]) == 3
