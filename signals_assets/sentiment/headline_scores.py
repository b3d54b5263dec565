"""Per-headline FinBERT scores: the cache that makes every headline scored once per model (pure pandas, plus
plain DuckDB SQL for the cache table; the Warehouse resource keeps it in
its DuckDB file, or in a Delta table merged by the same key).

The cache is keyed by (model, revision, headline_id), where revision is the model's fingerprint
(signals_assets.sentiment.fingerprint): a hash of a local directory's model files, or the hub commit.
Rows of earlier keys (a configured revision, 'default') stay but no longer match."""

from __future__ import annotations

import hashlib

import pandas as pd

SCORE_COLUMNS = ["p_positive", "p_negative", "p_neutral", "score"]
HEADLINE_SCORE_COLUMNS = ["headline_id", "headline", *SCORE_COLUMNS, "model", "revision", "first_week"]

CACHE_TABLE = "headline_scores"
# A headline's score is cached once per model and revision (its fingerprint).
CACHE_KEY = ("model", "revision", "headline_id")


def headline_id(headline: str) -> str:
    return hashlib.sha1(headline.encode("utf-8")).hexdigest()


def distinct_headlines(aggregated_headlines: pd.DataFrame) -> pd.DataFrame:
    """Each distinct headline of the week once (several tickers often carry the same article)."""
    headlines = aggregated_headlines["headlines"].explode().dropna().astype(str).drop_duplicates()
    return pd.DataFrame({"headline_id": headlines.map(headline_id).to_numpy(), "headline": headlines.to_numpy()})


def ensure_cache_table(connection, schema: str) -> None:
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    connection.execute(
        f"""CREATE TABLE IF NOT EXISTS {schema}.{CACHE_TABLE} (
            headline_id VARCHAR, headline VARCHAR,
            p_positive DOUBLE, p_negative DOUBLE, p_neutral DOUBLE, score DOUBLE,
            model VARCHAR, revision VARCHAR, first_week TIMESTAMP,
            PRIMARY KEY ({", ".join(CACHE_KEY)}))"""
    )


def cached_scores(connection, schema: str, model: str, revision: str, headlines: pd.DataFrame) -> pd.DataFrame:
    """Scores already computed by this model at this revision (its fingerprint) for any of `headlines`."""
    wanted = headlines[["headline_id"]]  # noqa: F841 (read by DuckDB's replacement scan)
    return connection.execute(
        f"""SELECT c.headline_id, {", ".join("c." + col for col in SCORE_COLUMNS)}
            FROM {schema}.{CACHE_TABLE} c JOIN wanted USING (headline_id)
            WHERE c.model = ? AND c.revision = ?""",
        [model, revision],
    ).fetchdf()


def store_scores(connection, schema: str, new_scores: pd.DataFrame) -> None:
    """Add newly scored headlines; a headline already cached for this model and revision keeps its first score."""
    if new_scores.empty:
        return
    rows = new_scores[HEADLINE_SCORE_COLUMNS]  # noqa: F841 (read by DuckDB's replacement scan)
    connection.execute(f"INSERT OR IGNORE INTO {schema}.{CACHE_TABLE} SELECT * FROM rows")
