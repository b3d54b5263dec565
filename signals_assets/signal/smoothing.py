"""The `halflife_weeks` setting applied to one week: the signal from this and earlier weeks' FinBERT scores.

Pure pandas: no Dagster here. The asset hands over this week's scores (its `finbert_scores` input) and the
earlier weeks' stored rows; this module picks the weeks that matter, says which are missing, and builds the
signal exactly as `build_scaled_signal` does for one week (same columns, dtypes, order and tickers rule).

- `halflife_weeks = 0` is the blog post's signal: this week's sentiment, scaled. No earlier week is needed.
- `halflife_weeks > 0`: each ticker's sentiment is the exponentially decayed mean of its weekly FinBERT
  sentiment (`signals_assets.signal.decay.decayed_sentiment`), a week `age` weeks old weighted
  0.5 ** (age / halflife_weeks). Only weeks before this one are taken from storage, and this week always
  comes from the input: no later week is ever read (no look-ahead).

The lookback is LOOKBACK_HALFLIVES half-lives, rounded up to whole weeks: a week older than that weighs
less than 0.5 ** 8 = 0.39 % of this week, so dropping it changes no ranking that matters and keeps the read
small (halflife 1: 8 earlier weeks; halflife 4: 32).

Tickers: every ticker with a score in the window is signalled, as the one-week signal signals every
ticker with a score this week. A ticker without headlines this week but with some in the lookback keeps
its decayed mean (a mean of the weeks it has: its older weeks' sentiment, not pulled towards 0), so the
signal covers more tickers and churns less. A ticker that has since left the week's Numerai universe is
dropped by Numerai's validation (numerai-tools counts it as an invalid ticker), as any other such ticker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from signals_assets.signal.decay import decayed_sentiment
from signals_assets.signal.scaling import (
    DEFAULT_METHOD,
    SENTIMENT_COLUMN,
    TICKER_COLUMN,
    ScalingMethod,
    build_scaled_signal,
    listed_tickers,
)
from signals_assets.weeks import FIRST_WEEK, PARTITION_COLUMN, week_stamp

# Half-lives of lookback: the oldest week read weighs 0.5 ** 8 = 0.39 % of this week's.
LOOKBACK_HALFLIVES = 8
# A year's halflife already weighs news of eight years back; longer is a typo, and would read weeks for minutes.
MAX_HALFLIFE_WEEKS = 52
# The columns that say which model scored a week (finbert_scores' fingerprint of the model files).
MODEL_COLUMNS = ("model", "revision")
# How many missing weeks a warning names before it counts the rest.
SHOWN_MISSING_WEEKS = 8


def validated_halflife(halflife_weeks: float) -> float:
    """`halflife_weeks` as a float, or ValueError saying what is allowed and where it is set."""
    try:
        value = float(halflife_weeks)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or not 0 <= value <= MAX_HALFLIFE_WEEKS:
        raise ValueError(
            f"halflife_weeks={halflife_weeks!r} is not allowed: it must be 0 (this week only, the default) or a "
            f"positive number of weeks up to {MAX_HALFLIFE_WEEKS}, e.g. 2. Set the environment variable "
            "SIGNAL_HALFLIFE_WEEKS, or the signal_settings resource's halflife_weeks in the launch config."
        )
    return value


def lookback_weeks(halflife_weeks: float) -> int:
    """How many weeks before this one the decay reads: ceil(LOOKBACK_HALFLIVES x halflife), 0 for halflife 0."""
    halflife = validated_halflife(halflife_weeks)
    return math.ceil(LOOKBACK_HALFLIVES * halflife) if halflife > 0 else 0


def earlier_weeks(week_start: date | str | pd.Timestamp, halflife_weeks: float) -> list[pd.Timestamp]:
    """The week_starts of the earlier weeks inside the lookback, oldest first; none before FIRST_WEEK."""
    this_week = week_stamp(week_start)
    first = week_stamp(FIRST_WEEK)
    weeks = [this_week - timedelta(weeks=age) for age in range(lookback_weeks(halflife_weeks), 0, -1)]
    return [week for week in weeks if week >= first]


@dataclass(frozen=True)
class SmoothedSignal:
    """A week's signal and the weeks behind it."""

    signal: pd.DataFrame
    """numerai_ticker, signal strictly inside (0, 1), date: exactly what `build_scaled_signal` returns."""
    halflife_weeks: float
    lookback_weeks: int
    weeks_used: list[pd.Timestamp]
    """The weeks that have scores in the window, oldest first, this week always last."""
    weeks_missing: list[pd.Timestamp]
    """Earlier weeks inside the lookback with no stored scores (not materialized yet, or without news)."""
    other_models: list[str]
    """`model @ revision` of earlier weeks scored by another model than this week's, if any."""


def missing_weeks_listed(weeks_missing: list[pd.Timestamp], shown: int = SHOWN_MISSING_WEEKS) -> str:
    """The missing weeks for a warning, most recent first: last week weighs most in the decay, so its gap is the
    one to name. The first `shown` are named, the rest counted down to the oldest, where a backfill starts:
    '2026-10-24, 2026-10-17, ... and 8 older weeks, back to 2026-07-11'."""
    days = [week_stamp(week).date().isoformat() for week in sorted(weeks_missing, reverse=True)]
    named = ", ".join(days[:shown])
    older = len(days) - shown
    if older <= 0:
        return named
    return f"{named} and {older} older week{'s' if older > 1 else ''}, back to {days[-1]}"


def smoothed_signal(
    this_week: pd.DataFrame,
    earlier: pd.DataFrame | None,
    week_start: date | str | pd.Timestamp,
    friday: date | str | pd.Timestamp,
    halflife_weeks: float,
    method: ScalingMethod = DEFAULT_METHOD,
) -> SmoothedSignal:
    """The week's signal with `halflife_weeks` applied.

    this_week: the week's finbert_scores (numerai_ticker, sentiment, n_headlines, ...); its own week_start,
    if any, is ignored. earlier: stored finbert_scores rows of earlier weeks (week_start, numerai_ticker,
    sentiment, ...); rows at or after `week_start`, or before the lookback, are dropped unread, so passing
    more is harmless. halflife 0 reads neither `earlier` nor anything but this week.
    """
    halflife = validated_halflife(halflife_weeks)
    this_stamp = week_stamp(week_start)
    if halflife == 0:
        return SmoothedSignal(build_scaled_signal(this_week, friday, method), 0.0, 0, [this_stamp], [], [])

    missing = [col for col in (TICKER_COLUMN, SENTIMENT_COLUMN) if col not in this_week.columns]
    if missing:
        raise ValueError(
            f"This week's FinBERT scores lack column(s) {', '.join(missing)}; got "
            f"{', '.join(map(str, this_week.columns))}. The signal needs one row per {TICKER_COLUMN} with its "
            f"mean {SENTIMENT_COLUMN}."
        )
    lookback = lookback_weeks(halflife)
    window = earlier_weeks(this_stamp, halflife)
    past = _rows_in(earlier, window)
    current = this_week.drop(columns=[PARTITION_COLUMN], errors="ignore").assign(**{PARTITION_COLUMN: this_stamp})
    columns = [PARTITION_COLUMN, TICKER_COLUMN, SENTIMENT_COLUMN]
    scores = pd.concat([past[columns], current[columns]], ignore_index=True) if len(past) else current[columns]
    _reject_non_finite(scores)
    sentiment = decayed_sentiment(scores, this_stamp, halflife, lookback_weeks=lookback)
    signal = build_scaled_signal(sentiment[[TICKER_COLUMN, SENTIMENT_COLUMN]], friday, method)

    present = {week_stamp(week) for week in past[PARTITION_COLUMN]}
    return SmoothedSignal(
        signal=signal,
        halflife_weeks=halflife,
        lookback_weeks=lookback,
        weeks_used=[week for week in window if week in present] + [this_stamp],
        weeks_missing=[week for week in window if week not in present],
        other_models=_other_models(past, this_week),
    )


def _rows_in(earlier: pd.DataFrame | None, window: list[pd.Timestamp]) -> pd.DataFrame:
    """The rows of `earlier` whose week is one of `window` (naive midnight week_starts)."""
    if earlier is None or earlier.empty or not window:
        return pd.DataFrame(columns=[PARTITION_COLUMN, TICKER_COLUMN, SENTIMENT_COLUMN])
    missing = [col for col in (PARTITION_COLUMN, TICKER_COLUMN, SENTIMENT_COLUMN) if col not in earlier.columns]
    if missing:
        raise ValueError(
            f"The stored FinBERT scores of earlier weeks lack column(s) {', '.join(missing)}; the decay needs "
            f"{PARTITION_COLUMN}, {TICKER_COLUMN} and {SENTIMENT_COLUMN} (the finbert_scores table's columns)."
        )
    weeks = pd.to_datetime(earlier[PARTITION_COLUMN])
    if weeks.dt.tz is not None:
        weeks = weeks.dt.tz_convert("UTC").dt.tz_localize(None)
    weeks = weeks.dt.normalize()
    inside = weeks.isin(window).to_numpy()
    return earlier.loc[inside].assign(**{PARTITION_COLUMN: weeks[inside].to_numpy()}).reset_index(drop=True)


def _reject_non_finite(scores: pd.DataFrame) -> None:
    """A NaN week would silently count as sentiment 0 in a weighted sum: name it instead."""
    values = pd.to_numeric(scores[SENTIMENT_COLUMN], errors="coerce").to_numpy(dtype="float64")
    bad = scores.loc[~np.isfinite(values)]
    if bad.empty:
        return
    weeks = sorted({week_stamp(week).date().isoformat() for week in bad[PARTITION_COLUMN]})
    raise ValueError(
        f"Sentiment is NaN, infinite or not a number for {len(bad)} (week, ticker) scores "
        f"({listed_tickers(sorted(set(bad[TICKER_COLUMN].astype(str))))}) in week(s) {', '.join(weeks)}; every "
        f"weekly FinBERT score the decay averages needs a finite sentiment. Materialize finbert_scores again "
        f"for those weeks (a ticker without headlines is left out, not scored NaN)."
    )


def _fingerprints(frame: pd.DataFrame) -> set[str]:
    if frame.empty or not all(col in frame.columns for col in MODEL_COLUMNS):
        return set()
    pairs = frame[list(MODEL_COLUMNS)].astype(str).drop_duplicates()
    return {f"{model} @ {revision}" for model, revision in pairs.itertuples(index=False)}


def _other_models(past: pd.DataFrame, this_week: pd.DataFrame) -> list[str]:
    current = _fingerprints(this_week)
    if not current:
        return []
    return sorted(_fingerprints(past) - current)
