"""A ticker's weekly sentiment from its headlines' scores, the way a signal variant asks for it (pure pandas).

The blog post's score(T) is the plain mean of P(positive) - P(negative) over the ticker's headlines. A variant
may change two things about that mean:
- stories once: a ticker's copies of one story (reprints, near-copies; `story_ids` of aggregated_headlines)
  enter the mean as one story, whose score is its copies' weighted mean and whose weight is the highest of its
  copies' (a story that names the ticker in any copy is about it);
- title attribution: each headline weighs its attribution `weight` (1 where the title names the ticker, less
  where the ticker is only tagged) instead of 1.
With neither, the result is the blog post's mean exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from signals_assets.sentiment.headline_scores import headline_id

TICKER_COLUMNS = ["numerai_ticker", "sentiment", "n_headlines", "n_stories"]
LIST_COLUMNS = {"headlines": "headline", "article_ids": "article_id", "sentiments": "provider_label"}


def headline_rows(aggregated_headlines: pd.DataFrame) -> pd.DataFrame:
    """One row per (ticker, headline): numerai_ticker, headline, headline_id, article_id, provider_label, weight,
    story_id. A table aggregated before weights and stories existed gives weight 1 and a story per headline."""
    frame = aggregated_headlines.reset_index(drop=True)
    counts = frame["headlines"].map(len).to_numpy() if len(frame) else np.array([], dtype=int)
    tickers = np.repeat(frame["numerai_ticker"].astype(str).to_numpy(), counts)
    rows = pd.DataFrame({"numerai_ticker": tickers})
    for source, target in LIST_COLUMNS.items():
        values = frame[source] if source in frame.columns else pd.Series([[None] * n for n in counts])
        rows[target] = [value for items in values for value in items] if len(frame) else []
    rows["headline"] = rows["headline"].astype(str)
    rows["headline_id"] = rows["headline"].map(headline_id)
    weights = frame["weights"] if "weights" in frame.columns else pd.Series([[1.0] * n for n in counts])
    rows["weight"] = np.array([value for items in weights for value in items], dtype="float64")
    if "story_ids" in frame.columns:
        rows["story_id"] = [value for items in frame["story_ids"] for value in items]
    else:
        rows["story_id"] = [f"headline-{index}" for index in range(len(rows))]
    return rows


def ticker_sentiment(rows: pd.DataFrame, collapse_stories: bool = False, weighted: bool = False) -> pd.DataFrame:
    """numerai_ticker, sentiment (the weighted mean score), n_headlines and n_stories, one row per ticker with a
    finite score; `rows` is `headline_rows` plus a `score` column (NaN: no score, e.g. a headline without a
    provider label, left out)."""
    scored = rows.loc[np.isfinite(pd.to_numeric(rows["score"], errors="coerce").to_numpy(dtype="float64"))].copy()
    if scored.empty:
        return pd.DataFrame(
            {
                "numerai_ticker": pd.Series(dtype="string"),
                "sentiment": pd.Series(dtype="float64"),
                "n_headlines": pd.Series(dtype="int64"),
                "n_stories": pd.Series(dtype="int64"),
            }
        )
    scored["score"] = scored["score"].astype("float64")
    scored["w"] = scored["weight"].astype("float64") if weighted else 1.0
    counts = scored.groupby("numerai_ticker").agg(n_headlines=("score", "size"), n_stories=("story_id", "nunique"))
    if collapse_stories:
        scored["ws"] = scored["w"] * scored["score"]
        stories = scored.groupby(["numerai_ticker", "story_id"], sort=False).agg(
            ws=("ws", "sum"), w_sum=("w", "sum"), w=("w", "max"), n=("score", "size")
        )
        # A story whose copies all weigh 0 (a tagged weight of 0) scores as their plain mean, and weighs 0.
        plain = scored.groupby(["numerai_ticker", "story_id"], sort=False)["score"].mean()
        stories["score"] = np.where(
            stories["w_sum"] > 0, stories["ws"] / stories["w_sum"].where(stories["w_sum"] > 0), plain
        )
        scored = stories.reset_index()[["numerai_ticker", "score", "w"]]
    scored["ws"] = scored["w"] * scored["score"]
    totals = scored.groupby("numerai_ticker").agg(ws=("ws", "sum"), w=("w", "sum"), mean=("score", "mean"))
    # Every headline of a ticker only tagged at weight 0: no preference between them, so the plain mean.
    sentiment = np.where(totals["w"] > 0, totals["ws"] / totals["w"].where(totals["w"] > 0), totals["mean"])
    result = pd.DataFrame(
        {
            "numerai_ticker": totals.index.astype(str),
            "sentiment": np.asarray(sentiment, dtype="float64"),
            "n_headlines": counts.loc[totals.index, "n_headlines"].to_numpy(dtype="int64"),
            "n_stories": counts.loc[totals.index, "n_stories"].to_numpy(dtype="int64"),
        }
    ).sort_values("numerai_ticker", kind="stable")
    result["numerai_ticker"] = result["numerai_ticker"].astype("string")
    return result[TICKER_COLUMNS].reset_index(drop=True)
