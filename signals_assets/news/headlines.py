"""From raw articles to the headlines FinBERT scores (pure pandas).

The blog post's wrangling: drop the columns the model does not read, drop provider-Neutral articles,
then one row per (article, numerai_ticker) for tickers Numerai scores, and one row per ticker with
its headlines as a real list (the blog post joined them with "[SEP]" and split them again later).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

FILTERED_HEADLINE_COLUMNS = ["article_id", "numerai_ticker", "title", "published_at", "sentiment"]
AGGREGATED_HEADLINE_COLUMNS = ["numerai_ticker", "headlines", "n_headlines", "article_ids"]
# Typed so that an empty week still gives DuckDB a VARCHAR[] column.
_STRING_LIST = pd.ArrowDtype(pa.list_(pa.string()))


def filter_headlines(raw_articles: pd.DataFrame, ticker_map: pd.DataFrame, drop_neutral: bool = True) -> pd.DataFrame:
    """One row per (article, numerai_ticker) for the article's tickers that are in the ticker map."""
    articles = raw_articles[["article_id", "title", "published_at", "sentiment", "tickers"]]
    if drop_neutral:
        articles = articles[articles["sentiment"].str.lower() != "neutral"]
    per_ticker = articles.explode("tickers").rename(columns={"tickers": "stocknews_ticker"})
    per_ticker = per_ticker.dropna(subset=["stocknews_ticker"])
    per_ticker["stocknews_ticker"] = per_ticker["stocknews_ticker"].astype("string").str.upper()
    mapping = ticker_map[["stocknews_ticker", "numerai_ticker"]].astype("string")
    headlines = per_ticker.merge(mapping, on="stocknews_ticker", how="inner")
    # An article tagged with two symbols of one company counts once for that company.
    headlines = headlines.drop_duplicates(["article_id", "numerai_ticker"])
    headlines = headlines.sort_values(["numerai_ticker", "published_at", "article_id"])
    return headlines[FILTERED_HEADLINE_COLUMNS].reset_index(drop=True)


def aggregate_headlines(filtered_headlines: pd.DataFrame) -> pd.DataFrame:
    """One row per numerai_ticker: its headlines (list), their count and their article ids (list)."""
    if filtered_headlines.empty:
        return pd.DataFrame(
            {
                "numerai_ticker": pd.Series(dtype="string"),
                "headlines": pd.Series(dtype=_STRING_LIST),
                "n_headlines": pd.Series(dtype="int64"),
                "article_ids": pd.Series(dtype=_STRING_LIST),
            }
        )
    ordered = filtered_headlines.sort_values(["numerai_ticker", "published_at", "article_id"])
    grouped = ordered.groupby("numerai_ticker", sort=True)
    aggregated = pd.DataFrame(
        {
            "headlines": grouped["title"].agg(list),
            "n_headlines": grouped["title"].size().astype("int64"),
            "article_ids": grouped["article_id"].agg(list),
        }
    ).reset_index()
    aggregated["numerai_ticker"] = aggregated["numerai_ticker"].astype("string")
    return aggregated[AGGREGATED_HEADLINE_COLUMNS]
