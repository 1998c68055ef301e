"""The keyspace engine: where the memory is, by key pattern, fast and without hurting production.

Used by ``redisguard keys``, by the doctor's key analysis (:func:`sample_for_doctor`) and by reports.
"""

from __future__ import annotations

from redisguard.keyspace._aggregate import TTL_BUCKETS, Aggregator
from redisguard.keyspace._cluster import pick_nodes, scan_deployment
from redisguard.keyspace._doctor import doctor_key_sampler, sample_for_doctor
from redisguard.keyspace._patterns import DEFAULT_CAP, PatternGrouper
from redisguard.keyspace._report import SORT_KEYS, BigKeyRow, KeyspaceReport, NodeSummary, PatternRow, build_report
from redisguard.keyspace._sampling import Estimate, Stratum, estimate
from redisguard.keyspace._scan import NodeScan, ScanSettings, scan_client
from redisguard.keyspace._throttle import Throttle

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
