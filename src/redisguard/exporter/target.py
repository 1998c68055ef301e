"""One monitored target: its long-lived :class:`Deployment`, the stream list, the memory history, and the
collection that concurrent scrapes share.

A scrape asks :meth:`Target.collect`: a result younger than ``cache_ttl`` is returned as is; otherwise one
collection runs in a worker thread (a scrape arriving meanwhile waits for that same one) and the scrape
waits at most ``scrape_timeout``; what has not arrived by then is missing and the result is marked partial.
The node clients' reply timeout is the scrape timeout, so a hung server frees the worker soon after, and
only one collection per target is ever in flight: a slow Redis cannot pile up connections.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import redis
import redis.exceptions as rex

from redisguard.collect.sets import CollectionSet, NodeSample, collect_sample, sample_snapshot
from redisguard.connect import ConnectError, ConnectionOptions
from redisguard.connect.deployment import Deployment, NodeClient, is_stale_reply
from redisguard.exporter.keyspace import KeyspaceLoop
from redisguard.exporter.model import Collection, KeyspaceResult, NodeResult, node_label
from redisguard.exporter.streamlist import StreamList
from redisguard.forecast import Forecast, History, counted_memory, forecast
from redisguard.rules import RULES, Finding, Thresholds

__all__ = ["ExporterSettings", "Target"]


@dataclass(frozen=True)
class ExporterSettings:
    scrape_timeout: float = 5.0
    timeout_option: str = "--scrape-timeout"  # how the user set it, for the message when nothing arrived
    cache_ttl: float = 1.0
    max_streams: int = 1000
    consumer_metrics: bool = False
    streams_interval: float = 60.0  # how often the stream list is rediscovered (SCAN TYPE stream)
    keys_interval: float = 3600.0  # 0: no background keyspace analysis
    keys_sample: int = 10_000
    max_impact_ms: float = 1.0
    history_seconds: float = 3600.0
    thresholds: Thresholds = field(default_factory=Thresholds)


def _findings(sample: NodeSample, thresholds: Thresholds, truncated: bool) -> list[Finding]:
    node = sample_snapshot(sample, streams_truncated=truncated)
    found = [finding for check in RULES for finding in check(node, thresholds)]
    return sorted(found, key=lambda finding: finding.sort_key)


def _int(info: dict[str, dict[str, str]], name: str) -> int | None:
    for section in info.values():
        if name in section:
            try:
                return int(float(section[name]))
            except ValueError:
                return None
    return None


class Target:
    """Everything the exporter keeps for one target URL (never the password in anything it shows)."""

    def __init__(self, options: ConnectionOptions, settings: ExporterSettings) -> None:
        self.options = options
        self.settings = settings
        self.deployment = Deployment(options, command_timeout=settings.scrape_timeout)
        self._streams: dict[str, StreamList] = {}
        self._history: dict[str, History] = {}
        self._lock = threading.Lock()
        self._inflight: Future[Collection] | None = None
        self._progress: dict[str, NodeResult] = {}
        self._progress_started = 0.0
        self._cached: Collection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redisguard-collect")
        self._node_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="redisguard-node")
        self.keyspace: KeyspaceResult | None = None
        self.keys_loop: KeyspaceLoop | None = None
        self.last_used = time.monotonic()
        self.collections = 0

    @property
    def display(self) -> str:
        return self.options.display

    def collect(self) -> Collection:
        """The current picture of the target, within ``scrape_timeout`` (partial if it must be)."""
        started = time.monotonic()
        self.last_used = started
        with self._lock:
            cached = self._cached
            if cached is not None and started - cached.started_at < self.settings.cache_ttl:
                return cached
            if self._inflight is None or self._inflight.done():
                self._progress = {}
                self._progress_started = started
                self._inflight = self._pool.submit(self._run, started)
            inflight = self._inflight
            began = self._progress_started
        remaining = max(0.0, began + self.settings.scrape_timeout - time.monotonic() - 0.05)
        try:
            return inflight.result(timeout=remaining)
        except FutureTimeout:
            return self._partial(began)

    def total_keys(self) -> int | None:
        """Keys over every node as the last collection counted them (None before one succeeded)."""
        cached = self._cached
        if cached is None or not any(node.up for node in cached.nodes):
            return None
        total = 0
        for node in cached.nodes:
            keyspace = node.sample.info.get("keyspace", {}) if node.sample and node.sample.info else {}
            for text in keyspace.values():
                parts = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
                total += int(parts.get("keys", 0))
        return total

    def close(self) -> None:
        if self.keys_loop is not None:
            self.keys_loop.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._node_pool.shutdown(wait=False, cancel_futures=True)
        self.deployment.close()

    def _partial(self, began: float) -> Collection:
        with self._lock:
            nodes = list(self._progress.values())
        for result in nodes:
            result.streams_complete = result.streams_complete and result.sample is not None \
                and result.sample.complete
        return Collection(target=self.display, mode=self.deployment.mode, started_at=began,
                          duration_s=time.monotonic() - began, partial=True, nodes=nodes,
                          not_visible=[gap for node in nodes if node.sample for gap in node.sample.not_visible],
                          error=None if nodes else (f"no reply before {self.settings.timeout_option} "
                                                    f"({self.settings.scrape_timeout:g} s): is the server reachable "
                                                    "and not hung or paused?"),
                          keyspace=self.keyspace, max_streams=self.settings.max_streams,
                          consumer_metrics=self.settings.consumer_metrics, taken_at=time.time())

    def _run(self, began: float) -> Collection:
        deadline = began + self.settings.scrape_timeout * 0.85
        try:
            entries = self.deployment.nodes()
        except ConnectError as exc:
            result = Collection(target=self.display, mode="unknown", started_at=began,
                                duration_s=time.monotonic() - began, partial=False, nodes=[], error=str(exc),
                                keyspace=self.keyspace, max_streams=self.settings.max_streams,
                                consumer_metrics=self.settings.consumer_metrics, taken_at=time.time())
            with self._lock:
                self._cached = result
            return result
        futures = [self._node_pool.submit(self._collect_node, entry, deadline) for entry in entries]
        nodes = [future.result() for future in futures]
        self.collections += 1
        result = Collection(
            target=self.display, mode=self.deployment.mode, started_at=began, duration_s=time.monotonic() - began,
            partial=any(not node.streams_complete for node in nodes), nodes=nodes,
            not_visible=[gap for node in nodes if node.sample for gap in node.sample.not_visible],
            keyspace=self.keyspace, max_streams=self.settings.max_streams,
            consumer_metrics=self.settings.consumer_metrics, taken_at=time.time(),
        )
        with self._lock:
            self._cached = result
        return result

    def _stream_list(self, address: str) -> StreamList:
        with self._lock:
            if address not in self._streams:
                self._streams[address] = StreamList(self.settings.max_streams, self.settings.streams_interval)
            return self._streams[address]

    def _record(self, address: str, sample: NodeSample) -> Forecast | None:
        info = sample.info
        if info is None:
            return None
        used = _int(info, "used_memory")
        if used is None:
            return None
        counted = counted_memory(used, _int(info, "mem_not_counted_for_evict") or 0)
        with self._lock:
            history = self._history.get(address)
            if history is None:
                history = self._history[address] = History(window_seconds=self.settings.history_seconds)
        history.add(time.time(), counted)
        policy = next((section["maxmemory_policy"] for section in info.values() if "maxmemory_policy" in section),
                      None)
        return forecast(history.samples(), _int(info, "maxmemory"), policy)

    def _collect_node(self, entry: NodeClient, deadline: float) -> NodeResult:
        label = node_label(entry.node.address)
        result = NodeResult(node=label, sample=None, error=entry.error)
        with self._lock:
            self._progress[label] = result
        client: redis.Redis | None = entry.client
        if client is None:
            result.error = entry.error or "not connected"
            return result
        sample = NodeSample(address=label, role=entry.node.role, started_at=time.time())
        result.sample = sample
        streams = self._stream_list(label)
        try:
            streams.refresh(client, sample, budget_until=deadline)
            result.streams_found = streams.total
            collect_sample(client, sample, CollectionSet.STREAMS, streams=streams.keys,
                           consumers=True, deadline=deadline)
        except (rex.ConnectionError, rex.TimeoutError, OSError) as exc:
            self.deployment.failed(entry, exc)
            result.error = f"{label}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        except rex.ResponseError as exc:
            if is_stale_reply(exc):
                self.deployment.failed(entry, exc)
            result.error = f"{label}: {str(exc).splitlines()[0]}"
        result.streams_complete = sample.complete and streams.complete
        if sample.info is not None:
            role = sample.info.get("replication", {}).get("role")
            if role is not None and role != "master" and entry.node.role == "primary":
                self.deployment.role_changed()
            result.forecast = self._record(label, sample)
            result.findings = _findings(sample, self.settings.thresholds, streams.total > len(streams.keys))
        return result
