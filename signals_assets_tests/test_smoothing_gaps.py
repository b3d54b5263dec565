"""The warning about earlier weeks missing from the warehouse names the most recent gaps first: with halflife
smoothing last week weighs most, so its gap is the one a reader must see. (The warning itself, from a real
scaled_signal run, is checked in test_halflife.py.)"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from signals_assets.signal import smoothing
from signals_assets.weeks import Week

WEEK = Week.from_key("2026-10-31")


def week_key(weeks_from_now: int) -> str:
    return (WEEK.start + timedelta(weeks=weeks_from_now)).strftime("%Y-%m-%d")


def test_missing_weeks_are_listed_most_recent_first_and_the_rest_counted():
    missing = [pd.Timestamp(week_key(-age)) for age in range(20, 0, -1)]  # oldest first, as the decay lists them
    listed = smoothing.missing_weeks_listed(missing, shown=3)
    assert listed == f"{week_key(-1)}, {week_key(-2)}, {week_key(-3)} and 17 older weeks, back to {week_key(-20)}"
    assert smoothing.missing_weeks_listed(missing[-4:], shown=3).endswith("and 1 older week, back to " + week_key(-4))
    assert smoothing.missing_weeks_listed(missing[-2:]) == f"{week_key(-1)}, {week_key(-2)}"
