"""Go-template pieces for alert annotations: where an alert is, its value, and a command safe to paste.

Label values that come from the server (stream, group and node names) are hostile: they are shown with
Go's ``%q`` (quoted, control characters escaped). The instance label becomes a redis:// URL (unless it is
one already) inside POSIX single quotes, every ``'`` in it written as ``'\\''``, so the command is one
shell word whatever the label holds.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

__all__ = ["WHERE", "Runbook", "command", "duration", "group_of_stream", "integer", "percent", "size", "stream"]

WHERE = '{{ $labels.instance }}{{ with $labels.node }} node {{ printf "%q" . }}{{ end }}'


@dataclass(frozen=True)
class Runbook:
    """How the runbook command reaches the instance: the URL scheme for an instance label that is a bare
    ``host:port``, and arguments added after the URL (``--tls-ca``, ``--user``...), each shell-quoted."""

    scheme: str = "redis"
    extra_args: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        out = []
        if self.scheme not in ("redis", "rediss"):
            out.append("--runbook-scheme must be redis or rediss")
        if any("{{" in arg or "}}" in arg for arg in self.extra_args):
            out.append("--runbook-args must not contain {{ or }} (Go template delimiters)")
        if any(_carries_password(arg) for arg in self.extra_args):
            out.append("--runbook-args must not carry a password (the rules file is not secret): "
                       "redisguard reads REDISCLI_AUTH")
        return out


def _carries_password(arg: str) -> bool:
    """``--password``, ``--password=X``, or a URL with a password (``redis://:X@h``, ``redis://h?password=X``)."""
    if arg == "--password" or arg.startswith("--password="):
        return True
    if "://" not in arg:
        return False
    try:
        parts = urlsplit(arg)
        return bool(parts.password) or "password" in parse_qs(parts.query)
    except ValueError:
        return "@" in arg or "password=" in arg  # unparsable: refuse anything that could hide one


def command(subcommand: str, runbook: Runbook) -> str:
    """``redisguard SUBCOMMAND 'URL' ARGS...``: the URL from the instance label in POSIX single quotes."""
    url = f'(reReplaceAll "^([^/]*)$" "{runbook.scheme}://$1" $labels.instance)'
    quoted_url = "'{{ reReplaceAll \"'\" \"'\\\\''\" " + url + " }}'"
    tail = f" {shlex.join(runbook.extra_args)}" if runbook.extra_args else ""
    return f"redisguard {subcommand} {quoted_url}{tail}"


def group_of_stream() -> str:
    return 'group {{ printf "%q" $labels.group }} of stream {{ printf "%q" $labels.stream }}'


def stream() -> str:
    return '{{ printf "%q" $labels.stream }}'


def percent() -> str:
    return "{{ $value | humanizePercentage }}"


def duration() -> str:
    return "{{ $value | humanizeDuration }}"


def size() -> str:
    return "{{ $value | humanize1024 }}B"


def integer() -> str:
    return '{{ printf "%.0f" $value }}'
