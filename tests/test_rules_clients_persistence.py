"""Client, replication, persistence and script rules, each on a real server in that state."""

from __future__ import annotations

import dataclasses
import socket
import time

import redis

from redisguard.localserver import LocalServer
from redisguard.rules import Severity, analyse
from rules_states import diagnose, ids, only, snapshot_of, wait_for


def test_idle_clients_with_timeout_zero(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="allkeys-lru")
    leaked = [redis.Redis(host="127.0.0.1", port=srv.port, client_name=f"leaky-pool-{i % 2}") for i in range(6)]
    try:
        for client in leaked:
            client.ping()
        time.sleep(1.2)  # CLIENT LIST's idle is in whole seconds
        finding = only(diagnose(srv, idle_client_s=1, idle_clients_count=6), "clients.idle")
        assert finding.evidence["idle_clients"] == 6
        assert finding.evidence["timeout"] == "0"
        assert "leaky-pool-0: 3" in str(finding.evidence["groups"])
        assert finding.fixes[0].command == "CONFIG SET timeout 300"
        assert "clients.idle" not in ids(diagnose(srv, idle_client_s=1, idle_clients_count=7))
    finally:
        for client in leaked:
            client.close()


def test_pubsub_subscriber_that_does_not_read(make_server) -> None:
    srv: LocalServer = make_server()
    sub = socket.create_connection(("127.0.0.1", srv.port))
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n")
        with srv.client() as client:
            wait_for(lambda: client.pubsub_numsub("news")[0][1] == 1, what="subscriber")
            for _ in range(12):
                client.publish("news", "n" * 1024 * 1024)  # never read: it piles up in omem
            wait_for(lambda: max(int(c["omem"]) for c in client.client_list()) > 2 * 1024 * 1024,
                     what="output buffer growth")
        finding = only(diagnose(srv, client_omem_bytes=2 * 1024 * 1024), "clients.output-buffers")
        assert "pub/sub" in finding.title
        assert (finding.bytes_at_stake or 0) > 2 * 1024 * 1024
        assert finding.fixes[0].command.startswith("CLIENT KILL ID ")
    finally:
        sub.close()


def test_near_maxclients(make_server) -> None:
    srv: LocalServer = make_server(maxclients=20)
    clients = [redis.Redis(host="127.0.0.1", port=srv.port) for _ in range(16)]
    try:
        for client in clients:
            client.ping()
        finding = only(diagnose(srv), "clients.near-maxclients")
        assert finding.evidence["maxclients"] == 20
        assert int(finding.evidence["connected_clients"] or 0) >= 16
    finally:
        for client in clients:
            client.close()


def test_replication_buffers_large_relative_to_maxmemory(make_server) -> None:
    primary: LocalServer = make_server(maxmemory="20mb", maxmemory_policy="allkeys-lru", repl_backlog_size="8mb")
    replica: LocalServer = make_server(replicaof=["127.0.0.1", str(primary.port)])
    with replica.client() as rclient:
        wait_for(lambda: rclient.info("replication").get("master_link_status") == "up", what="replication link")
    with primary.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(6000):
            pipe.set(f"r:{index}", "r" * 1000, ex=600)
        pipe.execute()
    finding = only(diagnose(primary), "replication.buffers-large")
    assert int(finding.evidence["repl_backlog"] or 0) >= 2 * 1024 * 1024
    assert finding.evidence["connected_slaves"] == 1


def test_aggressive_save_rules(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        client.config_set("save", "60 1 3600 1")  # 6.2 takes one pair per --save on its command line
    finding = only(diagnose(srv), "persistence.aggressive-save")
    assert finding.evidence["save"] == "60 1 3600 1"
    assert "60 1" in finding.title and "3600 1" not in finding.title


def test_fork_and_copy_on_write_after_bgsave(make_server) -> None:
    """A real BGSAVE that is slowed down (rdb-key-save-delay) while the dataset is rewritten: the fork
    copies pages, which INFO reports as rdb_last_cow_size."""
    srv: LocalServer = make_server(rdb_key_save_delay=200)
    with srv.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(5000):
            pipe.set(f"c:{index}", "c" * 1000)
        pipe.execute()
        client.bgsave()
        wait_for(lambda: client.info("persistence")["rdb_bgsave_in_progress"] == 1, what="bgsave start")
        for index in range(5000):  # dirty every page while the child holds the old copy
            pipe.set(f"c:{index}", "d" * 1000)
        pipe.execute()
        wait_for(lambda: client.info("persistence")["rdb_bgsave_in_progress"] == 0, timeout=60, what="bgsave end")
        persistence = client.info("persistence")
        assert int(client.info("stats")["latest_fork_usec"]) > 0
    assert int(persistence["rdb_last_cow_size"]) > 0
    findings = diagnose(srv, fork_ms=0, cow_share=0.01)
    fork = only(findings, "persistence.slow-fork")
    assert int(fork.evidence["latest_fork_usec"] or 0) > 0
    cow = only(findings, "persistence.copy-on-write")
    assert cow.bytes_at_stake == int(persistence["rdb_last_cow_size"])
    assert "persistence.slow-fork" not in ids(diagnose(srv))  # a sub-millisecond fork is fine by default


def test_aof_buffer_rule_on_collected_snapshot(make_server) -> None:
    """A backed-up AOF buffer needs a disk slower than the write rate, which a test cannot arrange here:
    a real snapshot of an AOF-enabled server with mem_aof_buffer edited."""
    srv: LocalServer = make_server(appendonly="yes")
    snapshot = snapshot_of(srv)
    node = snapshot.nodes[0]
    assert node.config["appendonly"] == "yes"
    assert "persistence.aof-buffers" not in ids(analyse(snapshot))
    memory = dict(node.info["memory"], mem_aof_buffer=str(64 * 1024 * 1024))
    edited = dataclasses.replace(snapshot, nodes=[dataclasses.replace(node, info={**node.info, "memory": memory})])
    finding = only(analyse(edited), "persistence.aof-buffers")
    assert finding.bytes_at_stake == 64 * 1024 * 1024
    assert finding.evidence["appendfsync"] == "everysec"


def test_no_persistence_on_a_store(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="noeviction", save="", appendonly="no")
    with srv.client() as client:
        client.set("account:1", "balance")
    finding = only(diagnose(srv), "persistence.none-on-store")
    assert finding.severity == Severity.WARNING
    persisted: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="noeviction", appendonly="yes")
    with persisted.client() as client:
        client.set("account:1", "balance")
    assert "persistence.none-on-store" not in ids(diagnose(persisted))


def test_script_cache_growth(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        for index in range(60):  # the anti-pattern: a value inlined into each script's text
            client.script_load(f"return redis.call('GET', 'user:{index}')")
    finding = only(diagnose(srv, cached_scripts=50), "scripts.cache-growth")
    assert finding.evidence["number_of_cached_scripts"] == 60
    assert "scripts.cache-growth" not in ids(diagnose(srv))
