"""Valkey is named Valkey with its own version (never the redis_version:7.2.4 it reports), everywhere; version
gates go by flavour and version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redisguard.localserver import LocalServer, RedisBinary
from redisguard.snapshot import ServerVersion, load

REDISGUARD = [sys.executable, "-m", "redisguard"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=120, check=False)


VALKEY_INFO = {"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.8"}


def test_valkey_is_named_from_server_name_and_valkey_version() -> None:
    server = ServerVersion.from_info(VALKEY_INFO)
    assert (server.flavour, server.text, server.version, server.title) == ("valkey", "8.1.8", (8, 1, 8),
                                                                             "Valkey 8.1.8")
    assert server.redis_compatible == (7, 2, 4)
    redis8 = ServerVersion.from_info({"redis_version": "8.2.3"})
    assert (redis8.flavour, redis8.title) == ("redis", "Redis 8.2.3")
    unknown = ServerVersion.from_info({})
    assert (unknown.flavour, unknown.version, unknown.title) == ("unknown", (), "server version not visible")


def test_version_text_from_the_server_is_not_trusted() -> None:
    hostile = ServerVersion.from_info({"redis_version": "7.0.0[red]\x1b[2J$(reboot)"})
    assert hostile.text == "unknown"
    assert "reboot" not in hostile.title and "\x1b" not in hostile.title
    long_valkey = ServerVersion.from_info({"server_name": "valkey", "valkey_version": "9" * 500})
    assert long_valkey.title == "Valkey version not visible"


@pytest.mark.parametrize(
    ("info", "gate", "expected"),
    [
        ({"redis_version": "7.0.15"}, {"redis": (7, 0)}, True),
        ({"redis_version": "6.2.5"}, {"redis": (7, 0)}, False),
        ({"redis_version": "8.2.3"}, {"redis": (8, 2, 3)}, True),
        ({"redis_version": "8.2.3"}, {"redis": (8, 2, 7)}, False),
        # Valkey has what Redis had by the fork (7.2.4), whatever its redis_version says...
        (VALKEY_INFO, {"redis": (7, 0)}, True),
        # ...but not a later Redis feature, unless Valkey added it (said with valkey=)
        (VALKEY_INFO, {"redis": (7, 4)}, False),
        (VALKEY_INFO, {"redis": (8, 2), "valkey": (9, 2)}, False),
        ({**VALKEY_INFO, "valkey_version": "9.2.0"}, {"redis": (8, 2), "valkey": (9, 2)}, True),
        # a Redis gate never opens on Valkey's number, nor a Valkey gate on Redis's
        ({"redis_version": "9.9.9"}, {"valkey": (9, 0)}, False),
        ({}, {"redis": (6, 0)}, False),  # unknown version: the portable path
    ],
)
def test_version_gates_go_by_flavour_and_version(info: dict[str, str], gate: dict[str, tuple[int, ...]],
                                                 expected: bool) -> None:
    assert ServerVersion.from_info(info).at_least(**gate) is expected


def test_every_report_names_the_server_it_ran_on(make_server, redis_binary: RedisBinary, tmp_path: Path) -> None:
    """doctor's terminal, JSON and Markdown reports and the snapshot file name the server and its own version."""
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        client.set("k", "v")
    title = redis_binary.title  # "Valkey 8.1.8", "Redis 8.2.3": from the binary's --version, not from INFO
    report = json.loads(run_cli("doctor", srv.url, "--json", "--key-sample", "0").stdout)
    node = report["nodes"][0]
    assert (node["server"], node["version"], node["server_title"]) == (redis_binary.flavour,
                                                                       redis_binary.version_text, title)
    terminal = run_cli("doctor", srv.url, "--key-sample", "0").stdout
    markdown = run_cli("doctor", srv.url, "--markdown", "--key-sample", "0").stdout
    assert title in terminal
    assert title in markdown
    if redis_binary.flavour == "valkey":
        for text in (terminal, markdown):
            assert "Redis 7.2.4" not in text
    out = tmp_path / "snap.json"
    saved = run_cli("snapshot", srv.url, "-o", str(out), "--key-sample", "0")
    assert saved.returncode == 0, saved.stderr
    raw_node = json.loads(out.read_text())["nodes"][0]
    assert raw_node["version"] == redis_binary.version_text
    loaded = load(out).nodes[0]
    assert (loaded.server.flavour, loaded.server.title) == (redis_binary.flavour, title)
    offline = run_cli("doctor", "--from", str(out), "--markdown")
    assert title in offline.stdout
    keys = run_cli("keys", srv.url, "--json")
    assert keys.returncode == 0, keys.stderr
    assert [node["server"] for node in json.loads(keys.stdout)["nodes"]] == [title]
    assert title in run_cli("keys", srv.url).stdout
