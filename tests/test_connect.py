"""Connections: URL forms, credentials, TLS, and a one-line error (exit 3, no traceback) for each failure."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from redisguard.connect import ConnectError, ConnectionOptions, discover, open_client
from redisguard.localserver import LocalServer, free_port

REDISGUARD = [sys.executable, "-m", "redisguard"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str, code: int = 3) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_unreachable_host_is_one_line_exit_3() -> None:
    port = free_port()  # nothing listens there
    result = run_cli("doctor", f"redis://127.0.0.1:{port}", "--connect-timeout", "1", "--key-sample", "0")
    assert_one_line_failure(result, "cannot connect", str(port))


@pytest.mark.parametrize("url", ["http://example.invalid:80", "notaurl", "redis://127.0.0.1:99999", "unix://"])
def test_invalid_url_is_a_one_line_usage_error_exit_2(url: str) -> None:
    # A URL that cannot be parsed is bad input (exit 2), whatever part of it is wrong: not "cannot connect".
    result = run_cli("doctor", url, "--key-sample", "0")
    assert_one_line_failure(result, "invalid Redis URL", code=2)


def test_wrong_password_never_printed(make_server) -> None:
    srv: LocalServer = make_server(password="right-secret")
    result = run_cli("doctor", f"redis://default:wrong-secret@127.0.0.1:{srv.port}/0", "--key-sample", "0")
    assert_one_line_failure(result, "authentication failed")
    assert "wrong-secret" not in result.stderr + result.stdout
    assert "***" in result.stderr


def test_missing_password_says_so(make_server) -> None:
    srv: LocalServer = make_server(password="needed")
    result = run_cli("doctor", f"redis://127.0.0.1:{srv.port}/0", "--key-sample", "0")
    assert_one_line_failure(result, "requires a password")


def test_password_from_option_and_env(make_server) -> None:
    srv: LocalServer = make_server(password="opt-secret")
    url = f"redis://127.0.0.1:{srv.port}/0"
    by_option = run_cli("doctor", url, "--password", "opt-secret", "--key-sample", "0", "--json")
    assert by_option.returncode in (0, 1, 2), by_option.stderr
    import os

    env = {**os.environ, "REDISCLI_AUTH": "opt-secret"}
    by_env = run_cli("doctor", url, "--key-sample", "0", "--json", env=env)
    assert by_env.returncode in (0, 1, 2), by_env.stderr
    assert "opt-secret" not in by_option.stdout + by_env.stdout


@pytest.fixture
def not_redis() -> Iterator[int]:
    """A TCP server on loopback that answers like an HTTP server, not Redis."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_non_redis_server_is_named(not_redis: int) -> None:
    result = run_cli("doctor", f"redis://127.0.0.1:{not_redis}", "--timeout", "2", "--key-sample", "0")
    assert_one_line_failure(result, "Redis")


def test_replica_refused_when_primary_needed(make_server) -> None:
    primary: LocalServer = make_server()
    replica: LocalServer = make_server(replicaof=["127.0.0.1", str(primary.port)])
    with pytest.raises(ConnectError) as caught:
        open_client(ConnectionOptions.build(replica.url), need_primary=True)
    assert caught.value.kind == "replica"
    assert "needs the primary" in str(caught.value)
    open_client(ConnectionOptions.build(primary.url), need_primary=True).close()


def test_topology_lists_replica_of_standalone_primary(make_server) -> None:
    primary: LocalServer = make_server()
    replica: LocalServer = make_server(replicaof=["127.0.0.1", str(primary.port)])
    with replica.client() as client:
        for _ in range(200):
            if client.info("replication").get("master_link_status") == "up":
                break
            import time

            time.sleep(0.05)
    topology = discover(ConnectionOptions.build(primary.url))
    assert topology.mode == "standalone"
    assert [node.role for node in topology.nodes] == ["primary", "replica"]
    assert topology.nodes[1].address.endswith(f":{replica.port}")


def test_unix_socket_url(make_server, tmp_path) -> None:
    path = tmp_path / "redis.sock"
    srv: LocalServer = make_server(unixsocket=str(path), unixsocketperm="700")
    client = open_client(ConnectionOptions.build(f"unix://{path}"))
    try:
        assert client.ping() is True
    finally:
        client.close()
    result = run_cli("doctor", f"unix://{path}", "--key-sample", "0", "--json")
    assert result.returncode in (0, 1, 2), result.stderr
    del srv


def test_options_repr_and_display_hide_password() -> None:
    options = ConnectionOptions.build("redis://alice:hunter2@db.example:6380/2", environ={})
    assert "hunter2" not in repr(options)
    assert options.display == "redis://alice:***@db.example:6380/2"
    explicit = ConnectionOptions.build("redis://db.example", password="s3", environ={})
    assert "s3" not in repr(explicit)
    assert explicit.redis_kwargs()["password"] == "s3"


def test_env_password_used_only_when_none_given() -> None:
    env = {"REDISCLI_AUTH": "from-env"}
    assert ConnectionOptions.build("redis://h", environ=env).password == "from-env"
    assert ConnectionOptions.build("redis://h", password="flag", environ=env).password == "flag"
    assert ConnectionOptions.build("redis://:inurl@h", environ=env).password is None


def test_tls_connection_and_tls_failure(make_server, redis_binary, tls_files) -> None:
    if not redis_binary.supports_tls:
        pytest.skip(f"redis-server {redis_binary.version_text} here was built without TLS")
    tls_port = free_port()
    srv: LocalServer = make_server(
        tls_port=tls_port, tls_cert_file=tls_files["server.crt"], tls_key_file=tls_files["server.key"],
        tls_ca_cert_file=tls_files["ca.crt"], tls_auth_clients="yes",
    )
    url = f"rediss://127.0.0.1:{tls_port}/0"
    good = run_cli("doctor", url, "--tls-ca", tls_files["ca.crt"], "--tls-cert", tls_files["client.crt"],
                   "--tls-key", tls_files["client.key"], "--key-sample", "0", "--json")
    assert good.returncode in (0, 1, 2), good.stderr
    # No client certificate while the server requires one, and no CA: the handshake fails cleanly.
    bad = run_cli("doctor", url, "--key-sample", "0", "--timeout", "3")
    assert_one_line_failure(bad, "TLS")
    # Plain redis:// against the TLS port: not answered in the Redis protocol.
    plain = run_cli("doctor", f"redis://127.0.0.1:{tls_port}/0", "--key-sample", "0", "--timeout", "2")
    assert plain.returncode == 3 and "Traceback" not in plain.stderr
    del srv


def test_hung_server_times_out_with_one_line(make_server) -> None:
    """A server that accepts connections but never answers (SIGSTOP on the process we started)."""
    import os
    import signal

    srv: LocalServer = make_server()
    assert srv.process is not None
    os.kill(srv.process.pid, signal.SIGSTOP)
    try:
        result = run_cli("doctor", srv.url, "--timeout", "1", "--connect-timeout", "1", "--key-sample", "0")
    finally:
        os.kill(srv.process.pid, signal.SIGCONT)
    assert_one_line_failure(result, "no Redis reply before the timeout")


@pytest.mark.parametrize("user", ["nosetname", "selector", "client_setname"])
def test_a_user_name_never_passes_for_a_refused_set_up_command(make_server, user: str) -> None:
    """Which set-up command the server refused was read from the whole error text, user name included: a
    user named 'nosetname' whose PING was denied got 'the server refused CLIENT SETNAME while connecting',
    exit 3, and one named 'selector' 'the server refused SELECT 0'."""
    srv = make_server()
    srv.client().acl_setuser(user, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@read", "+info"])
    url = f"redis://{user}:pw@127.0.0.1:{srv.port}/0"
    result = subprocess.run([*REDISGUARD, "snapshot", url, "--key-sample", "0"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nodes"], result.stdout[:500]
