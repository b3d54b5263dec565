"""News ingestion and wrangling: raw_articles -> filtered_headlines -> aggregated_headlines."""

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    MetadataValue,
    asset_check,
)

from signals_assets.news.headlines import aggregate_headlines, filter_headlines
from signals_assets.news.resources import StockNewsAPI
from signals_assets.partitions import week_of, weekly_asset, weekly_partitions, with_week_column


def _preview(frame: pd.DataFrame, columns: list[str]) -> MetadataValue:
    return MetadataValue.md(frame[columns].head(10).to_markdown(index=False))


@weekly_asset(
    group_name="ingestion",
    kinds={"duckdb", "pandas"},
)
def raw_articles(context: AssetExecutionContext, news: StockNewsAPI, ticker_map: pd.DataFrame) -> pd.DataFrame:
    """Every article of the week from the Stock News API (or the packaged sample), one row each,
    deduplicated by news_url; only articles published inside the week's window [Sat, next Sat) UTC."""
    week = week_of(context)
    tickers = sorted(ticker_map["stocknews_ticker"].dropna().unique())
    fetched = news.fetch_week(week, tickers, log=context.log)
    articles = with_week_column(fetched.articles, week)
    distinct_tickers = articles["tickers"].explode().nunique() if len(articles) else 0
    context.add_output_metadata(
        {
            "rows": len(articles),
            "api_calls": fetched.api_calls,
            "cache_hits": fetched.cache_hits,
            "pages": fetched.pages,
            "distinct_tickers": int(distinct_tickers),
            "fetch_mode": fetched.fetch_mode,
            "news_source": fetched.source,
            "preview": _preview(articles, ["published_at", "sentiment", "title"]),
        }
    )
    return articles


class FilteredHeadlinesConfig(Config):
    drop_neutral: bool = True
    """Drop articles the provider labels Neutral, as the seed does (polarized news moves prices)."""


@weekly_asset(
    group_name="ingestion",
    kinds={"duckdb", "pandas"},
)
def filtered_headlines(
    context: AssetExecutionContext,
    config: FilteredHeadlinesConfig,
    raw_articles: pd.DataFrame,
    ticker_map: pd.DataFrame,
) -> pd.DataFrame:
    """One row per (article, numerai_ticker) for tickers in the ticker map: article_id, title,
    published_at, provider sentiment; provider-Neutral articles dropped unless configured otherwise."""
    week = week_of(context)
    headlines = with_week_column(filter_headlines(raw_articles, ticker_map, drop_neutral=config.drop_neutral), week)
    context.add_output_metadata(
        {
            "rows": len(headlines),
            "articles": int(headlines["article_id"].nunique()),
            "tickers_covered": int(headlines["numerai_ticker"].nunique()),
            "neutral_dropped": config.drop_neutral,
            "preview": _preview(headlines, ["numerai_ticker", "sentiment", "title"]),
        }
    )
    return headlines


@weekly_asset(
    group_name="sentiment",
    kinds={"duckdb", "pandas"},
)
def aggregated_headlines(context: AssetExecutionContext, filtered_headlines: pd.DataFrame) -> pd.DataFrame:
    """One row per numerai_ticker with its week's headlines as a list, their count and article ids."""
    week = week_of(context)
    aggregated = with_week_column(aggregate_headlines(filtered_headlines), week)
    context.add_output_metadata(
        {
            "rows": len(aggregated),
            "tickers_covered": len(aggregated),
            "headlines": int(aggregated["n_headlines"].sum()) if len(aggregated) else 0,
            "preview": _preview(aggregated, ["numerai_ticker", "n_headlines"]),
        }
    )
    return aggregated


@asset_check(asset=filtered_headlines, blocking=True, partitions_def=weekly_partitions)
def no_headline_from_the_future(
    context: AssetCheckExecutionContext, filtered_headlines: pd.DataFrame
) -> AssetCheckResult:
    """No headline the week uses was published at or after the window's end (no look-ahead)."""
    week = week_of(context)
    outside = filtered_headlines[~week.contains(filtered_headlines["published_at"])]
    return AssetCheckResult(
        passed=outside.empty,
        metadata={
            "headlines_outside_window": len(outside),
            "window": f"[{week.start.isoformat()}, {week.end.isoformat()})",
            "latest_published_at": str(filtered_headlines["published_at"].max()) if len(filtered_headlines) else "none",
        },
    )
