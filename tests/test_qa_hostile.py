"""QA pass: hostile and huge server-supplied names through `redisguard fix` (dry run) on a real server.

A 10 kB stream / group / consumer name must reach the JSON plan whole, and never make a terminal line
of prose unbounded (only the `run:` command lines carry it whole, to be pasted)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from redisguard.cli import run as cli_run
from redisguard.keynames import TERMINAL_LIMIT

Run = Callable[..., tuple[int, str, str]]
LONG_STREAM = "s:" + "L" * 10_000
LONG_GROUP = "g" * 10_000
LONG_CONSUMER = "c" * 10_000


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli_run(list(args))
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


def test_fix_plan_bounds_huge_names_on_the_terminal_and_keeps_them_whole_in_json(make_server, run: Run) -> None:
    server = make_server(maxmemory="20mb")
    client = server.client()
    for _ in range(20):
        client.xadd(LONG_STREAM, {"f": "v"})
    client.xgroup_create(LONG_STREAM, LONG_GROUP, id="0")
    client.xreadgroup(LONG_GROUP, LONG_CONSUMER, {LONG_STREAM: ">"}, count=5)  # pending: pins the safe point
    args = ("fix", "--consumer-idle", "0", "--key-sample", "0", "--claim-to", "[bold]x[/]", server.url)
    code, out, err = run(*args)
    assert code == 0, err
    assert "pinned by group" in out and "--claim-to [bold]x[/] is not a live consumer" in out
    prose = [line for line in out.splitlines() if not line.lstrip().startswith("run:")]
    longest = max(len(line) for line in prose)
    assert longest < 4 * TERMINAL_LIMIT + 300, f"a {longest}-character line of prose"
    assert "chars)" in out  # says how much of each name was left out
    code, out, err = run(*args[:-1], "--json", server.url)
    assert code == 0, err
    plan = json.loads(out)
    whole = json.dumps(plan)
    assert LONG_STREAM in whole and LONG_GROUP in whole  # the JSON is lossless


def test_undo_of_a_file_that_is_no_audit_log_is_refused_in_one_line(make_server, run: Run, tmp_path: Path) -> None:
    server = make_server()
    not_a_log = tmp_path / "plan.json"
    not_a_log.write_text('{"actions": []}\n{bad\n')
    audit = tmp_path / "undo.jsonl"
    code, out, err = run("fix", "--undo", str(not_a_log), "--audit", str(audit), server.url)
    assert code == 2 and out == ""
    assert err.startswith("redisguard: --undo") and "not an audit log" in err and len(err.splitlines()) == 1
    assert not audit.exists()  # nothing was run, so nothing to audit


def _wait_for_batches(audit: Path, count: int) -> None:
    """Until the audit log shows ``count`` commands done (bounded: 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if audit.exists() and audit.read_text().count('"phase": "after"') >= count:
            return
        time.sleep(0.05)


@pytest.mark.parametrize("fault", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stopped"])
def test_server_lost_mid_apply_is_exit_3_with_a_complete_audit_log(make_server, tmp_path: Path,
                                                                  fault: signal.Signals) -> None:
    server = make_server()
    client = server.client()
    with client.pipeline(transaction=False) as pipe:
        for i in range(60_000):
            pipe.set(f"session:{i}", "x")
        pipe.execute()
    audit = tmp_path / "audit.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "redisguard", "fix", "--apply", "--yes", "--workload", "store", "--key-sample", "0",
         "--expire-pattern", "session:*", "--only", "expire", "--max-impact", "0.05", "--timeout", "2",
         "--audit", str(audit), server.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = server.process.pid
    try:
        _wait_for_batches(audit, 5)
        os.kill(pid, fault)  # the server we started, by its PID, while the expire batches run
        out, err = proc.communicate(timeout=60)
    finally:
        if fault == signal.SIGSTOP:
            os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, (out, err)
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("redisguard: ") and "lost the server" in err.splitlines()[-1]
    failed = [line for line in err.splitlines() if line.startswith("failed: expire:session:*")]
    said = "lost the connection (" if fault == signal.SIGKILL else "no reply before the timeout ("
    assert len(failed) == 1 and said in failed[0] and "Error:" not in failed[0], err  # the user's words, not a class
    records = [json.loads(line) for line in audit.read_text().splitlines()]  # every line is whole JSON
    assert records[0]["event"] == "start" and records[-1]["event"] == "end" and records[-1]["failed"] is True
    assert "expire:session:*" in records[-1]["not_done"]


REDIS_EXPORTER_ACL = ["-@all", "+client", "+ping", "+info", "+config|get", "+cluster|info", "+slowlog", "+latency",
                      "+memory", "+select", "+get", "+scan", "+xinfo", "+type", "+pfcount", "+strlen", "+llen",
                      "+scard", "+zcard", "+hlen", "+xlen", "+eval"]  # its README's minimal ACL: no XRANGE


def test_fix_dry_run_under_redis_exporters_acl_plans_instead_of_failing(make_server, run: Run) -> None:
    server = make_server(maxmemory="20mb")
    client = server.client()
    for _ in range(50):
        client.xadd("jobs", {"f": "v" * 100})
    client.xgroup_create("jobs", "workers", id="0")
    client.execute_command("ACL", "SETUSER", "exporter", "reset", "on", ">exp-secret", "~*", "&*",
                           *REDIS_EXPORTER_ACL)
    url = f"redis://exporter:exp-secret@127.0.0.1:{server.port}/0"
    code, out, err = run("fix", "--key-sample", "0", url)
    assert code == 0, err
    assert out.startswith("Plan for redis://exporter:***@") and "exp-secret" not in out + err
