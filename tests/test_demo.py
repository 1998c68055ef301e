"""The README's first command: `redisguard demo` starts its own Redis, shows the incident, stops it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import psutil


def test_demo_diagnoses_the_incident_and_stops_its_server() -> None:
    result = subprocess.run([sys.executable, "-m", "redisguard", "demo", "--json"], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    ids = {finding["id"] for finding in report["findings"]}
    assert report["exit_code"] == 2
    assert {"memory.used-high", "eviction.noeviction-backlog", "streams.pending",
            "streams.group-never-read", "keys.cache-without-ttl"} <= ids, ids
    assert "demo redis-server stopped" in result.stderr
    pid = re.search(r"\(pid (\d+)\)", result.stderr)
    assert pid is not None, result.stderr
    assert not psutil.pid_exists(int(pid.group(1)))  # the demo stopped the server it started
