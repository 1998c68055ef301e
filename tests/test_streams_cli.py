"""`redisguard streams` and `redisguard trim` against real servers (standalone and cluster)."""

from __future__ import annotations

import json
import subprocess
import sys

import redis
from tests.streams_data import two_group_stream

from redisguard.localserver import LocalCluster, LocalServer

REDISGUARD = [sys.executable, "-m", "redisguard"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=120, check=False)


def test_streams_report_json(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        ids = two_group_stream(client)
        client.xadd("orphan", {"n": "1"})
    report = json.loads(run_cli("streams", srv.url, "--json").stdout)
    by_key = {row["key"]: row for row in report["streams"]}
    events = by_key["events"]
    assert events["length"] == 100
    assert events["safe_trim_point"] == ids[40]
    assert events["pinned_by"] == "slow"
    assert events["entries_safe_to_trim"] == 40
    assert 0 < events["bytes_safe_to_trim"] < events["memory_bytes"]
    slow = next(g for g in events["groups"] if g["name"] == "slow")
    assert slow["pending"] == 20 and slow["oldest_pending_id"] == ids[40]
    assert by_key["orphan"]["safe_trim_point"] is None and by_key["orphan"]["entries_safe_to_trim"] == 0
    terminal = run_cli("streams", srv.url)
    assert terminal.returncode == 0 and "safe to trim: 40 entries" in terminal.stdout


def test_trim_dry_run_then_safe_trim(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        ids = two_group_stream(client)
    dry = run_cli("trim", "events", srv.url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would free 40 entries" in dry.stdout and "pinned by group slow" in dry.stdout
    with srv.client() as client:
        assert client.xlen("events") == 100  # dry run changed nothing
    done = json.loads(run_cli("trim", "events", srv.url, "--exact", "--json").stdout)
    assert done["trimmed"] == 40 and done["length_after"] == 60
    with srv.client() as client:
        assert client.xrange("events", count=1)[0][0].decode() == ids[40]


def test_trim_without_groups_trims_nothing(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        for n in range(10):
            client.xadd("lonely", {"n": str(n)})
    result = run_cli("trim", "lonely", srv.url)
    assert "nothing trimmed" in result.stdout
    with srv.client() as client:
        assert client.xlen("lonely") == 10


def test_drop_unprocessed_shows_losses_first(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        two_group_stream(client)
    refused = run_cli("trim", "events", srv.url, "--maxlen", "10")
    assert refused.returncode == 2 and "add --drop-unprocessed" in refused.stderr, refused.stderr
    unreachable = run_cli("trim", "events", "redis://127.0.0.1:1", "--minid", "5-0")  # refused before connecting
    assert unreachable.returncode == 2 and "--minid trims past the safe point" in unreachable.stderr
    result = run_cli("trim", "events", srv.url, "--drop-unprocessed", "--maxlen", "10", "--exact")
    assert result.returncode == 0, result.stderr
    # fast needs entries from 80, slow from 40: keeping the newest 10 loses 10 and 50 unprocessed entries
    assert "group fast: 10 unprocessed entries will be LOST" in result.stdout
    assert "group slow: 50 unprocessed entries will be LOST" in result.stdout
    with srv.client() as client:
        assert client.xlen("events") == 10


def test_missing_stream_is_one_line(make_server) -> None:
    srv: LocalServer = make_server()
    result = run_cli("trim", "nope", srv.url)
    assert result.returncode == 2 and "no stream named nope" in result.stderr and "Traceback" not in result.stderr


def test_streams_and_trim_on_cluster(cluster: LocalCluster) -> None:
    keys = [f"rg-cli-stream-{n}" for n in range(6)]
    client = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    try:
        for key in keys:
            two_group_stream(client, key)
        report = json.loads(run_cli("streams", cluster.url, "--json").stdout)
        rows = {row["key"]: row for row in report["streams"] if row["key"] in keys}
        assert set(rows) == set(keys)
        assert len({row["node"] for row in rows.values()}) >= 2  # spread over primaries
        assert all(row["entries_safe_to_trim"] == 40 for row in rows.values())
        done = json.loads(run_cli("trim", keys[0], cluster.url, "--exact", "--json").stdout)
        assert done["trimmed"] == 40
    finally:
        for key in keys:
            client.delete(key)
        client.close()
