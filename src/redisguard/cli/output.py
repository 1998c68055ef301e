"""One owner of output for every command: the output-format options and the console factory.

httpie's ``Environment`` idea: :class:`Output` knows stdout/stderr, whether a person is watching
(a terminal, and not CI), the width and whether to colour; every command prints through it, and a
test can build one over a ``StringIO``. A pipe or ``CI=true`` gives plain text at a fixed width.

Usage in a command::

    @click.command("keys")
    @connection_options
    @output_options("json", "csv")          # adds --json and --csv (exclusive), passes ``fmt``
    def command(conn, fmt: str, ...):
        out = Output.from_env()
        if fmt == "json":
            out.json(report_to_dict(report))
        else:
            render_terminal(report, out.console())
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

if TYPE_CHECKING:  # rich costs ~50 ms to import: --json and --csv never load it
    from rich.console import Console

from redisguard.render.json import dumps

__all__ = ["FORMATS", "Output", "echo", "make_console", "output_options"]

R = TypeVar("R")

FORMATS: dict[str, str] = {
    "json": "Print the report as JSON (lossless: non-UTF-8 names also as *_b64).",
    "markdown": "Print the report as Markdown (for a ticket).",
    "csv": "Print the report as CSV (cells guarded against spreadsheet formulas).",
}
PLAIN_WIDTH = 120


def _in_ci(environ: dict[str, str] | os._Environ[str]) -> bool:
    return environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Output:
    """Where a command's output goes and how it may look."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdout_is_terminal: bool = False
    stderr_is_terminal: bool = False
    width: int | None = None  # None: the terminal's own width
    colour: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Output:
        env = os.environ if environ is None else environ
        ci = _in_ci(env)
        out_tty = sys.stdout.isatty() and not ci
        err_tty = sys.stderr.isatty() and not ci
        return cls(stdout=sys.stdout, stderr=sys.stderr, stdout_is_terminal=out_tty, stderr_is_terminal=err_tty,
                   width=None if out_tty else PLAIN_WIDTH, colour=out_tty and "NO_COLOR" not in env)

    @property
    def progress_allowed(self) -> bool:
        """Progress bars and spinners: only for a person watching stderr."""
        return self.stderr_is_terminal

    def console(self, *, stderr: bool = False, width: int | None = None) -> Console:
        """A rich console over stdout (or stderr): plain, fixed width and no colour unless a person is watching."""
        terminal = self.stderr_is_terminal if stderr else self.stdout_is_terminal
        return make_console(file=self.stderr if stderr else self.stdout, highlight=False,
                            force_terminal=terminal, no_color=not (self.colour and terminal),
                            width=width or (None if terminal else self.width or PLAIN_WIDTH), soft_wrap=False)

    def echo(self, text: str, *, nl: bool = True) -> None:
        self.stdout.write(text + ("\n" if nl else ""))

    def json(self, data: Any) -> None:
        self.echo(dumps(data))

    def note(self, text: str) -> None:
        """One line for the person on stderr (never mixed into a report on stdout)."""
        self.stderr.write(text + "\n")


@functools.cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class PipeConsole(Console):
        """Rich's console, except that a reader closing the pipe (``| head``) ends the command as it ends the
        plain-text ones: quietly, exit 141 (``redisguard.cli``); rich's own default is exit 1."""

        def on_broken_pipe(self) -> None:  # rich's own exits 1; the group's invoke() ends it (and stdout)
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "the reader closed the pipe")

    return PipeConsole


def make_console(**options: Any) -> Console:
    """A rich ``Console(**options)`` that treats a closed pipe as the end of the output, not an error.

    Emoji codes are off: a key named ``:smile:`` is shown as its name, not as a smiley."""
    return _console_class()(**{"emoji": False, **options})


def echo(text: str, *, nl: bool = True, err: bool = False) -> None:
    """One line through :class:`Output` from the environment: stdout, or stderr (a note) with ``err``; for commands
    that print as they go (fix, config) rather than render one model."""
    out = Output.from_env()
    if err:
        out.note(text)
    else:
        out.echo(text, nl=nl)


def output_options(*formats: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Adds ``--json``/``--markdown``/``--csv`` (the ones named, mutually exclusive) and passes ``fmt``:
    ``"terminal"`` or the chosen format's name."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown output formats {sorted(unknown)}")

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> R:
            chosen = [name for name in formats if kwargs.pop(f"as_{name}", False)]
            if len(chosen) > 1:
                raise click.UsageError(" and ".join(f"--{name}" for name in chosen) + " are exclusive")
            return func(fmt=chosen[0] if chosen else "terminal", **kwargs)

        for name in reversed(formats):
            wrapper = click.option(f"--{name}", f"as_{name}", is_flag=True, help=FORMATS[name])(wrapper)
        return wrapper

    return decorate
