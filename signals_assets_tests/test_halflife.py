"""`halflife_weeks` on scaled_signal: this week's FinBERT scores smoothed over the stored earlier weeks.

Earlier (and later) weeks' scores are written straight into `signals.finbert_scores`, as the finbert_scores
asset stores them; `scaled_signal` is then materialized by Dagster with its input loaded from that table.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import timedelta

import duckdb
import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from signals_assets.definitions import build_definitions
from signals_assets.defs.environment import number_from_env
from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings, VariantConfig
from signals_assets.defs.warehouse import Warehouse, warehouse_io_manager
from signals_assets.signal.scaling import MINMAX_MARGIN, build_scaled_signal
from signals_assets.signal.smoothing import (
    MAX_HALFLIFE_WEEKS,
    earlier_weeks,
    lookback_weeks,
    smoothed_signal,
    validated_halflife,
)
from signals_assets.weeks import FIRST_WEEK, Week

DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]
# Only the signal: the validity check wants a full universe, which these few tickers are not.
SIGNAL_ONLY = AssetSelection.assets("scaled_signal").without_checks()

WEEK = Week.from_key("2026-10-31")


def week_key(weeks_from_now: int) -> str:
    return (WEEK.start + timedelta(weeks=weeks_from_now)).strftime("%Y-%m-%d")


# The hand example: two weeks, halflife 1, weights 1 (this week) and 0.5 (last week).
THIS_WEEK = {"A US": 0.0, "B US": 0.3, "C US": 0.6, "E US": -0.3}
LAST_WEEK = {"A US": 0.9, "B US": 0.0, "C US": -0.9, "D US": 0.5}
# (this + 0.5 last) / 1.5 where both have a score; a ticker in one week only keeps that week's sentiment.
DECAYED = {"A US": 0.3, "B US": 0.2, "C US": 0.1, "D US": 0.5, "E US": -0.3}
# A later week with extreme scores and new tickers: it must never change a week before it.
LATER_WEEK = {"A US": -1.0, "B US": 1.0, "C US": -1.0, "D US": 1.0, "E US": 1.0, "Z US": -1.0}


def scores(sentiment: dict[str, float], key: str, model: str = "ProsusAI/finbert") -> pd.DataFrame:
    """Rows of signals.finbert_scores for one week, as the finbert_scores asset stores them."""
    return pd.DataFrame(
        {
            "week_start": pd.Timestamp(key),
            "numerai_ticker": list(sentiment),
            "sentiment": pd.Series(list(sentiment.values()), dtype="float64"),
            "n_headlines": pd.Series([2] * len(sentiment), dtype="int64"),
            "model": model,
            "revision": "abc123",
        }
    )


def store(warehouse: Warehouse, *weeks: pd.DataFrame) -> None:
    """Replace those weeks' rows of signals.finbert_scores."""
    with warehouse.connect() as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS signals.finbert_scores (week_start TIMESTAMP, numerai_ticker VARCHAR, "
            "sentiment DOUBLE, n_headlines BIGINT, model VARCHAR, revision VARCHAR)"
        )
        for frame in weeks:
            connection.execute("DELETE FROM signals.finbert_scores WHERE week_start = ?", [frame["week_start"].iloc[0]])
            connection.execute("INSERT INTO signals.finbert_scores SELECT * FROM frame")


def stored_signal(warehouse: Warehouse, key: str = WEEK.key) -> pd.DataFrame:
    with duckdb.connect(warehouse.database, read_only=True) as connection:
        return connection.execute(
            "SELECT numerai_ticker, signal, date FROM signals.scaled_signal WHERE week_start = ? ORDER BY 1",
            [pd.Timestamp(key)],
        ).fetchdf()


def signal_values(warehouse: Warehouse) -> dict[str, float]:
    return stored_signal(warehouse).set_index("numerai_ticker")["signal"].to_dict()


ONE_VARIANT = [VariantConfig(name="finbert")]


class Run:
    """One materialization of scaled_signal: success, its metadata, its warnings."""

    def __init__(self, warehouse: Warehouse, halflife: float | None = None, method: str = "rank", run_config=None):
        resources = {
            "warehouse": warehouse,
            "io_manager": warehouse_io_manager,
            "news": SampleNews(),
            "numerai": NumeraiSignals(universe="sample"),
            "numerai_data": NumeraiData(),
            "finbert": FinBERT(),
            # One variant: the stored weeks here are the default variant's, as a warehouse from before variants holds.
            "signal_settings": SignalSettings(variants=ONE_VARIANT)
            if halflife is None
            else SignalSettings(variants=ONE_VARIANT, halflife_weeks=halflife),
        }
        config = {"ops": {"scaled_signal": {"config": {"method": method}}}, **(run_config or {})}
        with DagsterInstance.ephemeral() as instance:
            result = materialize(
                GRAPH,
                partition_key=WEEK.key,
                resources=resources,
                instance=instance,
                selection=SIGNAL_ONLY,
                run_config=config,
                raise_on_error=False,
            )
            logs = instance.all_logs(result.run_id)
        self.success = result.success
        # Every error of the run: a step's, or a resource's that failed to start.
        self.failure = "\n".join(
            str(event.event_specific_data.error)
            for event in result.all_events
            if getattr(event.event_specific_data, "error", None) is not None
        )
        self.warnings = [
            entry.user_message for entry in logs if entry.level == logging.WARNING and not entry.is_dagster_event
        ]
        events = result.get_asset_materialization_events() if result.success else []
        self.metadata = {key: value.value for event in events for key, value in event.materialization.metadata.items()}


def minmax(values: dict[str, float]) -> dict[str, float]:
    low, high = min(values.values()), max(values.values())
    return {
        ticker: MINMAX_MARGIN + (1 - 2 * MINMAX_MARGIN) * (value - low) / (high - low)
        for ticker, value in values.items()
    }


# --- through Dagster, into DuckDB ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["rank", "minmax"])
def test_halflife_zero_is_the_undecayed_signal_whatever_the_other_weeks_hold(warehouse, method):
    store(
        warehouse,
        scores(LAST_WEEK, week_key(-1)),
        scores(THIS_WEEK, WEEK.key),
        scores(LATER_WEEK, week_key(1)),
    )
    run = Run(warehouse, halflife=0, method=method)
    assert run.success, run.failure
    undecayed = build_scaled_signal(scores(THIS_WEEK, WEEK.key), WEEK.friday, method)
    pd.testing.assert_frame_equal(stored_signal(warehouse), undecayed, check_dtype=False)
    assert set(stored_signal(warehouse)["numerai_ticker"]) == set(THIS_WEEK)  # D (last week only) not kept
    if method == "minmax":
        assert signal_values(warehouse) == pytest.approx(minmax(THIS_WEEK))
    assert run.metadata["halflife_weeks"] == 0 and run.metadata["lookback_weeks"] == 0
    assert run.metadata["weeks_used"] == 1 and run.metadata["earliest_week_used"] == WEEK.key
    assert run.warnings == []


@pytest.mark.parametrize("halflife", [0, 1, 2.5])
def test_no_halflife_reads_a_later_week(warehouse, halflife):
    store(warehouse, scores(LAST_WEEK, week_key(-1)), scores(THIS_WEEK, WEEK.key))
    assert Run(warehouse, halflife=halflife).success
    before = stored_signal(warehouse)
    # Extreme scores and a new ticker one and two weeks later, as a backfill run after later weeks leaves them.
    store(warehouse, scores(LATER_WEEK, week_key(1)), scores(LATER_WEEK, week_key(2)))
    again = Run(warehouse, halflife=halflife)
    assert again.success, again.failure
    pd.testing.assert_frame_equal(stored_signal(warehouse), before)
    assert "Z US" not in set(before["numerai_ticker"])


def test_halflife_one_is_the_hand_computed_decayed_mean_of_two_weeks(warehouse):
    store(
        warehouse,
        scores(LAST_WEEK, week_key(-1)),
        scores(THIS_WEEK, WEEK.key),
        scores(LATER_WEEK, week_key(1)),
    )
    run = Run(warehouse, halflife=1, method="minmax")
    assert run.success, run.failure
    # Minmax is linear: the hand-computed decayed means, squeezed inside (0, 1).
    assert signal_values(warehouse) == pytest.approx(minmax(DECAYED), abs=1e-12)
    assert run.metadata["halflife_weeks"] == 1 and run.metadata["lookback_weeks"] == 8
    assert run.metadata["weeks_used"] == 2 and run.metadata["earliest_week_used"] == week_key(-1)
    assert run.metadata["weeks_used_list"] == [week_key(-1), WEEK.key]

    ranked = Run(warehouse, halflife=1, method="rank")
    assert ranked.success, ranked.failure
    # Decayed order E < C < B < A < D (this week alone: E < A < B < C) -> (rank - 0.5) / 5.
    assert signal_values(warehouse) == pytest.approx({"E US": 0.1, "C US": 0.3, "B US": 0.5, "A US": 0.7, "D US": 0.9})
    signal = stored_signal(warehouse)
    assert list(signal.columns) == ["numerai_ticker", "signal", "date"]
    assert (signal["date"] == pd.Timestamp(WEEK.friday)).all()


def test_a_gap_in_the_lookback_warns_and_the_decay_uses_the_weeks_present(warehouse):
    # halflife 0.25 looks back ceil(8 x 0.25) = 2 weeks; the week before this one is missing.
    store(warehouse, scores({"A US": 1.0, "B US": 0.0, "C US": 0.5}, week_key(-2)), scores(THIS_WEEK, WEEK.key))
    run = Run(warehouse, halflife=0.25, method="minmax")
    assert run.success, run.failure
    assert run.metadata["weeks_missing"] == [week_key(-1)]
    assert run.metadata["weeks_used_list"] == [week_key(-2), WEEK.key]
    (warning,) = run.warnings
    assert f"1 of them have no rows in signals.finbert_scores ({week_key(-1)})" in warning
    assert "used only the 2 weeks present" in warning and "backfill oldest week first" in warning
    # Two weeks old at halflife 0.25 weighs 0.5 ** 8 = 1/256.
    weight = 0.5**8
    expected = dict(THIS_WEEK, **{"A US": weight / (1 + weight), "B US": 0.3 / (1 + weight)})
    expected["C US"] = (0.6 + 0.5 * weight) / (1 + weight)
    assert signal_values(warehouse) == pytest.approx(minmax(expected), abs=1e-12)

    # With the missing week stored, nothing is missing and nothing is said.
    store(warehouse, scores({"A US": 0.0}, week_key(-1)))
    complete = Run(warehouse, halflife=0.25, method="minmax")
    assert complete.success and complete.warnings == [] and complete.metadata["weeks_missing"] == []
    assert complete.metadata["weeks_used"] == 3


def test_a_first_week_with_no_stored_scores_at_all_warns_and_equals_the_undecayed_signal(warehouse):
    store(warehouse, scores(THIS_WEEK, WEEK.key))
    run = Run(warehouse, halflife=1)
    assert run.success, run.failure
    pd.testing.assert_frame_equal(
        stored_signal(warehouse), build_scaled_signal(scores(THIS_WEEK, WEEK.key), WEEK.friday), check_dtype=False
    )
    (warning,) = run.warnings
    # Last week's gap first: it weighs most.
    assert "8 of them have no rows" in warning and f"({week_key(-1)}, " in warning and week_key(-8) in warning
    assert run.metadata["weeks_used"] == 1


def test_earlier_weeks_scored_by_another_model_are_named_in_a_warning(warehouse):
    store(warehouse, scores(LAST_WEEK, week_key(-1), model="old/finbert"), scores(THIS_WEEK, WEEK.key))
    run = Run(warehouse, halflife=0.1)  # lookback 1 week: nothing missing
    assert run.success, run.failure
    (warning,) = run.warnings
    assert "old/finbert @ abc123" in warning and "FINBERT_MODEL" in warning


def test_a_negative_halflife_in_the_launch_config_fails_naming_the_setting(warehouse):
    store(warehouse, scores(THIS_WEEK, WEEK.key))
    run = Run(warehouse, run_config={"resources": {"signal_settings": {"config": {"halflife_weeks": -1}}}})
    assert not run.success
    assert "halflife_weeks=-1" in run.failure and "SIGNAL_HALFLIFE_WEEKS" in run.failure


# --- the environment variable -------------------------------------------------------------------------------

PROJECT_ENV_PREFIXES = ("STOCKNEWS_", "NUMERAI_", "FINBERT_", "SIGNALS_", "SIGNAL_")
LOAD_SETTING = (
    "from signals_assets.definitions import build_definitions; "
    "print(build_definitions().resources['signal_settings'].halflife_weeks)"
)


def load_definitions(value: str, name: str = "SIGNAL_HALFLIFE_WEEKS") -> subprocess.CompletedProcess:
    """Load the code location in a fresh process with `name`=`value` and no other project setting from this
    machine's environment."""
    env = {name: setting for name, setting in os.environ.items() if not name.startswith(PROJECT_ENV_PREFIXES)}
    env[name] = value
    return subprocess.run(
        [sys.executable, "-c", LOAD_SETTING], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_signal_halflife_weeks_from_the_environment_reaches_the_code_locations_resource():
    loaded = load_definitions(" 2.5 ")
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    assert loaded.stdout.strip().splitlines()[-1] == "2.5"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SIGNAL_HALFLIFE_WEEKS", "two", "SIGNAL_HALFLIFE_WEEKS='two' is not a number: set it to a number such as 0"),
        (
            "SIGNAL_HALFLIFE_WEEKS",
            "1e6",
            "SIGNAL_HALFLIFE_WEEKS='1e6' is out of range: set it to a number from 0 to 52",
        ),
        ("SIGNAL_MAX_CHURN", "5", "SIGNAL_MAX_CHURN='5' is out of range: set it to a number from 0 to 2 (default 0.2)"),
    ],
)
def test_a_bad_signal_setting_fails_at_load_naming_the_variable(name, value, says):
    loaded = load_definitions(value, name)
    assert loaded.returncode != 0
    assert says in loaded.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("SIGNAL_HALFLIFE_WEEKS", "-1"), ("SIGNAL_HALFLIFE_WEEKS", "1e7"), ("SIGNAL_MAX_CHURN", "-1")],
)
def test_every_out_of_range_signal_setting_names_its_variable_and_range(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}='{value}' is out of range: set it to a number from 0 to"):
        number_from_env(name, 0.2, 0.0, 2.0 if name == "SIGNAL_MAX_CHURN" else MAX_HALFLIFE_WEEKS)
    with pytest.raises(ValueError, match="up to 52"):
        validated_halflife(1e7)


# --- the pure core ------------------------------------------------------------------------------------------


def test_the_lookback_is_eight_halflives_rounded_up_and_never_before_the_first_week():
    assert [lookback_weeks(h) for h in (0, 0.1, 0.25, 1, 1.5, 4)] == [0, 1, 2, 8, 12, 32]
    assert earlier_weeks(WEEK.week_start, 0) == []
    assert earlier_weeks(WEEK.week_start, 0.25) == [pd.Timestamp(week_key(-2)), pd.Timestamp(week_key(-1))]
    second = pd.Timestamp(FIRST_WEEK) + timedelta(weeks=1)
    assert earlier_weeks(second, 1) == [pd.Timestamp(FIRST_WEEK)]
    with pytest.raises(ValueError, match="SIGNAL_HALFLIFE_WEEKS"):
        lookback_weeks(-0.5)


def test_smoothed_signal_drops_later_and_out_of_window_rows_unread():
    this_week = scores(THIS_WEEK, WEEK.key)
    earlier = pd.concat(
        [
            scores(LAST_WEEK, week_key(-1)),
            # Would make the result NaN (an error) if read: this week's and later weeks' stored rows, and a
            # week outside the lookback.
            scores({"A US": float("nan")}, WEEK.key),
            scores({"A US": float("nan")}, week_key(1)),
            scores({"A US": float("nan")}, week_key(-9)),
        ],
        ignore_index=True,
    )
    smoothed = smoothed_signal(this_week, earlier, WEEK.week_start, WEEK.friday, 1, "minmax")
    values = smoothed.signal.set_index("numerai_ticker")["signal"].to_dict()
    assert values == pytest.approx(minmax(DECAYED), abs=1e-12)
    assert smoothed.weeks_used == [pd.Timestamp(week_key(-1)), WEEK.week_start]
    assert len(smoothed.weeks_missing) == 7 and smoothed.other_models == []


def test_smoothed_signal_of_halflife_zero_ignores_earlier_rows_entirely():
    smoothed = smoothed_signal(scores(THIS_WEEK, WEEK.key), "not even a frame", WEEK.week_start, WEEK.friday, 0)
    pd.testing.assert_frame_equal(smoothed.signal, build_scaled_signal(scores(THIS_WEEK, WEEK.key), WEEK.friday))
    assert smoothed.weeks_used == [WEEK.week_start] and smoothed.weeks_missing == []


def test_smoothed_signal_rejects_bad_input_with_the_cause():
    with pytest.raises(ValueError, match="lack column.*sentiment"):
        smoothed_signal(scores(THIS_WEEK, WEEK.key).drop(columns="sentiment"), None, WEEK.week_start, WEEK.friday, 1)
    with pytest.raises(ValueError, match="earlier weeks lack column.*sentiment"):
        smoothed_signal(
            scores(THIS_WEEK, WEEK.key),
            scores(LAST_WEEK, week_key(-1)).drop(columns="sentiment"),
            WEEK.week_start,
            WEEK.friday,
            1,
        )
    # A NaN week must not count as sentiment 0 in the weighted mean: it is named, with the fix.
    with pytest.raises(ValueError, match=rf"NaN.*\(A US\) in week\(s\) {week_key(-1)}.*finbert_scores again"):
        smoothed_signal(
            scores(THIS_WEEK, WEEK.key), scores({"A US": float("nan")}, week_key(-1)), WEEK.week_start, WEEK.friday, 1
        )
    with pytest.raises(ValueError, match=rf"NaN.*\(B US\) in week\(s\) {WEEK.key}"):
        smoothed_signal(
            scores(dict(THIS_WEEK, **{"B US": float("inf")}), WEEK.key), None, WEEK.week_start, WEEK.friday, 1
        )
    with pytest.raises(ValueError, match="halflife_weeks=nan is not allowed"):
        smoothed_signal(scores(THIS_WEEK, WEEK.key), None, WEEK.week_start, WEEK.friday, float("nan"))
