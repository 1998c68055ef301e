"""The line a person pastes into a POSIX shell for a runnable fix: quoted, with the connection flags.

Pure string work, shared by every face (terminal, Markdown, JSON, HTML). Nothing a server supplied can
escape its quotes: arguments are quoted with :func:`shlex.quote`; an argument that is not printable
UTF-8 (a non-UTF-8 byte, a control character) is produced by ``printf`` with octal escapes inside
single quotes, or, for a Redis command, the whole command is piped into ``redis-cli`` in redis-cli's
own quoting (which ``redis-cli`` parses back into the exact bytes). The password is never part of a
line: ``redis-cli`` and ``redisguard`` both read ``$REDISCLI_AUTH``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from redisguard.keynames import quote_cli, to_bytes
from redisguard.rules.finding import Fix, FixKind

__all__ = ["CommandContext", "shell_line", "split_address"]


@dataclass(frozen=True)
class CommandContext:
    """How the user reached the deployment (never the password): what a pasted command needs to do the same."""

    username: str | None = None
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_insecure: bool = False
    db: int = 0
    password_needed: bool = False


def split_address(address: str) -> tuple[str, int | None, int | None]:
    """``host:port`` (``[v6]:port`` too) or a redacted URL → (host, port, db); a socket → (path, None, db)."""
    if "://" in address:
        try:
            parts = urlsplit(address)
            port = parts.port
        except ValueError:
            return address, None, None
        db = parts.path.strip("/")
        db_number = int(db) if db.isdigit() else None
        if parts.scheme == "unix":
            query_db = dict(parse_qsl(parts.query)).get("db", "")
            return parts.path, None, int(query_db) if query_db.isdigit() else None
        return parts.hostname or "127.0.0.1", port or 6379, db_number
    host, sep, port_text = address.rpartition(":")
    if sep and port_text.isdigit() and host:
        return host.strip("[]"), int(port_text), None
    return address, None, None


def _plain(arg: str) -> bool:
    return arg.isprintable() and not any(0xDC80 <= ord(char) <= 0xDCFF for char in arg)


def _printf_arg(arg: str) -> str:
    """A shell word that expands to the exact bytes of ``arg``: ``"$(printf '...')"`` with octal escapes."""
    out = []
    for byte in to_bytes(arg):
        char = chr(byte)
        if char == "%":
            out.append("%%")
        elif char in "\\'" or not (0x20 <= byte < 0x7F):
            out.append(f"\\{byte:03o}")
        else:
            out.append(char)
    return f"\"$(printf '{''.join(out)}')\""


def _word(arg: str) -> str:
    return shlex.quote(arg) if _plain(arg) else _printf_arg(arg)


def _redis_cli_flags(node: str, ctx: CommandContext) -> list[str]:
    host, port, db = split_address(node)
    flags = ["redis-cli", "-s", host] if port is None else ["redis-cli", "-h", host, "-p", str(port)]
    if ctx.username:
        flags += ["--user", ctx.username]
    if ctx.tls:
        flags.append("--tls")
        for option, value in (("--cacert", ctx.tls_ca), ("--cert", ctx.tls_cert), ("--key", ctx.tls_key)):
            if value:
                flags += [option, value]
        if ctx.tls_insecure:
            flags.append("--insecure")
    number = ctx.db if db is None else db
    if number:
        flags += ["-n", str(number)]
    return flags


def _redisguard_flags(ctx: CommandContext) -> list[str]:
    flags: list[str] = []
    if ctx.username:
        flags += ["--user", ctx.username]
    for option, value in (("--tls-ca", ctx.tls_ca), ("--tls-cert", ctx.tls_cert), ("--tls-key", ctx.tls_key)):
        if value:
            flags += [option, value]
    if ctx.tls_insecure:
        flags.append("--tls-insecure")
    return flags


def node_url(node: str, ctx: CommandContext) -> str:
    """The URL of ``node`` without any user or password (those come from ``--user`` and ``$REDISCLI_AUTH``)."""
    host, port, db = split_address(node)
    number = ctx.db if db is None else db
    if port is None:
        return f"unix://{host}?db={number}" if number else f"unix://{host}"
    bracketed = f"[{host}]" if ":" in host else host
    return f"{'rediss' if ctx.tls else 'redis'}://{bracketed}:{port}/{number}"


def shell_line(fix: Fix, ctx: CommandContext | None = None) -> str | None:
    """The POSIX shell line that runs ``fix`` against its node; ``None`` for manual advice.

    A line that cannot be made safe (an argument ending in a newline, which command substitution
    would drop) is returned as a shell comment, so pasting it does nothing.
    """
    context = ctx or CommandContext()
    if fix.kind is FixKind.MANUAL or not fix.argv:
        return None
    if fix.kind is FixKind.REDIS:
        flags = shlex.join(_redis_cli_flags(fix.node or "127.0.0.1:6379", context))
        if all(_plain(arg) for arg in fix.argv):
            return f"{flags} {shlex.join(fix.argv)}"
        line = " ".join(quote_cli(arg) for arg in fix.argv)
        return f"printf '%s\\n' {shlex.quote(line)} | {flags}"
    if any(to_bytes(arg).endswith(b"\n") for arg in fix.argv):
        return "# cannot be pasted safely (an argument ends in a newline): use this fix's argv from --json"
    # Options first, then ``--`` so that no name (``-rf``, ``--help``) can be read as an option, then
    # the positionals and the node's URL (every redisguard command takes the URL as its last argument).
    index = fix.argv.index("--") if "--" in fix.argv else len(fix.argv)
    before, after = list(fix.argv[:index]), list(fix.argv[index + 1:])
    if fix.node is not None:
        after.append(node_url(fix.node, context))
    words = [*before, *_redisguard_flags(context), "--", *after]
    return "redisguard " + " ".join(_word(word) for word in words)
