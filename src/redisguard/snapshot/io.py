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


# What JSON may hold for each scalar annotation: a hand-edited file with ``"role": 12345`` is refused
# here, in one line, rather than failing deep inside a rule.
_SCALARS: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}


def _build(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in get_args(tp) if arg is not type(None)]
        if len(options) == 1:
            return _build(options[0], value)
        for option in options:
            try:
                return _build(option, value)
            except (TypeError, ValueError):
                continue
        raise TypeError(f"{value!r:.60} is none of {tp}")
    if origin is list:
        (item,) = get_args(tp)
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return [_build(item, element) for element in value]
    if origin is dict:
        _, item = get_args(tp)
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return {key: _build(item, element) for key, element in value.items()}
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ValueError(f"{value!r:.60} is not one of {get_args(tp)}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {tp.__name__}, got {type(value).__name__}")
        return _from_dict(tp, value)
    allowed = _SCALARS.get(tp)
    if allowed is not None and (not isinstance(value, allowed) or (tp is not bool and isinstance(value, bool))):
        raise TypeError(f"expected {tp.__name__}, got {type(value).__name__} {value!r:.60}")
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
    if not isinstance(data["nodes"], list) or not data["nodes"]:
        raise SnapshotFormatError("not a redisguard snapshot ('nodes' holds no node)")
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
    except UnicodeDecodeError:
        raise SnapshotFormatError(f"{path} is not a redisguard snapshot (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise SnapshotFormatError(f"{path} is not JSON: {exc}") from None
    except RecursionError:
        raise SnapshotFormatError(f"{path} is not a redisguard snapshot (JSON nested too deep)") from None
    return snapshot_from_dict(data)
