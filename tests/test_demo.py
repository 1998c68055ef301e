"""The README's first command: `redisguard demo` starts its own Redis, shows the incident, stops it."""

from __future__ import annotations

import json
import subprocess
import sys

import psutil


def test_demo_diagnoses_the_incident_and_stops_its_server() -> None:
    before = {p.pid for p in psutil.process_iter(["name"]) if "redis-server" in (p.info["name"] or "")}
    result = subprocess.run([sys.executable, "-m", "redisguard", "demo", "--json"], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    ids = {finding["id"] for finding in report["findings"]}
    assert report["exit_code"] == 2
    assert {"memory.used-high", "eviction.noeviction-backlog", "streams.pending",
            "streams.group-never-read", "keys.cache-without-ttl"} <= ids, ids
    assert "demo redis-server stopped" in result.stderr
    after = {p.pid for p in psutil.process_iter(["name"]) if "redis-server" in (p.info["name"] or "")}
    assert after <= before  # the demo's server is gone (other tests' servers may come and go)
