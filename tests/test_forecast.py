"""redisguard.forecast on synthetic series with known answers, and its invariances (hypothesis)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisguard.forecast import (
    MAX_HORIZON_SECONDS,
    Forecast,
    History,
    consequence_of,
    counted_memory,
    forecast,
)

MB = 1_000_000
LIMIT = 1000 * MB


def linear(rate: float, start: int = 100 * MB, seconds: int = 600, every: float = 1.0) -> list[tuple[float, int]]:
    return [(1.7e9 + i * every, int(start + rate * i * every)) for i in range(int(seconds / every))]


def sawtooth(trend: float, rise: float, period: float, seconds: int = 1800,
             base: int = 200 * MB) -> list[tuple[float, int]]:
    """Grows at ``rise`` B/s for ``period`` s, then drops back to a trough that moves at ``trend`` B/s."""
    out = []
    for i in range(seconds):
        phase = i % period
        out.append((1.7e9 + i, int(base + trend * i + rise * phase)))
    return out


def expect(result: Forecast | None, rate: float, tolerance: float = 0.02) -> Forecast:
    assert result is not None
    assert result.rate_bytes_per_second == pytest.approx(rate, rel=tolerance)
    truth = (result.limit_bytes - result.current_bytes) / rate
    assert result.seconds_lower <= result.seconds_to_limit <= result.seconds_upper
    assert result.seconds_lower <= truth * (1 + tolerance) and truth * (1 - tolerance) <= result.seconds_upper
    return result


def test_linear_growth_gives_the_exact_rate_and_time() -> None:
    samples = linear(rate=100_000)
    result = expect(forecast(samples, LIMIT, "noeviction"), 100_000, tolerance=0.001)
    assert result.current_bytes == samples[-1][1]
    assert result.seconds_to_limit == pytest.approx((LIMIT - samples[-1][1]) / 100_000, rel=0.001)
    assert result.consequence == "write errors"
    assert result.samples_used == len(samples)
    assert result.limit_bytes == LIMIT


def test_samples_in_any_order_give_the_same_answer() -> None:
    samples = linear(rate=50_000)
    shuffled = samples[:]
    random.Random(7).shuffle(shuffled)
    assert forecast(shuffled, LIMIT, "allkeys-lru") == forecast(samples, LIMIT, "allkeys-lru")


@pytest.mark.parametrize(("policy", "consequence"), [
    ("allkeys-lru", "evictions"), ("volatile-ttl", "evictions"), ("allkeys-lrm", "evictions"),
    ("noeviction", "write errors"), (None, "write errors"),
])
def test_consequence_by_policy(policy: str | None, consequence: str) -> None:
    assert consequence_of(policy) == consequence
    result = forecast(linear(rate=100_000), LIMIT, policy)
    assert result is not None and result.consequence == consequence


def test_flat_memory_has_no_forecast() -> None:
    assert forecast(linear(rate=0), LIMIT, "noeviction") is None


def test_flat_noisy_memory_has_no_forecast() -> None:
    rng = random.Random(3)
    samples = [(1.7e9 + i, 300 * MB + int(rng.gauss(0, 2 * MB))) for i in range(1800)]
    assert forecast(samples, LIMIT, "noeviction") is None


def test_shrinking_memory_has_no_forecast() -> None:
    assert forecast(linear(rate=-100_000, start=800 * MB), LIMIT, "noeviction") is None


@pytest.mark.parametrize("limit", [0, None])
def test_no_limit_has_no_forecast(limit: int | None) -> None:
    assert forecast(linear(rate=100_000), limit, "noeviction") is None


def test_too_few_samples_have_no_forecast() -> None:
    assert forecast(linear(rate=100_000, seconds=5), LIMIT, "noeviction") is None
    assert forecast([], LIMIT, "noeviction") is None


def test_flat_sawtooth_of_expiry_has_no_forecast() -> None:
    # Rises 50 MB in each 60 s cycle, then expiry takes it back: the lows are flat, memory is not growing.
    samples = sawtooth(trend=0, rise=50 * MB / 60, period=60)
    assert forecast(samples, LIMIT, "noeviction") is None


def test_growing_sawtooth_gives_the_growth_of_the_lows() -> None:
    samples = sawtooth(trend=20_000, rise=50 * MB / 60, period=60)
    expect(forecast(samples, LIMIT, "noeviction"), 20_000, tolerance=0.05)


def irregular_sawtooth(trend: float, seed: int, every: int) -> list[tuple[float, int]]:
    """Noisy teeth of random length (40-80 s) rising 600 kB/s, dropping back near a trough moving at ``trend``."""
    rng = random.Random(seed)
    out, value, base, next_drop = [], 200.0 * MB, 200.0 * MB, rng.uniform(40, 80)
    for i in range(0, 3600, every):
        base += trend * every
        value += 600_000 * every + rng.gauss(0, 200_000)
        if i >= next_drop:
            value, next_drop = base + rng.gauss(0, MB), i + rng.uniform(40, 80)
        out.append((1.7e9 + i, int(value)))
    return out


@pytest.mark.parametrize("every", [1, 5, 15, 30])
def test_irregular_noisy_sawtooth_sampled_sparsely(every: int) -> None:
    for seed in range(8):
        assert forecast(irregular_sawtooth(0, seed, every), LIMIT, "noeviction") is None, seed
        expect(forecast(irregular_sawtooth(20_000, seed, every), LIMIT, "noeviction"), 20_000, tolerance=0.15)


def test_one_drop_has_no_forecast_until_a_second_one_shows_the_period() -> None:
    # The first tooth alone is growth (nothing can tell it from growth); after one drop, no forecast;
    # from the second drop the period is known and the flat lows say "not growing".
    samples = sawtooth(trend=0, rise=50 * MB / 600, period=600, seconds=1800)
    assert forecast(samples[:590], LIMIT, "noeviction") is not None
    assert forecast(samples[:1190], LIMIT, "noeviction") is None
    assert forecast(samples, LIMIT, "noeviction") is None
    # a one-off fall during steady growth: none while it is in the window
    falling = [(1.7e9 + i, 400 * MB + 30_000 * i - (100 * MB if i >= 900 else 0)) for i in range(1800)]
    assert forecast(falling, LIMIT, "noeviction") is None
    expect(forecast(falling[900:], LIMIT, "noeviction"), 30_000)


def test_step_change_then_flat_has_no_forecast() -> None:
    samples = [(1.7e9 + i, 200 * MB if i < 900 else 500 * MB) for i in range(1800)]
    assert forecast(samples, LIMIT, "noeviction") is None


def test_step_change_in_steady_growth_keeps_the_growth_rate() -> None:
    samples = [(1.7e9 + i, 200 * MB + 30_000 * i + (300 * MB if i >= 1500 else 0)) for i in range(1800)]
    expect(forecast(samples, LIMIT, "noeviction"), 30_000)


def test_restart_starts_a_new_series() -> None:
    before = [(1.7e9 + i, 600 * MB + 200_000 * i) for i in range(600)]
    after = [(1.7e9 + 600 + i, 1 * MB + 10_000 * i) for i in range(600)]
    result = expect(forecast(before + after, LIMIT, "noeviction"), 10_000)
    assert result.samples_used == len(after)


def test_restart_with_too_little_history_after_it_has_no_forecast() -> None:
    before = [(1.7e9 + i, 600 * MB + 200_000 * i) for i in range(600)]
    after = [(1.7e9 + 600 + i, 1 * MB + 10_000 * i) for i in range(5)]
    assert forecast(before + after, LIMIT, "noeviction") is None


def test_noisy_growth_is_close_and_its_bounds_hold_the_truth() -> None:
    rng = random.Random(11)
    rate = 150_000
    samples = [(1.7e9 + i, int(200 * MB + rate * i + rng.gauss(0, 3 * MB))) for i in range(1800)]
    result = forecast(samples, LIMIT, "allkeys-lru")
    assert result is not None
    assert result.rate_bytes_per_second == pytest.approx(rate, rel=0.10)
    truth = (LIMIT - result.current_bytes) / rate
    assert result.seconds_lower <= truth <= result.seconds_upper
    assert result.consequence == "evictions"


def test_growth_too_slow_to_matter_within_the_horizon_has_no_forecast() -> None:
    # 1 B/s against 900 MB of headroom: ~28 years away, not a forecast.
    assert forecast(linear(rate=1.0, seconds=3600, every=10), LIMIT, "noeviction") is None
    assert (LIMIT - 100 * MB) / 1.0 > MAX_HORIZON_SECONDS


def test_at_or_over_the_limit_the_time_is_zero() -> None:
    samples = linear(rate=100_000, start=LIMIT)
    result = forecast(samples, LIMIT, "noeviction")
    assert result is not None and result.seconds_to_limit == result.seconds_lower == 0.0


def test_counted_memory_subtracts_what_redis_does_not_count() -> None:
    assert counted_memory(10 * MB, 3 * MB) == 7 * MB
    assert counted_memory(10 * MB, 0) == 10 * MB
    assert counted_memory(1 * MB, 3 * MB) == 0


def test_history_keeps_a_bounded_rolling_window() -> None:
    history = History(window_seconds=100, max_samples=50)
    for i in range(300):
        history.add(1.7e9 + i, i)
    kept = history.samples()
    assert len(kept) == 50 and len(history) == 50
    assert kept[-1] == (1.7e9 + 299, 299) and kept == sorted(kept)
    wide = History(window_seconds=10, max_samples=1000)
    for i in range(300):
        wide.add(1.7e9 + i, i)
    assert [t for t, _ in wide.samples()] == [1.7e9 + i for i in range(289, 300)]
    with pytest.raises(ValueError, match="window_seconds"):
        History(window_seconds=0)


def test_history_feeds_forecast() -> None:
    history = History()
    for t, value in linear(rate=100_000, seconds=7200, every=5):
        history.add(t, value)
    result = expect(forecast(history.samples(), LIMIT, "noeviction"), 100_000, tolerance=0.001)
    assert result.samples_used == len(history) == 721


# --- invariances -------------------------------------------------------------------------------------------

def _noisy(rate: float, noise: float, seed: int, count: int, every: float,
           tooth: float = 0.0, period: int = 1) -> list[tuple[float, int]]:
    """Trend + Gaussian noise, plus an optional sawtooth (``tooth`` bytes per sample for ``period`` samples)."""
    rng = random.Random(seed)
    return [(i * every, int(300 * MB + rate * i * every + tooth * (i % period) + rng.gauss(0, noise)))
            for i in range(count)]


_series = st.builds(
    _noisy,
    rate=st.floats(min_value=-50_000, max_value=200_000),
    noise=st.floats(min_value=0, max_value=2 * MB),
    seed=st.integers(0, 2**16),
    count=st.integers(20, 240),
    every=st.floats(min_value=0.5, max_value=30),
    tooth=st.one_of(st.just(0.0), st.floats(min_value=100_000, max_value=5 * MB)),
    period=st.integers(2, 40),
)


def _same(a: Forecast | None, b: Forecast | None, time_scale: float = 1.0) -> None:
    # "Beyond rounding": times near 1.7e9 s carry ~2.4e-7 s of float rounding, i.e. up to ~1e-5 of a
    # 50 ms sampling interval (time scaled by >= 0.1); bytes are integers.
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    assert b.rate_bytes_per_second == pytest.approx(a.rate_bytes_per_second / time_scale, rel=1e-3, abs=1e-6)
    for name in ("seconds_to_limit", "seconds_lower", "seconds_upper"):
        assert getattr(b, name) == pytest.approx(getattr(a, name) * time_scale, rel=1e-3, abs=1e-6)
    assert b.samples_used == a.samples_used and b.consequence == a.consequence


@settings(max_examples=60, deadline=None)
@given(samples=_series, offset=st.integers(0, 10**12))
def test_a_constant_offset_in_bytes_changes_nothing(samples: list[tuple[float, int]], offset: int) -> None:
    moved = [(t, v + offset) for t, v in samples]
    _same(forecast(samples, LIMIT, "noeviction"), forecast(moved, LIMIT + offset, "noeviction"))


@settings(max_examples=60, deadline=None)
@given(samples=_series, scale=st.floats(min_value=0.1, max_value=50), shift=st.floats(-2e9, 2e9))
def test_scaling_and_shifting_time_changes_only_the_time_unit(
    samples: list[tuple[float, int]], scale: float, shift: float,
) -> None:
    original = forecast(samples, LIMIT, "allkeys-lru")
    rescaled = forecast([(t * scale + 1.7e9 + shift, v) for t, v in samples], LIMIT, "allkeys-lru")
    # The horizon cap is in seconds: scaling time moves a forecast near it across it. Skip those.
    if (original is not None and original.seconds_to_limit * scale > MAX_HORIZON_SECONDS * 0.9) or (
            rescaled is not None and rescaled.seconds_to_limit / scale > MAX_HORIZON_SECONDS * 0.9):
        return
    _same(original, rescaled, time_scale=scale)
