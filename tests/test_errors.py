"""One error root: a server killed mid-command is exit 3 in one line, Ctrl-C is 130, a timeout is one try."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
import pytest
import redis

from redisguard import errors
from redisguard.connect import ConnectError, ConnectionOptions, open_client
from redisguard.localserver import LocalServer
from redisguard.snapshot import SnapshotFormatError

REDISGUARD = [sys.executable, "-m", "redisguard"]

# Every command that talks to Redis, as a user would run it (URL appended).
COMMANDS: dict[str, list[str]] = {
    "doctor": ["doctor", "--key-sample", "10"],
    "snapshot": ["snapshot", "--key-sample", "10"],
    "keys": ["keys"],
    "streams": ["streams"],
    "trim": ["trim", "jobs", "--dry-run"],
}


def test_every_error_is_a_redisguard_error_with_its_exit_code() -> None:
    assert issubclass(ConnectError, errors.ConnectionFailed)
    assert issubclass(SnapshotFormatError, errors.UsageError) and issubclass(SnapshotFormatError, ValueError)
    codes = {cls: cls("x").exit_code for cls in (errors.ConnectionFailed, errors.RefusedError, errors.UsageError,
                                                 errors.SnapshotFormatError, errors.CancelledError)}
    assert codes == {errors.ConnectionFailed: 3, errors.RefusedError: 3, errors.UsageError: 2,
                     errors.SnapshotFormatError: 2, errors.CancelledError: 130}
    assert str(errors.UsageError("first line\nsecond line")) == "first line"


def test_from_redis_maps_each_failure() -> None:
    target = "redis://127.0.0.1:1/0"
    assert isinstance(errors.from_redis(redis.exceptions.ConnectionError("gone"), target), errors.ConnectionFailed)
    assert isinstance(errors.from_redis(redis.exceptions.TimeoutError("slow"), target), errors.ConnectionFailed)
    assert isinstance(errors.from_redis(ConnectionResetError(104, "reset"), target), errors.ConnectionFailed)
    denied = errors.from_redis(redis.exceptions.NoPermissionError("NOPERM this user has no permissions"), target)
    assert isinstance(denied, errors.RefusedError) and denied.kind == "noperm"
    renamed = errors.from_redis(redis.exceptions.ResponseError("unknown command 'MEMORY'"), target)
    assert isinstance(renamed, errors.RefusedError) and target in str(renamed)


def _wait_for_client(server: LocalServer, process: subprocess.Popen[str], baseline: int) -> None:
    """Until the command's own connection to the server is open (or the command ended)."""
    assert server.process is not None
    proc = psutil.Process(server.process.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        established = [c for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED]
        if len(established) > baseline:
            time.sleep(0.3)  # let it send its command, which the pause holds unanswered
            return
        time.sleep(0.05)


def _paused_server(make_server) -> tuple[LocalServer, redis.Redis]:
    srv: LocalServer = make_server()
    admin = srv.client()
    for index in range(50):
        admin.xadd("jobs", {"n": str(index)})
    admin.xgroup_create("jobs", "workers", id="0")
    admin.execute_command("CLIENT", "PAUSE", "60000", "ALL")  # every reply waits: the command is mid-flight
    return srv, admin


def _kill_server_under(srv: LocalServer, admin: redis.Redis, process: subprocess.Popen[str],
                       wait: Callable[[], None]) -> str:
    """Once ``wait`` returns, kill the server (ours, by its PID) under the running command: its stderr."""
    try:
        wait()
        assert srv.process is not None
        srv.process.kill()
        srv.process.wait(10)
        _, stderr = process.communicate(timeout=60)
    finally:
        admin.close()
        if process.poll() is None:
            process.kill()
    return stderr


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_server_killed_mid_command_is_exit_3_in_one_line(make_server, name: str) -> None:
    srv, admin = _paused_server(make_server)
    assert srv.process is not None
    baseline = 1  # the admin connection
    process = subprocess.Popen([*REDISGUARD, *COMMANDS[name], srv.url, "--timeout", "50"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = _kill_server_under(srv, admin, process, lambda: _wait_for_client(srv, process, baseline))
    lines = stderr.strip().splitlines()
    assert process.returncode == 3, (process.returncode, stderr)
    assert len(lines) == 1 and lines[0].startswith("redisguard: "), lines
    assert "Traceback" not in stderr and "internal error" not in stderr


@pytest.mark.parametrize("name", ["doctor", "snapshot"])
def test_a_server_killed_after_the_connection_is_a_lost_connection_not_cannot_connect(make_server, name: str) -> None:
    """Killed while the command samples the keys (well after it connected), the one line says the connection
    was lost, with the failed reconnect as the reason."""
    srv: LocalServer = make_server()
    admin = srv.client()
    admin.client_setname("admin")
    for start in range(0, 200_000, 10_000):
        admin.mset({f"k:{n}": "v" for n in range(start, start + 10_000)})
    process = subprocess.Popen([*REDISGUARD, name, "--key-sample", "200000", srv.url, "--timeout", "50"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sampling() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            others = [c for c in admin.client_list() if c.get("name") != "admin"]
            if any(c.get("cmd") in ("scan", "memory|usage", "randomkey", "strlen") for c in others):
                return  # sampling the keys: collecting, long after the connection was made
            time.sleep(0.01)

    stderr = _kill_server_under(srv, admin, process, sampling)
    assert process.returncode == 3, (process.returncode, stderr)
    (line,) = stderr.strip().splitlines()
    assert "lost the connection" in line and "cannot connect" not in line, line


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_ctrl_c_exits_130(make_server, name: str) -> None:
    srv, admin = _paused_server(make_server)
    process = subprocess.Popen([*REDISGUARD, *COMMANDS[name], srv.url, "--timeout", "50"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_client(srv, process, 1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        admin.close()  # the server stays paused until the fixture stops it (by PID)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (process.returncode, stderr)
    assert "Traceback" not in stderr


def test_a_timeout_is_one_attempt(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    client = open_client(ConnectionOptions.build(srv.url, command_timeout=0.5, retries=3))
    before = int(admin.info("stats")["total_connections_received"])
    admin.execute_command("CLIENT", "PAUSE", "3000", "ALL")
    try:
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("anything")
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        client.close()
    after = int(admin.info("stats")["total_connections_received"])
    admin.close()
    assert after - before == 0  # no reconnect-and-resend: a retry would have opened a new connection each time


def test_lost_connection_is_still_retried(make_server) -> None:
    srv: LocalServer = make_server()
    admin = srv.client()
    client = open_client(ConnectionOptions.build(srv.url, retries=2))
    try:
        admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        assert client.ping() is True  # reconnected once, transparently
    finally:
        client.close()
        admin.close()


@pytest.mark.parametrize("args", [
    ["doctor", "redis://127.0.0.1:6399/abc"],
    ["doctor", "redis://127.0.0.1:99999/0"],
    ["doctor", "redis://127.0.0.1:port/0"],
    ["doctor", "redis://127.0.0.1:6399/0", "--timeout", "-1"],
    ["doctor", "redis://127.0.0.1:6399/0", "--connect-timeout", "0"],
    ["keys", "redis://127.0.0.1:6399/0", "--timeout", "-5"],
])
def test_bad_url_or_timeout_is_a_one_line_usage_error(args: list[str]) -> None:
    result = subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ, "REDISCLI_AUTH": ""})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and "Traceback" not in result.stderr, lines


def test_error_line_escapes_what_a_hostile_snapshot_holds(tmp_path) -> None:
    bad = tmp_path / "hostile.json"
    bad.write_text('{"version": 99, "nodes": [], "redisguard_version": "\\u001b]0;owned\\u0007\\nline two"}')
    result = subprocess.run([*REDISGUARD, "doctor", "--from", str(bad)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "not supported" in result.stderr


def test_an_output_file_that_cannot_be_written_is_a_usage_error_not_a_lost_server(make_server, tmp_path) -> None:
    """A missing directory is exit 2 in one line naming the file, never exit 3 ("could not connect") with
    a Python class name. fix and demo refuse it before any work: the URL below has no server behind it,
    and the demo starts none."""
    missing = tmp_path / "no-such-dir"
    dead = "redis://127.0.0.1:9/0"  # nothing listens on port 9: the path is refused before connecting
    cases = [
        (["fix", dead, "--apply", "--yes", "--audit", str(missing / "a.jsonl")], "--audit"),
        (["fix", dead, "--plan-out", str(missing / "p.json")], "--plan-out"),
        (["fix", dead, "--undo", str(tmp_path / "undo.jsonl"), "--audit", str(missing / "a.jsonl")], "--audit"),
        (["demo", "--report", str(missing / "r.html")], "--report"),
    ]
    (tmp_path / "undo.jsonl").write_text("{}\n")
    srv: LocalServer = make_server()
    cases.append((["snapshot", srv.url, "--key-sample", "0", "-o", str(missing / "s.json")], "cannot open"))
    for args, said in cases:
        done = subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and said in lines[0] and str(missing) in lines[0], (args, done.stderr)
        assert "Error:" not in lines[0] and "Traceback" not in done.stderr, (args, done.stderr)
    assert not missing.exists()  # nothing created the directory on the way


def test_a_missing_tls_file_is_named_as_such_not_as_a_connection_failure(tmp_path) -> None:
    for flag in ("--tls-ca", "--tls-cert", "--tls-key"):
        missing = tmp_path / f"{flag[2:]}.pem"
        done = subprocess.run([*REDISGUARD, "doctor", "rediss://127.0.0.1:9/0", flag, str(missing)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, done.stderr
        assert flag in done.stderr and str(missing) in done.stderr and "does not exist" in done.stderr
        assert "connect" not in done.stderr, done.stderr  # it was "cannot connect (Error 2 ... No such file)"


@pytest.mark.parametrize("args", [
    ["keys", "--max-impact"], ["keys", "--rate"], ["fix", "--jitter"], ["fix", "--max-impact"],
    ["report", "--budget"], ["report", "--max-impact"], ["exporter", "--max-impact"],
])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_option_refuses_nan_and_infinity(args: list[str], value: str) -> None:
    """nan passed click's ranges (it compares false with every bound): `keys --rate nan` was an internal
    error (exit 4) and `--max-impact nan` a scan with no budget. Refused before connecting."""
    command, option = args
    done = subprocess.run([*REDISGUARD, command, "redis://127.0.0.1:9/0", option, value],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert option in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert f"'{value}' is not a finite number" in done.stderr or "is not in the range" in done.stderr, done.stderr


@pytest.mark.parametrize("option", ["--memory-warning", "--fragmentation-ratio", "--stream-memory-share",
                                    "--clients-share"])
def test_alert_thresholds_refuse_nan(option: str) -> None:
    done = subprocess.run([*REDISGUARD, "alerts", option, "nan"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2 and "not a finite number" in done.stderr, done.stderr


def test_a_closed_pipe_is_exit_141_in_silence(make_server) -> None:
    """`redisguard doctor URL | head`: the reader leaves. Click and rich both made that exit 1 (a doctor
    warning); it is now what SIGPIPE gives a C tool, 141, with nothing on stderr, for plain and rich output."""
    srv: LocalServer = make_server()
    with srv.client() as client:
        client.set("k", "v")
    for args in (["alerts"], ["keys", srv.url], ["doctor", srv.url, "--key-sample", "10"], ["streams", srv.url]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte: every write is EPIPE
        try:
            done = subprocess.run([*REDISGUARD, *args], stdout=write_end, stderr=subprocess.PIPE, text=True,
                                  timeout=60, check=False)
        finally:
            os.close(write_end)
        assert done.returncode == 141, (args, done.returncode, done.stderr)
        assert done.stderr == "", (args, done.stderr)


def test_url_mistakes_are_usage_errors_named_in_one_line(make_server) -> None:
    srv: LocalServer = make_server()
    base = srv.url.rsplit("/", 1)[0]
    cases = [  # (URL, exit code, what the one line says)
        (f"{base}/99", 3, "has no database 99"),  # 16 databases: SELECT 99 is refused, as an ACL's SELECT is
        (f"{base}/0?foo=bar", 2, "unknown option 'foo'"),
        (f"{base}/0?auth=s3cr3t-v4lue", 2, "unknown option 'auth'"),
        ("redis://127.0.0.1:0/0", 2, "port 0"),  # redis-py would connect to 6379
    ]
    for url, code, said in cases:
        for command in ("doctor", "keys", "streams", "watch --once"):
            done = subprocess.run([*REDISGUARD, *command.split(), url], capture_output=True, text=True,
                                  timeout=60, check=False)
            assert done.returncode == code, (url, command, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and said in lines[0], (url, command, done.stderr)
            assert "s3cr3t-v4lue" not in done.stderr and "Traceback" not in done.stderr
    ok = subprocess.run([*REDISGUARD, "streams", f"{base}/0?socket_timeout=5&health_check_interval=10"],
                        capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr  # redis-py's own URL options still work


def test_a_server_still_loading_its_dataset_is_said_to_be_loading_not_unreachable(make_server, tmp_path) -> None:
    """It answered (-LOADING): 'cannot connect' would send the on-call person to the network."""
    import shutil
    import socket

    from redisguard.localserver import free_port

    server = make_server()
    with server.client() as client:
        for start in range(0, 100_000, 10_000):
            client.mset({f"k:{n}": "x" for n in range(start, start + 10_000)})
        client.save()
    assert server.workdir is not None
    shutil.copy(server.workdir / "dump.rdb", tmp_path / "dump.rdb")
    port = free_port()
    proc = subprocess.Popen([server.binary.path, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                             "--save", "", "--appendonly", "no", "--key-load-delay", "500",
                             "--loading-process-events-interval-bytes", "1024"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, reply = time.monotonic() + 10, b""
        while time.monotonic() < deadline and not reply.startswith(b"-LOADING"):
            if proc.poll() is not None:
                pytest.skip("this server has no key-load-delay to keep it loading")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    reply = sock.recv(100)
            except OSError:
                time.sleep(0.05)
        assert reply.startswith(b"-LOADING"), reply
        for command in (["doctor"], ["keys"], ["watch", "--once"]):
            result = subprocess.run([sys.executable, "-m", "redisguard", *command, f"redis://127.0.0.1:{port}"],
                                    capture_output=True, text=True, timeout=60, check=False)
            assert result.returncode == 3 and result.stderr.count("\n") == 1, result.stderr
            assert "is loading its dataset" in result.stderr and "cannot connect" not in result.stderr
    finally:
        proc.kill()
        proc.wait()
