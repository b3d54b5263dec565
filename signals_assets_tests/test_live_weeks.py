"""The live path as the schedule runs it: four consecutive weeks, each materialized by a real `dagster asset
materialize` process at its Saturday 19:00 UTC (the process's clock set by the test), with the default settings,
keys set, against loopback stand-ins of the Stock News API and Numerai. Every week uploads, and each week's churn
against what Numerai received before it is within the default threshold: the default gate blends, never blocks.
"""

from __future__ import annotations

import os
import subprocess
from importlib import resources as package_files

import duckdb

from signals_assets.news.sample import SAMPLE_WEEK_KEYS, sample_articles, sample_tickers, sample_universe
from signals_assets.weeks import Week
from signals_assets_tests.dagster_dev import materialize_command
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY, FakeNumerai
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI

DATASET_VERSION = "signals/v3.0"
SAMPLE_NUMERAI_FILES = package_files.files("signals_assets.numerai") / "sample_data"
WEEKLY_ASSETS = (
    "raw_articles,ticker_map,numerai_universe,filtered_headlines,aggregated_headlines,finbert_scores,"
    "scaled_signal,submission,numerai_upload,signal_evaluation"
)
PROJECT_ENV_PREFIXES = ("STOCKNEWS_", "NUMERAI_", "FINBERT_", "SIGNAL_", "SIGNALS_", "DAGSTER_HOME", "FAKE_NUMERAI")
DEFAULT_MAX_CHURN = 0.2


def materialize_at(clock: str, week: Week, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The weekly assets of `week`, as the schedule's run would, in a process whose clock starts at `clock`."""
    command = materialize_command(week.key, WEEKLY_ASSETS, "signals_assets_tests.dagster_cli")
    return subprocess.run(command, env={**env, "FAKE_NOW": clock}, capture_output=True, text=True, timeout=300)


def test_four_live_weeks_with_the_default_settings_all_upload_within_the_churn_threshold(
    tmp_path, tiny_finbert_dir, no_secrets_in_env
):
    weeks = [Week.from_key(key) for key in SAMPLE_WEEK_KEYS[1:5]]
    news = FakeStockNewsAPI(list(sample_articles()), list(sample_tickers()))
    numerai = FakeNumerai({"my_model": "model-id-1"}, sample_universe(), dataset_version=DATASET_VERSION)
    for name in ("validation.parquet", "validation_neutralizer.parquet", "validation_example_preds.parquet"):
        numerai.add_dataset(f"{DATASET_VERSION}/{name}", (SAMPLE_NUMERAI_FILES / name).read_bytes())
    home = tmp_path / "dagster_home"
    home.mkdir()
    with news, numerai:
        env = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_ENV_PREFIXES)}
        env.update(
            DAGSTER_HOME=str(home),
            SIGNALS_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
            SIGNALS_DATA_DIR=str(tmp_path / "data"),
            SIGNALS_OUTPUT_DIR=str(tmp_path / "submissions"),
            STOCKNEWS_API_KEY=FAKE_TOKEN,
            STOCKNEWS_BASE_URL=news.base_url,
            NUMERAI_PUBLIC_ID=FAKE_PUBLIC_ID,
            NUMERAI_SECRET_KEY=FAKE_SECRET_KEY,
            NUMERAI_MODEL_NAME="my_model",
            FAKE_NUMERAI_URL=numerai.graphql_url,
            FINBERT_MODEL=str(tiny_finbert_dir),
        )
        for week in weeks:
            saturday_evening = f"{week.end:%Y-%m-%d}T19:00:00+00:00"  # the schedule's tick for the week that just ended
            done = materialize_at(saturday_evening, week, env)
            assert done.returncode == 0, f"week {week.key}:\n{done.stdout[-3000:]}{done.stderr[-6000:]}"

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        uploads = connection.execute("SELECT friday, status FROM signals.numerai_upload ORDER BY week_start").fetchall()
    assert uploads == [(week.friday.isoformat(), "uploaded") for week in weeks]
    assert len(numerai.submissions) == 4 and len(numerai.uploads) == 4
    for week in weeks:
        sent = tmp_path / "submissions" / "uploaded" / f"signals_{week.friday}.csv"
        assert sent.read_bytes() in numerai.uploads.values()

    from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey("numerai_upload")), limit=10)
        recorded = {
            record.partition_key: {key: value.value for key, value in record.asset_materialization.metadata.items()}
            for record in records.records
        }
    first, *later = weeks
    assert "churn" not in recorded[first.key]  # the first upload has nothing to compare
    for week in later:
        assert recorded[week.key]["churn"] <= DEFAULT_MAX_CHURN, recorded[week.key]
        # Without the blend this week's own ranking would have churned far past the threshold.
        assert recorded[week.key]["churn_before_blend"] > DEFAULT_MAX_CHURN
