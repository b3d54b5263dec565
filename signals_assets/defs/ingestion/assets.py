"""Ingestion: the ticker map, the week's raw articles, and the headlines for Numerai's tickers."""

import dagster as dg
import pandas as pd

# The tag a backfill's runs carry ("dagster/backfill") has no public name in dagster 1.13.
from dagster._core.storage.tags import BACKFILL_ID_TAG

from signals_assets.defs.ingestion.resources import CACHE_DIR_NAME, NewsSource
from signals_assets.defs.metadata import preview
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import Warehouse
from signals_assets.news.headlines import filter_headlines
from signals_assets.news.ticker_map import build_ticker_map
from signals_assets.weeks import Week, with_week_column


@weekly_asset(group_name="ingestion", kinds={"duckdb", "pandas"})
def ticker_map(
    context: dg.AssetExecutionContext, news: NewsSource, warehouse: Warehouse, numerai_universe: pd.DataFrame
) -> pd.DataFrame:
    """News tickers that are in the week's Numerai universe: stocknews_ticker, numerai_ticker
    (`AAPL US`), bloomberg_ticker, name, sector."""
    week = week_of(context)
    stocknews_tickers, api_calls = news.supported_tickers(warehouse.cache_dir(CACHE_DIR_NAME), context.log)
    mapped = with_week_column(build_ticker_map(stocknews_tickers, numerai_universe), week)
    context.add_output_metadata(
        {
            "news_tickers": len(stocknews_tickers),
            "universe_tickers": len(numerai_universe),
            "api_calls": api_calls,
            "news_source": news.source_name,
            "preview": preview(mapped),
        }
    )
    return mapped


@weekly_asset(group_name="ingestion", kinds={"duckdb", "pandas"})
def raw_articles(
    context: dg.AssetExecutionContext, news: NewsSource, warehouse: Warehouse, ticker_map: pd.DataFrame
) -> pd.DataFrame:
    """Every article of the week that mentions a mapped ticker, one row each, deduplicated by news_url;
    only articles published inside the week's window [Sat, next Sat) UTC. Before fetching it logs the API calls
    the week (and, in a backfill's run, the rest of the backfill) is expected to make against the month's budget."""
    week = week_of(context)
    tickers = sorted(ticker_map["stocknews_ticker"].dropna().unique())
    cache_dir = warehouse.cache_dir(CACHE_DIR_NAME)
    backfill_weeks = _backfill_weeks(context)
    if backfill_weeks:
        estimate = news.backfill_estimate(backfill_weeks, tickers, cache_dir, context.log)
        if estimate:
            context.log.info(estimate)
    fetched = news.fetch_week(week, tickers, cache_dir, context.log)
    articles = with_week_column(fetched.articles, week)
    quota = {"expected_api_calls": fetched.expected_api_calls, "api_calls_this_month": fetched.api_calls_this_month}
    context.add_output_metadata(
        {
            "api_calls": fetched.api_calls,
            **{name: value for name, value in quota.items() if value is not None},
            "cache_hits": fetched.cache_hits,
            "pages": fetched.pages,
            "dropped_items": fetched.dropped_items,  # malformed items left out, by reason
            "distinct_tickers": int(articles["tickers"].explode().nunique()) if len(articles) else 0,
            "fetch_mode": fetched.fetch_mode,
            "news_source": news.source_name,
            "preview": preview(articles, ["published_at", "sentiment", "title"]),
        }
    )
    return articles


def _backfill_weeks(context: dg.AssetExecutionContext) -> list[Week]:
    """The weeks of the backfill this run belongs to (tag dagster/backfill), [] outside a backfill: a job
    backfill (`dagster job backfill`, the job's Partitions tab) lists its partitions, an asset backfill (the
    asset graph's *Materialize selected*) holds the target partitions of each asset."""
    backfill_id = context.run.tags.get(BACKFILL_ID_TAG)
    backfill = context.instance.get_backfill(backfill_id) if backfill_id else None
    if backfill is None:
        return []
    keys = backfill.partition_names
    if keys is None and backfill.asset_backfill_data is not None:
        subset = backfill.asset_backfill_data.target_subset.partitions_subsets_by_asset_key.get(context.asset_key)
        keys = subset.get_partition_keys() if subset is not None else None
    if keys is None:
        context.log.info(f"Backfill {backfill_id}: its weeks could not be read, so no estimate of its API calls.")
        return []
    return [Week.from_key(key) for key in keys]


class FilteredHeadlinesConfig(dg.Config):
    drop_neutral: bool = True
    """Drop articles the provider labels Neutral, as the blog post does (polarized news moves prices)."""


@weekly_asset(group_name="ingestion", kinds={"duckdb", "pandas"})
def filtered_headlines(
    context: dg.AssetExecutionContext,
    config: FilteredHeadlinesConfig,
    signal_settings: SignalSettings,
    raw_articles: pd.DataFrame,
    ticker_map: pd.DataFrame,
) -> pd.DataFrame:
    """One row per (article, numerai_ticker) for tickers in the ticker map: article_id, title,
    published_at, provider sentiment; provider-Neutral articles dropped unless configured otherwise. n_tagged: how
    many tickers the article is tagged with; named_in_title: whether its title names this ticker (symbol or company
    name); weight: what title attribution gives it (1 when named, else tagged_weight, SIGNAL_TAGGED_WEIGHT, by
    default 1 / n_tagged)."""
    week = week_of(context)
    headlines = filter_headlines(
        raw_articles, ticker_map, drop_neutral=config.drop_neutral, tagged_weight=signal_settings.tagged_weight
    )
    headlines = with_week_column(headlines, week)
    context.add_output_metadata(
        {
            "articles": int(headlines["article_id"].nunique()),
            "tickers_covered": int(headlines["numerai_ticker"].nunique()),
            "neutral_dropped": config.drop_neutral,
            # How often a ticker is only tagged: what title attribution weighs down.
            "named_in_title_share": round(float(headlines["named_in_title"].mean()), 4) if len(headlines) else 0.0,
            "preview": preview(headlines, ["numerai_ticker", "sentiment", "named_in_title", "weight", "title"]),
        }
    )
    return headlines
