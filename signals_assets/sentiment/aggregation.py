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


def _weighted_means(groups: np.ndarray, count: int, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per group (codes 0..count-1): the weighted mean of `scores`; the plain mean where every weight is 0 (a
    ticker only tagged at weight 0 still has a sentiment, with no headline preferred)."""
    weight = np.bincount(groups, weights, minlength=count)
    weighted = np.bincount(groups, weights * scores, minlength=count)
    plain = np.bincount(groups, scores, minlength=count) / np.maximum(np.bincount(groups, minlength=count), 1)
    return np.where(weight > 0, weighted / np.where(weight > 0, weight, 1.0), plain)


def ticker_sentiment(rows: pd.DataFrame, collapse_stories: bool = False, weighted: bool = False) -> pd.DataFrame:
    """numerai_ticker, sentiment (the weighted mean score), n_headlines and n_stories, one row per ticker with a
    finite score; `rows` is `headline_rows` plus a `score` column (NaN: no score, e.g. a headline without a
    provider label, left out)."""
    scores = pd.to_numeric(rows["score"], errors="coerce").to_numpy(dtype="float64")
    kept = np.isfinite(scores)
    # Sorted codes: the result comes out in ticker order. Arrays and bincount: a week's thousands of rows, once
    # per variant, in milliseconds.
    tickers, names = pd.factorize(rows["numerai_ticker"].astype(str).to_numpy()[kept], sort=True)
    stories, story_tickers = _story_codes(tickers, rows["story_id"].astype(str).to_numpy()[kept])
    scores = scores[kept]
    weights = rows["weight"].to_numpy(dtype="float64")[kept] if weighted else np.ones(len(scores))
    count = len(names)
    if collapse_stories:
        # A story: its copies' weighted mean, weighing the most any copy weighs (named in one copy: about it).
        story_count = len(story_tickers)
        story_scores = _weighted_means(stories, story_count, scores, weights)
        story_weights = np.zeros(story_count)
        np.maximum.at(story_weights, stories, weights)
        sentiment = _weighted_means(story_tickers, count, story_scores, story_weights)
    else:
        sentiment = _weighted_means(tickers, count, scores, weights)
    result = pd.DataFrame(
        {
            "numerai_ticker": pd.array(np.asarray(names, dtype=object), dtype="string"),
            "sentiment": sentiment.astype("float64"),
            "n_headlines": np.bincount(tickers, minlength=count).astype("int64"),
            "n_stories": np.bincount(story_tickers, minlength=count).astype("int64"),
        }
    )
    return result[TICKER_COLUMNS]


def _story_codes(tickers: np.ndarray, story_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (ticker, story) code, and each such story's ticker code."""
    keys = pd.Series(tickers.astype(str), dtype=object) + "\x1f" + pd.Series(story_ids, dtype=object)
    codes, uniques = pd.factorize(keys.to_numpy())
    first = np.zeros(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # each story's first row
    return codes.astype(np.int64), tickers[first].astype(np.int64)
