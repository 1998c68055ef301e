"""redisguard keeps Redis out of out-of-memory trouble.

The library's promise is what this module exports (``__all__``): the memory-safe streams classes and
functions, the keyspace scan and its report, collection and analysis (snapshot → findings → the
doctor's report), the connection settings and the error root. Everything else (``collect.*``,
``keyspace.scan``, ``streams.producer`` internals, ``cli``, ``render``) is an implementation detail that
may change between releases: import from here.

Names are imported on first use (PEP 562), so ``import redisguard`` stays cheap and the command line
does not load the asyncio stream machinery it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str
    from redisguard.collect import collect_snapshot
    from redisguard.connect import ConnectionOptions
    from redisguard.errors import (
        CancelledError,
        ConnectionFailed,
        RedisguardError,
        RefusedError,
        SnapshotFormatError,
        UsageError,
    )
    from redisguard.keyspace import KeyspaceReport, ScanSettings, scan_deployment
    from redisguard.rules import DoctorReport, Finding, Fix, FixKind, Severity, Thresholds, analyse, diagnose
    from redisguard.snapshot import Snapshot
    from redisguard.snapshot import dump as dump_snapshot
    from redisguard.snapshot import load as load_snapshot
    from redisguard.streams import (
        Consumer,
        ConsumerMetrics,
        Entry,
        EventsNotStoredError,
        Producer,
        SafePoint,
        StreamHealth,
        SyncProducer,
        Trimmer,
        TrimOutcome,
        TrimPlan,
        TrimResult,
        apply_trim,
        atrim_safe,
        plan_trim,
        safe_point_of_groups,
        safe_trim_point,
        scan_stream_health,
        trim_safe,
    )

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    **{name: ("redisguard.streams", name) for name in (
        "Consumer", "ConsumerMetrics", "Entry", "Producer", "SafePoint", "SyncProducer", "TrimResult", "Trimmer",
        "atrim_safe", "safe_point_of_groups", "safe_trim_point", "trim_safe",
        "EventsNotStoredError", "StreamHealth", "TrimOutcome", "TrimPlan", "apply_trim", "plan_trim",
        "scan_stream_health")},
    **{name: ("redisguard.keyspace", name) for name in ("KeyspaceReport", "ScanSettings", "scan_deployment")},
    **{name: ("redisguard.rules", name) for name in (
        "DoctorReport", "Finding", "Fix", "FixKind", "Severity", "Thresholds", "analyse", "diagnose")},
    **{name: ("redisguard.errors", name) for name in (
        "CancelledError", "ConnectionFailed", "RedisguardError", "RefusedError", "SnapshotFormatError",
        "UsageError")},
    "ConnectionOptions": ("redisguard.connect", "ConnectionOptions"),
    "collect_snapshot": ("redisguard.collect", "collect_snapshot"),
    "Snapshot": ("redisguard.snapshot", "Snapshot"),
    "dump_snapshot": ("redisguard.snapshot", "dump"),
    "load_snapshot": ("redisguard.snapshot", "load"),
}

__all__ = [
    "CancelledError",
    "ConnectionFailed",
    "ConnectionOptions",
    "Consumer",
    "ConsumerMetrics",
    "DoctorReport",
    "Entry",
    "EventsNotStoredError",
    "Finding",
    "Fix",
    "FixKind",
    "KeyspaceReport",
    "Producer",
    "RedisguardError",
    "RefusedError",
    "SafePoint",
    "ScanSettings",
    "Severity",
    "Snapshot",
    "SnapshotFormatError",
    "StreamHealth",
    "SyncProducer",
    "Thresholds",
    "TrimOutcome",
    "TrimPlan",
    "TrimResult",
    "Trimmer",
    "UsageError",
    "__version__",
    "analyse",
    "apply_trim",
    "atrim_safe",
    "collect_snapshot",
    "diagnose",
    "dump_snapshot",
    "load_snapshot",
    "plan_trim",
    "safe_point_of_groups",
    "safe_trim_point",
    "scan_deployment",
    "scan_stream_health",
    "trim_safe",
]


def _version() -> str:
    # importlib.metadata costs 50-65 ms of every command's start: read it when the version is asked for.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("redisguard")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = found = _version()
        return found
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'redisguard' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
