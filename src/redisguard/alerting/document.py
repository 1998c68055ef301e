"""The Prometheus rules file: alerts as a rule group, in YAML; and the metric names its expressions use."""

from __future__ import annotations

import re
from typing import Any

import yaml

from redisguard import metric_names
from redisguard.alerting.rules import Alert, build_alerts
from redisguard.alerting.templates import Runbook, command
from redisguard.alerting.thresholds import AlertThresholds

__all__ = ["GROUP_NAME", "metrics_used", "rules_document", "rules_yaml", "undefined_metrics"]

GROUP_NAME = "redisguard"
_METRIC = re.compile(r"\b(redis(?:guard)?_[a-zA-Z0-9_]+)\b")
_HEADER = ("# Prometheus alerting rules written by `redisguard alerts` {args}\n"
           "# Check: promtool check rules FILE. Metrics: `redisguard exporter` (or redis_exporter for the\n"
           "# redis_* families). Every alert names the redisguard command to run next in its runbook.\n")


def _rule(alert: Alert, runbook: Runbook) -> dict[str, Any]:
    return {
        "alert": alert.name,
        "expr": alert.expr,
        "for": alert.for_,
        "labels": {"severity": alert.severity, **alert.labels},
        "annotations": {"summary": alert.summary, "runbook": command(alert.runbook, runbook)},
    }


def rules_document(thresholds: AlertThresholds, runbook: Runbook | None = None) -> dict[str, Any]:
    shown = runbook or Runbook()
    return {"groups": [{"name": GROUP_NAME,
                        "rules": [_rule(alert, shown) for alert in build_alerts(thresholds)]}]}


def rules_yaml(thresholds: AlertThresholds, args: str = "", runbook: Runbook | None = None) -> str:
    body = yaml.safe_dump(rules_document(thresholds, runbook), sort_keys=False, width=1000, allow_unicode=False)
    return _HEADER.format(args=args).replace(" \n", "\n") + body


def metrics_used(thresholds: AlertThresholds) -> set[str]:
    """Every metric name the expressions mention (label names and values are not metric names)."""
    used: set[str] = set()
    for alert in build_alerts(thresholds):
        without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', alert.expr)
        without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
        used |= set(_METRIC.findall(without_labels))
    return used


def undefined_metrics(thresholds: AlertThresholds) -> set[str]:
    """Names the rules use that :mod:`redisguard.metric_names` does not define (the exporter would not export)."""
    return metrics_used(thresholds) - set(metric_names.BY_NAME)
