"""``keys`` degrades column by column under ACL users: no PTTL, no TTL columns; no OBJECT, no encodings; no
DBSIZE, no progress total. Without SCAN or MEMORY USAGE it refuses in one line naming the rule to add."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from tests.keyspace_data import fill_known

from redisguard.cli import run as cli_run
from redisguard.localserver import LocalServer

PASSWORD = "pw-deg-123"


def _server(make_server: object, *rules: str) -> str:
    """A user with what a least-privilege monitoring user has (INFO included: discovery needs it), less ``rules``."""
    server: LocalServer = make_server(password="adminpw")  # type: ignore[operator]
    with server.client() as admin:
        fill_known(admin, per_pattern=40)
        admin.execute_command("ACL", "SETUSER", "limited", "on", f">{PASSWORD}", "~*", "+@read", "+@connection",
                              "+memory|usage", "+randomkey", "+info", *rules)
    return f"redis://limited:{PASSWORD}@127.0.0.1:{server.port}/0"


def _keys(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_run(["keys", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("rule", "column", "header"), [
    ("-pttl", "ttl", "no TTL"), ("-object", "encoding", "encodings"), ("-dbsize", "dbsize", None),
    ("-strlen", "length", None),
])
@pytest.mark.parametrize("mode", [[], ["--max-impact", "5"]], ids=["full", "impact"])
def test_a_denied_per_key_command_drops_its_column_only(make_server: object, rule: str, column: str,
                                                        header: str | None, mode: list[str]) -> None:
    """Both loops: the full scan's overlapped writes and --max-impact's batches built one ahead."""
    url = _server(make_server, rule)
    code, out, err = _keys(url, "--json", *mode)
    assert code == 0, err
    report = json.loads(out)
    assert any(item.startswith(f"{column}: denied by ACL") for item in report["not_visible"]), report["not_visible"]
    assert sum(row["keys"] for row in report["patterns"]) == 200  # every key still counted, with its bytes
    assert all(row["bytes"] > 0 for row in report["patterns"])
    if column == "encoding":
        assert all(set(row["encodings"]) == {"unknown"} for row in report["patterns"])
    if column == "length":  # the type still comes from the other length commands (or TYPE)
        assert {name for row in report["patterns"] for name in row["types"]} >= {"string", "hash", "list"}
    code, text, err = _keys(url)
    assert code == 0, err
    assert f"not visible: {column}: denied by ACL" in text
    if header is not None:
        assert header not in text
    assert PASSWORD not in out + text + err


def test_sampled_run_without_dbsize_scans_in_full(make_server: object) -> None:
    url = _server(make_server, "-dbsize")
    code, out, err = _keys(url, "--json", "--sample", "10")
    assert code == 0, err
    assert json.loads(out)["exact"] is True  # no population to scale a sample by: every key instead


@pytest.mark.parametrize(("rule", "needed", "grant"), [
    ("-memory", "MEMORY USAGE", "+memory|usage"), ("-scan", "SCAN", "+scan"),
])
def test_without_scan_or_memory_usage_it_refuses_in_one_line(make_server: object, rule: str, needed: str,
                                                             grant: str) -> None:
    url = _server(make_server, rule)
    code, out, err = _keys(url)
    assert code == 3
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert needed in lines[0] and f"ACL SETUSER limited {grant}" in lines[0]
    assert PASSWORD not in err
