"""``redisguard acl``: the ACL SETUSER line for a read-only diagnosis user."""

from __future__ import annotations

import click

from redisguard.connect.acl import PROFILES, acl_setuser_line

__all__ = ["command"]


@click.command("acl")
@click.option("--user", default="redisguard", show_default=True, help="User name to create.")
@click.option("--with-config", is_flag=True,
              help="Also grant CONFIG GET (lets doctor read save rules, timeouts and buffer limits; note that "
                   "CONFIG GET can also read requirepass/masterauth, which ACLs cannot exclude).")
@click.option("--for", "profile", type=click.Choice(sorted(PROFILES)), default="doctor", show_default=True,
              help="Which commands: doctor/snapshot/keys, or the exporter and watch (INFO, streams, no CONFIG).")
def command(user: str, with_config: bool, profile: str) -> None:
    """Print the least-privilege ACL SETUSER line for running doctor, snapshot and keys.

    Replace <password> before running it (redis-cli ACL SETUSER ...; then ACL SAVE or CONFIG REWRITE).
    """
    click.echo(acl_setuser_line(user, with_config=with_config, profile=profile))
    if not with_config and profile == "doctor":
        click.echo("# without CONFIG GET, doctor reads maxmemory and policy from INFO and names the "
                   "rest (save rules, timeout, buffer limits) as not visible", err=True)
