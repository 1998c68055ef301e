"""Never run: type-checked by mypy --strict in the suite (tests/test_public_api.py), stamina-style.

It calls the public API the way the README shows, so a change that breaks a library user's code
breaks this file's type check.
"""

from __future__ import annotations

from pathlib import Path

import redisguard
from redisguard import (
    ConnectionOptions,
    Consumer,
    DoctorReport,
    Entry,
    Finding,
    Fix,
    FixKind,
    KeyspaceReport,
    Producer,
    RedisguardError,
    SafePoint,
    ScanSettings,
    Severity,
    Snapshot,
    StreamHealth,
    Thresholds,
    Trimmer,
    TrimOutcome,
    TrimPlan,
    TrimResult,
    analyse,
    apply_trim,
    collect_snapshot,
    diagnose,
    dump_snapshot,
    load_snapshot,
    plan_trim,
    safe_trim_point,
    scan_deployment,
    scan_stream_health,
)

version: str = redisguard.__version__


async def streams() -> None:
    async with Producer("redis://redis.internal:6379", memory_limit=0.8, high_water=1_000_000) as producer:
        await producer.send("firehose", {"k": "v"}, cursor=42)

    async def handler(entry: Entry) -> None:
        del entry

    consumer = Consumer("redis://redis.internal:6379", stream="firehose", group="indexers", name="indexer-1",
                        handler=handler)
    await consumer.run()
    consumer.stop()
    trimmer = Trimmer("redis://redis.internal:6379", ["firehose"], interval=1.0)
    trimmer.stop()
    point: SafePoint | None = await safe_trim_point("redis://redis.internal:6379", "firehose")
    del point


def stream_operations() -> int:
    import redis

    client = redis.Redis()
    healths: list[StreamHealth] = scan_stream_health(client, "local").healths
    plan: TrimPlan = plan_trim(client, "firehose", exact=False)
    lost: dict[str, int] = {loss.group: loss.unprocessed_lost.value for loss in plan.losses}
    outcome: TrimOutcome = apply_trim(client, plan)
    del healths, lost
    return outcome.trimmed


def diagnosis() -> int:
    options = ConnectionOptions.build("redis://redis.internal:6379/0", username="ops", command_timeout=5.0)
    try:
        snapshot: Snapshot = collect_snapshot(options, include_replicas=False)
    except RedisguardError as error:
        return error.exit_code
    findings: list[Finding] = analyse(snapshot, Thresholds(memory_warning=0.7))
    worst: Severity = max((finding.severity for finding in findings), default=Severity.INFO)
    report: DoctorReport = diagnose(snapshot)
    fixes: list[Fix] = [fix for finding in report.findings for fix in finding.fixes if fix.kind is FixKind.REDIS]
    argvs: list[tuple[str, ...]] = [fix.argv for fix in fixes]
    del worst, argvs
    dump_snapshot(snapshot, Path("snap.json"))
    again: Snapshot = load_snapshot(Path("snap.json"))
    del again
    return report.exit_code


def keyspace() -> int:
    report: KeyspaceReport = scan_deployment(ConnectionOptions.build("redis://redis.internal:6379/0"),
                                             ScanSettings(sample=10_000))
    return len(report.to_dict())


def trim_result(result: TrimResult) -> object:
    return result
