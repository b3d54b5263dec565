import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from signals_assets.defs.partitions import weekly_partitions
from signals_assets.weeks import Week, latest_complete_week, unknown_week_message


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


NOW = datetime(2026, 11, 25, 18, tzinfo=timezone.utc)  # a Wednesday: week 2026-11-21 is open


def test_the_open_week_is_explained_with_when_it_closes_and_the_latest_week_to_use():
    message = unknown_week_message("2026-11-21", NOW)
    assert "still open until 2026-11-28 00:00 UTC" in message
    assert "weekly schedule materializes it that Saturday at 19:00 UTC" in message
    assert "from 2019-03-02 to 2026-11-14" in message and "--partition 2026-11-14" in message


def test_a_week_before_the_first_names_the_first_week():
    message = unknown_week_message("2019-02-23", NOW)
    assert "before the first week, 2019-03-02" in message and "Stock News API" in message


def test_a_future_week_and_a_weekday_are_explained():
    assert "starts 2027-01-02" in unknown_week_message("2027-01-02", NOW)
    assert "not a Saturday" in unknown_week_message("2026-11-18", NOW)


def test_the_partitions_definition_raises_the_explanation_instead_of_dagsters_bare_error():
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.errors import DagsterUnknownPartitionError

    open_week = Week.from_key(latest_complete_week().key).start + timedelta(days=7)
    with partition_loading_context() as context, pytest.raises(DagsterUnknownPartitionError) as raised:
        weekly_partitions.validate_partition_key(f"{open_week:%Y-%m-%d}", context)
    assert "still open" in str(raised.value) and "Could not find" not in str(raised.value)
    with partition_loading_context() as context:
        weekly_partitions.validate_partition_key(latest_complete_week().key, context)  # a valid key passes


def test_the_cli_names_the_open_week_and_the_weeks_that_exist(tmp_path):
    """`dagster asset materialize --partition <the open week>` as a user types it."""
    open_week = f"{Week.from_key(latest_complete_week().key).start + timedelta(days=7):%Y-%m-%d}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STOCKNEWS_", "NUMERAI_"))}
    env.update(DAGSTER_HOME=str(tmp_path), SIGNALS_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "signals_assets.definitions"]
    done = subprocess.run(
        [*command, "--select", "ticker_map", "--partition", open_week],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode != 0
    assert f"No week {open_week} yet: the week is still open" in done.stderr
    assert f"to {latest_complete_week().key}, the latest complete week" in done.stderr
