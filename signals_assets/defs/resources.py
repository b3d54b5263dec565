"""Every resource, built in one place; the environment they read is in defs/environment.py."""

from __future__ import annotations

import dagster as dg

from signals_assets.defs.execution import run_executor
from signals_assets.defs.ingestion.resources import news_source
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.round import AlertWebhook
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import Warehouse, warehouse_io_manager


def build_resources() -> dict[str, object]:
    """The resources of a run: settings from each resource's own field defaults (see environment.py)."""
    return {
        "warehouse": Warehouse(),
        "io_manager": warehouse_io_manager,
        # The Stock News API with STOCKNEWS_API_KEY, the packaged sample without it (chosen here only).
        "news": news_source(),
        "finbert": FinBERT(),
        "signal_settings": SignalSettings(),
        "numerai": NumeraiSignals(),
        # Numerai's dataset files (NUMERAI_DATASET_VERSION, NUMERAI_DATA_DIR): the point-in-time universe.
        "numerai_data": NumeraiData(),
        # Where the round's alerts go (SIGNALS_ALERT_WEBHOOK): a failed weekly run, a missed upload (defs/round.py).
        "alert_webhook": AlertWebhook(),
    }


@dg.definitions
def resources() -> dg.Definitions:
    # Steps of a run share one process by default, in every job including the UI's "Materialize": DuckDB
    # allows one writing process per file, and parallel step processes would contend for its lock.
    # SIGNALS_EXECUTOR=k8s runs each step as a Kubernetes Job on a cluster (defs/execution.py).
    return dg.Definitions(resources=build_resources(), executor=run_executor())
