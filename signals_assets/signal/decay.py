"""The `halflife_weeks` smoothing: a ticker's sentiment as an exponentially decayed mean over past weeks.

A week's FinBERT sentiment moves a lot from one week to the next (a ticker's few headlines change), and
Numerai penalizes churn. Averaging this and earlier weeks' scores, each weighted 0.5 ** (age_weeks /
halflife_weeks), keeps the signal steadier. Only weeks at or before `as_of` are read: no look-ahead.
`halflife_weeks = 0` is this week only, exactly the undecayed sentiment (the blog post's signal).

Note that a decayed mean is a mean: a ticker whose only headlines are weeks old keeps their full sentiment
(its weight is small but it is the only weight). `lookback_weeks` drops weeks older than that.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from signals_assets.signal.scaling import (
    DEFAULT_METHOD,
    SENTIMENT_COLUMN,
    SIGNAL_COLUMN,
    TICKER_COLUMN,
    ScalingMethod,
    scale_signal,
)
from signals_assets.weeks import PARTITION_COLUMN, week_stamp

HEADLINES_COLUMN = "n_headlines"
WEEKS_COLUMN = "n_weeks"
DAYS_A_WEEK = 7.0


def decayed_sentiment(
    scores: pd.DataFrame,
    as_of: date | str | pd.Timestamp,
    halflife_weeks: float,
    *,
    lookback_weeks: float | None = None,
    weight_by_headlines: bool = False,
) -> pd.DataFrame:
    """Per ticker the decayed mean sentiment as of the week `as_of`, from stored per-week scores.

    scores: one row per (week_start, numerai_ticker) with `sentiment` (FinBERT's weekly mean), optionally
    `n_headlines`. Rows with week_start after `as_of` are never read (only their week_start is compared).
    halflife_weeks: 0 gives the `as_of` week's rows unchanged; > 0 weights a week `age` weeks old by
    0.5 ** (age / halflife_weeks). weight_by_headlines: also weight each week by its n_headlines.
    Returns numerai_ticker, sentiment, n_weeks (weeks averaged) and n_headlines (their sum, when given),
    one row per ticker with a score in the window, sorted by ticker.
    """
    if not np.isfinite(halflife_weeks) or halflife_weeks < 0:
        raise ValueError(
            f"halflife_weeks must be 0 (this week only) or a positive number of weeks; got {halflife_weeks}."
        )
    needed = [PARTITION_COLUMN, TICKER_COLUMN, SENTIMENT_COLUMN] + ([HEADLINES_COLUMN] if weight_by_headlines else [])
    missing = [col for col in needed if col not in scores.columns]
    if missing:
        raise ValueError(
            f"The weekly scores lack column(s) {', '.join(missing)}; the decay needs one row per "
            f"({PARTITION_COLUMN}, {TICKER_COLUMN}) with its {SENTIMENT_COLUMN}."
        )
    as_of_stamp = week_stamp(as_of)
    weeks = pd.to_datetime(scores[PARTITION_COLUMN])
    if weeks.dt.tz is not None:
        weeks = weeks.dt.tz_convert("UTC").dt.tz_localize(None)
    age_weeks = (as_of_stamp - weeks.dt.normalize()).dt.days / DAYS_A_WEEK
    window = age_weeks.ge(0) if halflife_weeks > 0 else age_weeks.eq(0)
    if lookback_weeks is not None:
        window &= age_weeks.le(lookback_weeks)
    # Only now are the rows' values read: the window holds no week after as_of.
    past = scores.loc[window.to_numpy()].assign(_age=age_weeks[window].to_numpy())
    past = past.assign(**{TICKER_COLUMN: past[TICKER_COLUMN].astype(str)})
    duplicated = past[[PARTITION_COLUMN, TICKER_COLUMN]].duplicated()
    if duplicated.any():
        pairs = past.loc[duplicated, [PARTITION_COLUMN, TICKER_COLUMN]].astype(str).agg(" ".join, axis=1).head(5)
        raise ValueError(f"The weekly scores hold a (week, ticker) more than once: {', '.join(pairs)}.")

    not_finite = ~np.isfinite(past[SENTIMENT_COLUMN].to_numpy(dtype="float64"))
    if not_finite.any():
        tickers = ", ".join(past.loc[not_finite, TICKER_COLUMN].astype(str).head(5))
        raise ValueError(
            f"The weekly scores hold {int(not_finite.sum())} missing or infinite {SENTIMENT_COLUMN} value(s) (tickers "
            f"{tickers}); a mean would count them as 0. Re-materialize finbert_scores for those weeks."
        )

    has_headlines = HEADLINES_COLUMN in past.columns
    if halflife_weeks == 0:
        result = past[[TICKER_COLUMN, SENTIMENT_COLUMN]].assign(**{WEEKS_COLUMN: 1})
        if has_headlines:
            result[HEADLINES_COLUMN] = past[HEADLINES_COLUMN].to_numpy()
        return result.sort_values(TICKER_COLUMN, kind="stable").reset_index(drop=True)

    weight = np.power(0.5, past["_age"].to_numpy() / halflife_weeks)
    if weight_by_headlines:
        weight = weight * past[HEADLINES_COLUMN].to_numpy(dtype="float64")
    sentiment = past[SENTIMENT_COLUMN].to_numpy(dtype="float64")
    frame = pd.DataFrame(
        {TICKER_COLUMN: past[TICKER_COLUMN].to_numpy(), "_w": weight, "_ws": weight * sentiment, WEEKS_COLUMN: 1}
    )
    if has_headlines:
        frame[HEADLINES_COLUMN] = past[HEADLINES_COLUMN].to_numpy()
    grouped = frame.groupby(TICKER_COLUMN, sort=True).sum()
    grouped = grouped[grouped["_w"] > 0]
    result = pd.DataFrame(
        {
            TICKER_COLUMN: grouped.index.astype(str),
            SENTIMENT_COLUMN: (grouped["_ws"] / grouped["_w"]).to_numpy(dtype="float64"),
            WEEKS_COLUMN: grouped[WEEKS_COLUMN].to_numpy(),
        }
    )
    if has_headlines:
        result[HEADLINES_COLUMN] = grouped[HEADLINES_COLUMN].to_numpy()
    return result


def decayed_signal(
    scores: pd.DataFrame,
    as_of: date | str | pd.Timestamp,
    halflife_weeks: float,
    method: ScalingMethod = DEFAULT_METHOD,
    **options,
) -> pd.Series:
    """`decayed_sentiment` scaled into a signal (index numerai_ticker, named `signal`) for `score_week`."""
    sentiment = decayed_sentiment(scores, as_of, halflife_weeks, **options)
    values = pd.Series(sentiment[SENTIMENT_COLUMN].to_numpy(), index=sentiment[TICKER_COLUMN].to_numpy())
    values.index.name = TICKER_COLUMN
    return scale_signal(values, method).rename(SIGNAL_COLUMN)
