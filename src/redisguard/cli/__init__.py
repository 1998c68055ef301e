"""The ``redisguard`` command line: one click group, one module per subcommand."""

from __future__ import annotations

import importlib
import os

import click

from redisguard import __version__

__all__ = ["cli", "main"]

# Each module named here defines ``command`` (a click.Command) and holds that subcommand only.
COMMAND_MODULES: tuple[str, ...] = ("doctor", "snapshot", "acl", "demo", "keys", "streams", "trim", "exporter")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="redisguard")
def cli() -> None:
    """Keep Redis out of out-of-memory trouble: diagnose, find the keys, make streams memory-safe."""


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(f"redisguard.cli.{_name}").command)


def main() -> None:
    """Entry point. An unexpected error is one line (set REDISGUARD_DEBUG=1 for the traceback)."""
    try:
        cli(prog_name="redisguard", standalone_mode=True)
    except Exception as exc:
        if os.environ.get("REDISGUARD_DEBUG"):
            raise
        click.echo(f"redisguard: internal error: {type(exc).__name__}: {exc} "
                   "(set REDISGUARD_DEBUG=1 for the traceback, and please report it)", err=True)
        raise SystemExit(4) from None
