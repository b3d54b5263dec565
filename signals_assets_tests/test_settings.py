"""Settings from the environment survive a partial override at launch.

Each test starts the real `dagster asset materialize -c run_config.yaml` in its own process with the
settings in its environment, overrides one field of a resource (as the Launchpad or `-c` does), and
checks that every other setting of that resource still came from the environment.
"""

import os
import subprocess

import duckdb
import pandas as pd
import yaml

from signals_assets.news.sample import sample_articles, sample_tickers, sample_universe
from signals_assets.weeks import Week, latest_complete_week
from signals_assets_tests.dagster_dev import WEEK_SELECTION, materialize_command
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI
from signals_assets_tests.test_pipeline import shift_items

WEEK = "2026-11-07"
PROJECT_ENV_PREFIXES = ("STOCKNEWS_", "NUMERAI_", "FINBERT_", "SIGNALS_", "DAGSTER_HOME", "FAKE_NUMERAI_URL")


def materialize(tmp_path, settings: dict, run_config: dict, select: str, partition: str) -> None:
    """`dagster asset materialize` in a fresh process with `settings` as its environment."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_ENV_PREFIXES)}
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    env.update(
        DAGSTER_HOME=str(home),
        SIGNALS_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
        SIGNALS_DATA_DIR=str(tmp_path / "data"),
        SIGNALS_OUTPUT_DIR=str(tmp_path / "submissions"),
        **settings,
    )
    config = tmp_path / "run_config.yaml"
    config.write_text(yaml.safe_dump(run_config))
    done = subprocess.run(
        [*materialize_command(partition, select, "signals_assets_tests.dagster_cli"), "-c", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]


def table(tmp_path, name: str) -> pd.DataFrame:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(f"SELECT * FROM signals.{name}").fetchdf()


def test_overriding_one_field_of_each_resource_keeps_every_other_setting_from_the_environment(
    tmp_path, tiny_finbert_dir, fake_numerai
):
    """One real `dagster asset materialize` of the live week, with one field of each resource overridden at
    launch: news.fetch_mode, warehouse.output_dir, finbert.batch_size, numerai.include_date_column."""
    universe_csv = tmp_path / "my_universe.csv"
    sample_universe().iloc[10:].to_csv(universe_csv, index=False)  # not the live universe the fake serves
    live = latest_complete_week()
    weeks_ahead = (live.start - Week.from_key(WEEK).start).days // 7
    with FakeStockNewsAPI(shift_items(sample_articles(), weeks_ahead), list(sample_tickers())) as server:
        materialize(
            tmp_path,
            {
                "STOCKNEWS_API_KEY": FAKE_TOKEN,
                "STOCKNEWS_BASE_URL": server.base_url,
                "FINBERT_MODEL": str(tiny_finbert_dir),
                "FINBERT_DEVICE": "cpu",
                "NUMERAI_UNIVERSE": str(universe_csv),
                "NUMERAI_PUBLIC_ID": FAKE_PUBLIC_ID,
                "NUMERAI_SECRET_KEY": FAKE_SECRET_KEY,
                "NUMERAI_MODEL_NAME": "my_model",
                "FAKE_NUMERAI_URL": fake_numerai.graphql_url,
            },
            {
                "resources": {
                    "news": {"config": {"fetch_mode": "per_ticker"}},
                    "warehouse": {"config": {"output_dir": str(tmp_path / "elsewhere")}},
                    "finbert": {"config": {"batch_size": 8}},
                    "numerai": {"config": {"include_date_column": True}},
                }
            },
            WEEK_SELECTION,
            live.key,
        )
        asked = list(server.requests)
    # news: the API (not the packaged sample) was asked, per ticker, with the key and URL from the environment.
    asked_tickers = {params["tickers"] for _path, params in asked if "tickers" in params}
    assert asked_tickers == set(table(tmp_path, "ticker_map")["stocknews_ticker"])
    assert len(table(tmp_path, "raw_articles")) > 0
    # warehouse: the database and data_dir from the environment (the news cache is there); the CSV elsewhere.
    assert (tmp_path / "data" / "stocknews_cache").is_dir()
    assert (tmp_path / "elsewhere" / f"signals_{live.friday}.csv").is_file()
    # finbert: the model from the environment.
    scores = table(tmp_path, "finbert_scores")
    finbert_rows = scores["variant"].isin(["finbert", "finbert_stories"])
    assert finbert_rows.sum() > 100 and set(scores.loc[finbert_rows, "model"]) == {str(tiny_finbert_dir)}
    # numerai: the keys, model and universe from the environment.
    uploads = table(tmp_path, "numerai_upload")
    assert uploads["status"].tolist() == ["uploaded"] and uploads["model_name"].tolist() == ["my_model"]
    assert fake_numerai.received_csv.decode().splitlines()[0] == "numerai_ticker,signal,date"
    assert len(table(tmp_path, "numerai_universe")) == len(sample_universe()) - 10
    assert "dataset" not in fake_numerai.operations()  # the live universe was not downloaded
