"""Where the assets live: one DuckDB file, schema `signals`, chosen by settings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler

# Not `signals.duckdb`: DuckDB attaches a file as a catalog named after it, and a catalog named like
# the schema makes every write fail with "Ambiguous reference to catalog or schema".
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_DATA_DIR = "data"
DEFAULT_SUBMISSIONS_DIR = "data/submissions"
SCHEMA = "signals"


def duckdb_path() -> str:
    path = os.environ.get("SIGNALS_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)
    if Path(path).stem == SCHEMA:
        raise ValueError(
            f"SIGNALS_DUCKDB_PATH={path!r}: a DuckDB file named '{SCHEMA}.duckdb' clashes with the schema "
            f"'{SCHEMA}' (DuckDB: ambiguous catalog or schema). Pick another file name, e.g. {DEFAULT_DUCKDB_PATH}."
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Directory for caches and outputs (universe download, API response cache)."""
    path = Path(os.environ.get("SIGNALS_DATA_DIR", DEFAULT_DATA_DIR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def empty_week_table(columns: dict[str, str]) -> pd.DataFrame:
    """A typed empty frame; `list<string>` columns become Arrow lists so DuckDB types them VARCHAR[]."""
    return pd.DataFrame(
        {
            name: pd.Series(dtype=pd.ArrowDtype(pa.list_(pa.string())) if dtype == "list<string>" else dtype)
            for name, dtype in columns.items()
        }
    )


class _WarehouseFrameHandler(DuckDBPandasTypeHandler):
    """The official pandas handler, plus: an empty week still creates its (typed) table.

    The stock handler skips empty frames entirely, so a first week with no news would leave no table
    and every downstream step would fail with "Table ... does not exist".
    """

    def handle_output(self, context, table_slice, obj: pd.DataFrame, connection):
        if obj.empty:
            untyped = [name for name, dtype in obj.dtypes.items() if dtype == object]
            if untyped:
                # DuckDB would type these columns NULL and later weeks could not be inserted.
                obj = obj.astype({name: "string" for name in untyped})
            connection.execute(
                f"create table if not exists {table_slice.schema}.{table_slice.table} as select * from obj"
            )
        return super().handle_output(context, table_slice, obj, connection)


class WarehouseIOManager(DuckDBPandasIOManager):
    """DuckDB IO manager for every asset: one table per asset in schema `signals`."""

    @staticmethod
    def type_handlers() -> Sequence[DuckDBPandasTypeHandler]:
        return [_WarehouseFrameHandler()]


def submissions_dir() -> Path:
    """Where weekly submission CSVs are written (env SIGNALS_OUTPUT_DIR)."""
    path = Path(os.environ.get("SIGNALS_OUTPUT_DIR", DEFAULT_SUBMISSIONS_DIR))
    path.mkdir(parents=True, exist_ok=True)
    return path
