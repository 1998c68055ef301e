"""Each guard of redisguard fix refuses: a replica, no terminal without --yes, an edited plan, a plan the
server outgrew, a refused command (stop at the first error), commands it never sends, Ctrl-C mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.fix_data import REDISGUARD, dataset_digest, run_cli, run_json

from redisguard.localserver import LocalServer
from redisguard.remedy.auditlog import read_audit
from redisguard.remedy.guard import FORBIDDEN, GuardError, check_command


def test_refuses_a_replica_and_names_its_primary(make_server) -> None:
    primary: LocalServer = make_server()
    replica: LocalServer = make_server(replicaof=["127.0.0.1", str(primary.port)])
    result = run_cli("fix", replica.url, "--apply", "--yes")
    assert result.returncode == 3
    assert f"127.0.0.1:{primary.port}" in result.stderr and "replica" in result.stderr
    assert "Traceback" not in result.stderr


def test_refuses_to_apply_without_a_terminal_or_yes(make_server) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        before = client.config_get("lazyfree-lazy-user-del")
        result = run_cli("fix", srv.url, "--apply")
        assert result.returncode == 2 and "--yes" in result.stderr and len(result.stderr.splitlines()) == 1
        assert client.config_get("lazyfree-lazy-user-del") == before


def test_edited_plan_with_a_forbidden_command_is_refused(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        client.set("keep", "me")
        plan_file = tmp_path / "plan.json"
        assert run_cli("fix", srv.url, "--plan-out", str(plan_file)).returncode == 0
        plan = json.loads(plan_file.read_text())
        plan["actions"].insert(0, {**plan["actions"][0], "id": "evil", "commands": [["FLUSHALL"]]})
        plan_file.write_text(json.dumps(plan))
        before = dataset_digest(client)
        result = run_cli("fix", srv.url, "--apply", "--yes", "--plan", str(plan_file))
        assert result.returncode == 2 and "never sends FLUSHALL" in result.stderr
        assert dataset_digest(client) == before


def test_saved_plan_refused_when_the_server_changed(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        plan_file = tmp_path / "plan.json"
        assert run_cli("fix", srv.url, "--workload", "store", "--memory", "1gb",
                       "--plan-out", str(plan_file)).returncode == 0
        assert "maxmemory-policy" in json.loads(plan_file.read_text())["seen"]["config"]
        client.config_set("maxmemory-policy", "volatile-lru")  # someone else changed it meanwhile
        result = run_cli("fix", srv.url, "--apply", "--yes", "--plan", str(plan_file))
        assert result.returncode == 2 and "maxmemory-policy changed" in result.stderr
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-lru"
        client.config_set("maxmemory-policy", "allkeys-lru")  # back as it was: the plan applies
        code, out = run_json("fix", srv.url, "--apply", "--yes", "--plan", str(plan_file),
                             "--audit", str(tmp_path / "a.jsonl"))
        assert code == 0, out
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"


def test_stops_at_the_first_refused_command_and_reports_the_rest_not_run(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory_policy="allkeys-lru")
    with srv.client() as admin:
        admin.execute_command("ACL", "SETUSER", "fixer", "on", ">pw", "~*", "+@all", "-config", "+config|get")
        url = srv.url.replace("redis://", "redis://fixer:pw@")
        audit = tmp_path / "a.jsonl"
        code, out = run_json("fix", url, "--workload", "store", "--memory", "1gb", "--apply", "--yes",
                             "--audit", str(audit))
        assert code == 2
        statuses = [r["status"] for r in out["results"]]
        assert statuses[0] == "failed" and "permission" in out["results"][0]["detail"]
        assert set(statuses[1:]) == {"not run"} and len(statuses) > 1
        records = read_audit(audit)
        refused = [r for r in records if r.get("phase") == "after" and "error" in r]
        assert len(refused) == 1  # reported once, never retried
        assert records[-1]["event"] == "end" and records[-1]["failed"] is True
        assert admin.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"


@pytest.mark.parametrize("argv", [["KEYS", "*"], ["FLUSHDB"], ["FLUSHALL", "ASYNC"], ["DEBUG", "SLEEP", "1"],
                                  ["SHUTDOWN"], ["CONFIG", "RESETSTAT"], ["CLIENT", "KILL", "TYPE", "normal"],
                                  ["EVALSHA", "0" * 40, "0"], ["EVAL", "return 1", "0"], ["SET", "k", "v"]])
def test_guard_refuses_commands_fix_never_sends(argv: list[str]) -> None:
    with pytest.raises(GuardError):
        check_command(argv)
    assert "KEYS" in FORBIDDEN and "CONFIG RESETSTAT" in FORBIDDEN


def test_a_full_apply_never_sent_a_forbidden_command(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server(maxmemory="20mb", maxmemory_policy="noeviction")
    with srv.client() as client:
        for index in range(3000):
            client.set(f"cache:session:{index}", "v" * 20)
            client.set(f"tmp:{index}", "t")
        client.execute_command("CONFIG", "RESETSTAT")  # the test resets, redisguard must not
        client.set("marker", "1")
        before = dataset_digest(client)
        code, plan = run_json("fix", srv.url, "--memory", "1gb", "--delete-pattern", "tmp:*")
        assert code == 0 and {"delete", "expire", "config"} <= {a["kind"] for a in plan["actions"]}
        assert dataset_digest(client) == before  # the dry run of deletions and TTLs wrote nothing
        code, out = run_json("fix", srv.url, "--memory", "1gb", "--delete-pattern", "tmp:*", "--apply", "--yes",
                             "--audit", str(tmp_path / "a.jsonl"))
        assert code == 0, out
        stats = client.info("commandstats")
        assert "cmdstat_set" in stats  # not reset by the fix (CONFIG RESETSTAT would have cleared it)
        for name in ("keys", "flushdb", "flushall", "debug", "shutdown", "monitor"):
            assert f"cmdstat_{name}" not in stats


def test_ctrl_c_stops_after_the_current_batch_with_the_audit_log_complete(make_server, tmp_path: Path) -> None:
    srv: LocalServer = make_server()
    with srv.client() as client:
        for start in range(0, 40_000, 10_000):
            pipe = client.pipeline(transaction=False)
            for index in range(start, start + 10_000):
                pipe.set(f"cache:item:{index}", "v")
            pipe.execute()
        audit = tmp_path / "a.jsonl"
        proc = subprocess.Popen([*REDISGUARD, "fix", srv.url, "--only", "expire", "--expire-pattern", "cache:item:*",
                                 "--key-sample", "0", "--max-impact", "0.5", "--apply", "--yes",
                                 "--audit", str(audit)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if audit.exists() and audit.read_text().count('"EXPIRE"') >= 6:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        records = read_audit(audit)
        befores = {r["seq"] for r in records if r.get("phase") == "before"}
        afters = {r["of"] for r in records if r.get("phase") == "after"}
        assert befores == afters  # every command that was sent has its result recorded
        assert records[-1]["event"] == "end" and records[-1]["interrupted"] is True
        with_ttl = sum(1 for key in client.scan_iter("cache:item:*", count=10_000) if client.ttl(key) > 0)
        assert 0 < with_ttl < 40_000


def test_the_fix_acl_user_applies_every_kind_of_action_without_a_denial(make_server, tmp_path: Path) -> None:
    from tests.fix_data import fill_incident

    from redisguard.connect.acl import fix_acl_setuser_line

    srv: LocalServer = make_server(maxmemory="20mb", maxmemory_policy="noeviction")
    with srv.client() as admin:
        for index in range(500):
            admin.set(f"tmp:{index}", "t")
            admin.set(f"cache:session:{index}", "s")
        pipe = admin.pipeline(transaction=False)
        for index in range(3000):
            pipe.hset("big:hash", f"f{index}", "v" * 50)
        pipe.execute()
        fill_incident(admin)
        admin.execute_command(*fix_acl_setuser_line("fixer", password="fix-pw").split())
        admin.execute_command("ACL", "LOG", "RESET")
        url = srv.url.replace("redis://", "redis://fixer:fix-pw@")
        code, out = run_json("fix", url, "--memory", "30mb", "--delete-pattern", "tmp:*", "--delete-pattern", "big:*",
                             "--big", "10kb", "--expire-pattern", "cache:*", "--apply", "--yes",
                             "--audit", str(tmp_path / "a.jsonl"))
        assert code == 0, [(r["id"], r["status"], r["detail"]) for r in out.get("results", [])] or out
        kinds = {a["kind"] for a in out["plan"]["actions"]}
        assert {"trim", "delete", "expire", "config"} <= kinds
        assert admin.execute_command("ACL", "LOG") == []
        assert not admin.exists("big:hash") and not list(admin.scan_iter("tmp:*"))


def test_on_a_terminal_each_action_is_confirmed_and_a_no_skips_it(make_server, tmp_path: Path) -> None:
    import pty
    import select

    srv: LocalServer = make_server(maxmemory_policy="allkeys-lru")
    with srv.client() as client:
        client.set("order:1", "row")
        client.config_set("lazyfree-lazy-user-del", "no")  # Valkey 8 defaults it to yes: no action to plan
        primary, secondary = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k != "CI"}
        proc = subprocess.Popen([*REDISGUARD, "fix", srv.url, "--workload", "store", "--key-sample", "0",
                                 "--only", "maxmemory-policy", "--only", "lazyfree", "--apply",
                                 "--audit", str(tmp_path / "a.jsonl")],
                                stdin=secondary, stdout=secondary, stderr=secondary, env=env)
        os.close(secondary)
        seen, answers = b"", [b"n\n", b"y\n"]
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(primary, 4096)
                except OSError:
                    break
            if answers and seen.count(b"Apply this action?") > 2 - len(answers):
                os.write(primary, answers.pop(0))
        proc.wait(timeout=30)
        os.close(primary)
        assert proc.returncode == 0, seen.decode(errors="replace")[-2000:]
        assert seen.count(b"Apply this action?") == 2
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"  # answered no
        assert client.config_get("lazyfree-lazy-user-del")["lazyfree-lazy-user-del"] == "yes"  # answered yes
