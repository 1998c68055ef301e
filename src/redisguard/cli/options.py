"""Options shared by every subcommand that talks to Redis, and what the entry point needs to report errors.

Errors are not handled here: a command raises (a :class:`~redisguard.errors.RedisguardError`, or
whatever redis-py raised) and ``redisguard.cli.run`` prints one line. This module remembers, for that
line, which deployment the command was talking to and which secrets must never be printed.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from redisguard.connect import ConnectionOptions
from redisguard.connect.options import PASSWORD_ENV, redact_url
from redisguard.errors import UsageError
from redisguard.units import parse_duration

if TYPE_CHECKING:  # the rules package costs 60-90 ms to import: commands that print no fix never load it
    from redisguard.rules.commands import CommandContext

__all__ = ["Duration", "FiniteRange", "command_context", "connection_options", "current_target", "fail", "is_terminal",
           "json_option", "scrub", "writable_file"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_state: dict[str, Any] = {"target": "redis", "secrets": ()}


class Duration(click.ParamType[float]):
    """A DURATION option (``500ms``, ``30s``, ``2m``, ``6h``, ``1h30m``; :func:`~redisguard.units.parse_duration`)
    as seconds, at least ``minimum`` (more than it when ``above``): one syntax and one message for every command."""

    name = "DURATION"

    def __init__(self, minimum: float = 0.0, *, above: bool = False) -> None:
        self.minimum, self.above = minimum, above

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            seconds = parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds < self.minimum or (self.above and seconds == self.minimum):
            bound = "more than" if self.above else "at least"
            self.fail("must not be negative" if self.minimum == 0 and not self.above
                      else f"must be {bound} {self.minimum:g} s", param, ctx)
        return seconds


def current_target() -> str:
    """The redacted URL of the deployment the running command talks to (for error lines)."""
    return str(_state["target"])


def scrub(message: str) -> str:
    """``message`` with every password the command was given replaced by ``***`` (a last line of defence)."""
    secrets = set(_state["secrets"])
    env_secret = os.environ.get(PASSWORD_ENV)
    if env_secret and len(env_secret) >= 3:
        secrets.add(env_secret)
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def remember(target: str, secrets: tuple[str, ...]) -> None:
    _state["target"] = target
    _state["secrets"] = tuple(set(_state["secrets"]) | set(secrets))


def command_context(conn: ConnectionOptions) -> CommandContext:
    """What a printed fix command needs to reach the same deployment the same way (never the password)."""
    from redisguard.rules.commands import CommandContext

    kwargs = conn.redis_kwargs()
    return CommandContext(username=kwargs.get("username"), tls=conn.is_tls, tls_ca=conn.tls_ca, tls_cert=conn.tls_cert,
                          tls_key=conn.tls_key, tls_insecure=conn.tls_insecure, db=int(kwargs.get("db", 0) or 0),
                          password_needed=bool(kwargs.get("password")))


def fail(message: str, code: int) -> None:
    """Print one line to stderr and exit with ``code``.

    Prefer raising a :class:`~redisguard.errors.RedisguardError` subclass; this stays for commands that
    have not moved yet.
    """
    click.echo(f"redisguard: {scrub(message)}", err=True)
    raise SystemExit(code)


class FiniteRange(click.FloatRange):
    """``click.FloatRange`` that also refuses nan and inf: nan compares false with every bound, so the range
    let it through (``keys --rate nan`` was an internal error, ``--max-impact nan`` a scan without a budget)."""

    def _describe_range(self) -> str:
        if self.min is None and self.max is None:
            return ""  # no bounds: click would print "x<=None" in --help
        return super()._describe_range()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def writable_file(path: Path, option: str) -> None:
    """Refuse (a usage error, exit 2) an output file that could not be written, before any work is done: a
    missing or read-only directory, or a directory given as the file."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        problem = "is a directory"
    elif not parent.is_dir():
        problem = f"no directory {parent}"
    elif not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        problem = "not writable"
    else:
        return
    raise UsageError(f"{option} {path}: {problem}")


def is_terminal() -> bool:
    """Progress bars and colour only for a person at a terminal; quiet when piped or in CI.

    The same answer as ``Output.from_env().progress_allowed`` (cli/output.py), kept for its callers."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")


def json_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(func)


def connection_options(func: Callable[..., R]) -> Callable[..., R]:
    """Adds URL/credential/TLS/timeout options and passes a validated ``ConnectionOptions`` as ``conn``.

    A bad URL, port or timeout raises a :class:`~redisguard.errors.UsageError` (exit 2); failures while
    connecting or talking to Redis reach the entry point, which prints them in one line.
    """

    @click.argument("url", required=False, default=None, metavar="URL", envvar="REDISGUARD_URL")
    @click.option("--user", "username", default=None, help="ACL user name (overrides the URL's).")
    @click.option("--password", default=None,
                  help="Password (overrides the URL's). Safer: the REDISCLI_AUTH environment variable.")
    @click.option("--tls-ca", type=click.Path(dir_okay=False, exists=True), default=None, help="CA bundle for rediss://.")
    @click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), default=None, help="Client certificate.")
    @click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), default=None, help="Client private key.")
    @click.option("--tls-insecure", is_flag=True, help="Do not verify the server certificate.")
    @click.option("--connect-timeout", type=float, default=5.0, show_default=True, help="Seconds.")
    @click.option("--timeout", "command_timeout", type=float, default=10.0, show_default=True,
                  help="Seconds to wait for any one reply.")
    @functools.wraps(func)
    def wrapper(
        url: str | None,
        username: str | None,
        password: str | None,
        tls_ca: str | None,
        tls_cert: str | None,
        tls_key: str | None,
        tls_insecure: bool,
        connect_timeout: float,
        command_timeout: float,
        **kwargs: Any,
    ) -> R:
        raw = url or DEFAULT_URL
        remember(redact_url(raw), ConnectionOptions(url=raw, password=password).secrets())
        conn = ConnectionOptions.build(
            raw, username=username, password=password, tls_ca=tls_ca, tls_cert=tls_cert,
            tls_key=tls_key, tls_insecure=tls_insecure, connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )
        remember(conn.display, conn.secrets())
        return func(conn=conn, **kwargs)

    return wrapper
