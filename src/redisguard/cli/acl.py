"""``redisguard acl``: the ACL SETUSER line for a read-only diagnosis user."""

from __future__ import annotations

import shlex

import click

from redisguard.cli.output import Output, output_options
from redisguard.connect.acl import PROFILES, acl_setuser_argv, acl_setuser_line

__all__ = ["command"]


@click.command("acl")
@click.option("--user", default="redisguard", show_default=True, help="User name to create.")
@click.option("--with-config", is_flag=True,
              help="Also grant CONFIG GET (lets doctor read save rules, timeouts and buffer limits; note that "
                   "CONFIG GET can also read requirepass/masterauth, which ACLs cannot exclude).")
@click.option("--for", "profile", type=click.Choice(sorted(PROFILES)), default="diagnosis", show_default=True,
              help="What the user runs: diagnosis (doctor, snapshot, keys, streams), trim (its writes too), fix "
                   "(`redisguard fix --apply`: CONFIG GET/SET/REWRITE and exactly the writes fix sends), or "
                   "exporter (exporter and watch: INFO, streams, no CONFIG).")
@click.option("--keys", "key_pattern", default="*", show_default=True,
              help="Key pattern the user may access (ACL ~pattern), e.g. 'events:*' for a trim user.")
@output_options("json")
def command(user: str, with_config: bool, profile: str, key_pattern: str, fmt: str) -> None:
    """Print the least-privilege ACL SETUSER line for running doctor, snapshot and keys (or, with --for
    trim, `redisguard trim`).

    Replace <password> before running it (redis-cli ACL SETUSER ...; then ACL SAVE or CONFIG REWRITE).
    """
    if not user or any(char.isspace() or char == "\0" for char in user):  # Redis refuses them in ACL SETUSER
        raise click.BadParameter("a user name, without spaces or null characters (Redis refuses those)",
                                 param_hint="--user")
    if any(char.isspace() for char in key_pattern) or not key_pattern:
        raise click.BadParameter("one pattern without spaces (run the command once per pattern)", param_hint="--keys")
    out = Output.from_env()
    line = acl_setuser_line(user, with_config=with_config, profile=profile, keys=f"~{key_pattern}")
    argv = acl_setuser_argv(user, with_config=with_config, profile=profile, keys=f"~{key_pattern}")
    if fmt == "json":
        out.json({"user": user, "profile": profile, "with_config": with_config, "command": line, "argv": argv,
                  "shell": shlex.join(["redis-cli", *argv])})
        return
    out.echo(line)
    out.note(f"# that line is for a redis-cli prompt; from a shell (> and | are shell operators): "
             f"{shlex.join(['redis-cli', *argv])}")
    if not with_config and profile == "diagnosis":
        click.echo("# without CONFIG GET, doctor reads maxmemory and policy from INFO and names the "
                   "rest (save rules, timeout, buffer limits) as not visible", err=True)
