"""``redisguard acl``: the ACL SETUSER line for a read-only diagnosis user."""

from __future__ import annotations

import click

from redisguard.connect.acl import acl_setuser_line, fix_acl_setuser_line

__all__ = ["command"]


@click.command("acl")
@click.option("--user", default="redisguard", show_default=True, help="User name to create.")
@click.option("--with-config", is_flag=True,
              help="Also grant CONFIG GET (lets doctor read save rules, timeouts and buffer limits; note that "
                   "CONFIG GET can also read requirepass/masterauth, which ACLs cannot exclude).")
@click.option("--for", "purpose", type=click.Choice(["diagnosis", "fix"]), default="diagnosis", show_default=True,
              help="fix: the user `redisguard fix --apply` runs as (diagnosis plus exactly the writes fix sends).")
def command(user: str, with_config: bool, purpose: str) -> None:
    """Print the least-privilege ACL SETUSER line for running doctor, snapshot and keys (or fix).

    Replace <password> before running it (redis-cli ACL SETUSER ...; then ACL SAVE or CONFIG REWRITE).
    """
    if purpose == "fix":
        click.echo(fix_acl_setuser_line(user if user != "redisguard" else "redisguard-fix"))
        return
    click.echo(acl_setuser_line(user, with_config=with_config))
    if not with_config:
        click.echo("# without CONFIG GET, doctor reads maxmemory and policy from INFO and names the "
                   "rest (save rules, timeout, buffer limits) as not visible", err=True)
