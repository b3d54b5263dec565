"""The warning about earlier weeks missing from the warehouse names the most recent gaps first: with halflife
smoothing last week weighs most, so its gap is the one a reader must see."""

from __future__ import annotations

import logging
from datetime import timedelta

import pandas as pd
from dagster import AssetSelection, DagsterInstance, materialize

from signals_assets.definitions import build_definitions
from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import Warehouse, warehouse_io_manager
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


def test_the_warning_names_last_weeks_gap_first_and_counts_the_older_ones(warehouse: Warehouse):
    # Only this week is stored: halflife 2 looks back 16 weeks and finds none of them.
    this_week = pd.DataFrame(
        {
            "week_start": pd.Timestamp(WEEK.key),
            "numerai_ticker": ["A US", "B US", "C US"],
            "sentiment": [0.1, -0.2, 0.3],
            "n_headlines": pd.Series([2, 2, 2], dtype="int64"),
            "model": "ProsusAI/finbert",
            "revision": "abc123",
        }
    )
    with warehouse.connect() as connection:
        connection.register("this_week", this_week)
        connection.execute("CREATE TABLE signals.finbert_scores AS SELECT * FROM this_week")
    definitions = build_definitions()
    resources = {
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "news": SampleNews(),
        "numerai": NumeraiSignals(universe="sample"),
        "numerai_data": NumeraiData(),
        "finbert": FinBERT(),
        "signal_settings": SignalSettings(halflife_weeks=2),
    }
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [*definitions.assets, *definitions.asset_checks],
            partition_key=WEEK.key,
            resources=resources,
            instance=instance,
            selection=AssetSelection.assets("scaled_signal").without_checks(),
            raise_on_error=False,
        )
        warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    assert result.success
    (warning,) = [message for message in warnings if "have no rows" in message]
    newest = ", ".join(week_key(-age) for age in range(1, 9))
    assert f"16 of them have no rows in signals.finbert_scores ({newest} and 8 older weeks, back to " in warning
    assert f"back to {week_key(-16)})" in warning
