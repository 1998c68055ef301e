"""doctor end to end: exit codes, JSON/Markdown, snapshot save and offline analysis, cluster fan-out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions
from redisguard.localserver import LocalCluster, LocalServer
from redisguard.rules import analyse
from redisguard.snapshot import dump, load

REDISGUARD = [sys.executable, "-m", "redisguard"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=120, check=False)


def test_healthy_cache_exits_0(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        for index in range(100):
            client.set(f"cache:item:{index}", "x" * 50, ex=3600)
    result = run_cli("doctor", srv.url, "--json", "--key-sample", "0")
    report = json.loads(result.stdout)
    assert result.returncode == 0, report["findings"]
    assert report["findings"] == []
    assert report["nodes"][0]["maxmemory"] == 64 * 1024 * 1024
    parts = {part["part"]: part["bytes"] for part in report["nodes"][0]["breakdown"]}
    assert parts["dataset (keys and values)"] > 0


def test_warning_exit_1_and_critical_exit_2(make_server) -> None:
    unset: LocalServer = make_server()  # maxmemory 0: a warning on a small host share
    assert run_cli("doctor", unset.url, "--key-sample", "0").returncode == 1
    full: LocalServer = make_server(maxmemory="4mb", maxmemory_policy="noeviction")
    with full.client() as client:
        used_limit = 4 * 1024 * 1024 * 0.93
        index = 0
        while int(client.info("memory")["used_memory"]) < used_limit:
            client.set(f"store:{index}", "v" * 1000)
            index += 1
    result = run_cli("doctor", full.url, "--json", "--key-sample", "0")
    report = json.loads(result.stdout)
    assert result.returncode == 2
    assert any(f["id"] == "memory.used-critical" and f["severity"] == "critical" for f in report["findings"])


def test_snapshot_file_gives_same_findings_offline(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory="8mb", maxmemory_policy="noeviction")
    with srv.client() as client:
        for _ in range(300):
            client.xadd("jobs", {"payload": "y" * 100})
        client.xgroup_create("jobs", "workers", id="0")
        client.xreadgroup("workers", "w1", {"jobs": ">"}, count=10)
    out = tmp_path / "snap.json"
    saved = run_cli("snapshot", srv.url, "-o", str(out), "--key-sample", "0")
    assert saved.returncode == 0, saved.stderr
    live = run_cli("doctor", srv.url, "--json", "--key-sample", "0", "--threshold", "backlog_entries=100")
    srv.stop()  # offline analysis needs no server
    offline = run_cli("doctor", "--from", str(out), "--json", "--threshold", "backlog_entries=100")
    live_ids = sorted(f["id"] for f in json.loads(live.stdout)["findings"])
    offline_ids = sorted(f["id"] for f in json.loads(offline.stdout)["findings"])
    assert "streams.backlog" in offline_ids
    assert live_ids == offline_ids
    assert live.returncode == offline.returncode


def test_snapshot_has_no_secrets(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(password="very-secret-pw", masterauth="other-secret-pw")
    snapshot = collect_snapshot(ConnectionOptions.build(srv.url))
    text = dump(snapshot)
    assert "very-secret-pw" not in text
    assert "other-secret-pw" not in text
    assert "requirepass" not in snapshot.nodes[0].config
    assert load_roundtrip(snapshot, tmp_path) == snapshot


def load_roundtrip(snapshot, tmp_path: Path):
    path = tmp_path / "s.json"
    dump(snapshot, path)
    return load(path)


def test_bad_snapshot_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    result = run_cli("doctor", "--from", str(bad))
    assert result.returncode == 2
    assert "not a redisguard snapshot" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_cli("doctor", "--from", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_hostile_key_names_are_escaped_in_every_format(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="noeviction")
    hostile = b"evil\x1b[31m[bold]|`<script>\xff"
    with srv.client() as client:
        for _ in range(150):
            client.xadd(hostile, {"f": "v"})
        client.xgroup_create(hostile, "g", id="0")
    args = ("doctor", srv.url, "--key-sample", "0", "--threshold", "backlog_entries=100")
    terminal = run_cli(*args)
    assert "\x1b[31m" not in terminal.stdout
    assert "\\x1b[31m" in terminal.stdout
    markdown = run_cli(*args, "--markdown").stdout
    assert "\x1b" not in markdown
    prose = markdown.split("```")[::2]  # outside fenced code blocks, where Markdown would interpret it
    assert prose and all("<script>" not in part and "|`" not in part for part in prose)
    code = markdown.split("```")[1::2]
    assert any("\\xff" in block for block in code)  # commands keep a copyable redis-cli escape
    as_json = json.loads(run_cli(*args, "--json").stdout)
    keys = [f["evidence"].get("stream") for f in as_json["findings"] if f["id"] == "streams.backlog"]
    assert keys and keys[0].encode("utf-8", "surrogateescape") == hostile


def test_cluster_fans_out_over_every_primary(cluster: LocalCluster) -> None:
    names = [f"rg-doctor-cluster-{index}" for index in range(12)]
    with cluster.nodes[0].client() as seed:
        ports = {}
        for name in names:
            slot = seed.execute_command("CLUSTER", "KEYSLOT", name)
            ports[name] = slot
    created: list[tuple[LocalServer, str]] = []
    try:
        for node in cluster.primary_nodes:
            with node.client() as client:
                for name in names:
                    try:
                        client.xadd(name, {"n": "1"})
                        created.append((node, name))
                    except Exception:  # noqa: S112 - MOVED: the key belongs to another primary
                        continue
        snapshot = collect_snapshot(ConnectionOptions.build(cluster.url))
        assert snapshot.mode == "cluster"
        assert len(snapshot.nodes) == 3
        assert sorted(node.address.split(":")[-1] for node in snapshot.nodes) == sorted(
            str(node.port) for node in cluster.primary_nodes)
        found = sorted(stream.key for node in snapshot.nodes for stream in node.streams
                       if stream.key.startswith("rg-doctor-cluster-"))
        assert found == sorted(names)
        nodes_with_streams = sum(1 for node in snapshot.nodes
                                 if any(s.key.startswith("rg-doctor-cluster-") for s in node.streams))
        assert nodes_with_streams >= 2
        analyse(snapshot)  # rules run per node without error on a cluster snapshot
    finally:
        for node, name in created:
            with node.client() as client:
                client.delete(name)


def test_renamed_commands_are_named_not_visible(make_server) -> None:
    srv: LocalServer = make_server(rename_command=["MEMORY", ""])
    snapshot = collect_snapshot(ConnectionOptions.build(srv.url))
    gaps = {(gap.what, gap.reason) for gap in snapshot.not_visible}
    assert ("MEMORY STATS", "command not available (renamed, disabled or not in this Redis version)") in gaps
    assert ("MEMORY DOCTOR", "command not available (renamed, disabled or not in this Redis version)") in gaps
    assert snapshot.nodes[0].memory_stats == {}
    assert snapshot.nodes[0].info["memory"]["used_memory"]  # the rest was still collected
    result = run_cli("doctor", srv.url, "--key-sample", "0")
    assert result.returncode in (0, 1, 2)
    assert "Not visible" in result.stdout and "MEMORY STATS" in result.stdout


def test_with_info_renamed_the_memory_comes_from_memory_stats_and_a_full_server_is_critical(make_server) -> None:
    """INFO renamed away used to read as an empty server (used 0 B, 0 keys, no memory finding at 92 %). With
    MEMORY STATS too out of reach (+@read -memory), the figures are not visible: null, not 0."""
    srv: LocalServer = make_server(rename_command=["INFO", ""])
    with srv.client() as client:
        for start in range(0, 40_000, 10_000):
            client.mset({f"s:{n}": "x" * 100 for n in range(start, start + 10_000)})
        used = client.memory_stats()["total.allocated"]
        client.config_set("maxmemory", str(int(used / 0.95)))
        client.execute_command("ACL", "SETUSER", "reader", "on", ">reader-pw", "~*", "-@all", "+@read", "-memory")
    result = run_cli("doctor", srv.url, "--key-sample", "0", "--json")
    data = json.loads(result.stdout)
    (node,) = data["nodes"]
    assert node["memory_visible"] and node["keys"] == 40_000 and node["used_memory"] > 0.9 * used, node
    assert any(f["id"].startswith("memory.used-") for f in data["findings"]), [f["id"] for f in data["findings"]]
    reader = srv.url.replace("redis://", "redis://reader:reader-pw@")
    blind = json.loads(run_cli("doctor", reader, "--key-sample", "0", "--json").stdout)["nodes"][0]
    assert blind["used_memory"] is None and blind["keys"] is None and not blind["memory_visible"]
    shown = run_cli("doctor", reader, "--key-sample", "0").stdout
    assert "used memory not visible" in shown and "? keys" in shown and "used 0 B" not in shown
    page = Path(srv.workdir or ".") / "report.html"
    result = run_cli("report", reader, "-o", str(page))
    assert result.returncode in (0, 1, 2), result.stderr
    html = page.read_text(encoding="utf-8")
    assert "used memory not visible" in html and "used 0 B" not in html


def test_config_values_are_collected(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="7mb", maxmemory_policy="volatile-ttl", save=["900", "1"],
                                   activedefrag="no")
    config = collect_snapshot(ConnectionOptions.build(srv.url)).nodes[0].config
    assert config["maxmemory"] == str(7 * 1024 * 1024)
    assert config["maxmemory-policy"] == "volatile-ttl"
    assert config["save"] == "900 1"
    assert config["activedefrag"] == "no"
    assert config["timeout"] == "0"


def test_a_threshold_that_would_switch_a_rule_off_is_refused(tmp_path: Path) -> None:
    """nan compares false with everything (the rule would never fire) and a negative count always fires:
    both are a one-line usage error (exit 2), as are unknown names; nothing is read from the server."""
    for pair, said in [("memory_warning=nan", "finite number"), ("backlog_memory_share=inf", "finite number"),
                       ("backlog_entries=-5", "finite number"), ("pending_entries=ten", "not a number"),
                       ("no_such_threshold=1", "backlog_memory_share")]:
        result = run_cli("doctor", "--from", str(tmp_path / "none.json"), "--threshold", pair)
        assert result.returncode == 2, (pair, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr, (pair, result.stderr)


def test_on_a_replica_the_write_fixes_go_to_its_primary(make_server) -> None:
    """A replica refuses XGROUP DESTROY (READONLY): the command doctor prints for it names the primary."""
    import time

    primary: LocalServer = make_server()
    replica: LocalServer = make_server(replicaof=["127.0.0.1", str(primary.port)])
    with primary.client() as client:
        for n in range(50):
            client.xadd("events", {"n": str(n)})
        client.xgroup_create("events", "never-read", id="0")
    with replica.client() as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and client.exists("events") == 0:
            time.sleep(0.05)
        assert client.exists("events")
    data = json.loads(run_cli("doctor", replica.url, "--key-sample", "0", "--json").stdout)
    lines = [fix["shell"] for f in data["findings"] for fix in f["fixes"] if fix["shell"]]
    shells = [line for line in lines if "XGROUP" in line]
    assert shells, lines
    assert all(f"-p {primary.port} " in line and f"-p {replica.port} " not in line for line in shells), shells
    configs = [line for line in lines if "CONFIG SET" in line]
    assert all(f"-p {replica.port} " in line for line in configs), configs  # a replica's settings are its own
