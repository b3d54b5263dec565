"""Turn one week's FinBERT sentiment per ticker into a Numerai signal strictly inside (0, 1).

Pure pandas: no Dagster here, so the scaling can be tested and reused on its own.

The blog post scaled with sklearn's MinMaxScaler, which maps the lowest and highest sentiment to exactly 0 and 1;
Numerai requires values strictly between 0 and 1. Numerai scores a signal by its rank, so `rank` is the
default; `minmax` keeps the blog post's shape, squeezed away from the bounds.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, get_args

import numpy as np
import pandas as pd

ScalingMethod = Literal["rank", "minmax"]
SCALING_METHODS: tuple[str, ...] = get_args(ScalingMethod)
DEFAULT_METHOD: ScalingMethod = "rank"

# How far `minmax` keeps the extremes from 0 and 1. Any positive margin satisfies Numerai (it ranks the
# signal anyway); this one is far above float noise and far below anything that changes the ranking.
MINMAX_MARGIN = 1e-6

TICKER_COLUMN = "numerai_ticker"
SENTIMENT_COLUMN = "sentiment"
SIGNAL_COLUMN = "signal"
DATE_COLUMN = "date"
# How many offending tickers an error message lists before it says "...".
SHOWN_TICKERS = 10


def listed_tickers(tickers: list[str]) -> str:
    """The first few tickers for an error message, '...' when there are more."""
    return ", ".join(tickers[:SHOWN_TICKERS]) + (", ..." if len(tickers) > SHOWN_TICKERS else "")


def scale_signal(sentiment: pd.Series, method: ScalingMethod = DEFAULT_METHOD) -> pd.Series:
    """Scale sentiment scores into a signal strictly inside (0, 1), keeping the index.

    - `rank`: average rank of tied values, then (rank - 0.5) / n, so ties get equal signals and the
      extremes are 0.5/n and 1 - 0.5/n.
    - `minmax`: the blog post's MinMaxScaler, then MINMAX_MARGIN + (1 - 2 MINMAX_MARGIN) x.

    A single value or all-equal values give a constant signal (0.5 for `rank`); validation rejects
    constant signals later with its own message. Empty input gives an empty signal.
    Raises ValueError naming the tickers (the index) whose sentiment is NaN or infinite.
    """
    if method not in SCALING_METHODS:
        raise ValueError(f"Unknown signal scaling method {method!r}; choose one of {', '.join(SCALING_METHODS)}.")
    values = pd.to_numeric(sentiment, errors="coerce").astype("float64")
    not_finite = ~np.isfinite(values.to_numpy())
    if not_finite.any():
        bad = [str(ticker) for ticker in values.index[not_finite]]
        raise ValueError(
            f"Sentiment is NaN, infinite or not a number for {len(bad)} of {len(values)} tickers "
            f"({listed_tickers(bad)}); every scored ticker needs a finite FinBERT sentiment. Check the FinBERT scores for "
            f"these tickers (a ticker without headlines should be left out, not scored NaN)."
        )
    if values.empty:
        return pd.Series([], index=sentiment.index, dtype="float64", name=SIGNAL_COLUMN)

    if method == "rank":
        scaled = (values.rank(method="average") - 0.5) / len(values)
    else:
        from sklearn.preprocessing import MinMaxScaler  # 1.5 s of imports (scipy): only for this method

        unit = MinMaxScaler().fit_transform(values.to_numpy().reshape(-1, 1)).ravel()
        # MinMaxScaler can overshoot [0, 1] by float rounding; clip before squeezing inward.
        unit = np.clip(unit, 0.0, 1.0)
        scaled = pd.Series(MINMAX_MARGIN + (1.0 - 2.0 * MINMAX_MARGIN) * unit, index=values.index)
    return scaled.astype("float64").rename(SIGNAL_COLUMN)


def signal_date(friday: date | str | pd.Timestamp) -> pd.Timestamp:
    """The week's Friday as a naive midnight Timestamp (what a DuckDB TIMESTAMP column gives back)."""
    stamp = pd.Timestamp(friday)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    stamp = stamp.normalize()
    if stamp.weekday() != 4:
        raise ValueError(
            f"Signal date {stamp.date().isoformat()} is a {stamp.day_name()}; a Numerai Signals week is keyed "
            f"to its Friday (use Week.friday)."
        )
    return stamp


def build_scaled_signal(
    finbert_scores: pd.DataFrame,
    friday: date | str | pd.Timestamp,
    method: ScalingMethod = DEFAULT_METHOD,
) -> pd.DataFrame:
    """One row per ticker: numerai_ticker (str), signal (float64 in (0, 1)), date (datetime64[ns], the Friday).

    `finbert_scores` needs `numerai_ticker` and `sentiment`; other columns (n_headlines, ...) are ignored.
    Rows are sorted by ticker so the same scores always give the same table.
    """
    missing = [col for col in (TICKER_COLUMN, SENTIMENT_COLUMN) if col not in finbert_scores.columns]
    if missing:
        raise ValueError(
            f"FinBERT scores lack column(s) {', '.join(missing)}; got {', '.join(map(str, finbert_scores.columns))}. "
            f"The signal needs one row per {TICKER_COLUMN} with its mean {SENTIMENT_COLUMN}."
        )
    tickers = finbert_scores[TICKER_COLUMN].astype(str)
    duplicated = sorted(set(tickers[tickers.duplicated()]))
    if duplicated:
        raise ValueError(
            f"FinBERT scores hold {len(duplicated)} tickers more than once ({listed_tickers(duplicated)}); the signal needs one "
            f"sentiment per ticker for the week. Aggregate the scores per {TICKER_COLUMN} first."
        )
    friday_stamp = signal_date(friday)
    sentiment = pd.Series(finbert_scores[SENTIMENT_COLUMN].to_numpy(), index=tickers.to_numpy())
    signal = scale_signal(sentiment, method)
    scaled = pd.DataFrame(
        {
            TICKER_COLUMN: signal.index.astype(str),
            SIGNAL_COLUMN: signal.to_numpy(dtype="float64"),
            DATE_COLUMN: pd.Series(friday_stamp, index=range(len(signal)), dtype="datetime64[ns]"),
        }
    )
    return scaled.sort_values(TICKER_COLUMN, kind="stable").reset_index(drop=True)
