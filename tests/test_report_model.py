"""The typed DoctorReport: built by pure code, databases the sample did not look at, deployment rules."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

from redisguard.localserver import LocalServer
from redisguard.rules import Severity, Thresholds, analyse, analyse_history, diagnose
from redisguard.snapshot import load

REDISGUARD = [sys.executable, "-m", "redisguard"]
RECORDED = Path(__file__).parent / "snapshots"


def test_doctor_on_db_n_samples_db_n_and_names_the_others(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="allkeys-lru")
    with srv.client(db=0) as zero, srv.client(db=3) as three, srv.client(db=5) as five:
        for index in range(40):
            zero.set(f"zero:{index}", "v")
        for index in range(7):
            three.set(f"three:{index}", "v", ex=3600)
        five.set("five", "v")
    url = srv.url.rsplit("/", 1)[0] + "/3"
    result = subprocess.run([*REDISGUARD, "doctor", url, "--json"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode in (0, 1, 2), result.stderr
    sample = json.loads(result.stdout)["nodes"][0]["key_sample"]
    assert (sample["db"], sample["scanned"], sample["keyspace_size"]) == (3, 7, 7)
    assert sample["other_dbs"] == {"db0": 40, "db5": 1}
    terminal = subprocess.run([*REDISGUARD, "doctor", url], capture_output=True, text=True, timeout=120,
                              check=False).stdout
    assert "not looked at: db0 (40 keys), db5 (1 keys)" in terminal


def test_report_orders_findings_and_decides_the_exit_code() -> None:
    name = "noeviction-full-streams--redis-7.0.15.json"
    snapshot = load(RECORDED / name)
    limits = Thresholds(backlog_entries=1000, pending_entries=100)
    report = diagnose(snapshot, limits)
    assert [f.sort_key for f in report.findings] == sorted(f.sort_key for f in report.findings)
    assert report.findings[0].severity is Severity.CRITICAL and report.exit_code == 2
    assert report.count(Severity.CRITICAL) + report.count(Severity.WARNING) + report.count(Severity.INFO) == len(
        report.findings)
    node = report.nodes[0]
    assert node.used_share is not None and node.used_share > 0.9
    assert sum(part.bytes for part in node.breakdown) >= node.used_memory  # parts cover used (+ fragmentation)
    assert {f.id for f in report.findings} == {f.id for f in analyse(snapshot, limits)}


def test_cluster_imbalance_is_a_deployment_rule() -> None:
    base = load(RECORDED / "healthy-cache--redis-7.0.15.json")
    cluster = copy.deepcopy(base)
    cluster.mode = "cluster"
    cluster.nodes = [copy.deepcopy(base.nodes[0]) for _ in range(3)]
    for index, node in enumerate(cluster.nodes):
        node.address = f"10.0.0.{index + 1}:6379"
        node.info["memory"]["used_memory"] = str((300 if index == 0 else 100) * 1024 * 1024)
    found = [f for f in analyse(cluster) if f.id == "cluster.memory-imbalance"]
    assert len(found) == 1 and found[0].node == "10.0.0.1:6379"
    assert found[0].bytes_at_stake == 200 * 1024 * 1024
    assert found[0].fixes[0].argv == ("keys",) and found[0].fixes[0].node == "10.0.0.1:6379"
    cluster.nodes[0].info["memory"]["used_memory"] = str(150 * 1024 * 1024)  # 1.5x: no finding
    assert not [f for f in analyse(cluster) if f.id == "cluster.memory-imbalance"]
    standalone = [f for f in analyse(base) if f.id == "cluster.memory-imbalance"]
    assert standalone == []


def _series(growth_per_step: int, steps: int = 40) -> list:
    base = load(RECORDED / "healthy-cache--redis-7.0.15.json")
    limit = base.nodes[0].maxmemory
    history = []
    for step in range(steps):
        snapshot = copy.deepcopy(base)
        snapshot.taken_at = base.taken_at + 60 * step
        sawtooth = (step % 4) * 200_000  # expiry cycles
        snapshot.nodes[0].info["memory"]["used_memory"] = str(limit // 2 + growth_per_step * step + sawtooth)
        snapshot.nodes[0].info["memory"]["mem_not_counted_for_evict"] = "0"
        history.append(snapshot)
    return history


def test_forecast_is_a_history_rule() -> None:
    growing = _series(growth_per_step=400_000)  # 24 MB/h on a 64 MB limit half full: full in about 1 h
    found = analyse_history(list(reversed(growing)))  # any order: sorted by time
    assert [f.id for f in found] == ["memory.forecast-full"]
    forecast = found[0]
    assert forecast.severity is Severity.CRITICAL
    assert int(forecast.evidence["seconds_lower"] or 0) <= int(forecast.evidence["seconds_to_limit"] or 0) \
        <= int(forecast.evidence["seconds_upper"] or 0)
    assert forecast.fixes[0].argv == ("keys",)
    assert analyse_history(_series(growth_per_step=0)) == []  # flat sawtooth: no forecast
    assert analyse_history(growing[:3]) == []  # too little history


def test_the_report_never_puts_more_at_stake_than_one_finding_does() -> None:
    """The backlog, noeviction, pending and big-key findings of one stream are the same bytes: the verdict's
    figure is the largest finding's, never their sum (which came out above used memory)."""
    from redisguard.render.report_model import build_report

    snapshot = load(RECORDED / "noeviction-full-streams--redis-7.0.15.json")
    doctor = diagnose(snapshot, Thresholds(backlog_entries=1000, pending_entries=100))
    stakes = [f.bytes_at_stake or 0 for f in doctor.findings if f.severity is not Severity.INFO]
    assert len([stake for stake in stakes if stake]) >= 2  # overlapping findings with bytes: the case at hand
    report = build_report([snapshot], doctor)
    assert report.bytes_at_stake == max(stakes)
    assert report.bytes_at_stake <= snapshot.nodes[0].used_memory < sum(stakes)
