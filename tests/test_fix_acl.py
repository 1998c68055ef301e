"""fix and config --check under least-privilege users (real ACL users on every server under test).

A ``+@read`` user may scan and measure keys but not run INFO, CONFIG GET, CLIENT ID/LIST or ROLE: the dry
run still plans what it can read, says what it cannot plan and why, names the missing permissions exactly,
and the ``ACL SETUSER`` it prints is checked by running it and seeing the permissions problem go away.
Nothing is ever written: the dataset's DUMP digest is the same after each run, and --apply is refused.
"""

from __future__ import annotations

import json
import re

import redis
from tests.fix_data import dataset_digest, run_cli, run_json

from redisguard.connect.acl import acl_setuser_argv
from redisguard.localserver import LocalServer

_READ_ONLY = ["on", ">pw", "~*", "+@read"]
_GRANT = re.compile(r"`(ACL SETUSER [^`]+)`")


def _users(server: LocalServer) -> redis.Redis:
    admin = server.client()
    pipe = admin.pipeline(transaction=False)
    for index in range(300):
        pipe.set(f"tmp:{index}", "v")
        pipe.set(f"keep:{index}", "v")
    pipe.execute()
    admin.execute_command("ACL", "SETUSER", "reader", *_READ_ONLY)
    diagnosis = acl_setuser_argv("diag", password="pw", profile="diagnosis")
    admin.execute_command(*diagnosis)
    return admin


def _url(server: LocalServer, user: str) -> str:
    return f"redis://{user}:pw@127.0.0.1:{server.port}/0"


def _grant(admin: redis.Redis, stderr: str) -> None:
    """Run the ACL SETUSER the message printed (after the backtick, before the next one)."""
    line = _GRANT.search(stderr)
    assert line is not None, stderr
    admin.execute_command(*line.group(1).split())


def test_read_only_user_gets_a_partial_plan_the_exact_missing_permissions_and_a_grant_that_works(server) -> None:
    admin = _users(server)
    before = dataset_digest(admin)
    result = run_cli("fix", _url(server, "reader"), "--delete-pattern", "tmp:*", "--key-sample", "0", "--json")
    assert result.returncode == 0, result.stderr
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "user reader may not run INFO, CONFIG GET, CLIENT ID, CLIENT LIST, ROLE" in err[0], err[0]
    assert "`ACL SETUSER reader +info +config|get +client|id +client|list +role`" in err[0]
    assert "redisguard acl --for fix" in err[0] and "pw" not in err[0]
    plan = json.loads(result.stdout)
    delete = [a for a in plan["actions"] if a["kind"] == "delete"]
    assert len(delete) == 1 and "300" in delete[0]["title"]  # planned from SCAN and MEMORY USAGE alone
    assert not [a for a in plan["actions"] if a["kind"] in ("config", "kill", "rewrite")]
    notes = " | ".join(plan["notes"])
    for needed in ("needs INFO", "needs CONFIG GET", "needs CLIENT LIST", "needs ROLE"):
        assert "cannot plan" in notes and needed in notes, notes
    assert "maxmemory-unset" not in notes  # INFO was not visible: no claim about maxmemory
    assert dataset_digest(admin) == before
    _grant(admin, err[0])
    again = run_cli("fix", _url(server, "reader"), "--delete-pattern", "tmp:*", "--key-sample", "0", "--json")
    assert again.returncode == 0 and "may not run" not in again.stderr, again.stderr
    assert dataset_digest(admin) == before


def test_read_only_user_apply_is_refused_in_one_line_and_writes_nothing(server) -> None:
    admin = _users(server)
    before = dataset_digest(admin)
    result = run_cli("fix", _url(server, "reader"), "--delete-pattern", "tmp:*", "--key-sample", "0",
                     "--apply", "--yes")
    assert result.returncode == 3
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "cannot tell what this server is" in line and "may not run ROLE, INFO" in line, line
    assert "`ACL SETUSER reader +role +info`" in line
    assert dataset_digest(admin) == before


def test_diagnosis_user_plans_maxmemory_from_info_and_names_only_config_get(server) -> None:
    admin = _users(server)
    before = dataset_digest(admin)
    code, plan = run_json("fix", _url(server, "diag"), "--key-sample", "0", "--workload", "cache")
    assert code == 0
    assert any(a["id"] == "maxmemory" for a in plan["actions"])  # maxmemory 0, seen in INFO
    assert any("needs CONFIG GET" in note for note in plan["notes"])
    result = run_cli("fix", _url(server, "diag"), "--key-sample", "0", "--workload", "cache")
    assert "user diag may not run CONFIG GET: `ACL SETUSER diag +config|get` grants it" in result.stderr
    assert dataset_digest(admin) == before


def test_config_check_read_only_user_names_info_and_config_get_and_the_grant_works(server) -> None:
    admin = _users(server)
    result = run_cli("config", "--check", _url(server, "reader"), "--workload", "store")
    assert result.returncode == 3
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "user reader may not run INFO, CONFIG GET" in line and "redisguard acl --with-config" in line, line
    _grant(admin, line)
    code, out = run_json("config", "--check", _url(server, "reader"), "--workload", "store")
    assert code in (0, 1) and out["not_visible"] == [] and out["not_checked"] == []


def test_config_check_without_config_get_compares_what_info_shows_and_lists_the_rest(server) -> None:
    _users(server)
    code, out = run_json("config", "--check", _url(server, "diag"), "--workload", "cache")
    assert code == 1
    assert out["not_visible"] == ["config|get"]
    assert [d["name"] for d in out["differences"]] == ["maxmemory", "maxmemory-policy"]  # from INFO memory
    assert out["differences"][1]["current"] == "noeviction"
    assert "save" in out["not_checked"] and "timeout" in out["not_checked"]
    text = run_cli("config", "--check", _url(server, "diag"), "--workload", "cache")
    assert "cannot check " in text.stdout and "needs CONFIG GET" in text.stdout
    assert "user diag may not run CONFIG GET" in text.stderr


def test_the_user_named_in_the_query_string_is_the_one_the_grant_is_for(server) -> None:
    # redis-py reads ?username=...&password=... too: the message and its ACL SETUSER must name that user, not
    # "default" (granting default would leave the problem and widen the wrong user).
    admin = _users(server)
    url = f"redis://127.0.0.1:{server.port}/0?username=reader&password=pw"
    result = run_cli("fix", url, "--delete-pattern", "tmp:*", "--key-sample", "0", "--apply", "--yes")
    assert result.returncode == 3, result.stderr
    assert "user reader may not run" in result.stderr and "ACL SETUSER reader +" in result.stderr, result.stderr
    assert "default" not in result.stderr and "pw&" not in result.stderr and "password=pw" not in result.stderr
    _grant(admin, result.stderr)  # what --apply needed (ROLE, INFO) is now granted to reader itself
    plan = run_cli("fix", url, "--delete-pattern", "tmp:*", "--key-sample", "0", "--json")
    assert plan.returncode == 0 and "user reader may not run" in plan.stderr, plan.stderr
    missing = plan.stderr.split("may not run", 1)[1].split(":", 1)[0]
    assert "ROLE" not in missing and "INFO" not in missing, plan.stderr
