"""`promtool test rules` on the generated rules file: every alert fires where it must and not where it must not.

The unit tests are kept in tests/promtool/*.yml (hand-written series with known answers); the rules file
they load is written here by `redisguard alerts`, so they test what users get. One more unit test is built
from :mod:`redisguard.forecast` itself: the gauge an exporter would export, minute by minute, for a sawtooth
(must not fire) and for steady growth (must fire, with the time the forecast gives).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from redisguard.alerting import AlertThresholds, build_alerts
from redisguard.cli import run as cli_run
from redisguard.forecast import History, forecast

HERE = Path(__file__).parent / "promtool"
PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (./dev.sh setup installs it)")

SELECTOR_ARGS = ["--noeviction-selector", 'job="queues"', "--memory-warning", "0.6", "--memory-critical", "0.7"]
RUNBOOK_ARGS = ["--runbook-scheme", "rediss", "--runbook-args", "--tls-ca '/etc/redis/my ca.pem' --user ops"]
MB = 1_000_000
LIMIT = 1000 * MB


def write_rules(directory: Path) -> None:
    for name, args in (("redisguard.rules.yml", []), ("redisguard.selector.rules.yml", SELECTOR_ARGS),
                       ("redisguard.runbook.rules.yml", RUNBOOK_ARGS)):
        assert cli_run(["alerts", *args, "-o", str(directory / name)]) == 0


def promtool_test(directory: Path, files: list[str]) -> str:
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, "test", "rules", *files], cwd=directory, capture_output=True, text=True,
                          timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.count("SUCCESS") == len(files), output
    return output


def test_the_kept_unit_tests_pass_and_make_every_alert_fire(tmp_path: Path) -> None:
    files = sorted(path.name for path in HERE.glob("*.yml"))
    assert len(files) >= 6
    for name in files:
        shutil.copy(HERE / name, tmp_path / name)
    write_rules(tmp_path)
    promtool_test(tmp_path, files)
    fired: set[str] = set()
    silent_checks: set[str] = set()
    for name in files:
        for test in yaml.safe_load((HERE / name).read_text())["tests"]:
            for case in test["alert_rule_test"]:
                (fired if case["exp_alerts"] else silent_checks).add(case["alertname"])
                for alert in case["exp_alerts"]:
                    runbook = alert["exp_annotations"]["runbook"]
                    words = shlex.split(runbook)   # one shell word per argument, whatever the labels held
                    assert words[:2] in (["redisguard", "doctor"], ["redisguard", "streams"])
                    url, extra = words[2], words[3:]
                    instance = alert["exp_labels"]["instance"]
                    scheme = "rediss" if extra else "redis"
                    assert url == (instance if "://" in instance else f"{scheme}://{instance}")
                    assert extra in ([], ["--tls-ca", "/etc/redis/my ca.pem", "--user", "ops"])
    assert fired == {alert.name for alert in build_alerts(AlertThresholds())}
    assert {"RedisMemoryHigh", "RedisMemoryFullSoon", "RedisDown"} <= silent_checks


def _gauge_series(times: list[float], values: list[float | None]) -> str:
    """promtool notation: a number per minute, '_' before any value, 'stale' once a value disappears."""
    out, seen = [], False
    for value in values:
        if value is None:
            out.append("stale" if seen else "_")
            seen = False
        else:
            out.append(repr(value))
            seen = True
    assert len(out) == len(times)
    return " ".join(out)


def _exported(samples: list[tuple[float, int]], policy: str) -> tuple[list[float], list[float | None], list[int]]:
    """What an exporter scraped every 15 s would export once a minute: the estimate (or absent), used memory."""
    history = History(window_seconds=3600)
    minutes, estimates, used = [], [], []
    for index, (t, value) in enumerate(samples):
        history.add(t, value)
        if index % 4 == 0:
            result = forecast(history.samples(), LIMIT, policy)
            minutes.append(t)
            estimates.append(None if result is None else result.seconds_to_limit)
            used.append(value)
    return minutes, estimates, used


def _unit_test(series: dict[str, str], checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rule_files": ["redisguard.rules.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m",
                       "input_series": [{"series": name, "values": values} for name, values in series.items()],
                       "alert_rule_test": checks}]}


def _naive_predict_linear_fires(samples: list[tuple[float, int]], window: int, horizon: float) -> bool:
    """predict_linear(counted[10m], 6h) > maxmemory at some minute: least squares over the last ``window``."""
    for end in range(window, len(samples), 4):
        chunk = samples[end - window:end]
        n = len(chunk)
        mean_t = sum(t for t, _ in chunk) / n
        mean_v = sum(v for _, v in chunk) / n
        slope = sum((t - mean_t) * (v - mean_v) for t, v in chunk) / sum((t - mean_t) ** 2 for t, _ in chunk)
        at_end = mean_v + slope * (chunk[-1][0] - mean_t)
        if at_end + slope * horizon > LIMIT:
            return True
    return False


def test_a_sawtooth_does_not_fire_the_forecast_alert_and_steady_growth_does(tmp_path: Path) -> None:
    start = 1.7e9
    # Every 15 s for 3 h. Sawtooth: +40 MB/min for 10 min then expiry takes it back (lows flat at 350 MB,
    # peaks 750 MB: 75 %). Growth: 700 MB + 20 kB/s under allkeys-lru.
    sawtooth = [(start + 15 * i, 350 * MB + (i % 40) * 10 * MB) for i in range(720)]
    growth = [(start + 15 * i, 700 * MB + 20_000 * 15 * i) for i in range(720)]
    # the trap is real: a 10-minute predict_linear over this sawtooth does forecast a full Redis within 6 h
    assert _naive_predict_linear_fires(sawtooth, window=40, horizon=6 * 3600)
    minutes, saw_estimates, saw_used = _exported(sawtooth, "noeviction")
    # Only the first tooth (before any drop) looks like growth, for fewer minutes than the alerts' "for";
    # from the first drop on, there is no forecast at all.
    early = [minute for minute, value in enumerate(saw_estimates) if value is not None]
    assert early and max(early) < 10 and len(early) < 10
    _, grow_estimates, _ = _exported(growth, "allkeys-lru")
    assert all(value is not None for value in grow_estimates[3:])
    at_30m = grow_estimates[30]
    assert at_30m == 13_200.0   # (1000 MB - (700 MB + 20 kB/s * 1800 s)) / 20 kB/s: exact on exact data

    def gauge(instance: str) -> str:
        return f'redisguard_memory_seconds_to_limit{{instance="{instance}",bound="estimate"}}'

    series = {
        gauge("saw:6379"): _gauge_series(minutes, saw_estimates),
        'redis_memory_used_bytes{instance="saw:6379"}': " ".join(map(str, saw_used)),
        'redis_memory_max_bytes{instance="saw:6379"}': f"{LIMIT}x{len(minutes) - 1}",
        'redis_instance_info{instance="saw:6379",maxmemory_policy="noeviction"}': f"1x{len(minutes) - 1}",
        gauge("grow:6379"): _gauge_series(minutes, grow_estimates),
        'redis_instance_info{instance="grow:6379",maxmemory_policy="allkeys-lru"}': f"1x{len(minutes) - 1}",
    }
    soon = {"exp_labels": {"severity": "warning", "consequence": "evictions", "instance": "grow:6379",
                           "bound": "estimate"},
            "exp_annotations": {
                "summary": "grow:6379 reaches maxmemory in 3h 40m 0s at its current growth rate, then evictions",
                "runbook": "redisguard doctor 'redis://grow:6379'"}}
    checks: list[dict[str, Any]] = [{"eval_time": "30m", "alertname": "RedisMemoryFullSoon", "exp_alerts": [soon]}]
    for minute in ("10m", "13m", "16m", "20m", "45m", "90m", "150m", "179m"):
        checks += [{"eval_time": minute, "alertname": name, "exp_alerts": []}
                   for name in ("RedisMemoryFullImminent", "RedisMemoryHigh", "RedisMemoryCritical")]
    # growth has a forecast from minute 3: Soon fires once it has held 15 min, and not before
    checks += [{"eval_time": minute, "alertname": "RedisMemoryFullSoon", "exp_alerts": []}
               for minute in ("10m", "13m", "16m")]
    for minute in ("20m", "45m", "90m", "150m", "179m"):
        checks.append({"eval_time": minute, "alertname": "RedisMemoryFullSoon",
                       "exp_alerts": [{**soon, "exp_annotations": {**soon["exp_annotations"],
                                                                   "summary": _summary_at(minute, grow_estimates)}}]})
    (tmp_path / "forecast_from_samples.yml").write_text(yaml.safe_dump(_unit_test(series, checks), sort_keys=False))
    write_rules(tmp_path)
    promtool_test(tmp_path, ["forecast_from_samples.yml"])


def _summary_at(minute: str, estimates: list[float | None]) -> str:
    value = estimates[int(minute.removesuffix("m"))]
    assert value is not None
    whole = int(value)
    hours, minutes, seconds = whole // 3600, whole // 60 % 60, whole % 60   # Prometheus's humanizeDuration
    return (f"grow:6379 reaches maxmemory in {hours}h {minutes}m {seconds}s at its current growth rate, "
            "then evictions")


@pytest.mark.parametrize(("args", "alert"), [
    (["--memory-warning", "0.3"], "RedisMemoryHigh"),                         # e:6379 at 50 %
    (["--memory-warning", "0.3", "--memory-critical", "0.84"], "RedisMemoryCritical"),   # a:6379 at 85 %
    (["--forecast-warning", "10h"], "RedisMemoryFullSoon"),                   # far:6379, 8 h 20 min away
    (["--forecast-critical", "3h"], "RedisMemoryFullImminent"),               # v:6379 and u:6379, 2 h 47 min
    (["--fragmentation-ratio", "1.1"], "RedisFragmentationHigh"),             # big:6379, ratio 1.2
    (["--fragmentation-bytes", "10mb"], "RedisFragmentationHigh"),            # small:6379, 30 MB
    (["--stream-lag", "10"], "RedisStreamLagHigh"),                           # billing, lag 20
    (["--stream-pending", "1"], "RedisStreamPendingHigh"),                    # billing, 5 pending
    (["--pending-age", "1s"], "RedisStreamPendingOld"),                       # billing, 3 s old
    (["--dead-consumer-idle", "30s"], "RedisStreamDeadConsumer"),             # billing, idle 60 s
    (["--clients-share", "0.4"], "RedisClientsNearMax"),                      # ok:6379 at 50 %
])
def test_each_threshold_is_pinned_by_a_case_that_must_not_fire(tmp_path: Path, args: list[str], alert: str) -> None:
    """Loosen one threshold past a look-alike in the kept tests: that alert must then fail them."""
    files = sorted(path.name for path in HERE.glob("*.yml")
                   if yaml.safe_load(path.read_text())["rule_files"] == ["redisguard.rules.yml"])
    for name in files:
        shutil.copy(HERE / name, tmp_path / name)
    assert cli_run(["alerts", *args, "-o", str(tmp_path / "redisguard.rules.yml")]) == 0
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, "test", "rules", *files], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0
    assert f"alertname: {alert}," in done.stdout + done.stderr
