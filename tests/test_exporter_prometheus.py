"""End to end: a real Prometheus (Debian's 2.42, started here on loopback, stopped by PID) scrapes
``redisguard exporter`` while a producer fills a Redis that has maxmemory set.

Proves: the queried series exist with the right values (used memory within 5 % of INFO, group lag and
pending exact, an unknown lag absent), the forecast alert goes pending or firing in Prometheus's own
/api/v1/alerts before memory is full, and every panel of dashboards/redisguard.json returns data.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.exporter_helpers import running

from redisguard.localserver import free_port

PROMETHEUS = "/usr/bin/prometheus"
DASHBOARD = Path(__file__).resolve().parent.parent / "dashboards" / "redisguard.json"
FORECAST_RULE = """groups:
- name: redisguard-forecast-test
  rules:
  - alert: RedisMemoryFullWithinAnHour
    expr: redisguard_memory_seconds_to_limit{bound="estimate"} < 3600
    for: 2s
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(PROMETHEUS, os.X_OK), reason="Debian's prometheus is not installed"),
]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL we built
        return json.loads(response.read())


def _rules_file(folder: Path) -> Path:
    """The rules of `redisguard alerts` when that command exists on this branch, else one forecast rule."""
    path = folder / "rules.yml"
    if importlib.util.find_spec("redisguard.cli.alerts") is not None:
        made = subprocess.run([sys.executable, "-m", "redisguard", "alerts"], capture_output=True, text=True,
                              timeout=60, check=False)
        if made.returncode == 0 and "redisguard_memory_seconds_to_limit" in made.stdout:
            path.write_text(made.stdout)
            return path
    path.write_text(FORECAST_RULE)
    return path


class Prometheus:
    def __init__(self, folder: Path, target: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rules = _rules_file(folder)
        config = folder / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  scrape_timeout: 1s\n"
            f"rule_files:\n  - {rules}\n"
            f"scrape_configs:\n  - job_name: redis\n    static_configs:\n      - targets: ['{target}']\n")
        self._log = (folder / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):  # noqa: S310
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError((folder / "prometheus.log").read_text()[-2000:]) from None
                time.sleep(0.2)

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = _get(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def value(self, expr: str) -> list[float]:
        return [float(item["value"][1]) for item in self.query(expr)]

    def forecast_alerts(self) -> list[dict[str, Any]]:
        rules = _get(f"{self.url}/api/v1/rules")["data"]["groups"]
        names = {rule["name"] for group in rules for rule in group["rules"]
                 if rule.get("type") == "alerting" and "redisguard_memory_seconds_to_limit" in rule["query"]}
        alerts: list[dict[str, Any]] = _get(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return [alert for alert in alerts if alert["labels"]["alertname"] in names]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def dashboard_queries() -> Iterator[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace('=~"$instance"', '=~".+"').replace("$__rate_interval", "15s")
            assert "$" not in expr, expr
            yield panel["title"], expr


def test_dashboard_is_valid_grafana_json() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "redisguard"
    titles = [panel["title"] for panel in board["panels"] if panel["type"] != "row"]
    assert len(titles) == len(set(titles)) >= 15
    assert all(panel.get("targets") for panel in board["panels"] if panel["type"] != "row")
    assert len(list(dashboard_queries())) >= 20


@pytest.fixture
def newest_with_lag(redis_binary):
    from tests.conftest import BINARIES

    eligible = [b for b in BINARIES if b.version >= (7, 0, 0)]
    if not eligible or redis_binary != eligible[0]:
        pytest.skip("the Prometheus end-to-end runs once, on the newest Redis (>= 7.0: group lag)")
    return redis_binary


def _producer(client, stop: threading.Event, written: list[int]) -> None:
    payload = "p" * 1000
    while not stop.is_set():
        try:
            pipe = client.pipeline(transaction=False)
            for _ in range(10):
                pipe.xadd("ingest", {"payload": payload})
            pipe.get("hot")
            pipe.get("cold-miss")
            pipe.execute()
            written[0] += 10
        except Exception:  # OOM once full: the test asserts the alert came before that
            return
        stop.wait(0.1)


@pytest.mark.timeout(240)
def test_prometheus_scrapes_values_alert_and_dashboard(newest_with_lag, make_server, tmp_path, request) -> None:
    server = make_server(maxmemory="14mb", maxmemory_policy="noeviction")
    admin = server.client()
    for index in range(2):
        key = f"orders:{index}"
        for _ in range(10):
            admin.xadd(key, {"payload": "x" * 50})
        admin.xgroup_create(key, "billing", id="0")
        admin.xreadgroup("billing", "b1", {key: ">"}, count=4)
        admin.xack(key, "billing", admin.xrange(key, count=1)[0][0])
    ids = [admin.xadd("tomb", {"n": str(n)}) for n in range(5)]
    admin.xgroup_create("tomb", "g", id="0")
    admin.xreadgroup("g", "c", {"tomb": ">"}, count=2)
    admin.xdel("tomb", ids[3])
    admin.xgroup_create("ingest", "indexer", id="$", mkstream=True)
    admin.set("hot", "v")
    maxmemory = 14 * 1024 * 1024
    with running(server.url, keys_interval=2, cache_ttl=0.5, scrape_timeout=1.0, history_seconds=600) \
            as (base, _):
        prometheus = Prometheus(tmp_path, base.removeprefix("http://"))
        request.addfinalizer(prometheus.stop)
        stop = threading.Event()
        written = [0]
        producer = threading.Thread(target=_producer, args=(server.client(), stop, written), daemon=True)
        try:
            producer.start()
            deadline = time.monotonic() + 150
            alerts: list[dict[str, Any]] = []
            while time.monotonic() < deadline and producer.is_alive():
                alerts = [a for a in prometheus.forecast_alerts() if a["state"] in ("pending", "firing")]
                if alerts:
                    break
                time.sleep(1)
            memory = admin.info("memory")
            counted = memory["used_memory"] - memory.get("mem_not_counted_for_evict", 0)
            assert alerts, "the forecast alert never went pending before the producer stopped"
            assert counted < maxmemory  # the alert came before memory was full

            missing = [(title, expr) for title, expr in dashboard_queries() if not prometheus.query(expr)]
            assert missing == []
        finally:
            stop.set()
            producer.join(timeout=10)

        time.sleep(3)  # memory is steady now: Prometheus's latest sample and INFO describe the same state
        (used,) = prometheus.value("redis_memory_used_bytes")
        info_used = admin.info("memory")["used_memory"]
        assert abs(used - info_used) <= 0.05 * info_used
        assert prometheus.value('redis_stream_group_lag{stream="orders:0",group="billing"}') == [6.0]
        assert prometheus.value('redis_stream_group_messages_pending{stream="orders:1",group="billing"}') == [3.0]
        assert prometheus.value('redis_stream_group_lag{stream="tomb"}') == []
        assert prometheus.value('redis_stream_group_messages_pending{stream="tomb"}') == [2.0]
        assert prometheus.value("redis_memory_max_bytes") == [float(maxmemory)]
        assert prometheus.value("redis_up") == [1.0]
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
