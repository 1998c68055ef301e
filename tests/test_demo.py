"""The README's first command: `redisguard demo` replays the incident on its own Redis, diagnoses it, fixes
it, runs the load again through the guarded producer, writes the report, and stops its server (also when
interrupted halfway, by Ctrl-C or a closed terminal)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

DEMO = [sys.executable, "-m", "redisguard", "demo"]


def _server_pid(text: str) -> int:
    found = re.search(r"\(pid (\d+)\)", text)
    assert found is not None, text
    return int(found.group(1))


def _gone(pid: int) -> bool:
    if not psutil.pid_exists(pid):
        return True
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _run_within(args: list[str], cwd: Path, seconds: float) -> subprocess.CompletedProcess[str]:
    """Run the demo; past ``seconds`` interrupt it as a user would (Ctrl-C: it stops its own server) and
    fail with its narration so far, whose step headers carry their times (t=... s)."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    try:
        out, err = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        pytest.fail(f"the demo did not end within {seconds:.0f} s; its narration:\n{err[-6000:]}")
    return subprocess.CompletedProcess(args, process.returncode, out, err)


@pytest.mark.timeout(200)  # the demo's own bound below, then room to interrupt it and say where it was
def test_demo_tells_the_whole_story_and_stops_its_server(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = _run_within([*DEMO, "--json", "--report", str(report)], tmp_path, 120)  # "about a minute"
    assert result.returncode == 0, result.stderr[-3000:]
    story = json.loads(result.stdout)
    limit = story["server"]["maxmemory"]
    assert limit == 64 * 1024 * 1024
    # a) the incident: Redis full, writes refused with OOM, the naive producer's buffer left holding events.
    incident = story["incident"]
    assert incident["oom_replies"] > 0
    assert incident["max_used_memory"] >= 0.95 * limit  # at the limit when the flood stopped (OOM proves it too)
    assert incident["buffer_events"] > 0 and incident["buffer_peak_events"] >= incident["buffer_events"]
    assert incident["offered"] == incident["stored"] + incident["buffer_events"]  # what was not stored is held
    # b) the diagnosis names the noeviction backlog and the pending entries of the group, with what to run.
    doctor = story["doctor"]
    ids = {finding["id"] for finding in doctor["findings"]}
    assert {"eviction.noeviction-backlog", "streams.pending"} <= ids, ids
    assert doctor["exit_code"] == 2
    backlog = next(f for f in doctor["findings"] if f["id"] == "eviction.noeviction-backlog")
    assert any("redisguard trim firehose" in fix["command"] for fix in backlog["fixes"])
    # c) the indexers caught up, then `redisguard fix`: a dry run, then --apply, audited; memory freed.
    fix = story["fix"]
    assert fix["handled"] > 0 and fix["claimed"] > 0  # the dead consumer's entries were claimed and handled
    assert fix["dry_run_code"] == 0 and fix["apply_code"] == 0
    assert fix["used_after"] < fix["used_before"] / 2
    audit = Path(fix["audit"])
    assert audit.parent == tmp_path and fix["audit_entries"] == len(audit.read_text().splitlines()) >= 2
    assert "$ redisguard fix " in result.stderr and "--apply --yes --audit" in result.stderr
    assert "trim:firehose" in result.stderr
    # d) the same load through the library: no OOM, Redis under the gate, nothing lost, a bounded buffer.
    guarded = story["guarded"]
    assert guarded["oom_replies"] == 0
    assert 0 < guarded["max_used_memory"] < limit
    assert guarded["offered"] == guarded["written"] == guarded["handled"] > 0
    assert guarded["max_buffer_events"] <= 10_000  # the Producer's bound (max_buffer_events)
    assert guarded["paused_s"]["memory"] > 0  # the memory gate closed: that is what kept Redis under the limit
    # e) the report.
    assert story["report"] == str(report.resolve())
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "e) the report" in result.stderr and str(report.resolve()) in result.stderr
    assert "\x1b[" not in result.stderr  # not a terminal: plain text
    assert "demo redis-server stopped" in result.stderr
    pid = _server_pid(result.stderr)
    assert pid == story["server"]["pid"] and _gone(pid)


TICK = r"\s+\d+ s\s+Redis "  # a progress line of step a (the flood)
GUARDED = r"── d\)"  # the guarded replay starts


@pytest.mark.parametrize("signum, code, when", [(signal.SIGINT, 130, TICK), (signal.SIGHUP, 129, TICK),
                                                (signal.SIGINT, 130, GUARDED)])
def test_demo_interrupted_halfway_stops_its_server(tmp_path: Path, signum: int, code: int, when: str) -> None:
    process = subprocess.Popen([*DEMO, "--report", str(tmp_path / "r.html")], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    assert process.stdout is not None
    seen = []
    pid = None
    deadline = time.monotonic() + 90
    try:
        for line in process.stdout:  # wait until the demo is where this case interrupts it
            seen.append(line)
            if pid is None and "(pid " in line:
                pid = _server_pid(line)
            if re.match(when, line) or time.monotonic() > deadline:
                break
        assert pid is not None and psutil.pid_exists(pid), "".join(seen)
        process.send_signal(signum)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, "".join(seen) + rest
    assert "demo redis-server stopped" in rest
    assert "Traceback" not in rest
    assert _gone(pid)
