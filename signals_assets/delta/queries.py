"""DuckDB on the Delta warehouse (SIGNALS_WAREHOUSE=delta), and its per-headline score cache.

`connect()` is an in-memory DuckDB whose schema `signals` holds a view on the current version of each Delta table
under the root, so every `SELECT ... FROM signals.<table>` of the DuckDB file works unchanged; SQL that writes is
refused, since it would be lost. The score cache is read by the same SQL as the DuckDB file's and added to with
deltalake's MERGE (insert when not matched on model, revision, headline_id), run again when a concurrent run's
commit conflicts. Imported only when that backend is chosen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from signals_assets.delta.tables import SCHEMA, committed, table_names, table_uri
from signals_assets.sentiment.headline_scores import (
    CACHE_KEY,
    CACHE_TABLE,
    SCORE_COLUMNS,
    cached_scores,
    ensure_cache_table,
    store_scores,
)

# What Warehouse.connect() runs in delta mode: reads only (its views are the Delta tables).
READ_STATEMENTS = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
    duckdb.StatementType.PRAGMA,
    duckdb.StatementType.SET,
    duckdb.StatementType.VARIABLE_SET,
    duckdb.StatementType.TRANSACTION,
}


class ReadOnlyWarehouse(RuntimeError):
    """SQL that would write was sent to the delta warehouse's read-only DuckDB connection."""


class ReadOnlyConnection:
    """A DuckDB connection on the Delta tables' views that refuses SQL that writes: into an in-memory database it
    would be lost when the connection closes. Every other attribute is DuckDB's."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, root: str):
        self._connection, self._root = connection, root

    def _check(self, query: str) -> None:
        for statement in duckdb.extract_statements(query):
            if statement.type not in READ_STATEMENTS:
                raise ReadOnlyWarehouse(
                    f"{statement.type.name} refused: with SIGNALS_WAREHOUSE=delta, Warehouse.connect() is an "
                    f"in-memory DuckDB reading the Delta tables under {self._root}, and what SQL writes there would "
                    "be lost. Write a table through an asset (the IO manager), the headline-score cache through "
                    "Warehouse.store_headline_scores, or your own copy with deltalake.write_deltalake; or set "
                    "SIGNALS_WAREHOUSE=duckdb for a writable DuckDB file."
                )

    def execute(self, query: str, parameters=None) -> ReadOnlyConnection:
        self._check(query)
        self._connection.execute(query, parameters)
        return self

    def sql(self, query: str, *args, **kwargs):
        self._check(query)
        return self._connection.sql(query, *args, **kwargs)

    query = sql

    def executemany(self, query: str, parameters=None):
        self._check(query)
        return self._connection.executemany(query, parameters)

    def __getattr__(self, name: str):
        return getattr(self._connection, name)


def register(connection: duckdb.DuckDBPyConnection, root: str, names: list[str]) -> list[str]:
    """Schema `signals` with a view on the current version of each named Delta table that exists; their names."""
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    registered = []
    for name in names:
        try:
            dataset = DeltaTable(table_uri(root, name)).to_pyarrow_dataset()
        except TableNotFoundError:
            continue  # not written yet: absent, as in the DuckDB file
        connection.register(f"delta__{name}", dataset)
        connection.execute(f'CREATE VIEW {SCHEMA}."{name}" AS SELECT * FROM "delta__{name}"')
        registered.append(name)
    return registered


@contextmanager
def connect(root: str) -> Iterator[ReadOnlyConnection]:
    """An in-memory DuckDB where `signals.<table>` reads each Delta table under root, closed on exit."""
    connection = duckdb.connect()
    try:
        register(connection, root, table_names(root))
        yield ReadOnlyConnection(connection, root)
    finally:
        connection.close()


def cached_headline_scores(root: str, model: str, revision: str, headlines: pd.DataFrame) -> pd.DataFrame:
    """The cache's scores of `headlines` by this model and revision, read by the same SQL as the DuckDB file's."""
    with duckdb.connect() as connection:
        if not register(connection, root, [CACHE_TABLE]):
            columns = {"headline_id": "object", **dict.fromkeys(SCORE_COLUMNS, "float64")}
            return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in columns.items()})
        return cached_scores(connection, SCHEMA, model, revision, headlines)


def store_headline_scores(root: str, new_scores: pd.DataFrame) -> int:
    """Add newly scored headlines with a MERGE that inserts only keys not cached yet, so a headline scored by two
    runs at once keeps one score. The rows are typed (and deduplicated) by the DuckDB cache table's own DDL.
    Returns the number of commit attempts."""
    if new_scores.empty:
        return 0
    with duckdb.connect() as scratch:
        ensure_cache_table(scratch, SCHEMA)
        store_scores(scratch, SCHEMA, new_scores)
        rows = scratch.sql(f"SELECT * FROM {SCHEMA}.{CACHE_TABLE}").to_arrow_table()
    uri = table_uri(root, CACHE_TABLE)

    def merge():
        try:
            table = DeltaTable(uri)
        except TableNotFoundError:
            table = DeltaTable.create(uri, rows.schema, mode="ignore")
        (
            table.merge(
                rows,
                predicate=" AND ".join(f"target.{column} = source.{column}" for column in CACHE_KEY),
                source_alias="source",
                target_alias="target",
            )
            .when_not_matched_insert_all()
            .execute()
        )

    return committed(merge, f"Adding {len(rows)} headline scores to the Delta table {uri}")
