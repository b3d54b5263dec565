"""Sentiment: the week's headlines per ticker, and FinBERT's score of each ticker."""

import time

import dagster as dg
import pandas as pd

from signals_assets.defs.execution import finbert_op_tags
from signals_assets.defs.metadata import preview
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.news.headlines import aggregate_headlines
from signals_assets.sentiment.headline_scores import (
    CACHE_TABLE,
    SCORE_COLUMNS,
    TICKER_SENTIMENT_COLUMNS,
    distinct_headlines,
    ticker_sentiment,
)
from signals_assets.weeks import with_week_column


@weekly_asset(group_name="sentiment", kinds={"duckdb", "pandas"})
def aggregated_headlines(context: dg.AssetExecutionContext, filtered_headlines: pd.DataFrame) -> pd.DataFrame:
    """One row per numerai_ticker with its week's headlines as a list, their count and article ids."""
    week = week_of(context)
    aggregated = with_week_column(aggregate_headlines(filtered_headlines), week)
    context.add_output_metadata(
        {
            "headlines": int(aggregated["n_headlines"].sum()) if len(aggregated) else 0,
            "preview": preview(aggregated, ["numerai_ticker", "n_headlines"]),
        }
    )
    return aggregated


@weekly_asset(group_name="sentiment", kinds={"pytorch", "duckdb"}, pool="gpu", op_tags=finbert_op_tags())
def finbert_scores(
    context: dg.AssetExecutionContext,
    finbert: FinBERT,
    warehouse: Warehouse,
    aggregated_headlines: pd.DataFrame,
) -> pd.DataFrame:
    """Per ticker: the mean FinBERT score P(positive) - P(negative) of its week's headlines, in [-1, 1].

    Per-headline probabilities live in `signals.headline_scores`, keyed by model and revision, the
    model's fingerprint: a hash of a local directory's model files or the hub commit. A headline scored
    once by the same model files (this week, a re-run, or an earlier week) is never scored again; new
    weights saved over the old ones are a new fingerprint, and every headline is scored again."""
    week = week_of(context)
    headlines = distinct_headlines(aggregated_headlines)
    # The fingerprint comes from the model's files (or hub commit) without loading it, so a fully cached
    # week loads no model at all; a week without headlines needs no model, nor its fingerprint.
    fingerprint = finbert.fingerprint() if len(headlines) else None
    model, revision = finbert.model, fingerprint.value if fingerprint else "none (no headlines)"
    if fingerprint is not None:
        context.log.info(f"FinBERT model {model!r} has fingerprint {revision}: {fingerprint.described}.")

    reused = warehouse.cached_headline_scores(model, revision, headlines)
    to_score = headlines[~headlines["headline_id"].isin(reused["headline_id"])]

    inference = {"device": "none (nothing to score)", "precision": "n/a", "headlines_per_s": 0.0}
    new_scores = pd.DataFrame(columns=["headline_id", *SCORE_COLUMNS])
    if headlines.empty:
        context.log.info(f"Week {week.key} has no headlines for Numerai tickers: nothing to score.")
    elif to_score.empty:
        context.log.info(f"All {len(headlines)} headlines of week {week.key} were scored before: no inference.")
    else:
        scorer = finbert.load_scorer(log=context.log, fingerprint=fingerprint)
        started = time.perf_counter()
        probabilities = scorer.score(
            to_score["headline"].tolist(),
            progress=lambda done, total, elapsed: context.log.info(
                f"Scored {done}/{total} headlines ({done / max(elapsed, 1e-9):.0f} headlines/s)"
            ),
        )
        elapsed = time.perf_counter() - started
        new_scores = pd.concat([to_score.reset_index(drop=True), probabilities.reset_index(drop=True)], axis=1)
        new_scores = new_scores.assign(model=model, revision=revision, first_week=week.week_start)
        warehouse.store_headline_scores(new_scores)
        inference = {
            "device": scorer.device,
            "precision": scorer.precision,
            "headlines_per_s": round(len(to_score) / max(elapsed, 1e-9), 1),
        }

    score_parts = [part[["headline_id", *SCORE_COLUMNS]] for part in (reused, new_scores) if len(part)]
    all_scores = pd.concat(score_parts, ignore_index=True) if score_parts else reused
    per_ticker = ticker_sentiment(aggregated_headlines, all_scores).assign(model=model, revision=revision)
    per_ticker = with_week_column(per_ticker, week)
    context.add_output_metadata(
        {
            "headlines": len(headlines),
            "headlines_scored": len(to_score),
            "headlines_reused": len(reused),
            **inference,
            "model": model,
            "revision": revision,
            "fingerprint_of": fingerprint.described if fingerprint else "n/a",
            "headline_scores_table": f"{SCHEMA}.{CACHE_TABLE}",
            "preview": preview(per_ticker.sort_values("sentiment"), TICKER_SENTIMENT_COLUMNS),
        }
    )
    return per_ticker
