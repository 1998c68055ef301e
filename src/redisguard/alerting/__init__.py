"""``redisguard alerts``: a Prometheus rules file over the exporter's metrics. Pure (no I/O)."""

from __future__ import annotations

from redisguard.alerting.document import GROUP_NAME, metrics_used, rules_document, rules_yaml, undefined_metrics
from redisguard.alerting.rules import Alert, build_alerts
from redisguard.alerting.templates import Runbook
from redisguard.alerting.thresholds import AlertThresholds, validate_selector

__all__ = [
    "GROUP_NAME",
    "Alert",
    "AlertThresholds",
    "Runbook",
    "build_alerts",
    "metrics_used",
    "rules_document",
    "rules_yaml",
    "undefined_metrics",
    "validate_selector",
]
