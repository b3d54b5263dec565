"""Where everything is kept: the DuckDB warehouse (schema `signals`), the cache directory and the
submission directory, as one resource; the IO manager writes into the same warehouse."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler
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
        path = self.database_path()
        try:
            connection = duckdb.connect(str(path))
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            holder = _LOCK_HOLDER.search(str(error))
            raise WarehouseLocked(
                f"The warehouse {path} is open for writing in another process"
                f"{' (' + holder.group(1) + ')' if holder else ''}, and DuckDB allows one writing process per file. "
                "Close that connection (a notebook's duckdb.connect, the DuckDB CLI, another `dagster asset "
                f"materialize`), or open it there read-only: duckdb.connect({str(path)!r}, read_only=True). "
                "Runs of this project write one at a time when they go through the queue (dagster.yaml: "
                "max_concurrent_runs: 1); then run this week again."
            ) from None
        try:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            yield connection
        finally:
            connection.close()


class WarehouseLocked(RuntimeError):
    """Another process holds the DuckDB file's write lock; the message says which and what to do."""


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?)(?:\. See also|$)")


class _WarehouseFrameHandler(DuckDBPandasTypeHandler):
    """The official pandas handler, plus: an empty week still creates its (typed) table.

    The stock handler skips empty frames (and warns "An empty table will not be created"), so a first
    week with no news would leave no table and every downstream step would fail with "Table ... does not
    exist". Here an empty frame creates the typed table, its week's rows having been deleted already.
    """

    def handle_output(self, context, table_slice, obj: pd.DataFrame, connection):
        if not obj.empty:
            return super().handle_output(context, table_slice, obj, connection)
        untyped = [name for name, dtype in obj.dtypes.items() if str(dtype) == "object"]
        # DuckDB would type these columns NULL and later weeks could not be inserted.
        obj = obj.astype({name: "string" for name in untyped})  # noqa: F841 (read by DuckDB's replacement scan)
        connection.execute(f"create table if not exists {table_slice.schema}.{table_slice.table} as select * from obj")
        context.add_output_metadata(
            {
                **TableMetadataSet(partition_row_count=0, storage_kind="duckdb"),
                "dataframe_columns": dg.MetadataValue.table_schema(
                    dg.TableSchema(
                        columns=[dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in obj.dtypes.items()]
                    )
                ),
            }
        )


class _WarehouseClient(DuckDbClient):
    """dagster-duckdb's client, connecting through the `warehouse` resource of the run."""

    @staticmethod
    @contextmanager
    def connect(context, _table_slice):
        with context.resources.warehouse.connect() as connection:
            yield connection


@dg.io_manager(
    required_resource_keys={"warehouse"},
    description=f"Dagster's DuckDB pandas IO manager on the warehouse resource's file: one table per asset in "
    f"schema {SCHEMA}, one week's rows replaced per partition.",
)
def warehouse_io_manager(init_context: dg.InitResourceContext) -> DbIOManager:
    """dagster-duckdb-pandas' IO manager (its DbIOManager, client and pandas type handler) on the run's
    `warehouse` resource, so the file it writes is the one the resource names, overridden at launch or not."""
    return DbIOManager(
        db_client=_WarehouseClient(),
        database=str(init_context.resources.warehouse.database_path()),
        schema=SCHEMA,
        type_handlers=[_WarehouseFrameHandler()],
        default_load_type=pd.DataFrame,
        io_manager_name="DuckDBIOManager",
    )
