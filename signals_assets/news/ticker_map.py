"""Join the Stock News API's supported tickers with the Numerai Signals universe (pure pandas)."""

from __future__ import annotations

import pandas as pd

TICKER_MAP_COLUMNS = ["stocknews_ticker", "numerai_ticker", "bloomberg_ticker", "name", "sector"]

# Stock News API symbols are US listings; Numerai's ids are "SYMBOL COUNTRY" (Bloomberg style).
US_SUFFIX = " US"


def numerai_ticker_for(stocknews_ticker: pd.Series) -> pd.Series:
    """`AAPL` -> `AAPL US`; share classes `BRK.B` / `BRK-B` -> `BRK/B US` as Bloomberg writes them."""
    symbols = stocknews_ticker.astype("string").str.strip().str.upper()
    return symbols.str.replace(r"[.\-]", "/", regex=True) + US_SUFFIX


def build_ticker_map(stocknews_tickers: pd.DataFrame, universe: pd.DataFrame) -> pd.DataFrame:
    """Tickers that the news API covers and Numerai scores, one row per numerai_ticker.

    `stocknews_tickers` needs a `ticker` column (name, sector optional); `universe` a `numerai_ticker`
    column (bloomberg_ticker optional; it defaults to the numerai_ticker, which is Bloomberg-style).
    """
    if "numerai_ticker" not in universe.columns:
        raise ValueError(
            "The Numerai universe has no 'numerai_ticker' column "
            f"(columns: {sorted(universe.columns)}). Point NUMERAI_UNIVERSE at Numerai's live.parquet "
            "or a csv with a numerai_ticker column."
        )
    news = pd.DataFrame(
        {
            "stocknews_ticker": stocknews_tickers["ticker"].astype("string").str.strip().str.upper(),
            "name": stocknews_tickers.get("name", pd.Series(pd.NA, index=stocknews_tickers.index)),
            "sector": stocknews_tickers.get("sector", pd.Series(pd.NA, index=stocknews_tickers.index)),
        }
    ).dropna(subset=["stocknews_ticker"])
    news["numerai_ticker"] = numerai_ticker_for(news["stocknews_ticker"])

    numerai = universe[["numerai_ticker"]].copy()
    numerai["bloomberg_ticker"] = (
        universe["bloomberg_ticker"] if "bloomberg_ticker" in universe.columns else universe["numerai_ticker"]
    )
    numerai = numerai.dropna(subset=["numerai_ticker"]).drop_duplicates("numerai_ticker")

    joined = news.merge(numerai, on="numerai_ticker", how="inner")
    # Two news symbols may map to one Numerai id (BRK.B and BRK-B): keep the first, deterministically.
    joined = joined.sort_values("stocknews_ticker").drop_duplicates("numerai_ticker", keep="first")
    joined["bloomberg_ticker"] = joined["bloomberg_ticker"].fillna(joined["numerai_ticker"])
    return joined[TICKER_MAP_COLUMNS].astype("string").reset_index(drop=True)
