"""`streams` and `trim` under least-privilege users, renamed commands, replicas, hostile names and mistakes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import pytest
import redis
from tests.streams_data import two_group_stream

from redisguard.localserver import LocalServer

REDISGUARD = [sys.executable, "-m", "redisguard"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=120, check=False)


def _user(srv: LocalServer, client: redis.Redis, line: str, name: str = "u") -> str:
    """Create the user an `ACL SETUSER ...` line describes (password pw) and return its URL."""
    words = line.replace("<password>", "pw").split()
    assert words[:2] == ["ACL", "SETUSER"]
    client.execute_command("ACL", "SETUSER", name, *words[3:])
    return f"redis://{name}:pw@127.0.0.1:{srv.port}/0"


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_the_acl_line_for_trim_is_enough_to_trim(make_server) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    ids = two_group_stream(client)
    line = run_cli("acl", "--for", "trim", "--keys", "events*").stdout.strip()
    assert "+xtrim" in line and "~events*" in line and "+config" not in line and "+flushall" not in line
    url = _user(srv, client, line, "trimmer")
    dry = run_cli("trim", "events", url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would free 40 entries" in dry.stdout
    done = run_cli("trim", "events", url, "--exact", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["trimmed"] == 40
    assert client.xrange("events", count=1)[0][0].decode() == ids[40]
    client.close()


def test_trim_answers_every_mistake_in_one_line(make_server) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    two_group_stream(client)
    two_group_stream(client, "private")
    client.set("plain", "v")
    _one_line_error(run_cli("trim", "plain", srv.url), 2, "not a stream")
    _one_line_error(run_cli("trim", "nope", srv.url), 2, "no stream named nope")
    _one_line_error(run_cli("trim", "events", srv.url, "--drop-unprocessed", "--minid", "abc"), 2, "not a stream id")
    _one_line_error(run_cli("trim", "events", srv.url, "--drop-unprocessed", "--minid", f"{2**64}-0"), 2,
                    "at most 18446744073709551615")
    _one_line_error(run_cli("trim", "events", srv.url, "--maxlen", "5"), 2, "--drop-unprocessed")
    trimmer = _user(srv, client, run_cli("acl", "--for", "trim", "--keys", "events*").stdout.strip(), "trimmer")
    _one_line_error(run_cli("trim", "private", trimmer), 2, "outside the key patterns")
    reader = _user(srv, client, run_cli("acl").stdout.strip(), "reader")  # the diagnosis user: no writes
    _one_line_error(run_cli("trim", "events", reader, "--exact"), 3, "permission denied", "acl --for trim")
    assert client.xlen("events") == 100 and client.xlen("private") == 100  # nothing was trimmed
    assert "pw" not in run_cli("trim", "events", reader).stderr  # never a password in an error line
    client.close()


def test_streams_never_says_none_found_when_it_could_not_look(make_server) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    two_group_stream(client)
    no_scan = _user(srv, client, "ACL SETUSER x reset on ><password> ~* resetchannels +@all -scan", "noscan")
    result = run_cli("streams", no_scan)
    assert result.returncode == 1, result.stderr
    assert "No streams found" not in result.stdout and "Could not list the streams" in result.stdout
    report = json.loads(run_cli("streams", no_scan, "--json").stdout)
    assert report["complete"] is False and report["streams"] == []
    assert any(row["what"] == "SCAN TYPE stream" for row in report["not_visible"])
    no_xinfo = _user(srv, client, "ACL SETUSER x reset on ><password> ~* resetchannels +@all -xinfo", "noxinfo")
    result = run_cli("streams", no_xinfo)
    assert result.returncode == 1, result.stderr
    assert "No streams found" not in result.stdout and "events" in result.stdout and "not visible" in result.stdout
    assert json.loads(run_cli("streams", no_xinfo, "--json").stdout)["unreadable"][0]["key"] == "events"
    client.close()


def test_streams_with_scan_renamed(make_server) -> None:
    srv: LocalServer = make_server(rename_command=["SCAN", "SCAN_RENAMED_BY_OPS"])
    client = srv.client()
    two_group_stream(client)
    result = run_cli("streams", srv.url)
    assert result.returncode == 1, result.stderr
    assert "No streams found" not in result.stdout and "renamed" in result.stdout
    client.close()


def test_streams_on_a_replica_that_has_streams(make_server) -> None:
    primary: LocalServer = make_server()
    with primary.client() as client:
        two_group_stream(client)
    replica: LocalServer = make_server(replicaof=["127.0.0.1", str(primary.port)])
    with replica.client() as client:
        for _ in range(200):
            if client.exists("events") and client.xlen("events") == 100:
                break
            time.sleep(0.05)
        assert client.xlen("events") == 100, "the replica did not sync"
    result = run_cli("streams", replica.url)
    assert result.returncode == 0, result.stderr
    assert "No streams found" not in result.stdout and "events" in result.stdout
    assert "Read from a replica" in result.stdout
    report = json.loads(run_cli("streams", replica.url, "--json").stdout)
    assert report["read_from_replica"] is True and report["streams"][0]["entries_safe_to_trim"] == 40


@pytest.mark.parametrize("as_json", [False, True], ids=["terminal", "json"])
def test_hostile_names_never_crash_and_are_escaped(make_server, as_json: bool) -> None:
    srv: LocalServer = make_server()
    client = srv.client()
    key = b"ev\xff[/]\x1b[2J"
    group = "[bold red]g[/bold red]\x1b[31m\n[/]"
    client.xadd(key, {"n": "1"})
    client.xgroup_create(key, group, id="0")
    client.xreadgroup(group, "c\r\n[link=file:///etc/passwd]x[/link]", {key: ">"})
    result = run_cli("streams", srv.url, *(["--json"] if as_json else []))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "\x1b" not in result.stdout
    if as_json:
        row = json.loads(result.stdout)["streams"][0]
        assert base64.b64decode(row["key_b64"]) == key  # exact bytes, readable by jq and any language
        assert row["groups"][0]["name"] == group  # valid UTF-8: exact, JSON escapes the control characters
    else:
        assert "ev\\xff[/]\\x1b[2J" in result.stdout  # shown escaped, markup printed literally
        assert "[bold red]g[/bold red]\\x1b[31m\\n[/]" in result.stdout
    dry = run_cli("trim", key.decode("utf-8", "surrogateescape"), srv.url, "--dry-run")
    assert dry.returncode == 0 and "\x1b" not in dry.stdout, dry.stderr
    client.close()
