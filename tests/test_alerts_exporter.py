"""The rules on `redisguard exporter`'s real output: a real Redis full under noeviction, near maxclients,
with a consumer that holds a pending entry and went quiet; the exporter's /metrics become promtool input
series, and promtool on rules written with short stream thresholds checks that exactly the alerts this
state calls for fire (with the values the exporter reported), and that every metric the rules use is one
the exporter exports, or absent for a stated reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.alerts_data import alerting_server

from redisguard.alerting import AlertThresholds, build_alerts, metrics_used
from redisguard.cli import run as cli_run
from redisguard.localserver import LocalServer, free_port

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
pytestmark = [
    pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="promtool not installed (./dev.sh setup installs it)"),
]

STREAM_ARGS = ["--pending-age", "1s", "--dead-consumer-idle", "1s"]
# Used by the rules but absent in this state, and why.
ABSENT_HERE = {
    "redisguard_memory_seconds_to_limit": "no forecast: the exporter has seen no growth yet",
    "redis_config_maxclients": "the rules' fallback for redis_exporter 1.45; ours exports redis_max_clients",
    "redis_stream_group_consumer_idle_seconds": "per-consumer series need --consumer-metrics",
    "redis_stream_group_consumer_messages_pending": "per-consumer series need --consumer-metrics",
}


@pytest.fixture
def scraped(make_server: Callable[..., LocalServer]) -> Iterator[tuple[str, str, tuple[int, int, int]]]:
    srv, _filler, extra = alerting_server(make_server)  # _filler stays connected: it counts towards maxclients
    time.sleep(1.5)   # the consumer and its pending entry are now older than the 1 s thresholds
    port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-m", "redisguard", "exporter", f"redis://127.0.0.1:{srv.port}/0",
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "REDISCLI_AUTH": ""})
    try:
        text = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "redisguard_stream_oldest_pending_age_seconds{" not in text:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
                    text = reply.read().decode()
            except OSError:
                pass
            time.sleep(0.3)
        assert "redisguard_stream_oldest_pending_age_seconds{" in text, text[-2000:]
        yield text, f"127.0.0.1:{srv.port}", srv.version
    finally:
        exporter.terminate()
        exporter.wait(timeout=15)
        for other in extra:
            other.close()


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


def _selector(name: str, labels: dict[str, str]) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return name + "{" + ",".join(f"{key}={quoted(value)}" for key, value in sorted(labels.items())) + "}"


def _percent(value: float) -> str:
    return f"{value * 100:.4g}%"   # Prometheus's humanizePercentage for 1 % to 999 %


def _short_duration(seconds: float) -> str:
    assert 1 <= seconds < 60
    return f"{seconds:.4g}s"        # Prometheus's humanizeDuration under a minute


def _where(instance: str, labels: dict[str, str]) -> str:
    node = labels.get("node", "")
    return instance + (f' node "{node}"' if node else "")


def test_rules_on_redisguard_exporter_output(scraped: tuple[str, str, tuple[int, int, int]], tmp_path: Path) -> None:
    text, instance, version = scraped
    samples = _samples(text)
    used = metrics_used(AlertThresholds())
    absent = set(ABSENT_HERE)
    if version < (7, 0, 0):
        absent.add("redis_stream_group_lag")   # XINFO GROUPS has no lag before 7.0: unknown, so absent
    missing = used - set(samples)
    assert missing <= absent, f"the rules use metrics the exporter did not export: {missing - absent}"
    extra = {"instance": instance, "job": "redisguard"}
    series = [{"series": _selector(name, {**labels, **extra}), "values": f"{value!r}x20"}
              for name in sorted(used & set(samples)) for labels, value in samples[name]]

    def one(name: str) -> tuple[dict[str, str], float]:
        assert len(samples[name]) == 1, samples[name]
        return samples[name][0]

    used_labels, used_bytes = one("redis_memory_used_bytes")
    not_counted = one("redis_mem_not_counted_for_eviction_bytes")[1]
    ratio = (used_bytes - not_counted) / one("redis_memory_max_bytes")[1]
    clients = one("redis_connected_clients")[1] / one("redis_max_clients")[1]
    age_labels, age = one("redisguard_stream_oldest_pending_age_seconds")
    idle_labels, idle = one("redisguard_stream_group_stalled_consumer_idle_seconds")
    assert ratio >= 0.9 and clients >= 0.8 and age > 1 and idle > 1
    doctor = f"redisguard doctor 'redis://{instance}'"
    streams = f"redisguard streams 'redis://{instance}'"
    group = 'group "billing" of stream "orders"'
    expected = {
        "RedisMemoryCritical": [{
            "exp_labels": {**used_labels, **extra, "severity": "critical"},
            "exp_annotations": {"summary": f"{_where(instance, used_labels)} uses {_percent(ratio)} of maxmemory "
                                           "(used_memory - mem_not_counted_for_evict)", "runbook": doctor}}],
        "RedisClientsNearMax": [{
            "exp_labels": {**one("redis_connected_clients")[0], **extra, "severity": "warning"},
            "exp_annotations": {"summary": f"{_where(instance, used_labels)} has {_percent(clients)} of maxclients "
                                           "connected", "runbook": doctor}}],
        "RedisStreamPendingOld": [{
            "exp_labels": {**age_labels, **extra, "severity": "warning"},
            "exp_annotations": {"summary": f"{_where(instance, age_labels)}: {group}: its oldest unacknowledged "
                                           f"entry is {_short_duration(age)} old", "runbook": streams}}],
        "RedisStreamDeadConsumer": [{
            "exp_labels": {**idle_labels, **extra, "severity": "warning"},
            "exp_annotations": {"summary": f"{_where(instance, idle_labels)}: {group}: a consumer holding pending "
                                           f"entries has been idle for {_short_duration(idle)}",
                                "runbook": streams}}],
    }
    checks = [{"eval_time": "10m", "alertname": alert.name, "exp_alerts": expected.get(alert.name, [])}
              for alert in build_alerts(AlertThresholds())]
    unit: dict[str, Any] = {"rule_files": ["redisguard.rules.yml"], "evaluation_interval": "1m",
                            "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}]}
    (tmp_path / "from_exporter.yml").write_text(yaml.safe_dump(unit, sort_keys=False))
    assert cli_run(["alerts", *STREAM_ARGS, "-o", str(tmp_path / "redisguard.rules.yml")]) == 0
    done = subprocess.run([PROMTOOL, "test", "rules", "from_exporter.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
