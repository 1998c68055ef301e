"""The one duration syntax every option takes (keys --budget, watch --interval, exporter and alerts options)."""

from __future__ import annotations

import pytest

from redisguard.units import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("90s", 90.0), ("500ms", 0.5), ("2m", 120.0), ("30min", 1800.0), ("6h", 21600.0),
    ("1d", 86400.0), ("1h30m", 5400.0), (" 1.5 h ", 5400.0), ("1m30s", 90.0),
])
def test_durations_accepted(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "-1s", "1x", "1 hour", "1h-30m", "ms", "1e3"])
def test_durations_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
