"""Where the assets live: one DuckDB file, schema `signals`, chosen by settings."""

from __future__ import annotations

import os
from pathlib import Path

# Not `signals.duckdb`: DuckDB attaches a file as a catalog named after it, and a catalog named like
# the schema makes every write fail with "Ambiguous reference to catalog or schema".
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_DATA_DIR = "data"
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
