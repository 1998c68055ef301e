"""``redisguard acl``: the ACL SETUSER line for a read-only diagnosis user."""

from __future__ import annotations

import shlex

import click

from redisguard.cli.output import Output, output_options
from redisguard.connect.acl import acl_setuser_argv, acl_setuser_line

__all__ = ["command"]


@click.command("acl")
@click.option("--user", default="redisguard", show_default=True, help="User name to create.")
@click.option("--with-config", is_flag=True,
              help="Also grant CONFIG GET (lets doctor read save rules, timeouts and buffer limits; note that "
                   "CONFIG GET can also read requirepass/masterauth, which ACLs cannot exclude).")
@output_options("json")
def command(user: str, with_config: bool, fmt: str) -> None:
    """Print the least-privilege ACL SETUSER line for running doctor, snapshot and keys.

    Replace <password> before running it (redis-cli ACL SETUSER ...; then ACL SAVE or CONFIG REWRITE).
    """
    out = Output.from_env()
    line = acl_setuser_line(user, with_config=with_config)
    argv = acl_setuser_argv(user, with_config=with_config)
    if fmt == "json":
        out.json({"user": user, "with_config": with_config, "command": line, "argv": argv,
                  "shell": shlex.join(["redis-cli", *argv])})
        return
    out.echo(line)
    out.note(f"# that line is for a redis-cli prompt; from a shell (> and | are shell operators): "
             f"{shlex.join(['redis-cli', *argv])}")
    if not with_config:
        click.echo("# without CONFIG GET, doctor reads maxmemory and policy from INFO and names the "
                   "rest (save rules, timeout, buffer limits) as not visible", err=True)
