"""From raw articles to the headlines FinBERT scores (pure pandas).

The blog post's wrangling: drop the columns the model does not read, drop provider-Neutral articles,
then one row per (article, numerai_ticker) for tickers Numerai scores, and one row per ticker with
its headlines as a real list (the blog post joined them with "[SEP]" and split them again later).

Two facts about each headline are added on the way, for the signal variants that use them: whether its title
names the ticker (`named_in_title`, and the attribution `weight` that follows from it), and which story it is
(`story_ids`: a ticker's reprints and near-copies of one story in a week share an id).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from signals_assets.news.attribution import title_attribution
from signals_assets.news.stories import DEFAULT_SIMILARITY, story_ids

FILTERED_HEADLINE_COLUMNS = [
    "article_id",
    "numerai_ticker",
    "title",
    "published_at",
    "sentiment",
    "n_tagged",
    "named_in_title",
    "weight",
]
AGGREGATED_HEADLINE_COLUMNS = [
    "numerai_ticker",
    "headlines",
    "n_headlines",
    "article_ids",
    "sentiments",
    "weights",
    "story_ids",
    "n_stories",
]
# Typed so that an empty week still gives DuckDB a VARCHAR[] / DOUBLE[] column.
_STRING_LIST = pd.ArrowDtype(pa.list_(pa.string()))
_FLOAT_LIST = pd.ArrowDtype(pa.list_(pa.float64()))


def filter_headlines(
    raw_articles: pd.DataFrame,
    ticker_map: pd.DataFrame,
    drop_neutral: bool = True,
    tagged_weight: float | None = None,
) -> pd.DataFrame:
    """One row per (article, numerai_ticker) for the article's tickers that are in the ticker map, with the number
    of tickers the article is tagged with, whether its title names this one, and the weight the title
    attribution gives it (1 when named; else `tagged_weight`, by default 1 / n_tagged)."""
    articles = raw_articles[["article_id", "title", "published_at", "sentiment", "tickers"]]
    if drop_neutral:
        articles = articles[articles["sentiment"].str.lower() != "neutral"]
    per_ticker = articles.explode("tickers").rename(columns={"tickers": "stocknews_ticker"})
    per_ticker = per_ticker.dropna(subset=["stocknews_ticker"])
    per_ticker["stocknews_ticker"] = per_ticker["stocknews_ticker"].astype("string").str.upper()
    # Every ticker the provider tagged counts, mapped to Numerai or not: a passing mention is one of them.
    per_ticker["n_tagged"] = per_ticker.groupby("article_id")["stocknews_ticker"].transform("nunique").astype("int64")
    columns = ["stocknews_ticker", "numerai_ticker", *(["name"] if "name" in ticker_map.columns else [])]
    mapping = ticker_map[columns].astype("string")
    headlines = per_ticker.merge(mapping, on="stocknews_ticker", how="inner")
    names = mapping[["stocknews_ticker"]].assign(name=mapping["name"] if "name" in mapping.columns else pd.NA)
    headlines = title_attribution(headlines.drop(columns=["name"], errors="ignore"), names, tagged_weight)
    # An article tagged with two symbols of one company counts once for that company, named if either is.
    headlines = headlines.sort_values(["named_in_title", "weight"], ascending=False, kind="stable")
    headlines = headlines.drop_duplicates(["article_id", "numerai_ticker"])
    headlines = headlines.sort_values(["numerai_ticker", "published_at", "article_id"])
    headlines = headlines.astype({"named_in_title": "bool", "weight": "float64", "n_tagged": "int64"})
    return headlines[FILTERED_HEADLINE_COLUMNS].reset_index(drop=True)


def _empty_aggregate() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "numerai_ticker": pd.Series(dtype="string"),
            "headlines": pd.Series(dtype=_STRING_LIST),
            "n_headlines": pd.Series(dtype="int64"),
            "article_ids": pd.Series(dtype=_STRING_LIST),
            "sentiments": pd.Series(dtype=_STRING_LIST),
            "weights": pd.Series(dtype=_FLOAT_LIST),
            "story_ids": pd.Series(dtype=_STRING_LIST),
            "n_stories": pd.Series(dtype="int64"),
        }
    )


def aggregate_headlines(filtered_headlines: pd.DataFrame, similarity: float = DEFAULT_SIMILARITY) -> pd.DataFrame:
    """One row per numerai_ticker: its headlines, their article ids, provider labels, attribution weights and story
    ids (lists in publication order), the number of headlines and the number of distinct stories among them."""
    if filtered_headlines.empty:
        return _empty_aggregate()
    ordered = filtered_headlines.sort_values(["numerai_ticker", "published_at", "article_id"]).reset_index(drop=True)
    # Headlines filtered before attribution existed weigh 1: what they weighed then.
    weights = ordered["weight"] if "weight" in ordered.columns else pd.Series(1.0, index=ordered.index)
    ordered = ordered.assign(
        weight=weights.astype("float64"),
        story_id=story_ids(ordered["numerai_ticker"].astype(str), ordered["title"], similarity),
        sentiment=ordered["sentiment"].astype("string"),
    )
    # Rows are sorted by ticker: each ticker's lists are one slice of each column (pandas' groupby agg(list)
    # costs several times more on a week's thousands of rows).
    tickers = ordered["numerai_ticker"].astype(str).to_numpy()
    tickers_once, starts = np.unique(tickers, return_index=True)
    bounds = list(zip(starts, [*starts[1:], len(ordered)]))

    def lists(column: str) -> list[list]:
        values = ordered[column].astype(object).where(ordered[column].notna(), None).tolist()
        return [values[start:end] for start, end in bounds]

    story_lists = lists("story_id")
    aggregated = pd.DataFrame(
        {
            "numerai_ticker": tickers_once,
            "headlines": lists("title"),
            "n_headlines": np.diff([*starts, len(ordered)]).astype("int64"),
            "article_ids": lists("article_id"),
            "sentiments": lists("sentiment"),
            "weights": lists("weight"),
            "story_ids": story_lists,
            "n_stories": np.array([len(set(stories)) for stories in story_lists], dtype="int64"),
        }
    )
    aggregated["numerai_ticker"] = aggregated["numerai_ticker"].astype("string")
    return aggregated[AGGREGATED_HEADLINE_COLUMNS]
