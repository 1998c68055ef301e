"""``redisguard exporter``: serve Prometheus metrics for a Redis (or every primary of a cluster)."""

from __future__ import annotations

import logging
import signal
import threading

import click

from redisguard.cli.options import Duration, FiniteRange, connection_options, fail
from redisguard.connect import ConnectionOptions

__all__ = ["command", "parse_listen"]


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9121`` for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:9121", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)


@click.command("exporter")
@connection_options
@click.option("--listen", default="127.0.0.1:9121", show_default=True, metavar="HOST:PORT",
              help="Where to serve /metrics, /scrape?target=... and /status. /scrape reaches a target that "
                   "names no credentials with this exporter's: keep it on loopback or a trusted network.")
@click.option("--scrape-timeout", default="5s", show_default=True, type=Duration(),
              help="What has not arrived by then is missing (redisguard_scrape_partial 1).")
@click.option("--cache-ttl", default="1s", show_default=True, type=Duration(),
              help="Scrapes within this time of a collection get its result.")
@click.option("--max-streams", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Streams exported per node (the rest are counted in redisguard_streams_not_exported).")
@click.option("--consumer-metrics", is_flag=True, help="Also export per-consumer series (high cardinality).")
@click.option("--streams-interval", default="60s", show_default=True, type=Duration(),
              help="How often the stream list is rediscovered with SCAN TYPE stream (incrementally).")
@click.option("--keys-interval", default="1h", show_default=True, type=Duration(),
              help="Background keyspace analysis period (0 to turn it off).")
@click.option("--keys-sample", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Keys drawn by each background keyspace analysis.")
@click.option("--max-impact", type=FiniteRange(min=0, min_open=True), default=1.0, show_default=True,
              metavar="MS", help="Latency the background keyspace analysis may add for other clients.")
def command(conn: ConnectionOptions, listen: str, scrape_timeout: float, cache_ttl: float, max_streams: int,
            consumer_metrics: bool, streams_interval: float, keys_interval: float, keys_sample: int,
            max_impact: float) -> None:
    """Serve Prometheus metrics for URL: redis_exporter's names plus memory headroom, the time-to-full
    forecast, findings, stream lag/pending/memory and key patterns.

    Read-only; runs under `redisguard acl --for exporter`. On a cluster, one exporter covers every primary.
    """
    from redisguard.exporter import Exporter, ExporterSettings, serve

    if scrape_timeout <= 0:
        raise click.BadParameter("must be more than zero", param_hint="--scrape-timeout")
    host, port = parse_listen(listen)
    logging.basicConfig(level=logging.INFO, format="redisguard exporter: %(message)s")
    settings = ExporterSettings(scrape_timeout=scrape_timeout, cache_ttl=cache_ttl, max_streams=max_streams,
                                consumer_metrics=consumer_metrics, streams_interval=streams_interval,
                                keys_interval=keys_interval, keys_sample=keys_sample, max_impact_ms=max_impact)
    exporter = Exporter(conn, settings)
    try:
        httpd = serve(exporter, host, port)
    except OSError as exc:
        exporter.close()
        fail(f"cannot listen on {listen}: {exc.strerror or exc}", 2)
        return
    bound = httpd.server_address
    click.echo(f"redisguard exporter: {conn.display} on http://{host}:{bound[1]}/metrics", err=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        httpd.shutdown()
        exporter.close()
