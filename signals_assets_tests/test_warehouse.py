"""The warehouse: a file held by another process, a file named like the schema, an empty week."""

import subprocess
import sys
import time

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from signals_assets.definitions import build_definitions
from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import Warehouse, warehouse_io_manager

DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]


def _run(warehouse: Warehouse, week: str, selection: list[str]):
    resources = {
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "news": SampleNews(),
        "numerai": NumeraiSignals(universe="sample"),
        "numerai_data": NumeraiData(),
        "signal_settings": SignalSettings(),
        "finbert": FinBERT(),
    }
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            GRAPH, partition_key=week, resources=resources, instance=instance, selection=selection, raise_on_error=False
        )
        return result, [entry.user_message for entry in instance.all_logs(result.run_id)]


def test_a_warehouse_held_open_by_another_process_fails_at_once_naming_the_holder_and_the_fix(warehouse):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({warehouse.database!r}); print('held', "
            "flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result, _ = _run(warehouse, "2026-11-07", ["numerai_universe"])
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error.cause  # Dagster wraps it: "Error occurred while handling output"
    message = error.message
    assert error.cls_name == "WarehouseLocked"
    assert f"PID {holder.pid}" in message and "read_only=True" in message and "Close that connection" in message
    assert elapsed < 30  # not DuckDB's silent ~100 s of retries


@pytest.mark.parametrize("name", ["signals.duckdb", "SIGNALS.duckdb", "Signals.DuckDB"])
def test_a_database_named_like_the_schema_is_refused_with_the_setting_and_a_fix(tmp_path, name):
    with pytest.raises(
        ValueError, match=r"SIGNALS_DUCKDB_PATH.*clashes with the schema 'signals'.*Pick another file name"
    ):
        Warehouse(database=str(tmp_path / name))


def test_an_empty_week_creates_its_typed_tables_without_the_io_managers_skip_warning(warehouse):
    result, messages = _run(warehouse, "2026-09-05", ["numerai_universe", "ticker_map", "raw_articles"])
    assert result.success
    assert not [message for message in messages if "Skipping DuckDB write" in message]
    with duckdb.connect(warehouse.database, read_only=True) as connection:
        (rows,) = connection.execute("SELECT count(*) FROM signals.raw_articles").fetchone()
        types = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'raw_articles'"
            ).fetchall()
        )
    assert rows == 0 and types["tickers"] == "VARCHAR[]" and types["title"] == "VARCHAR"
