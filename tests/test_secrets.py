"""A password given any way redis-py accepts it never appears in any output, file or error line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from redisguard.connect import ConnectionOptions
from redisguard.localserver import LocalServer, free_port

REDISGUARD = [sys.executable, "-m", "redisguard"]
SECRET = "Zq9-s3cr3t/p@ss:w0rd"  # characters that need percent-encoding in a URL
FORMS = ("userinfo", "query", "option", "env", "user-and-password")


def _forms_of(secret: str) -> set[str]:
    """Every spelling of the secret that would give it away."""
    return {secret, quote(secret, safe=""), quote(secret), secret.replace("@", "%40"), "s3cr3t"}


def _invocation(form: str, port: int, secret: str = SECRET) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ}
    env.pop("REDISCLI_AUTH", None)
    host = f"127.0.0.1:{port}"
    if form == "userinfo":
        return [f"redis://:{quote(secret, safe='')}@{host}/0"], env
    if form == "user-and-password":
        return [f"redis://default:{quote(secret, safe='')}@{host}/0"], env
    if form == "query":
        return [f"redis://{host}/0?password={quote(secret, safe='')}"], env
    if form == "option":
        return [f"redis://{host}/0", "--password", secret], env
    env["REDISCLI_AUTH"] = secret
    return [f"redis://{host}/0"], env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


def _assert_clean(text: str, secret: str = SECRET) -> None:
    for spelling in _forms_of(secret):
        assert spelling not in text, spelling


@pytest.mark.parametrize("form", FORMS)
def test_password_never_in_reports_or_snapshot(make_server, tmp_path: Path, form: str) -> None:
    srv: LocalServer = make_server(password=SECRET, maxmemory="32mb")
    with srv.client() as client:
        client.xadd("events", {"k": "v"})
        client.set("session:1", "x")
    target, env = _invocation(form, srv.port)
    snap = tmp_path / "snap.json"
    runs = {
        "terminal": _run(["doctor", *target, "--key-sample", "10"], env),
        "json": _run(["doctor", *target, "--json", "--key-sample", "10"], env),
        "markdown": _run(["doctor", *target, "--markdown", "--key-sample", "10"], env),
        "snapshot": _run(["snapshot", *target, "-o", str(snap), "--key-sample", "10"], env),
        "streams": _run(["streams", *target, "--json"], env),
        "keys": _run(["keys", *target, "--json"], env),
    }
    for name, result in runs.items():
        assert result.returncode in (0, 1, 2), (name, result.returncode, result.stderr)
        _assert_clean(result.stdout + result.stderr)
    assert "127.0.0.1" in runs["json"].stdout  # the report does name the target, redacted
    _assert_clean(snap.read_text())


@pytest.mark.parametrize("form", FORMS)
def test_wrong_password_error_line_never_shows_it(make_server, form: str) -> None:
    srv: LocalServer = make_server(password=SECRET)
    wrong = "Wr0ng-" + SECRET
    target, env = _invocation(form, srv.port, wrong)
    result = _run(["doctor", *target, "--key-sample", "0"], env)
    assert result.returncode == 3, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _assert_clean(result.stdout + result.stderr, wrong)


@pytest.mark.parametrize("url", [
    "redis://default:{secret}@127.0.0.1:99999/0",      # port out of range: urllib refuses to parse it
    "redis://default:{secret}@127.0.0.1:port/0",       # not a number
    "redis://default:{secret}@[127.0.0.1/0",           # unterminated bracket
    "redis://default:{secret}@127.0.0.1:6390/abc",     # the database is not a number
    "redis://:{secret}@127.0.0.1:{free}/0",            # nothing listens there
    "redis://127.0.0.1:{free}/0?password={secret}",
    "http://default:{secret}@127.0.0.1:{free}/0",      # not a Redis URL
    "redis://default:{raw}@127.0.0.1:{free}/0",         # '/' unencoded: a strict parser sees no userinfo at all
    "redis://weird:{raw}#x?y@127.0.0.1:{free}",
    "redis://u:1234/{raw}@127.0.0.1:{free}",           # what a strict parser reads as port 1234, database '...'
])
def test_a_url_that_fails_never_shows_its_password(url: str) -> None:
    text = url.format(secret=quote(SECRET, safe=""), raw=SECRET.replace("@", "%40"), free=free_port())
    env = {key: value for key, value in os.environ.items() if key != "REDISCLI_AUTH"}
    result = _run(["doctor", text, "--key-sample", "0", "--connect-timeout", "2"], env)
    assert result.returncode in (2, 3), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    _assert_clean(result.stdout + result.stderr)


def test_display_and_repr_redact_every_form() -> None:
    encoded = quote(SECRET, safe="")
    for url in (f"redis://u:{encoded}@h:1/0", f"redis://h:1/0?password={encoded}", f"redis://:{encoded}@h:1/0",
                f"rediss://u:{encoded}@[::1]:1/0", f"redis://u:{encoded}@h:99999/0", f"unix://:{encoded}@/tmp/s.sock"):
        options = ConnectionOptions(url=url, password=SECRET)
        _assert_clean(options.display + repr(options))
        assert SECRET in options.secrets() or encoded in options.secrets()
