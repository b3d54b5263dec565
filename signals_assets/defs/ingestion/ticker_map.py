"""ticker_map: the Stock News API's tickers joined with the Numerai Signals universe."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue

from signals_assets.news.resources import StockNewsAPI
from signals_assets.partitions import PARTITION_COLUMN, week_of, weekly_asset, with_week_column
from signals_assets.submission.resources import NumeraiSignals
from signals_assets.tickers.tickers import build_ticker_map


def week_universe(news: StockNewsAPI, numerai: NumeraiSignals, log) -> pd.DataFrame:
    """The universe a week is mapped and validated against.

    NUMERAI_UNIVERSE wins; otherwise the packaged sample universe goes with the sample news, and
    Numerai's live universe (numerapi, cached) with real news.
    """
    if numerai.universe_path is None and news.effective_source == "sample":
        return news.sample_universe()
    return numerai.universe(log=log)


@weekly_asset(
    group_name="ingestion",
    kinds={"duckdb", "pandas"},
)
def ticker_map(context: AssetExecutionContext, news: StockNewsAPI, numerai: NumeraiSignals) -> pd.DataFrame:
    """Stock News API tickers that are in the Numerai Signals universe: stocknews_ticker, numerai_ticker
    (`AAPL US`), bloomberg_ticker, name, sector. Past weeks use today's live universe for now."""
    week = week_of(context)
    stocknews_tickers, api_calls = news.supported_tickers(log=context.log)
    universe = week_universe(news, numerai, context.log)
    context.log.info(
        f"Week {week.key} is mapped with the current universe ({len(universe)} tickers), "
        "not a point-in-time one: past weeks may include tickers listed later."
    )
    mapped = build_ticker_map(stocknews_tickers, universe)
    mapped = with_week_column(mapped, week)
    context.add_output_metadata(
        {
            "rows": len(mapped),
            "stocknews_tickers": len(stocknews_tickers),
            "universe_tickers": len(universe),
            "api_calls": api_calls,
            "news_source": news.effective_source,
            "preview": MetadataValue.md(mapped.head(10).drop(columns=[PARTITION_COLUMN]).to_markdown(index=False)),
        }
    )
    return mapped
