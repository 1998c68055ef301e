"""The keyspace engine: where the memory is, by key pattern, fast and without hurting production.

Used by ``redisguard keys``, by the doctor's key analysis (:func:`sample_for_doctor`) and by reports.
"""

from __future__ import annotations

from redisguard.keyspace.aggregate import TTL_BUCKETS, Aggregator
from redisguard.keyspace.cluster import pick_nodes, scan_deployment
from redisguard.keyspace.doctor import doctor_key_sampler, sample_for_doctor
from redisguard.keyspace.patterns import DEFAULT_CAP, PatternGrouper
from redisguard.keyspace.report import SORT_KEYS, BigKeyRow, KeyspaceReport, NodeSummary, PatternRow, build_report
from redisguard.keyspace.sampling import Estimate, Stratum, estimate
from redisguard.keyspace.scan import NodeScan, ScanSettings, scan_client
from redisguard.keyspace.throttle import Throttle

__all__ = [
    "DEFAULT_CAP",
    "SORT_KEYS",
    "TTL_BUCKETS",
    "Aggregator",
    "BigKeyRow",
    "Estimate",
    "KeyspaceReport",
    "NodeScan",
    "NodeSummary",
    "PatternGrouper",
    "PatternRow",
    "ScanSettings",
    "Stratum",
    "Throttle",
    "build_report",
    "doctor_key_sampler",
    "estimate",
    "pick_nodes",
    "sample_for_doctor",
    "scan_client",
    "scan_deployment",
]
