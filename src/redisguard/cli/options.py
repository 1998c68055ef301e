"""Options and error handling shared by every subcommand that talks to Redis."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

from redisguard.connect import ConnectError, ConnectionOptions

__all__ = ["connection_options", "fail", "is_terminal", "json_option"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def fail(message: str, code: int) -> None:
    """Print one line to stderr and exit with ``code``: how every expected failure ends."""
    click.echo(f"redisguard: {message}", err=True)
    raise SystemExit(code)


def is_terminal() -> bool:
    """Progress bars and colour only for a person at a terminal; quiet when piped or in CI."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")


def json_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(func)


def connection_options(func: Callable[..., R]) -> Callable[..., R]:
    """Adds URL/credential/TLS/timeout options and passes a validated ``ConnectionOptions`` as ``conn``.

    A :class:`ConnectError` raised anywhere in the command ends it with one line and exit code 3.
    """

    @click.argument("url", required=False, default=None, metavar="URL", envvar="REDISGUARD_URL")
    @click.option("--user", "username", default=None, help="ACL user name (overrides the URL's).")
    @click.option("--password", default=None,
                  help="Password (overrides the URL's). Safer: the REDISCLI_AUTH environment variable.")
    @click.option("--tls-ca", type=click.Path(dir_okay=False), default=None, help="CA bundle for rediss://.")
    @click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, help="Client certificate.")
    @click.option("--tls-key", type=click.Path(dir_okay=False), default=None, help="Client private key.")
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
        try:
            conn = ConnectionOptions.build(
                url or DEFAULT_URL, username=username, password=password, tls_ca=tls_ca, tls_cert=tls_cert,
                tls_key=tls_key, tls_insecure=tls_insecure, connect_timeout=connect_timeout,
                command_timeout=command_timeout,
            )
            return func(conn=conn, **kwargs)
        except ConnectError as exc:
            fail(str(exc), exc.exit_code)
            raise  # unreachable: fail() exits

    return wrapper
