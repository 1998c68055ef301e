"""Snapshot to and from JSON, with a version check so an old file is refused clearly."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from redisguard.errors import SnapshotFormatError
from redisguard.snapshot.model import SNAPSHOT_VERSION, Snapshot

__all__ = ["SnapshotFormatError", "dump", "load", "snapshot_from_dict", "snapshot_to_dict"]

T = TypeVar("T")


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    return dataclasses.asdict(snapshot)


def _build(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in get_args(tp) if arg is not type(None)]
        return _build(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = get_args(tp)
        return [_build(item, element) for element in value]
    if origin is dict:
        _, item = get_args(tp)
        return {key: _build(item, element) for key, element in value.items()}
    if origin is typing.Literal:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _from_dict(tp, value)
    return value


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {name: _build(hints[name], value) for name, value in data.items() if name in known}
    return cls(**kwargs)


def snapshot_from_dict(data: dict[str, Any]) -> Snapshot:
    if not isinstance(data, dict) or "version" not in data or "nodes" not in data:
        raise SnapshotFormatError("not a redisguard snapshot (no 'version'/'nodes' fields)")
    if data["version"] != SNAPSHOT_VERSION:
        raise SnapshotFormatError(
            f"snapshot format version {data['version']!r} is not supported (this redisguard reads "
            f"version {SNAPSHOT_VERSION}): take a new one with `redisguard snapshot`, or read it with the "
            f"redisguard version that wrote it ({data.get('redisguard_version', 'unknown')!r})"
        )
    try:
        return _from_dict(Snapshot, data)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise SnapshotFormatError(f"malformed snapshot: {exc}") from None


def dump(snapshot: Snapshot, path: Path | None = None) -> str:
    text = json.dumps(snapshot_to_dict(snapshot), indent=2, sort_keys=False)
    if path is not None:
        path.write_text(text + "\n", encoding="utf-8")
    return text


def load(path: Path) -> Snapshot:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SnapshotFormatError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SnapshotFormatError(f"{path} is not JSON: {exc}") from None
    return snapshot_from_dict(data)
