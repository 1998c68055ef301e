"""``redisguard streams``: every stream, its groups and consumers, and what can be trimmed safely."""

from __future__ import annotations

import click

from redisguard.cli.options import connection_options
from redisguard.cli.output import Output
from redisguard.connect import ConnectionOptions, discover
from redisguard.connect.topology import node_client
from redisguard.render.streams import print_streams, streams_json
from redisguard.streams import StreamScan, scan_stream_health

__all__ = ["command"]


@click.command("streams")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(conn: ConnectionOptions, as_json: bool) -> None:
    """Every stream: length, memory, ages; per group lag, pending, consumers; what is safe to trim.

    Read-only. On Redis Cluster every primary is read; pointed at a replica, the replica is read. Exit 1
    when something could not be read (SCAN or XINFO denied or renamed): the report then says what.
    """
    topology = discover(conn)
    nodes = topology.primaries or topology.nodes  # a standalone replica has no primary among the nodes
    replica = not topology.primaries
    scans: list[StreamScan] = []
    for node in nodes:
        with node_client(node) as client:
            scans.append(scan_stream_health(client, node.address))
    out = Output.from_env()
    if as_json:
        out.json(streams_json(scans, replica=replica))
    else:
        print_streams(out.console(), scans, replica=replica)
    if not all(scan.looked and not scan.unreadable for scan in scans):
        raise SystemExit(1)
