"""The Delta Lake warehouse's IO manager (SIGNALS_WAREHOUSE=delta): one Delta table per asset under
SIGNALS_DELTA_ROOT/signals/, which many runs can write at once. Where the tables live and the commit that is run
again on a conflict are in signals_assets/delta/tables.py; reading them with DuckDB, and the headline-score cache,
in signals_assets/delta/queries.py (no Dagster there).

The Dagster side, but not under defs/: dg imports every module there when the code location loads, and this one
needs the `scale` extra (dagster-deltalake-pandas, deltalake). defs/warehouse.py imports it only when the Delta
backend is chosen; the multiprocess executor's forkserver preloads it (defs/execution.py).

Writes go through dagster-deltalake's DbIOManager, client and pandas type handler, with three changes to the
handler, each a defect measured with dagster-deltalake 0.29.27 and deltalake 1.6.6:
- the week is replaced with a predicate on the partition column built from the run's time window. The stock
  handler builds it only for Delta `timestamp`/`date` columns; the naive `week_start` column is `timestamp_ntz`,
  its predicate raises, the handler swallows that and overwrites the whole table: every other week is lost;
- a commit that conflicts with a concurrent one (two runs of the same week, or racing to create the table) is
  run again against the new table version, then fails naming the table, the week and the fix;
- the frame's index is not written as a column, and all-null columns take the table's type (or text), as the
  DuckDB handler does.
Runs of different weeks commit side by side without conflict: deltalake's conflict checker lets a week's
overwrite through when the concurrent commits touched other partitions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# TableMetadataSet has no public name in dagster 1.13; it writes the dagster/row_count keys the stock handlers write.
from dagster._core.definitions.metadata import TableMetadataSet

# The DB IO manager's parts have no public names; dagster-deltalake's own IO manager is built from them.
from dagster._core.storage.db_io_manager import DbIOManager, TableSlice, escape_sql_string_literal
from dagster_deltalake.io_manager import DeltaLakeDbClient, TableConnection
from dagster_deltalake_pandas import DeltaLakePandasTypeHandler
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, SchemaMismatchError, TableNotFoundError

from signals_assets.delta.tables import SCHEMA, committed, table_uri


class DeltaSchemaChanged(ValueError):
    """A week's frame does not fit the columns of its Delta table."""


class DeltaTableMissing(RuntimeError):
    """An input's Delta table does not exist under the delta root."""


def _describe(table_slice: TableSlice) -> str:
    weeks = [
        f"{dimension.partitions.start:%Y-%m-%d}"
        if isinstance(dimension.partitions, dg.TimeWindow)
        else ", ".join(map(str, dimension.partitions))
        for dimension in table_slice.partition_dimensions or []
    ]
    return f"{SCHEMA}.{table_slice.table}" + (f" (partition {'; '.join(weeks)})" if weeks else "")


def _utc_text(instant) -> str:
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _naive_utc(instant) -> pd.Timestamp:
    return pd.Timestamp(instant).tz_convert("UTC").tz_localize(None)


def _predicate(table_slice: TableSlice) -> str | None:
    """SQL for exactly the rows of the run's partitions (a time window, or static keys)."""
    parts = []
    for dimension in table_slice.partition_dimensions or []:
        column, partitions = dimension.partition_expr, dimension.partitions
        if isinstance(partitions, dg.TimeWindow):
            parts.append(f"{column} >= '{_utc_text(partitions.start)}' AND {column} < '{_utc_text(partitions.end)}'")
        else:
            keys = ", ".join(f"'{escape_sql_string_literal(str(key))}'" for key in partitions)
            parts.append(f"{column} IN ({keys})")
    return " AND ".join(parts) or None


def _filter(table_slice: TableSlice) -> pc.Expression | None:
    """The same rows as `_predicate`, as a pyarrow filter for reading."""
    expression = None
    for dimension in table_slice.partition_dimensions or []:
        field, partitions = pc.field(dimension.partition_expr), dimension.partitions
        if isinstance(partitions, dg.TimeWindow):
            part = (field >= _naive_utc(partitions.start)) & (field < _naive_utc(partitions.end))
        else:
            part = field.isin(list(partitions))
        expression = part if expression is None else expression & part
    return expression


def _existing_schema(connection: TableConnection) -> pa.Schema | None:
    try:
        return pa.schema(DeltaTable(connection.table_uri, storage_options=connection.storage_options).schema())
    except TableNotFoundError:
        return None


def _typed(frame: pd.DataFrame, existing: pa.Schema | None) -> pa.Table:
    """The frame as arrow without its index; a column without a value (an empty week, all None) takes the table's
    type, or text when the table is new (Delta has no null-typed column a later week could fill)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [
        field.with_type(
            existing.field(field.name).type if existing is not None and field.name in existing.names else pa.string()
        )
        if pa.types.is_null(field.type)
        else field
        for field in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


class DeltaFrameHandler(DeltaLakePandasTypeHandler):
    """dagster-deltalake-pandas' handler, writing exactly the run's weeks (see the module's docstring)."""

    def handle_output(self, context, table_slice: TableSlice, obj: pd.DataFrame, connection: TableConnection):
        what = f"Writing {_describe(table_slice)} to the Delta table {connection.table_uri}"
        partitioned = bool(table_slice.partition_dimensions)
        predicate = _predicate(table_slice)

        def write():
            data = _typed(obj, _existing_schema(connection))
            write_deltalake(
                connection.table_uri,
                data,
                mode="overwrite",
                predicate=predicate,
                # A column the asset gained since the table was created (the variants' `variant`) is added.
                schema_mode="merge",
                partition_by=[dimension.partition_expr for dimension in table_slice.partition_dimensions]
                if partitioned
                else None,
                storage_options=connection.storage_options,
            )

        try:
            attempts = committed(write, what)
        except (SchemaMismatchError, DeltaError) as error:
            if not isinstance(error, SchemaMismatchError) and "cast error" not in str(error).lower():
                raise
            raise DeltaSchemaChanged(
                f"{what} failed: the frame's columns do not match the table's ({error}). The asset's columns or "
                f"types changed since the table was first written. Move {connection.table_uri} aside and "
                f"materialize every week of {table_slice.table} again (or run the code that wrote it)."
            ) from None
        row_counts = TableMetadataSet(
            **({"partition_row_count": len(obj)} if partitioned else {"row_count": len(obj)}),
            storage_kind="deltalake",
        )
        context.add_output_metadata(
            {
                **row_counts,
                "dataframe_columns": dg.MetadataValue.table_schema(
                    dg.TableSchema(
                        columns=[dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in obj.dtypes.items()]
                    )
                ),
                "table_uri": dg.MetadataValue.path(connection.table_uri),
                "commit_attempts": attempts,
            }
        )

    def load_input(self, context, table_slice: TableSlice, connection: TableConnection) -> pd.DataFrame:
        try:
            table = DeltaTable(connection.table_uri, storage_options=connection.storage_options)
        except TableNotFoundError:
            raise DeltaTableMissing(
                f"Reading {_describe(table_slice)}: there is no Delta table at {connection.table_uri}. Materialize "
                f"{table_slice.table} for this week first, or point SIGNALS_DELTA_ROOT (warehouse.delta_root) at "
                "the folder that holds it."
            ) from None
        dataset = table.to_pyarrow_dataset()
        expression = _filter(table_slice)
        if expression is not None:
            dataset = dataset.filter(expression)
        reader = dataset.scanner(columns=table_slice.columns).to_reader()
        return self.from_arrow(reader, context.dagster_type.typing_type)


class DeltaWarehouseClient(DeltaLakeDbClient):
    """dagster-deltalake's client, its tables under the run's `warehouse` resource's delta_root."""

    @staticmethod
    @contextmanager
    def connect(context, table_slice: TableSlice) -> Iterator[TableConnection]:
        root = context.resources.warehouse.delta_root
        yield TableConnection(table_uri=table_uri(root, table_slice.table), storage_options={}, table_config=None)


def delta_io_manager(root: str) -> DbIOManager:
    return DbIOManager(
        db_client=DeltaWarehouseClient(),
        database=str(Path(root).resolve()),
        schema=SCHEMA,
        type_handlers=[DeltaFrameHandler()],
        default_load_type=pd.DataFrame,
        io_manager_name="DeltaLakeIOManager",
    )
