"""``redisguard exporter``: Prometheus metrics for Redis memory, streams and the time-to-full forecast."""

from __future__ import annotations

from redisguard.exporter.model import Collection, NodeResult
from redisguard.exporter.server import Exporter, serve
from redisguard.exporter.target import ExporterSettings, Target

__all__ = ["Collection", "Exporter", "ExporterSettings", "NodeResult", "Target", "serve"]
