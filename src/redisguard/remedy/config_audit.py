"""A live configuration against the recommended one (pure): what differs, why, and the CONFIG SET."""

from __future__ import annotations

from dataclasses import dataclass

from redisguard.keynames import quote_cli
from redisguard.remedy.recommend import Setting
from redisguard.units import parse_bytes

__all__ = ["Difference", "audit", "config_set_argv", "same_value"]

_SIZES = {"maxmemory", "auto-aof-rewrite-min-size", "client-query-buffer-limit", "active-defrag-ignore-bytes",
          "repl-backlog-size", "proto-max-bulk-len"}


@dataclass(frozen=True)
class Difference:
    name: str
    current: str | None  # None: the server did not show it (not visible, or this version lacks it)
    recommended: str
    reason: str

    @property
    def argv(self) -> list[str]:
        return config_set_argv(self.name, self.recommended)

    @property
    def command(self) -> str:
        """The CONFIG SET that closes the difference, quoted for redis-cli."""
        return " ".join(quote_cli(part) for part in self.argv)


def config_set_argv(name: str, value: str) -> list[str]:
    return ["CONFIG", "SET", name, value]


def _buffer_limits(value: str) -> dict[str, tuple[int, int, int]]:
    parts = value.split()
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(parts) - 3, 4):
        name = {"slave": "replica"}.get(parts[i].lower(), parts[i].lower())
        out[name] = (parse_bytes(parts[i + 1]), parse_bytes(parts[i + 2]), int(parts[i + 3]))
    return out


def _normal(name: str, value: str) -> object:
    text = value.strip()
    try:
        if name in _SIZES:
            return parse_bytes(text)
        if name == "client-output-buffer-limit":
            return _buffer_limits(text)
        if name == "save":
            return tuple(int(part) for part in text.split())
    except ValueError:
        return text
    return text.lower()


def same_value(name: str, current: str, wanted: str) -> bool:
    """Equal as Redis means them: sizes as bytes, ``slave``/``replica``, save pairs, case of yes/no.

    For ``client-output-buffer-limit`` only the classes named in ``wanted`` are compared.
    """
    if name == "client-output-buffer-limit":
        have, want = _buffer_limits(current), _buffer_limits(wanted)
        return all(have.get(cls) == limits for cls, limits in want.items())
    return _normal(name, current) == _normal(name, wanted)


def audit(current: dict[str, str], recommended: list[Setting]) -> list[Difference]:
    """Every recommended setting the server does not have, in the recommendation's order."""
    out = []
    for setting in recommended:
        have = current.get(setting.name)
        if have is None or not same_value(setting.name, have, setting.value):
            out.append(Difference(setting.name, have, setting.value, setting.reason))
    return out
