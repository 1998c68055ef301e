"""The exporter's HTTP face: ``/metrics`` (the target given), ``/scrape?target=...`` (any target, the
Prometheus multi-target pattern), ``/status`` (JSON). The standard library's threading HTTP server parses
HTTP; prometheus_client formats the exposition from a private registry per target, whose collector
yields fresh families on each scrape and holds no Redis state (the :class:`Target` does).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from redisguard.connect import ConnectionOptions
from redisguard.errors import RedisguardError
from redisguard.exporter.families import families
from redisguard.exporter.keyspace import KeyspaceLoop
from redisguard.exporter.model import Collection, KeyspaceResult
from redisguard.exporter.status import status
from redisguard.exporter.target import ExporterSettings, Target

__all__ = ["Exporter", "TargetCollector", "serve"]

log = logging.getLogger("redisguard.exporter")
MAX_TARGETS = 64


class TargetCollector(Collector):
    """Collects one target on each call of :meth:`collect`; ``describe`` is empty so registering it never
    reaches Redis."""

    def __init__(self, target: Target, on_collection: Any = None) -> None:
        self._target = target
        self._on_collection = on_collection

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        collection = self._target.collect()
        if self._on_collection is not None:
            self._on_collection(collection)
        yield from families(collection)


@dataclass
class _Self:
    scrapes: Counter
    errors: Counter
    duration: Gauge


class Exporter:
    """The default target, the multi-target set (bounded, least recently used dropped) and self-metrics."""

    def __init__(self, options: ConnectionOptions, settings: ExporterSettings) -> None:
        self.options = options
        self.settings = settings
        self.registry = CollectorRegistry(auto_describe=False)
        self._self = _Self(
            scrapes=Counter("redisguard_exporter_scrapes", "Scrapes served", ["endpoint"], registry=self.registry),
            errors=Counter("redisguard_exporter_scrape_errors", "Scrapes in which a node could not be reached",
                           ["endpoint"], registry=self.registry),
            duration=Gauge("redisguard_exporter_last_scrape_duration_seconds", "Duration of the last scrape",
                           ["endpoint"], registry=self.registry),
        )
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes: the exporter's own RSS
        self.default = self._new_target(options)
        self.registry.register(TargetCollector(self.default, self._counted("metrics")))
        self._targets: OrderedDict[str, tuple[Target, CollectorRegistry]] = OrderedDict()
        self._lock = threading.Lock()

    def _new_target(self, options: ConnectionOptions) -> Target:
        target = Target(options, self.settings)
        if self.settings.keys_interval > 0:
            def store(result: KeyspaceResult, target: Target = target) -> None:
                target.keyspace = result
                if result.error:
                    log.warning("keyspace analysis: %s", result.error)

            target.keys_loop = KeyspaceLoop(options, interval=self.settings.keys_interval,
                                            sample=self.settings.keys_sample,
                                            max_impact_ms=self.settings.max_impact_ms, on_result=store,
                                            total_keys=target.total_keys).start()
        return target

    def _counted(self, endpoint: str) -> Any:
        def count(collection: Collection) -> None:
            self._self.scrapes.labels(endpoint).inc()
            self._self.duration.labels(endpoint).set(collection.duration_s)
            if collection.error or any(node.error for node in collection.nodes):
                self._self.errors.labels(endpoint).inc()
                log.warning("scrape of %s: %s", collection.target,
                            collection.error or "; ".join(n.error for n in collection.nodes if n.error))
        return count

    def metrics(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data

    def scrape(self, url: str) -> bytes:
        """``/scrape?target=URL``: the target with its own credentials if the URL has any, else the exporter's;
        and the exporter's TLS settings. Anyone who can reach the listener can name a target, so the
        exporter's password goes wherever they point it: keep ``--listen`` on loopback or a trusted network."""
        registry = self._registry_for(url)
        data: bytes = generate_latest(registry)
        return data

    def _registry_for(self, url: str) -> CollectorRegistry:
        if "://" not in url:
            url = f"redis://{url}"
        # A target that names its own credentials is reached with those, not the exporter's; one that names
        # none gets the exporter's (the multi-target pattern: one exporter for many servers of one estate).
        own = ConnectionOptions(url=url).url_password() is not None  # read from the URL: build() validates below
        options = ConnectionOptions.build(url, username=None if own else self.options.username,
                                          password=None if own else self.options.password,
                                          tls_ca=self.options.tls_ca, tls_cert=self.options.tls_cert,
                                          tls_key=self.options.tls_key, tls_insecure=self.options.tls_insecure,
                                          connect_timeout=self.options.connect_timeout, environ={})
        with self._lock:
            if url in self._targets:
                self._targets.move_to_end(url)
                return self._targets[url][1]
            target = self._new_target(options)
            registry = CollectorRegistry(auto_describe=False)
            registry.register(TargetCollector(target, self._counted("scrape")))
            self._targets[url] = (target, registry)
            while len(self._targets) > MAX_TARGETS:
                _, (old, _) = self._targets.popitem(last=False)
                old.close()
            return registry

    def status(self) -> dict[str, Any]:
        return status(self.default.collect())

    def close(self) -> None:
        self.default.close()
        with self._lock:
            for target, _ in self._targets.values():
                target.close()
            self._targets.clear()


def _handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "redisguard-exporter"

        def log_message(self, format: str, *args: Any) -> None:
            """No access log: a /scrape URL may carry a password."""

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            try:
                if parts.path == "/metrics":
                    self._send(200, exporter.metrics(), CONTENT_TYPE_LATEST)
                elif parts.path == "/scrape":
                    targets = parse_qs(parts.query).get("target", [])
                    if len(targets) != 1 or not targets[0]:
                        self._send(400, b"exactly one target=redis://host:port is needed\n", "text/plain")
                        return
                    self._send(200, exporter.scrape(targets[0]), CONTENT_TYPE_LATEST)
                elif parts.path == "/status":
                    body = json.dumps(exporter.status(), indent=2).encode()
                    self._send(200, body, "application/json")
                elif parts.path == "/":
                    self._send(200, b"redisguard exporter: /metrics /scrape?target=redis://host:port /status\n",
                               "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")
            except RedisguardError as exc:  # a bad target (its URL, its database) or one that cannot be reached
                self._send(400, f"{exc}\n".encode(), "text/plain")
            except UnicodeError:  # the host name does not encode (IDNA: a label over 63 characters, say)
                self._send(400, b"invalid host name in target\n", "text/plain")
            except (BrokenPipeError, ConnectionResetError):
                pass
            except Exception as exc:  # one line, never a traceback (which could show a target's URL)
                log.error("%s: internal error: %s", parts.path, type(exc).__name__)
                self._send(500, f"internal error ({type(exc).__name__}); see the exporter's log\n".encode(),
                           "text/plain")

    return Handler


def serve(exporter: Exporter, host: str, port: int) -> ThreadingHTTPServer:
    """A started server (in a daemon thread); ``shutdown()`` it and ``exporter.close()`` when done."""
    httpd = ThreadingHTTPServer((host, port), _handler(exporter))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="redisguard-http", daemon=True)
    thread.start()
    return httpd
