"""What a rule produces: a Finding with its evidence, the bytes at stake, and fixes a program can act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from redisguard.keynames import quote_cli

__all__ = ["Evidence", "Finding", "Fix", "FixKind", "Severity"]

Evidence = dict[str, str | int | float | None]


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class FixKind(StrEnum):
    REDIS = "redis-command"  # ``argv`` is one Redis command, run against ``node`` (redis-cli, or a client)
    REDISGUARD = "redisguard-command"  # ``argv`` follows ``redisguard``; the target URL is added for ``node``
    MANUAL = "manual"  # advice for a person: never shown as a command, no argv


@dataclass(frozen=True)
class Fix:
    """One way to act on a finding: what kind it is, the text shown, its argv, the node it targets, its risk.

    Build one with :meth:`redis`, :meth:`redisguard` or :meth:`manual`. ``text`` is for reading (a Redis
    command in redis-cli's quoting); the line to paste into a shell is made by
    :func:`redisguard.rules.commands.shell_line`, which adds the connection flags.
    ``placeholders`` name the arguments a person must fill in (``<live-consumer>``).
    """

    kind: FixKind
    text: str
    risk: str
    argv: tuple[str, ...] = ()
    node: str | None = None
    placeholders: tuple[str, ...] = ()

    @classmethod
    def redis(cls, *argv: str, risk: str, node: str | None = None, placeholders: tuple[str, ...] = ()) -> Fix:
        return cls(FixKind.REDIS, " ".join(quote_cli(arg) for arg in argv), risk, tuple(argv), node, placeholders)

    @classmethod
    def redisguard(cls, *argv: str, risk: str, node: str | None = None) -> Fix:
        """``argv`` after the program name, options before a ``--`` and the positionals after it."""
        index = argv.index("--") if "--" in argv else len(argv)
        command, options, positionals = argv[:1], argv[1:index], argv[index + 1:]
        shown = " ".join(quote_cli(arg) for arg in (*command, *positionals, *options))
        return cls(FixKind.REDISGUARD, f"redisguard {shown}", risk, tuple(argv), node)

    @classmethod
    def manual(cls, text: str, risk: str) -> Fix:
        return cls(FixKind.MANUAL, text, risk)

    @property
    def runnable(self) -> bool:
        return self.kind is not FixKind.MANUAL

    @property
    def command(self) -> str:
        """The text shown (kept for callers of the first Fix, which had only a command string)."""
        return self.text


@dataclass
class Finding:
    id: str
    severity: Severity
    title: str
    node: str
    evidence: Evidence
    bytes_at_stake: int | None = None
    fixes: list[Fix] = field(default_factory=list)
    detail: str = ""

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (-int(self.severity), -(self.bytes_at_stake or 0), self.id)
