"""The rules on real exporter output: the Go redis_exporter (Debian's prometheus-redis-exporter) scrapes a
real Redis that is full under noeviction, with maxclients nearly reached and a stream with a consumer
group; its /metrics become promtool input series, and `promtool test rules` on the generated rules file
checks which alerts fire (memory critical, clients near max, with their real values) and that none of
the others does. This is what "our rules also run on redis_exporter's output" means, checked.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.alerts_data import alerting_server

from redisguard import metric_names
from redisguard.alerting import AlertThresholds, build_alerts, metrics_used
from redisguard.cli import run as cli_run
from redisguard.localserver import LocalServer, free_port

EXPORTER = shutil.which("prometheus-redis-exporter") or "/usr/bin/prometheus-redis-exporter"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
pytestmark = pytest.mark.skipif(
    not (Path(EXPORTER).exists() and Path(PROMTOOL).exists()),
    reason="needs Debian's prometheus-redis-exporter and promtool (./dev.sh setup installs promtool)")

# Families redis_exporter 1.45 (Debian 12) does not have; newer releases export them (redis_max_clients
# from INFO, redis_stream_group_lag). The rules fall back (redis_config_maxclients) or stay silent.
NOT_IN_1_45 = {"redis_max_clients", "redis_stream_group_lag"}


@pytest.fixture
def scraped(make_server: Callable[..., LocalServer]) -> Iterator[tuple[str, str, list[redis.Redis]]]:
    srv, client, extra = alerting_server(make_server)
    port = free_port()
    exporter = subprocess.Popen(
        [EXPORTER, "-redis.addr", f"redis://127.0.0.1:{srv.port}", "-web.listen-address", f"127.0.0.1:{port}",
         "-check-streams", "orders"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        text = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "redis_up 1" not in text:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                    text = reply.read().decode()
            except OSError:
                pass
            time.sleep(0.2)
        assert "redis_up 1" in text
        yield text, f"127.0.0.1:{srv.port}", [client, *extra]
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
        for other in extra:
            other.close()


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


def _selector(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _percent(value: float) -> str:
    """Prometheus's humanizePercentage: humanize(v * 100), i.e. %.4g for 1 <= x < 1000, then '%'."""
    return f"{value * 100:.4g}%"


def test_rules_on_redis_exporter_output_fire_exactly_the_alerts_the_state_calls_for(
    scraped: tuple[str, str, list[redis.Redis]], tmp_path: Path,
) -> None:
    text, instance, _ = scraped
    samples = _samples(text)
    used = metrics_used(AlertThresholds())
    from_redis_exporter = {name for name in used if metric_names.by_name(name).origin == "redis_exporter"}
    missing = from_redis_exporter - set(samples)
    assert missing == NOT_IN_1_45 - set(samples), f"names the rules expect from redis_exporter: {missing}"
    series = []
    for name in sorted(used & set(samples)):
        for labels, value in samples[name]:
            series.append({"series": _selector(name, {**labels, "instance": instance, "job": "redis"}),
                           "values": f"{value!r}x20"})
    (memory_used,), (max_bytes,) = ([v for _, v in samples[n]] for n in
                                    ("redis_memory_used_bytes", "redis_memory_max_bytes"))
    not_counted = samples["redis_mem_not_counted_for_eviction_bytes"][0][1]
    ratio = (memory_used - not_counted) / max_bytes
    clients = samples["redis_connected_clients"][0][1] / samples["redis_config_maxclients"][0][1]
    assert ratio >= 0.9 and clients >= 0.8
    where = {"instance": instance, "job": "redis"}
    expected = {
        "RedisMemoryCritical": [{
            "exp_labels": {"severity": "critical", **where},
            "exp_annotations": {
                "summary": f"{instance} uses {_percent(ratio)} of maxmemory (used_memory - mem_not_counted_for_evict)",
                "runbook": f"redisguard doctor 'redis://{instance}'"}}],
        "RedisClientsNearMax": [{
            "exp_labels": {"severity": "warning", **where},
            "exp_annotations": {"summary": f"{instance} has {_percent(clients)} of maxclients connected",
                                "runbook": f"redisguard doctor 'redis://{instance}'"}}],
    }
    checks = [{"eval_time": "10m", "alertname": alert.name, "exp_alerts": expected.get(alert.name, [])}
              for alert in build_alerts(AlertThresholds())]
    unit: dict[str, Any] = {"rule_files": ["redisguard.rules.yml"], "evaluation_interval": "1m",
                            "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}]}
    (tmp_path / "from_redis_exporter.yml").write_text(yaml.safe_dump(unit, sort_keys=False))
    assert cli_run(["alerts", "-o", str(tmp_path / "redisguard.rules.yml")]) == 0
    done = subprocess.run([PROMTOOL, "test", "rules", "from_redis_exporter.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
