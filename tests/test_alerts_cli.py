"""`redisguard alerts`: the rules file it prints, its options, its errors, and `promtool check rules` on it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from redisguard import metric_names
from redisguard.alerting import AlertThresholds, metrics_used, rules_yaml, undefined_metrics
from redisguard.cli import run as cli_run

PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (./dev.sh setup installs it)")

EXPECTED_ALERTS = {
    "RedisMemoryHigh", "RedisMemoryCritical", "RedisMemoryFullSoon", "RedisMemoryFullImminent",
    "RedisFragmentationHigh", "RedisEvictingStreams", "RedisEvictionsUnexpected", "RedisStreamLagHigh",
    "RedisStreamPendingHigh", "RedisStreamMemoryHigh", "RedisStreamPendingOld", "RedisStreamDeadConsumer",
    "RedisRejectedConnections",
    "RedisClientsNearMax", "RedisLastBgsaveFailed", "RedisDown", "RedisguardScrapePartial",
}


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``redisguard alerts ARGS`` through the real entry point: (exit code, stdout, stderr)."""
    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli_run(["alerts", *args])
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


Run = Callable[..., tuple[int, str, str]]


def rules(text: str) -> list[dict[str, object]]:
    document = yaml.safe_load(text)
    assert [group["name"] for group in document["groups"]] == ["redisguard"]
    found: list[dict[str, object]] = document["groups"][0]["rules"]
    return found


def test_prints_every_alert_with_a_severity_a_summary_and_a_runbook_command(run: Run) -> None:
    code, out, _ = run()
    assert code == 0
    found = rules(out)
    assert {rule["alert"] for rule in found} == EXPECTED_ALERTS
    for rule in found:
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict) and isinstance(annotations, dict)
        assert labels["severity"] in ("warning", "critical")
        assert "$value" in annotations["summary"] or rule["alert"] in (
            "RedisLastBgsaveFailed", "RedisDown", "RedisguardScrapePartial")
        assert annotations["runbook"].startswith(("redisguard doctor '", "redisguard streams '"))


def test_memory_is_counted_as_redis_counts_it_and_never_divided_by_zero(run: Run) -> None:
    _, out, _ = run()
    high = next(rule for rule in rules(out) if rule["alert"] == "RedisMemoryHigh")
    expr = str(high["expr"])
    assert "redis_memory_used_bytes - (redis_mem_not_counted_for_eviction_bytes" in expr
    assert "/ (redis_memory_max_bytes > 0)" in expr


def test_thresholds_are_options_and_reach_the_expressions(run: Run) -> None:
    code, out, _ = run("--memory-warning", "0.7", "--memory-critical", "0.85", "--forecast-warning", "4h",
                       "--forecast-critical", "30m", "--stream-lag", "5000", "--fragmentation-bytes", "1gb",
                       "--pending-age", "10m", "--dead-consumer-idle", "1h", "--clients-share", "0.9",
                       "--noeviction-selector", 'job="queues"')
    assert code == 0
    by_name = {}
    for rule in rules(out):
        by_name.setdefault(rule["alert"], []).append(str(rule["expr"]))
    assert by_name["RedisMemoryHigh"][0].endswith(">= 0.7 < 0.85")
    assert by_name["RedisMemoryCritical"][0].endswith(">= 0.85")
    assert all("< 14400 >= 1800" in expr for expr in by_name["RedisMemoryFullSoon"])
    assert all("< 1800 " in expr for expr in by_name["RedisMemoryFullImminent"])
    assert by_name["RedisStreamLagHigh"] == ["redis_stream_group_lag > 5000"]
    assert by_name["RedisFragmentationHigh"][0].startswith(f"redis_mem_fragmentation_bytes >= {1024**3}")
    assert by_name["RedisStreamPendingOld"] == ["redisguard_stream_oldest_pending_age_seconds > 600"]
    assert by_name["RedisStreamDeadConsumer"][0].startswith(
        "redisguard_stream_group_stalled_consumer_idle_seconds > 3600 or (")
    assert "redis_stream_group_consumer_idle_seconds > 3600 and" in by_name["RedisStreamDeadConsumer"][0]
    assert by_name["RedisClientsNearMax"][0].endswith(">= 0.9")
    assert 'redis_up{job="queues"}' in by_name["RedisEvictionsUnexpected"][0]
    assert out.startswith("# Prometheus alerting rules written by `redisguard alerts` --memory-warning 0.7")


@pytest.mark.parametrize(("args", "message"), [
    (["--memory-warning", "0.95"], "--memory-warning < --memory-critical"),
    (["--memory-warning", "x"], "is not a valid float"),
    (["--forecast-warning", "6x"], "is not a duration"),
    (["--forecast-warning", "30m", "--forecast-critical", "1h"], "--forecast-critical < --forecast-warning"),
    (["--fragmentation-bytes", "lots"], "is not a size"),
    (["--noeviction-selector", 'job="a"} or vector(1'], "label matchers"),
    (["--stream-lag", "-1"], "--stream-lag must not be negative"),
    (["--runbook-args", "--user ops --password hunter2"], "must not carry a password"),
    (["--runbook-args", "--password=hunter2"], "must not carry a password"),
    (["--runbook-args", "redis://:hunter2@db:6379"], "must not carry a password"),
    (["--runbook-args", "redis://ops:hunter2%25x@db:6379/0"], "must not carry a password"),
    (["--runbook-args", "redis://db:6379/0?password=hunter2"], "must not carry a password"),
    (["--runbook-args", "redis://:hunter2@[::1:6379"], "must not carry a password"),
    (["--runbook-args", "'unclosed"], "--runbook-args: No closing quotation"),
    (["--runbook-args", "--user {{ $labels.x }}"], "Go template delimiters"),
    (["--runbook-scheme", "http"], "Invalid value for '--runbook-scheme'"),
])
def test_bad_values_are_one_line_usage_errors(run: Run, args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err and "hunter2" not in err


def test_output_file_is_written_and_an_unwritable_one_is_one_line(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "redisguard.rules.yml"
    code, out, err = run("-o", str(target))
    assert code == 0 and out == "" and "wrote" in err
    assert target.read_text() == rules_yaml(AlertThresholds())
    assert list(tmp_path.iterdir()) == [target]
    code, _, err = run("-o", str(tmp_path / "missing" / "x.yml"))
    assert code == 2 and err.startswith("redisguard: cannot write") and len(err.splitlines()) == 1


def test_json_is_the_same_document(run: Run) -> None:
    _, as_yaml, _ = run()
    _, as_json, _ = run("--json")
    assert json.loads(as_json) == yaml.safe_load(as_yaml)


def test_check_names_every_metric_the_rules_use_is_defined_for_the_exporter(run: Run) -> None:
    code, out, _ = run("--check-names")
    assert code == 0 and out.startswith("ok: the rules use")
    used = metrics_used(AlertThresholds(noeviction_selector='job="x"'))
    assert undefined_metrics(AlertThresholds(noeviction_selector='job="x"')) == set()
    # the extraction sees the names (not label names or values) in the expressions
    assert {"redis_memory_used_bytes", "redis_mem_not_counted_for_eviction_bytes", "redis_instance_info",
            "redisguard_memory_seconds_to_limit", "redis_up"} <= used
    assert "maxmemory_policy" not in used and "allkeys" not in used
    assert used <= set(metric_names.BY_NAME)


@needs_promtool
def test_promtool_check_rules_accepts_the_file(run: Run, tmp_path: Path) -> None:
    assert PROMTOOL is not None
    for args in ([], ["--noeviction-selector", 'job=~"queue.*", env!="dev"'], ["--json"]):
        target = tmp_path / "rules.yml"
        assert run(*args, "-o", str(target))[0] == 0
        checked = subprocess.run([PROMTOOL, "check", "rules", str(target)], capture_output=True, text=True,
                                 timeout=60, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"SUCCESS: {len(rules(target.read_text()))} rules found" in checked.stdout
