"""Sentiment: the week's headlines per ticker, and each signal variant's score of each ticker."""

import time

import dagster as dg
import pandas as pd

from signals_assets.defs.execution import finbert_op_tags
from signals_assets.defs.metadata import bounded_metadata, preview
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.news.headlines import aggregate_headlines
from signals_assets.sentiment.aggregation import headline_rows, ticker_sentiment
from signals_assets.sentiment.fingerprint import Checkpoint
from signals_assets.sentiment.headline_scores import CACHE_TABLE, SCORE_COLUMNS, distinct_headlines
from signals_assets.sentiment.provider_labels import label_scores
from signals_assets.signal.variants import ATTRIBUTION_TITLE, SOURCE_PROVIDER, VARIANT_COLUMN, Variant
from signals_assets.weeks import Week, with_week_column

SCORES_COLUMNS = [VARIANT_COLUMN, "numerai_ticker", "sentiment", "n_headlines", "n_stories", "model", "revision"]


@weekly_asset(group_name="sentiment", kinds={"duckdb", "pandas"})
def aggregated_headlines(
    context: dg.AssetExecutionContext, signal_settings: SignalSettings, filtered_headlines: pd.DataFrame
) -> pd.DataFrame:
    """One row per numerai_ticker with its week's headlines as a list, their count and article ids, provider
    labels, attribution weights and story ids; n_stories counts a ticker's reprints and near-copies of one story
    once (MinHash similarity at least story_similarity, SIGNAL_STORY_SIMILARITY)."""
    week = week_of(context)
    started = time.perf_counter()
    aggregated = with_week_column(aggregate_headlines(filtered_headlines, signal_settings.story_similarity), week)
    seconds = time.perf_counter() - started
    headlines = int(aggregated["n_headlines"].sum()) if len(aggregated) else 0
    stories = int(aggregated["n_stories"].sum()) if len(aggregated) else 0
    context.add_output_metadata(
        {
            "headlines": headlines,
            "stories": stories,
            # The share of a week's (ticker, headline) rows that are another copy of a story already counted.
            "collapse_share": round(1 - stories / headlines, 4) if headlines else 0.0,
            "story_similarity": signal_settings.story_similarity,
            "seconds": round(seconds, 3),
            "preview": preview(aggregated, ["numerai_ticker", "n_headlines", "n_stories"]),
        }
    )
    return aggregated


def _model_scores(
    context: dg.AssetExecutionContext,
    finbert: FinBERT,
    warehouse: Warehouse,
    checkpoint: Checkpoint,
    headlines: pd.DataFrame,
    week: Week,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Every distinct headline's score by one checkpoint: from the cache where this checkpoint (its fingerprint and
    label map) scored it before, else by the model, loaded at most once, and cached for every later variant,
    week and run."""
    # The fingerprint comes from the model's files (or hub commit) without loading it, so a fully cached
    # week loads no model at all; a week without headlines needs no model, nor its fingerprint.
    fingerprint = finbert.fingerprint(checkpoint) if len(headlines) else None
    model = checkpoint.model
    revision = checkpoint.cache_revision(fingerprint) if fingerprint else "none (no headlines)"
    if fingerprint is not None:
        context.log.info(f"FinBERT model {model!r} has fingerprint {revision}: {fingerprint.described}.")
    reused = warehouse.cached_headline_scores(model, revision, headlines)
    to_score = headlines[~headlines["headline_id"].isin(reused["headline_id"])]
    info: dict[str, object] = {"device": "none (nothing to score)", "precision": "n/a", "headlines_per_s": 0.0}
    new_scores = pd.DataFrame(columns=["headline_id", *SCORE_COLUMNS])
    if headlines.empty:
        context.log.info(f"Week {week.key} has no headlines for Numerai tickers: nothing to score.")
    elif to_score.empty:
        context.log.info(f"All {len(headlines)} headlines of week {week.key} were scored by {model!r} before.")
    else:
        scorer = finbert.load_scorer(log=context.log, fingerprint=fingerprint, checkpoint=checkpoint)
        started = time.perf_counter()
        probabilities = scorer.score(
            to_score["headline"].tolist(),
            progress=lambda done, total, elapsed: context.log.info(
                f"{model}: scored {done}/{total} headlines ({done / max(elapsed, 1e-9):.0f} headlines/s)"
            ),
        )
        elapsed = time.perf_counter() - started
        new_scores = pd.concat([to_score.reset_index(drop=True), probabilities.reset_index(drop=True)], axis=1)
        new_scores = new_scores.assign(model=model, revision=revision, first_week=week.week_start)
        warehouse.store_headline_scores(new_scores)
        info = {
            "device": scorer.device,
            "precision": scorer.precision,
            "headlines_per_s": round(len(to_score) / max(elapsed, 1e-9), 1),
        }
    parts = [part[["headline_id", "score"]] for part in (reused, new_scores) if len(part)]
    scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["headline_id", "score"])
    info.update(
        model=model,
        revision=revision,
        fingerprint_of=fingerprint.described if fingerprint else "n/a",
        headlines_scored=len(to_score),
        headlines_reused=len(reused),
    )
    return scores, info


def _variant_scores(variant: Variant, rows: pd.DataFrame, scores: pd.DataFrame | None) -> pd.DataFrame:
    """One variant's per-ticker sentiment from the week's headline rows and its source's headline scores."""
    if variant.source == SOURCE_PROVIDER:
        scored = rows.assign(score=label_scores(rows["provider_label"]).to_numpy())
    else:
        by_headline = scores.drop_duplicates("headline_id").set_index("headline_id")["score"]
        scored = rows.assign(score=rows["headline_id"].map(by_headline).astype("float64"))
        if scored["score"].isna().any():
            missing = scored.loc[scored["score"].isna(), "headline"].head(3).tolist()
            raise ValueError(f"Headlines without a score (scorer output misaligned?): {missing}")
    return ticker_sentiment(
        scored, collapse_stories=variant.collapse_stories, weighted=variant.attribution == ATTRIBUTION_TITLE
    )


@weekly_asset(group_name="sentiment", kinds={"pytorch", "duckdb"}, pool="gpu", op_tags=finbert_op_tags())
def finbert_scores(
    context: dg.AssetExecutionContext,
    finbert: FinBERT,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
    aggregated_headlines: pd.DataFrame,
) -> pd.DataFrame:
    """Per signal variant and ticker: the week's sentiment, in [-1, 1]. For a FinBERT variant the mean score
    P(positive) - P(negative) of the ticker's headlines (stories once and weighted by title attribution where the
    variant says so); for a provider-label variant the mean of the provider's labels (+1, -1, 0).

    Per-headline probabilities live in `signals.headline_scores`, keyed by model and revision, the
    model's fingerprint: a hash of a local directory's model files or the hub commit (and the label map, when
    one is set). Each model loads once per run and scores each distinct headline once, for every variant that
    uses it; a headline scored by the same model files before (this week, a re-run, an earlier week) is never
    scored again."""
    week = week_of(context)
    headlines = distinct_headlines(aggregated_headlines)
    rows = headline_rows(aggregated_headlines)
    variants = signal_settings.all_variants()
    checkpoints = {
        variant.name: finbert.checkpoint(variant.source, variant.revision, variant.label_map)
        for variant in variants
        if variant.uses_model
    }
    scores: dict[Checkpoint, pd.DataFrame] = {}
    models: list[dict[str, object]] = []
    for checkpoint in dict.fromkeys(checkpoints.values()):
        scores[checkpoint], info = _model_scores(context, finbert, warehouse, checkpoint, headlines, week)
        models.append(info)

    parts, table = [], []
    for variant in variants:
        checkpoint = checkpoints.get(variant.name)
        per_ticker = _variant_scores(variant, rows, scores.get(checkpoint))
        model_info = models[list(scores).index(checkpoint)] if checkpoint is not None else None
        per_ticker = per_ticker.assign(
            **{
                VARIANT_COLUMN: variant.name,
                "model": model_info["model"] if model_info else SOURCE_PROVIDER,
                "revision": model_info["revision"] if model_info else "provider",
            }
        )
        parts.append(per_ticker[SCORES_COLUMNS])
        table.append(
            {
                "variant": variant.name,
                "made_of": variant.described(),
                "tickers": len(per_ticker),
                "headlines": int(per_ticker["n_headlines"].sum()),
                "stories": int(per_ticker["n_stories"].sum()),
                "mean_sentiment": round(float(per_ticker["sentiment"].mean()), 4) if len(per_ticker) else None,
            }
        )
    result = pd.concat(parts, ignore_index=True).astype(
        {VARIANT_COLUMN: "string", "numerai_ticker": "string", "model": "string", "revision": "string"}
    )
    per_ticker = with_week_column(result, week)
    default = next((info for info in models if info["model"] == finbert.model), models[0] if models else {})
    context.add_output_metadata(
        bounded_metadata(
            {
                "headlines": len(headlines),
                "headlines_scored": sum(int(info["headlines_scored"]) for info in models),
                "headlines_reused": sum(int(info["headlines_reused"]) for info in models),
                **{key: default[key] for key in ("device", "precision", "headlines_per_s") if key in default},
                "model": str(default.get("model", "n/a (no FinBERT variant)")),
                "revision": str(default.get("revision", "n/a")),
                "fingerprint_of": str(default.get("fingerprint_of", "n/a")),
                "models": dg.MetadataValue.json(models),
                "variants": preview(pd.DataFrame(table)),
                "headline_scores_table": f"{SCHEMA}.{CACHE_TABLE}",
                "preview": preview(per_ticker.sort_values([VARIANT_COLUMN, "sentiment"]), SCORES_COLUMNS[:5]),
            }
        )
    )
    return per_ticker
