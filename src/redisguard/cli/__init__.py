"""The ``redisguard`` command line: one click group, one module per subcommand.

Errors end here, once: a :class:`~redisguard.errors.RedisguardError` (or anything redis-py raised in
the middle of a command, mapped by :func:`~redisguard.errors.from_redis`) becomes one line on stderr
and its exit code; Ctrl-C is exit 130 in every command.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click
import redis.exceptions as rex

from redisguard.cli.options import current_target, scrub
from redisguard.cli.priority import own_process
from redisguard.errors import (
    EXIT_CANCELLED,
    EXIT_CANNOT_CONNECT,
    EXIT_CLOSED_PIPE,
    EXIT_INTERNAL,
    EXIT_USAGE,
    RedisguardError,
    from_redis,
)
from redisguard.keynames import visible

__all__ = ["cli", "main"]

# Each module named here defines ``command`` (a click.Command) and holds that subcommand only.
COMMAND_MODULES: tuple[str, ...] = (
    "doctor", "snapshot", "acl", "demo", "keys", "streams", "trim", "alerts", "config", "fix", "report", "exporter",
    "watch",
)


def _silence_stdout() -> None:
    """Point stdout at /dev/null once its reader has left: nothing more reaches the closed pipe, not even the
    interpreter's flush at exit (which would print an error and exit 120)."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class RedisguardGroup(click.Group):
    """A click group whose standalone ``main`` (the console script, ``python -m``, click's CliRunner) ends
    every failure through :func:`run`: one line, the right exit code.

    A subcommand's module is imported when the subcommand is looked up, not at start: ``redisguard keys``
    started in 0.43-0.65 s against 0.59-0.81 s importing all thirteen (``--version``, alternating, load 3.4
    on 2 cores); ``--help`` and completion still list every command (:meth:`list_commands`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            self.add_command(importlib.import_module(f"redisguard.cli.{cmd_name}").command)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """A reader closing the pipe (``redisguard keys URL | head``) ends the command quietly with exit 141,
        as SIGPIPE ends a C tool: click's own handling of EPIPE exits 1, which reads as a doctor's warning."""
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            _silence_stdout()
            raise SystemExit(EXIT_CLOSED_PIPE) from None

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        raise SystemExit(run(None if args is None else list(args), group=self, prog_name=prog_name, **extra))


@click.group(cls=RedisguardGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="redisguard", prog_name="redisguard")  # looked up only for --version
def cli() -> None:
    """Keep Redis out of out-of-memory trouble: diagnose, find the keys, make streams memory-safe."""




def _say(message: str) -> None:
    """One line on stderr: secrets scrubbed, control characters and non-UTF-8 bytes from a name shown as escapes."""
    click.echo(f"redisguard: {visible(scrub(message))}", err=True)


def run(args: list[str] | None = None, *, group: click.Group | None = None, prog_name: str | None = None,
        **extra: Any) -> int:
    """Run the command line and return its exit code; every expected failure is one line on stderr."""
    try:
        result = click.Group.main(group or cli, args=args, prog_name=prog_name or "redisguard",
                                  standalone_mode=False, **extra)
    except SystemExit as exc:  # a command's own exit code (doctor: 0/1/2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except click.exceptions.Abort:  # click turns KeyboardInterrupt into Abort
        _say("cancelled")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        _say("cancelled")
        return EXIT_CANCELLED
    except click.ClickException as exc:  # usage errors: click's own message (exit 2)
        exc.show()
        return exc.exit_code
    except RedisguardError as exc:
        _say(str(exc))
        return exc.exit_code
    except (rex.RedisError, OSError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:  # `| head`: quietly, as SIGPIPE would
            return EXIT_CLOSED_PIPE
        if isinstance(exc, OSError) and exc.filename is not None:  # a file, not the server: not exit 3
            _say(f"cannot open {exc.filename}: {exc.strerror or exc}")
            return EXIT_USAGE
        error = from_redis(exc, current_target())
        _say(str(error))
        return error.exit_code
    except Exception as exc:
        if os.environ.get("REDISGUARD_DEBUG"):
            raise
        _say(f"internal error: {type(exc).__name__}: {exc} "
             "(set REDISGUARD_DEBUG=1 for the traceback, and please report it)")
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


def main() -> None:
    """Entry point (``redisguard`` and ``python -m redisguard``)."""
    own_process()  # a long scan may then yield the CPU to the server it shares a host with
    code = run()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the pipe's reader left before the last of the output: cut, as in invoke()
        code = EXIT_CLOSED_PIPE
        _silence_stdout()
    if code in (EXIT_CANCELLED, EXIT_CANNOT_CONNECT):
        # Ctrl-C, or a node lost: leave now. Another node's collector thread blocked in a socket read
        # would otherwise hold the interpreter's exit until its --timeout (concurrent.futures joins its
        # workers at exit). Output is flushed above; nothing else needs cleaning up.
        os._exit(code)
    raise SystemExit(code)
