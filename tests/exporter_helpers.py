"""Helpers for the exporter tests: an in-process exporter on a free port, and Prometheus text parsed."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from redisguard.connect import ConnectionOptions
from redisguard.exporter import Exporter, ExporterSettings, serve

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get(url: str, timeout: float = 30.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL we built
        body: bytes = response.read()
    return body.decode()


def first_metrics(port: int, proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """/metrics of an exporter process on ``port`` once it answers; fails if it exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get(f"http://127.0.0.1:{port}/metrics")
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)


def parse(text: str) -> Series:
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return series


def find(series: Series, name: str, **labels: str) -> list[float]:
    return [value for (metric, labelset), value in series.items()
            if metric == name and all(dict(labelset).get(k) == v for k, v in labels.items())]


@contextmanager
def running(url: str, **settings: Any) -> Iterator[tuple[str, Exporter]]:
    settings.setdefault("keys_interval", 0)
    settings.setdefault("cache_ttl", 0)
    exporter = Exporter(ConnectionOptions.build(url, environ={}), ExporterSettings(**settings))
    httpd = serve(exporter, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", exporter
    finally:
        httpd.shutdown()
        httpd.server_close()
        exporter.close()


def settle(admin, timeout: float = 10.0) -> None:
    """Until used_memory stops moving: a big write's query buffer is freed by the server a moment later
    (Valkey counts it in used_memory until then)."""
    deadline = time.monotonic() + timeout
    last = admin.info("memory")["used_memory"]
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = admin.info("memory")["used_memory"]
        if abs(now - last) <= 0.01 * last:
            return
        last = now
