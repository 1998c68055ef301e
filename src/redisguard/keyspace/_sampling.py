"""Estimates and 95 % confidence intervals from a uniform sample of keys.

Why RANDOMKEY, and not SCAN from random cursors. Each ``RANDOMKEY`` is an independent draw, with
replacement, of one key, so a sample of n draws is i.i.d. and the textbook results hold: for a pattern,
the share of draws that land in it estimates its share of keys without bias, and ``N * mean(bytes of
the draw if in the pattern, else 0)`` estimates its bytes, with a variance we can estimate from the same
draws. SCAN from a random cursor instead returns whole hash buckets in cursor (reversed-bit) order: a
*cluster* sample whose inclusion probabilities depend on bucket occupancy and on whether the table is
mid-rehash (then SCAN visits both tables), and whose batches are correlated; getting honest intervals
from it needs the very bucket structure the client cannot see. RANDOMKEY is "uniform-ish": Redis picks
a random non-empty bucket, then a random entry of its chain (``dictGetFairRandomKey`` gathers a few
buckets' entries first to reduce the bias against keys in long chains). Key→bucket placement comes
from a per-process seeded SipHash, so that small bias is not correlated with key names or sizes, and
the estimates stay unbiased for every pattern in expectation over the seed. The population ``N`` is
``DBSIZE``, which still counts keys that are logically expired but not yet reclaimed (RANDOMKEY skips
and reclaims them): with many such keys, counts come out slightly high.

Across several nodes (a cluster, or shards) the sample is stratified: each node is sampled on its own
and its estimates are scaled by its own ``DBSIZE``; variances add. A node whose draws would cover all
its keys is scanned in full instead and contributes exact numbers with zero variance.

Intervals: key counts use the Wilson score interval for the pattern's share (it keeps its coverage
when the share is small, where the plain normal interval undercovers); with several sampled strata
the shares are combined with their stratified variance in the normal form. Bytes use the normal
interval of ``N * mean`` with the sample variance of the per-draw bytes. The bytes interval is
asymptotic: a pattern whose bytes sit in a handful of huge keys needs more draws before it covers at
the stated rate, which is why the report also lists the biggest keys the sample saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Z95", "Estimate", "Stratum", "estimate"]

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Stratum:
    """One node's contribution to one pattern: ``n`` draws out of ``population`` keys."""

    population: int
    draws: int
    hits: int  # draws that landed in the pattern
    bytes_sum: int  # sum over those draws of MEMORY USAGE
    bytes_sq_sum: int  # sum of squares, for the variance
    exact: bool = False  # the node was scanned in full: hits/bytes are the true values


@dataclass(frozen=True)
class Estimate:
    keys: float
    keys_low: float
    keys_high: float
    bytes: float
    bytes_low: float
    bytes_high: float


def _wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(strata: list[Stratum], z: float = Z95) -> Estimate:
    """Point estimates and 95 % intervals for one pattern's key count and bytes over all strata."""
    keys = 0.0
    keys_var = 0.0
    bytes_total = 0.0
    bytes_var = 0.0
    exact_keys = 0.0
    exact_bytes = 0.0
    sampled = [s for s in strata if not s.exact and s.draws > 0]
    for s in strata:
        if s.exact:
            exact_keys += s.hits
            exact_bytes += s.bytes_sum
    for s in sampled:
        n = s.draws
        p = s.hits / n
        keys += s.population * p
        mean = s.bytes_sum / n
        bytes_total += s.population * mean
        if n > 1:
            keys_var += s.population ** 2 * p * (1 - p) / (n - 1)
            sample_var = max(0.0, (s.bytes_sq_sum - n * mean * mean) / (n - 1))
            bytes_var += s.population ** 2 * sample_var / n
    if len(sampled) == 1:
        low, high = _wilson(sampled[0].hits, sampled[0].draws, z)
        keys_low = sampled[0].population * low
        keys_high = sampled[0].population * high
    else:
        half = z * math.sqrt(keys_var)
        keys_low, keys_high = max(0.0, keys - half), keys + half
    keys_low, keys_high = min(keys_low, keys), max(keys_high, keys)  # float rounding at shares of 0 and 1
    half_bytes = z * math.sqrt(bytes_var)
    return Estimate(
        keys=exact_keys + keys, keys_low=exact_keys + keys_low, keys_high=exact_keys + keys_high,
        bytes=exact_bytes + bytes_total, bytes_low=exact_bytes + max(0.0, bytes_total - half_bytes),
        bytes_high=exact_bytes + bytes_total + half_bytes,
    )
