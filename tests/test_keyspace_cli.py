"""``redisguard keys`` end to end: JSON, CSV, exit codes, and the same numbers as redis-cli --memkeys."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from tests.keyspace_data import KNOWN_PATTERNS, fill_known

from redisguard.cli import run as cli_run
from redisguard.keynames import quote_cli
from redisguard.localserver import LocalServer, free_port


def run(*args: str) -> tuple[int, str, str]:
    """Through the entry point, which maps errors to one line and an exit code once for every command."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_run(["keys", *args])
    return code, out.getvalue(), err.getvalue()


def test_json_report(server: LocalServer) -> None:
    with server.client() as admin:
        fill_known(admin, per_pattern=30)
        admin.set(b"odd:\xff\x00", "v" * 5000)
    code, out, _ = run(server.url, "--json", "--sort", "count")
    assert code == 0
    report = json.loads(out)
    assert report["exact"] is True and report["keyspace_size"] == 151
    patterns = [row["pattern"] for row in report["patterns"]]
    assert set(KNOWN_PATTERNS) <= set(patterns)
    counts = [row["keys"] for row in report["patterns"]]
    assert counts == sorted(counts, reverse=True)
    assert "\\udcff" in out  # the non-UTF-8 byte survives JSON losslessly (surrogateescape)
    assert set(report["big_keys"]) == {"string", "hash", "list", "set", "zset"}


def test_csv_report(server: LocalServer) -> None:
    with server.client() as admin:
        fill_known(admin, per_pattern=20)
    code, out, _ = run(server.url, "--csv", "--sort", "no-ttl")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {row["pattern"] for row in rows} == set(KNOWN_PATTERNS)
    assert all(int(row["keys"]) == 20 for row in rows)
    assert rows[-1]["pattern"] == "session:*"  # every session has a TTL: last when sorted by no-TTL share


def test_sampled_json_has_intervals(server: LocalServer) -> None:
    with server.client() as admin:
        fill_known(admin, per_pattern=100)
    code, out, _ = run(server.url, "--json", "--sample", "200")
    assert code == 0
    report = json.loads(out)
    assert report["exact"] is False and report["seen"] == 200
    for row in report["patterns"]:
        assert row["keys_low"] <= row["keys"] <= row["keys_high"]
        assert row["bytes_low"] <= row["bytes"] <= row["bytes_high"]


def test_terminal_table_escapes_key_names(server: LocalServer) -> None:
    with server.client() as admin:
        admin.set(b"evil:\x1b[31m[bold]x", "v" * 500)
    code, out, _ = run(server.url)
    assert code == 0
    assert "\x1b[31m" not in out
    assert "\\x1b" in out


def test_cannot_connect_is_exit_3() -> None:
    code, _, err = run(f"redis://127.0.0.1:{free_port()}/0", "--connect-timeout", "1")
    assert code == 3
    assert "cannot connect" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_usage_is_exit_2(server: LocalServer) -> None:
    assert run(server.url, "--json", "--csv")[0] == 2
    assert run(server.url, "--budget", "soon")[0] == 2
    assert run(server.url, "--pattern", "a:*", "--sample", "10")[0] == 2
    assert run("not a url at all://x")[0] in (2, 3)


def test_user_without_memory_usage_gets_one_line_exit_3(make_server: object) -> None:
    server = make_server(password="adminpw")  # type: ignore[operator]
    with server.client() as admin:
        admin.set("k", "v")
        admin.execute_command("ACL", "SETUSER", "limited", "on", ">pw", "~*", "+@read", "+@connection", "-memory")
    code, _, err = run(f"redis://limited:pw@127.0.0.1:{server.port}/0")
    assert code == 3
    assert "may not run" in err and "pw" not in err.replace("pw@", "")


_BIGGEST = re.compile(r"^Biggest\s+(\w+) found '(.*)' has (\d+) bytes$", re.MULTILINE)
_TOTALS = re.compile(r"^(\d+) (\w+)s with (\d+) bytes", re.MULTILINE)


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_same_numbers_as_redis_cli_memkeys(server: LocalServer) -> None:
    with server.client() as admin:
        fill_known(admin, per_pattern=60)
        admin.set(b"bin\xff key", "y" * 3000)
    memkeys = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--memkeys"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    code, out, _ = run(server.url, "--json")
    assert code == 0
    report = json.loads(out)
    biggest = _BIGGEST.findall(memkeys)
    assert len(biggest) == 5
    for typ, key, size in biggest:
        top = report["big_keys"][typ][0]
        assert top["bytes"] == int(size)  # (ties: redis-cli names the first it met, so compare sizes)
        if typ == "string":  # unique biggest, with a name needing quotes: shown exactly as redis-cli does
            assert quote_cli(top["key"]) == key == '"bin\\xff key"'

    bytes_by_type: dict[str, int] = {}
    count_by_type: dict[str, int] = {}
    for row in report["patterns"]:
        for typ, count in row["types"].items():
            count_by_type[typ] = count_by_type.get(typ, 0) + count
    for count, typ, size in _TOTALS.findall(memkeys):
        if int(count):
            assert count_by_type[typ] == int(count)
            bytes_by_type[typ] = int(size)
    # the whole-keyspace byte total equals redis-cli's sum over types
    assert report["total_bytes"] == sum(bytes_by_type.values())


def test_renamed_memory_command_is_one_line_exit_3(make_server: object) -> None:
    server = make_server(rename_command=["MEMORY", "MEMORY-x7"])  # type: ignore[operator]
    with server.client() as admin:
        admin.set("k", "v")
    code, _, err = run(server.url)
    assert code == 3
    assert "refused a command the scan needs" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", [[], ["--sample", "50"], ["--max-impact", "1"]], ids=["full", "sample", "impact"])
def test_least_privilege_user_may_run_every_mode(make_server: object, mode: list[str]) -> None:
    """The `redisguard acl` user runs keys in each mode without a single ACL denial."""
    from redisguard.connect.acl import acl_setuser_line

    server = make_server(password="adminpw")  # type: ignore[operator]
    with server.client() as admin:
        fill_known(admin, per_pattern=40)
        admin.execute_command(*acl_setuser_line("diag", password="diag-pw").split())
        admin.execute_command("ACL", "LOG", "RESET")
        code, out, err = run(f"redis://diag:diag-pw@127.0.0.1:{server.port}/0", "--json", *mode)
        assert code == 0, err
        report = json.loads(out)
        assert report["seen"] == (50 if mode[:1] == ["--sample"] else 200)
        assert all(row["avg_length"] is not None for row in report["patterns"])
        assert admin.acl_log() == []


def _niceness(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[16])  # field 19, nice


def test_the_command_scans_at_a_lower_cpu_priority_and_a_caller_keeps_its_own(server: LocalServer) -> None:
    """``redisguard keys`` (its own process) runs at nice 10, so a server sharing its host comes first; a
    program that runs the command line in its own process (``redisguard.cli.run``) keeps its priority."""
    with server.client() as admin:
        fill_known(admin, per_pattern=30)
        before = os.nice(0)
        code, out, _ = run(server.url, "--json")
        assert code == 0 and json.loads(out)["keyspace_size"] == 150
        assert os.nice(0) == before  # in-process: untouched
        for start in range(0, 200_000, 10_000):  # a scan that lasts long enough to be looked at
            admin.mset({f"bulk:{n}": "v" for n in range(start, start + 10_000)})
    proc = subprocess.Popen([sys.executable, "-m", "redisguard", "keys", server.url, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = before
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and seen == before:
            with contextlib.suppress(OSError):  # it may have just exited
                seen = _niceness(proc.pid)
            time.sleep(0.005)
    finally:
        stdout, stderr = proc.communicate(timeout=120)
    assert seen == max(before, 10)
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["keyspace_size"] == 200_150
