"""Where everything is kept: the warehouse (schema `signals`), the cache directory and the submission directory,
as one resource; the IO manager writes into the same warehouse.

The warehouse is the DuckDB file (the default: one writing process at a time), or with backend `delta`
(SIGNALS_WAREHOUSE=delta) Delta tables under delta_root that many runs can write at once (signals_assets/delta/
and its IO manager, signals_assets/delta_io_manager.py, imported only then). Either way `connect()` is DuckDB with
every table as `signals.<table>`."""

from __future__ import annotations

import errno
import importlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Literal

import dagster as dg
import duckdb
import pandas as pd

# TableMetadataSet has no public name in dagster 1.13; it writes the dagster/row_count keys the stock handler writes.
from dagster._core.definitions.metadata import TableMetadataSet

# DbIOManager has no public name; dagster-duckdb's own IO manager is one, built with a client and type handlers.
from dagster._core.storage.db_io_manager import DbIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler
from pydantic import Field, field_validator

from signals_assets.defs.environment import choice_from_env, from_env
from signals_assets.sentiment.headline_scores import cached_scores, ensure_cache_table, store_scores

# Not `signals.duckdb`: DuckDB attaches a file as a catalog named after it, and a catalog named like
# the schema makes every write fail with "Ambiguous reference to catalog or schema".
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
SCHEMA = "signals"
BACKENDS = ("duckdb", "delta")
DEFAULT_DELTA_ROOT = "data/delta"


# The Delta backend's modules: its IO manager, and DuckDB on its tables with the headline-score cache.
DELTA_IO_MANAGER = "signals_assets.delta_io_manager"
DELTA_QUERIES = "signals_assets.delta.queries"


def _delta(module: str) -> ModuleType:
    """A module of the Delta backend (DELTA_IO_MANAGER, DELTA_QUERIES), imported only when that backend is used,
    so that the default install (without the `scale` extra) loads the code location."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"The delta warehouse (SIGNALS_WAREHOUSE=delta, warehouse.backend='delta') needs {error.name!r}, which is "
            'not installed: run `pip install -e ".[scale]"` (dagster-deltalake-pandas, deltalake), or unset '
            "SIGNALS_WAREHOUSE for the DuckDB file."
        ) from error


class Warehouse(dg.ConfigurableResource):
    """The project's storage: the warehouse (a DuckDB file, or Delta tables), caches and submission files."""

    backend: Literal["duckdb", "delta"] = Field(
        default=choice_from_env("SIGNALS_WAREHOUSE", "duckdb", BACKENDS),
        description="duckdb: every table in one DuckDB file, one writing run at a time; delta: a Delta table per "
        "asset under delta_root, written by many runs at once (the `scale` extra) (env SIGNALS_WAREHOUSE).",
    )

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
    delta_root: str = Field(
        default=from_env("SIGNALS_DELTA_ROOT", DEFAULT_DELTA_ROOT),
        description=f"With backend delta: the folder holding {SCHEMA}/<table>/, one Delta table per asset; a local "
        "or mounted folder every run can reach (env SIGNALS_DELTA_ROOT).",
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

    @field_validator("delta_root")
    @classmethod
    def _a_folder(cls, value: str) -> str:
        if "://" in value:
            raise ValueError(
                f"delta_root={value!r} (SIGNALS_DELTA_ROOT): the delta warehouse takes a folder path, local or "
                "mounted (NFS, a shared volume), not an object-store URI: reading lists its tables in the folder. "
                f"Set a folder, e.g. {DEFAULT_DELTA_ROOT}."
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
        """DuckDB with every table of the warehouse as `signals.<table>`, closed on exit. The DuckDB file: read-write
        (one writing process per file); delta: an in-memory DuckDB reading the Delta tables, refusing SQL that
        writes (assets write through the IO manager, the score cache through store_headline_scores)."""
        if self.backend == "delta":
            with _delta(DELTA_QUERIES).connect(self.delta_root) as connection:
                yield connection
            return
        path = self.database_path()
        try:
            connection = duckdb.connect(str(path))
        except duckdb.IOException as error:
            if _NO_SPACE in str(error):
                raise _disk_full(path, error) from error
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
        except duckdb.Error as error:
            if _NO_SPACE not in str(error):
                raise
            raise _disk_full(path, error) from error
        finally:
            connection.close()

    def cached_headline_scores(self, model: str, revision: str, headlines: pd.DataFrame) -> pd.DataFrame:
        """headline_id and scores of those `headlines` already scored by this model at this revision."""
        if self.backend == "delta":
            return _delta(DELTA_QUERIES).cached_headline_scores(self.delta_root, model, revision, headlines)
        with self.connect() as connection:
            ensure_cache_table(connection, SCHEMA)
            return cached_scores(connection, SCHEMA, model, revision, headlines)

    def store_headline_scores(self, new_scores: pd.DataFrame) -> None:
        """Add newly scored headlines; a headline already cached for its model and revision keeps its first score
        (also when two runs store it at once)."""
        if self.backend == "delta":
            _delta(DELTA_QUERIES).store_headline_scores(self.delta_root, new_scores)
            return
        with self.connect() as connection:
            ensure_cache_table(connection, SCHEMA)
            store_scores(connection, SCHEMA, new_scores)


class WarehouseLocked(RuntimeError):
    """Another process holds the DuckDB file's write lock; the message says which and what to do."""


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?)(?:\. See also|$)")


class WarehouseDiskFull(RuntimeError):
    """The disk holding the DuckDB file is full; the message says which folder and what to do."""


# DuckDB quotes the C library's text for the error ("No space left on device") and no error number.
_NO_SPACE = os.strerror(errno.ENOSPC)


def _disk_full(path: Path, error: duckdb.Error) -> WarehouseDiskFull:
    folder = path.resolve().parent
    return WarehouseDiskFull(
        f"The warehouse {path} could not be written: the disk holding {folder} is full ({error}). The write was "
        f"rolled back: the tables hold what they held before. To write it, free space on {folder} or move "
        "SIGNALS_DUCKDB_PATH (warehouse.database) to a disk with room, then run this week again."
    )


def _in_table_order(connection, table_slice, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` ready for the stock handler's positional insert into an existing table: a column the asset gained
    since the table was created (the signal variants' `variant`, say) is added to the table first, its earlier
    weeks NULL in it, and the frame's columns are put in the table's order."""
    name = f"{table_slice.schema}.{table_slice.table}"
    existing = connection.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?) ORDER BY column_index",
        [table_slice.schema, table_slice.table],
    ).fetchall()
    columns = [column for (column,) in existing]
    if not columns:
        return frame
    added = [column for column in frame.columns if column not in columns]
    if added:
        typed = frame.head(0)  # noqa: F841 (read by DuckDB's replacement scan)
        types = dict(
            connection.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM typed)").fetchall()
        )
        for column in added:
            connection.execute(f'ALTER TABLE {name} ADD COLUMN "{column}" {types[column]}')
        columns += added
    # A column the asset no longer writes stays in the table, NULL for the weeks written from now on.
    gone = {
        column: pd.Series([None] * len(frame), index=frame.index, dtype="object")
        for column in columns
        if column not in frame
    }
    return frame.assign(**gone)[columns] if gone or list(frame.columns) != columns else frame


class _WarehouseFrameHandler(DuckDBPandasTypeHandler):
    """The official pandas handler, plus: an empty week still creates its (typed) table.

    The stock handler skips empty frames (and warns "An empty table will not be created"), so a first
    week with no news would leave no table and every downstream step would fail with "Table ... does not
    exist". Here an empty frame creates the typed table, its week's rows having been deleted already (in the
    same transaction as this, see _WarehouseClient.connect).
    """

    def handle_output(self, context, table_slice, obj: pd.DataFrame, connection):
        obj = _in_table_order(connection, table_slice, obj)
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
    """dagster-duckdb's client, connecting through the `warehouse` resource of the run; a write is one
    transaction."""

    @staticmethod
    @contextmanager
    def connect(context, _table_slice):
        with context.resources.warehouse.connect() as connection:
            if not isinstance(context, dg.OutputContext):
                yield connection  # a read: no write transaction to hold open
                return
            # DbIOManager writes a week on this connection in separate statements: schema, delete of the week's
            # rows, then the handler's create table and insert. Committed together, a run killed or a disk
            # filling up in between leaves the week its old rows, not none while downstream tables still hold it.
            connection.begin()
            try:
                yield connection
            except BaseException:
                # Closing the connection discards the transaction anyway: a failed rollback must not hide why.
                with suppress(duckdb.Error):
                    connection.rollback()
                raise
            connection.commit()

    @staticmethod
    def delete_table_slice(context, table_slice, connection) -> None:
        # The stock delete catches the error of a table not created yet, but inside a transaction that error has
        # already aborted it: delete only from a table that exists.
        (exists,) = connection.execute(
            "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() "
            "AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)",
            [table_slice.schema, table_slice.table],
        ).fetchone()
        if exists:
            DuckDbClient.delete_table_slice(context, table_slice, connection)


@dg.io_manager(
    required_resource_keys={"warehouse"},
    description=f"Dagster's DuckDB pandas IO manager on the warehouse resource's file, or with backend delta "
    f"dagster-deltalake-pandas' on its delta_root: one table per asset in schema {SCHEMA}, one week's rows replaced "
    "per partition.",
)
def warehouse_io_manager(init_context: dg.InitResourceContext) -> DbIOManager:
    """dagster-duckdb-pandas' IO manager (its DbIOManager, client and pandas type handler) on the run's
    `warehouse` resource, so the file it writes is the one the resource names, overridden at launch or not;
    with backend delta, dagster-deltalake-pandas' on the resource's delta_root."""
    warehouse = init_context.resources.warehouse
    if warehouse.backend == "delta":
        return _delta(DELTA_IO_MANAGER).delta_io_manager(warehouse.delta_root)
    return DbIOManager(
        db_client=_WarehouseClient(),
        database=str(init_context.resources.warehouse.database_path()),
        schema=SCHEMA,
        type_handlers=[_WarehouseFrameHandler()],
        default_load_type=pd.DataFrame,
        io_manager_name="DuckDBIOManager",
    )
