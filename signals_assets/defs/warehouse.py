"""Where everything is kept: the DuckDB warehouse (schema `signals`), the cache directory and the
submission directory, as one resource; the IO manager writes into the same warehouse."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler
from pydantic import Field, field_validator

from signals_assets.defs.environment import from_env

# Not `signals.duckdb`: DuckDB attaches a file as a catalog named after it, and a catalog named like
# the schema makes every write fail with "Ambiguous reference to catalog or schema".
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
SCHEMA = "signals"


class Warehouse(dg.ConfigurableResource):
    """The project's storage: the DuckDB file, caches and submission files."""

    database: str = Field(
        default=from_env("SIGNALS_DUCKDB_PATH", DEFAULT_DUCKDB_PATH),
        description=f"DuckDB file holding every table in schema '{SCHEMA}' (env SIGNALS_DUCKDB_PATH).",
    )
    data_dir: str = Field(
        default=from_env("SIGNALS_DATA_DIR", "data"),
        description="Caches: Stock News API answers of closed weeks, Numerai's files (env SIGNALS_DATA_DIR).",
    )
    output_dir: str = Field(
        default=from_env("SIGNALS_OUTPUT_DIR", "data/submissions"),
        description="Where weekly submission CSVs are written (env SIGNALS_OUTPUT_DIR).",
    )

    @field_validator("database")
    @classmethod
    def _not_named_like_the_schema(cls, value: str) -> str:
        if Path(value).stem.lower() == SCHEMA:
            raise ValueError(
                f"database={value!r} (SIGNALS_DUCKDB_PATH): a DuckDB file named '{Path(value).name}' is attached as "
                f"catalog '{SCHEMA}', which clashes with the schema '{SCHEMA}' (DuckDB: ambiguous catalog or "
                f"schema). Pick another file name, e.g. {DEFAULT_DUCKDB_PATH}."
            )
        return value

    def database_path(self) -> Path:
        path = Path(self.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def cache_dir(self, name: str) -> Path:
        """A cache folder under data_dir (made when missing)."""
        path = Path(self.data_dir) / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def submissions_dir(self) -> Path:
        path = Path(self.output_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the warehouse, closed on exit (one writing process per file)."""
        connection = duckdb.connect(str(self.database_path()))
        try:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            yield connection
        finally:
            connection.close()


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


class _WarehouseDuckDB(DuckDBPandasIOManager):
    @staticmethod
    def type_handlers() -> Sequence[DuckDBPandasTypeHandler]:
        return [_WarehouseFrameHandler()]


@dg.io_manager(
    required_resource_keys={"warehouse"},
    description=f"Dagster's DuckDB pandas IO manager on the warehouse resource's file: one table per asset in schema {SCHEMA}.",
)
def warehouse_io_manager(init_context: dg.InitResourceContext):
    """Reads the `warehouse` resource at run time, so a database overridden at launch is the one written."""
    database = init_context.resources.warehouse.database_path()
    return _WarehouseDuckDB(database=str(database), schema=SCHEMA).create_io_manager(init_context)
