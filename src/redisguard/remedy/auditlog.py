"""The audit log: one JSON line per command, written (and flushed) BEFORE it runs, its result after.

Records: ``{"seq", "time", "server", "node" (Redis Cluster only),
"phase": "before"|"after"|"event", "action", "command": [...],
"keys": [...], "result"|"error", "previous": {...}, "used_memory"}``. Commands are masked (passwords
never written); key names are kept exactly, in the lossless text form of :mod:`redisguard.keynames`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from redisguard.keynames import to_text

__all__ = ["AuditLog", "default_audit_path", "mask", "read_audit"]

_SECRET_CONFIG = {"requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"}


def default_audit_path(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"redisguard-audit-{stamp}.jsonl")


def mask(argv: list[str]) -> list[str]:
    """The command with secrets replaced by ``<redacted>`` (AUTH, CONFIG SET of a password, ACL passwords)."""
    if not argv:
        return argv
    name = argv[0].upper()
    if name == "AUTH" or (name == "HELLO" and "AUTH" in (a.upper() for a in argv)):
        return [argv[0], *["<redacted>"] * (len(argv) - 1)]
    if name == "CONFIG" and len(argv) >= 4 and argv[1].upper() == "SET":
        out = argv[:2]
        for index in range(2, len(argv) - 1, 2):
            secret = argv[index].lower() in _SECRET_CONFIG
            out += [argv[index], "<redacted>" if secret else argv[index + 1]]
        return out
    if name == "ACL":
        return [a if not a.startswith((">", "#", "<")) else "<redacted>" for a in argv]
    return argv


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_text(value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(_jsonable(k)): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _default(value: Any) -> Any:
    """What json.dumps cannot write itself, as :func:`_jsonable` writes it."""
    return to_text(value) if isinstance(value, bytes) else str(value)


class AuditLog:
    def __init__(self, path: Path, server: str) -> None:
        self.path = path
        self.server = server
        self._seq = 0
        self.node: str | None = None  # Redis Cluster: the node the records that follow are about
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> int:
        self._seq += 1
        line = {"seq": self._seq, "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "server": self.server, **({"node": self.node} if self.node else {}), **record}
        try:  # bytes (and anything else json cannot write) through _default: a 1,000-key batch in 0.3 ms, not 2.5
            text = json.dumps(line, ensure_ascii=True, default=_default)
        except TypeError:  # a dict keyed by bytes: converted whole, as _jsonable writes it
            text = json.dumps(_jsonable(line), ensure_ascii=True)
        self._file.write(text + "\n")
        self._file.flush()
        return self._seq

    def event(self, event: str, **fields: Any) -> None:
        self._write({"phase": "event", "event": event, **fields})

    def before(self, action: str, argv: list[str], **fields: Any) -> int:
        return self._write({"phase": "before", "action": action, "command": mask(argv), **fields})

    def after(self, seq: int, action: str, **fields: Any) -> None:
        self._write({"phase": "after", "of": seq, "action": action, **fields})

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every record of an audit log (a torn last line, from a crash mid-write, is ignored)."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
