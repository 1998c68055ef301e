"""What a rule produces: a Finding with its evidence, the bytes at stake, and fixes with their risk."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["Evidence", "Finding", "Fix", "Severity"]

Evidence = dict[str, str | int | float | None]


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Fix:
    """A command ready to copy (redis-cli syntax unless it says otherwise) and what it risks."""

    command: str
    risk: str


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
