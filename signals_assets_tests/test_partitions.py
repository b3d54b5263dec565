from datetime import date, datetime, timezone

import pandas as pd
import pytest

from signals_assets.defs.partitions import weekly_partitions
from signals_assets.weeks import Week, latest_complete_week


def test_key_opens_a_saturday_window_and_signal_date_is_the_friday_before_its_end():
    week = Week.from_key("2026-11-14")
    assert week.start == datetime(2026, 11, 14, tzinfo=timezone.utc)
    assert week.end == datetime(2026, 11, 21, tzinfo=timezone.utc)
    assert week.friday == date(2026, 11, 20)


def test_partitions_are_saturdays_from_march_2019():
    keys = weekly_partitions.get_partition_keys(current_time=datetime(2026, 11, 24, tzinfo=timezone.utc))
    assert keys[0] == "2019-03-02"
    assert keys[-1] == "2026-11-14"
    assert all(datetime.strptime(key, "%Y-%m-%d").weekday() == 5 for key in keys)


def test_window_is_half_open():
    week = Week.from_key("2026-11-14")
    instants = pd.Series(pd.to_datetime(["2026-11-14 00:00:00Z", "2026-11-20 23:59:59Z", "2026-11-21 00:00:00Z"]))
    assert week.contains(instants).tolist() == [True, True, False]


def test_latest_complete_week_is_the_one_that_just_ended():
    assert latest_complete_week(datetime(2026, 11, 24, 12, tzinfo=timezone.utc)).key == "2026-11-14"
    # Saturday 19:00 UTC, when the schedule fires: the week that ended at midnight.
    assert latest_complete_week(datetime(2026, 11, 21, 19, tzinfo=timezone.utc)).key == "2026-11-14"


def test_a_key_that_is_not_a_saturday_is_a_clear_error():
    with pytest.raises(ValueError, match="not a Saturday"):
        Week.from_key("2026-11-16")
