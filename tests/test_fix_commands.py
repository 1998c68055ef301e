"""Every printed fix command is safe to paste: a real ``sh -c`` runs it in a sandbox against a real server.

Hostile stream, group, consumer and key names (command substitution, backticks, ``;``, quotes,
newlines, invalid UTF-8, a leading dash, printf directives) go through collect → rules → the printed
command. Running each printed line must create no file, and the program must receive exactly the
intended argv: ``redis-cli``'s commands are read back from SLOWLOG (exact bytes), ``redisguard``'s
argv is recorded by a stand-in on PATH (what the shell passed is what this test is about).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from rich.console import Console

from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions
from redisguard.keynames import to_bytes, to_text
from redisguard.keyspace import doctor_key_sampler
from redisguard.localserver import LocalServer
from redisguard.render import doctor_to_dict, render_doctor_markdown, render_doctor_terminal
from redisguard.rules import CommandContext, Fix, FixKind, Thresholds, diagnose, shell_line
from redisguard.rules.commands import node_url

MARK = f"rg-pwned-{uuid.uuid4().hex[:8]}"
HOSTILE: list[bytes] = [
    f"$(touch {MARK}-1)".encode(),
    f"`touch {MARK}-2`".encode(),
    f"a;touch {MARK}-3;b".encode(),
    f"q'\"$(touch /tmp/{MARK}-4)\"'".encode(),
    f"nl\n$(touch {MARK}-5)\nx".encode(),
    b"bad\xff\xfeutf8 $(touch " + MARK.encode() + b"-6)",
    b"-rf",
    b"%s%n%x\\0 $HOME",
    f"fence```sh\n$(touch {MARK}-7)\n````".encode(),  # in Markdown: must not close the command's code block
]

THRESHOLDS = Thresholds(backlog_entries=5, pending_entries=1, pending_age_ms=0, dead_consumer_idle_ms=0,
                        big_key_bytes=1, untrimmed_stream_entries=10**9)

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["RG_ARGV_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps([os.fsencode(arg).hex() for arg in sys.argv[1:]]) + "\\n")
"""


def _load_hostile(client: redis.Redis) -> None:
    for index, name in enumerate(HOSTILE):
        for _ in range(8):
            client.xadd(name, {"f": "v"})
        client.xgroup_create(name, name, id="0")  # the group named like the stream: behind, no consumers
        reader = b"reader-" + name
        client.xgroup_create(name, b"g2" + name, id="0")
        client.xreadgroup(b"g2" + name, reader, {name: ">"}, count=2)  # pending, held by a hostile consumer
        client.set(b"session:" + name, "x" * (200 + index))  # big keys and a cache-like pattern without TTL


def _slowlog_argvs(client: redis.Redis) -> list[list[bytes]]:
    entries = client.execute_command("SLOWLOG", "GET", "128")
    return [list(entry[3]) for entry in entries]


def _printed_lines(report_json: dict[str, object], markdown: str) -> set[str]:
    from_json = {fix["shell"] for finding in report_json["findings"] for fix in finding["fixes"]  # type: ignore[index,union-attr]
                 if fix["shell"]}
    blocks = markdown.split("```sh\n")[1:]
    from_markdown = {line for block in blocks for line in block.split("\n```")[0].splitlines()
                     if not line.startswith("#")}
    assert from_markdown == from_json  # Markdown prints exactly the lines the JSON carries
    return from_json


def _expected_redisguard_argv(fix: Fix, ctx: CommandContext) -> list[bytes]:
    index = fix.argv.index("--") if "--" in fix.argv else len(fix.argv)
    after = [*fix.argv[index + 1:], *([node_url(fix.node, ctx)] if fix.node else [])]
    return [to_bytes(arg) for arg in (*fix.argv[:index], "--", *after)]


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_pasted_fix_commands_run_nothing_hidden_and_pass_the_exact_argv(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="noeviction")
    admin = srv.client()
    _load_hostile(admin)
    snapshot = collect_snapshot(ConnectionOptions.build(srv.url), key_sampler=doctor_key_sampler(1000))
    ctx = CommandContext()
    report = diagnose(snapshot, THRESHOLDS, ctx)
    fixes = [fix for finding in report.findings for fix in finding.fixes]
    runnable = [fix for fix in fixes if fix.kind is not FixKind.MANUAL]
    hostile_text = {to_text(name) for name in HOSTILE}
    touched = {arg for fix in runnable for arg in fix.argv if any(name in arg for name in hostile_text)}
    assert len(touched) >= len(HOSTILE), "the hostile names must reach the printed commands"
    kinds = {fix.kind for fix in runnable}
    assert kinds == {FixKind.REDIS, FixKind.REDISGUARD}
    lines = _printed_lines(doctor_to_dict(report), render_doctor_markdown(report))
    assert len(lines) == len({shell_line(fix, ctx) for fix in runnable})
    terminal = io.StringIO()
    render_doctor_terminal(report, Console(file=terminal, width=80, no_color=True))
    shown = {line.removeprefix("$ ") for line in terminal.getvalue().splitlines() if line.startswith("$ ")}
    assert shown == lines  # the terminal prints each whole, on one line, exactly as the JSON has it

    sandbox = tmp_path / "sandbox"
    bin_dir = tmp_path / "bin"
    sandbox.mkdir()
    bin_dir.mkdir()
    (bin_dir / "redisguard").write_text(RECORDER.format(python=sys.executable))
    (bin_dir / "redisguard").chmod(0o755)
    argv_log = tmp_path / "argv.log"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(sandbox), "RG_ARGV_LOG": str(argv_log),
           "LC_ALL": "C.UTF-8"}
    admin.config_set("slowlog-log-slower-than", 0)
    admin.config_set("slowlog-max-len", 1024)
    for fix in runnable:
        line = shell_line(fix, ctx)
        assert line is not None and "\n" not in line and "\r" not in line
        admin.execute_command("SLOWLOG", "RESET")
        argv_log.write_text("")
        result = subprocess.run(["sh", "-c", line], cwd=sandbox, env=env, capture_output=True, timeout=60,
                                check=False)
        assert result.returncode == 0 or fix.kind is FixKind.REDIS, (line, result.stderr)
        if fix.kind is FixKind.REDIS:
            assert [to_bytes(arg) for arg in fix.argv] in _slowlog_argvs(admin), (line, _slowlog_argvs(admin))
        else:
            recorded = [[bytes.fromhex(arg) for arg in json.loads(entry)]
                        for entry in argv_log.read_text().splitlines()]
            assert recorded == [_expected_redisguard_argv(fix, ctx)], line
    assert sorted(path.name for path in sandbox.iterdir()) == []
    assert not list(Path("/tmp").glob(f"{MARK}*"))
    admin.close()


def test_manual_advice_is_never_a_command(make_server) -> None:
    srv: LocalServer = make_server(maxmemory="64mb", maxmemory_policy="volatile-lru")
    with srv.client() as client:
        for index in range(30):
            client.set(f"store:{index}", "v")
    report = diagnose(collect_snapshot(ConnectionOptions.build(srv.url)), Thresholds())
    manual = [fix for finding in report.findings for fix in finding.fixes if fix.kind is FixKind.MANUAL]
    assert manual, [finding.id for finding in report.findings]
    markdown = render_doctor_markdown(report)
    code = "\n".join(block.split("\n```")[0] for block in markdown.split("```sh\n")[1:])
    for fix in manual:
        assert shell_line(fix) is None and fix.argv == ()
        assert fix.text not in code
    as_json = doctor_to_dict(report)
    assert all(fix["shell"] is None for finding in as_json["findings"] for fix in finding["fixes"]
               if fix["kind"] == "manual")


def test_connection_flags_never_carry_the_password() -> None:
    ctx = CommandContext(username="ops", tls=True, tls_ca="/etc/ca.pem", db=3, password_needed=True)
    line = shell_line(Fix.redis("CONFIG", "SET", "maxmemory", "100mb", risk="", node="10.0.0.5:6380"), ctx)
    assert line == ("redis-cli -h 10.0.0.5 -p 6380 --user ops --tls --cacert /etc/ca.pem -n 3 "
                    "CONFIG SET maxmemory 100mb")
    guard = shell_line(Fix.redisguard("trim", "--dry-run", "--", "s p", risk="", node="10.0.0.5:6380"), ctx)
    assert guard == "redisguard trim --dry-run --user ops --tls-ca /etc/ca.pem -- 's p' rediss://10.0.0.5:6380/3"
    from_url = shell_line(Fix.redis("PING", risk="", node="redis://u:***@db.internal:7000/2"), CommandContext())
    assert from_url == "redis-cli -h db.internal -p 7000 -n 2 PING" and "***" not in from_url


def test_acl_line_for_a_shell_passes_the_exact_argv(tmp_path: Path) -> None:
    user = "ops$(touch${IFS}pwned)`x`;y"  # Redis refuses whitespace in user names (acl does too)
    result = subprocess.run([sys.executable, "-m", "redisguard", "acl", "--user", user, "--json"],
                            capture_output=True, text=True, timeout=60, check=True)
    data = json.loads(result.stdout)
    (tmp_path / "redis-cli").write_text(RECORDER.format(python=sys.executable))
    (tmp_path / "redis-cli").chmod(0o755)
    log = tmp_path / "argv.log"
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "RG_ARGV_LOG": str(log)}
    subprocess.run(["sh", "-c", data["shell"]], cwd=tmp_path, env=env, check=True, timeout=60)
    recorded = [bytes.fromhex(arg).decode() for arg in json.loads(log.read_text().splitlines()[0])]
    assert recorded == data["argv"] and recorded[2] == user
    assert not (tmp_path / "pwned").exists()
    plain = subprocess.run([sys.executable, "-m", "redisguard", "acl", "--user", user], capture_output=True,
                           text=True, timeout=60, check=True).stdout
    assert plain.startswith("ACL SETUSER ops$(touch${IFS}pwned)`x`;y reset on ")  # one argument at a redis-cli prompt
