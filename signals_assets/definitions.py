"""The code location: every asset, check, resource, job and schedule of signals_assets."""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    Definitions,
    EnvVar,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
    load_asset_checks_from_modules,
    load_assets_from_modules,
)
from dagster_duckdb import DuckDBResource

from signals_assets.news import assets as news_assets
from signals_assets.news.resources import StockNewsAPI
from signals_assets.partitions import weekly_partitions
from signals_assets.sentiment import assets as sentiment_assets
from signals_assets.sentiment.resources import FinBERT
from signals_assets.signal import assets as signal_assets
from signals_assets.submission import assets as submission_assets
from signals_assets.submission.resources import NumeraiSignals
from signals_assets.tickers import assets as ticker_assets
from signals_assets.warehouse import SCHEMA, WarehouseIOManager, duckdb_path

ASSET_MODULES = [ticker_assets, news_assets, sentiment_assets, signal_assets, submission_assets]


def _env(name: str) -> EnvVar | None:
    """An EnvVar when the variable is set; Dagster refuses to launch a run over an unset EnvVar,
    and these keys are optional (no key: sample news, no upload)."""
    return EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict:
    database = duckdb_path()
    return {
        "io_manager": WarehouseIOManager(database=database, schema=SCHEMA),
        "warehouse": DuckDBResource(database=database),
        "news": StockNewsAPI(
            api_key=_env("STOCKNEWS_API_KEY"),
            base_url=os.environ.get("STOCKNEWS_BASE_URL", "https://stocknewsapi.com/api/v1"),
        ),
        "finbert": FinBERT(
            model=os.environ.get("FINBERT_MODEL", "ProsusAI/finbert"),
            revision=os.environ.get("FINBERT_REVISION"),
            label_map=os.environ.get("FINBERT_LABEL_MAP"),
            device=os.environ.get("FINBERT_DEVICE", "auto"),
            precision=os.environ.get("FINBERT_PRECISION", "auto"),
        ),
        "numerai": NumeraiSignals(
            public_id=_env("NUMERAI_PUBLIC_ID"),
            secret_key=_env("NUMERAI_SECRET_KEY"),
            model_name=os.environ.get("NUMERAI_MODEL_NAME"),
            universe_path=os.environ.get("NUMERAI_UNIVERSE"),
        ),
    }


# One week through every asset and check.
weekly_signal_job = define_asset_job(
    "weekly_signal",
    selection=AssetSelection.all(),
    partitions_def=weekly_partitions,
    description="Materialize one week: news -> headlines -> FinBERT -> signal -> submission.",
)

# Saturday 19:00 UTC, an hour after Numerai's Saturday round opens, for the week that just ended.
weekly_signal_schedule = build_schedule_from_partitioned_job(weekly_signal_job, hour_of_day=19)

def build_definitions() -> Definitions:
    """The code location, with resources configured from the environment as it is now."""
    return Definitions(
        assets=load_assets_from_modules(ASSET_MODULES),
        asset_checks=load_asset_checks_from_modules(ASSET_MODULES),
        jobs=[weekly_signal_job],
        schedules=[weekly_signal_schedule],
        resources=build_resources(),
        # Steps of a run share one process, in every job including the UI's "Materialize": DuckDB allows
        # one writing process per file, and parallel step processes would contend for its lock.
        executor=in_process_executor,
    )


defs = build_definitions()
