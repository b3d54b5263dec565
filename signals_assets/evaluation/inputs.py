"""The inputs Numerai scores a date with: its universe, the cleaned submission, the neutralizer matrix.

Everything is indexed by `numerai_ticker` (str), sorted, one row per ticker, so numerai-tools' own index
checks (sorted, no NaN, enough overlap) see what they expect.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from signals_assets.signal.scaling import SIGNAL_COLUMN, TICKER_COLUMN, listed_tickers

NEUTRALIZER_PREFIX = "neutralizer_"

UniverseLike = pd.Index | pd.Series | pd.DataFrame | Iterable[str]


def universe_index(universe: UniverseLike) -> pd.Index:
    """The date's tickers as a sorted, unique str Index named `numerai_ticker`.

    Takes an Index, a Series or list of tickers (the values), or a DataFrame with a `numerai_ticker`
    column (or index). Missing tickers are dropped.
    """
    if isinstance(universe, pd.DataFrame):
        if TICKER_COLUMN in universe.columns:
            values = universe[TICKER_COLUMN]
        elif universe.index.name == TICKER_COLUMN:
            values = universe.index.to_series()
        else:
            raise ValueError(
                f"The universe frame has no {TICKER_COLUMN} column or index (columns: "
                f"{', '.join(map(str, universe.columns))})."
            )
    else:
        values = pd.Series(list(universe), dtype="object")
    values = pd.Series(values.to_numpy(), dtype="object").dropna().astype(str)
    return pd.Index(sorted(set(values)), dtype="object", name=TICKER_COLUMN)


def ticker_series(values: pd.Series, what: str) -> pd.Series:
    """A float Series indexed by str tickers, NaN and infinite values dropped, sorted.

    Raises ValueError naming the tickers that occur more than once (one value per ticker and date).
    """
    series = pd.Series(pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64"), index=values.index.astype(str))
    duplicated = sorted(set(series.index[series.index.duplicated()]))
    if duplicated:
        raise ValueError(
            f"The {what} hold {len(duplicated)} tickers more than once ({listed_tickers(duplicated)}); "
            f"give one value per {TICKER_COLUMN} for the date."
        )
    series = series[np.isfinite(series.to_numpy())]
    series.index.name = TICKER_COLUMN
    return series.sort_index()


def in_universe(values: pd.Series, universe: pd.Index) -> pd.Series:
    """The finite values whose ticker is in the universe (what `ticker_series` gives, restricted)."""
    return values[values.index.isin(universe)]


def clean_signal(signal: pd.Series, universe: UniverseLike) -> pd.Series:
    """The submission as Numerai scores it: numerai-tools' `clean_submission(..., rank_and_fill=True)`.

    The signal (index numerai_ticker) is joined to the universe (tickers outside it are dropped),
    tie-kept ranked over the tickers it covers and filled with 0.5 for every universe ticker it lacks.
    The result has one value per universe ticker, sorted, named `signal`.
    Raises ValueError when the signal has no finite value for any universe ticker.
    """
    from numerai_tools.submissions import clean_submission  # ~2 s of imports (scipy): on first use

    tickers = universe_index(universe)
    values = in_universe(ticker_series(signal, "signal values"), tickers)
    if tickers.empty or values.empty:
        raise ValueError(
            f"The signal has no finite value for any of the {len(tickers)} universe tickers; nothing to clean."
        )
    submission = pd.DataFrame({TICKER_COLUMN: values.index.to_numpy(), SIGNAL_COLUMN: values.to_numpy()})
    cleaned = clean_submission(
        universe=pd.DataFrame({TICKER_COLUMN: tickers.to_numpy()}),
        submission=submission,
        src_id_col=TICKER_COLUMN,
        src_signal_col=SIGNAL_COLUMN,
        rank_and_fill=True,
    )
    return cleaned.astype("float64").rename(SIGNAL_COLUMN)


def neutralizer_matrix(neutralizer: pd.DataFrame, universe: UniverseLike | None = None) -> pd.DataFrame:
    """The date's neutralizer as numerai-tools wants it: index numerai_ticker, float `neutralizer_*` columns.

    A `numerai_ticker` column becomes the index; only `neutralizer_*` columns are kept (all numeric columns
    when none is named so); rows that are all NaN are dropped (as Numerai's notebook does), as are tickers
    outside the universe when one is given. Rows with some NaN stay: numerai-tools drops them itself.
    Raises ValueError when a ticker occurs twice (more than one date's rows, or duplicated rows).
    """
    frame = neutralizer.set_index(TICKER_COLUMN) if TICKER_COLUMN in neutralizer.columns else neutralizer
    columns = [col for col in frame.columns if str(col).startswith(NEUTRALIZER_PREFIX)]
    if not columns:
        columns = [col for col in frame.columns if pd.api.types.is_numeric_dtype(frame[col])]
    matrix = frame[columns].astype("float64").dropna(axis=0, how="all")
    matrix.index = matrix.index.astype(str)
    matrix.index.name = TICKER_COLUMN
    duplicated = sorted(set(matrix.index[matrix.index.duplicated()]))
    if duplicated:
        raise ValueError(
            f"The neutralizer holds {len(duplicated)} tickers more than once ({listed_tickers(duplicated)}); "
            f"give one row per {TICKER_COLUMN}: one date's rows, without duplicates."
        )
    if universe is not None:
        matrix = matrix[matrix.index.isin(universe_index(universe))]
    return matrix.sort_index()
