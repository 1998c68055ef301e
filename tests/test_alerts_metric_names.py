"""The shared metric-name constants are well-formed: valid, unique, counters named as PromQL sees them."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from redisguard import metric_names

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def test_every_name_is_valid_unique_and_typed() -> None:
    names = [metric.name for metric in metric_names.ALL]
    assert len(names) == len(set(names))
    assert len(names) >= 25
    for metric in metric_names.ALL:
        assert _NAME.match(metric.name), metric.name
        assert all(_LABEL.match(label) and not label.startswith("__") for label in metric.labels), metric
        assert metric.help
        if metric.type == "counter":
            assert metric.name.endswith("_total") and metric.family + "_total" == metric.name
        if metric.type == "info":
            assert metric.name.endswith("_info") and metric.family + "_info" == metric.name
        prefix = "redisguard_" if metric.origin == "redisguard" else "redis_"
        assert metric.name.startswith(prefix), metric.name


def test_names_fixed_by_the_issue_are_defined() -> None:
    for name in ("redis_memory_used_bytes", "redis_memory_max_bytes", "redis_connected_clients",
                 "redis_evicted_keys_total", "redis_stream_group_lag", "redis_stream_group_messages_pending",
                 "redis_up", "redisguard_memory_limit_headroom_bytes", "redisguard_memory_growth_bytes_per_second",
                 "redisguard_memory_seconds_to_limit", "redisguard_finding",
                 "redisguard_stream_oldest_pending_age_seconds", "redisguard_scrape_partial"):
        assert metric_names.by_name(name).name == name
    assert metric_names.by_name("redisguard_memory_seconds_to_limit").labels == ("bound",)
    assert metric_names.by_name("redisguard_finding").labels == ("rule", "severity")
    assert "maxmemory_policy" in metric_names.by_name("redis_instance_info").labels


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


SRC = Path(__file__).resolve().parent.parent / "src" / "redisguard"


@pytest.mark.parametrize(("files", "allowed"), [
    (["forecast.py", "metric_names.py"], set()),                 # pure: the standard library only
    (sorted(f"alerting/{p.name}" for p in (SRC / "alerting").glob("*.py")),
     {"redisguard.metric_names", "redisguard.alerting", "yaml"}),
])
def test_forecast_metric_names_and_alerting_do_no_io(files: list[str], allowed: set[str]) -> None:
    """No Redis, no CLI, no network: what these import is the standard library (and, for the rules
    generator, the shared names and PyYAML)."""
    assert files
    for name in files:
        path = SRC / name
        for target in _imports(path):
            top = target.split(".")[0]
            ours = any(target == a or target.startswith(a + ".") for a in allowed)
            network = top in ("socket", "subprocess") or (top == "urllib" and not target.startswith("urllib.parse"))
            assert ours or (top in sys.stdlib_module_names and not network), \
                f"{path.name} imports {target}"  # urllib.parse is string parsing (runbook URLs), not I/O
