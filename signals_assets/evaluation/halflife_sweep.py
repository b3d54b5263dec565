"""The halflife table's weekly scores: FinBERT's stored per-ticker sentiment smoothed with several
`halflife_weeks` values and scored week by week as Numerai scores it, without running FinBERT again.

For each halflife and each stored week: the signal `scaled_signal` would submit with SIGNAL_HALFLIFE_WEEKS
set to that halflife (`signal.smoothing.smoothed_signal`: the decayed mean of that and earlier weeks over a
lookback of 8 half-lives, never a later week), scored with `score_week` against that week's Numerai inputs,
its churn measured against the previous week's signal of the same halflife with the previous Friday's
neutralizer (as `signal_evaluation` does: only when the previous week is stored too).
`summarize(rows, by="halflife_weeks")` turns the rows into the table a user reads: a longer halflife churns
less (keeps more of the payout) but reacts later to the news.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from signals_assets.evaluation.backtest import HALFLIFE_COLUMN
from signals_assets.evaluation.inputs import universe_index
from signals_assets.evaluation.scoring import score_week
from signals_assets.signal.scaling import (
    DEFAULT_METHOD,
    SENTIMENT_COLUMN,
    SIGNAL_COLUMN,
    TICKER_COLUMN,
    ScalingMethod,
)
from signals_assets.signal.smoothing import smoothed_signal
from signals_assets.weeks import PARTITION_COLUMN, friday_of

SWEPT_SIGNAL = "finbert"
DEFAULT_HALFLIVES = (0.0, 2.0, 4.0, 8.0)
FIGURES = ("coverage", "ncorr", "numerai_corr", "nmmc_proxy", "neutral_churn", "churn_penalty")
COLUMNS = [HALFLIFE_COLUMN, PARTITION_COLUMN, "signal", "status", *FIGURES, "reasons"]


@dataclass(frozen=True)
class NumeraiInputs:
    """What Numerai scores one Friday with; None where the date has none (yet)."""

    targets: pd.Series | None = None
    neutralizer: pd.DataFrame | None = None
    example_preds: pd.Series | None = None


InputsFor = Callable[[date], NumeraiInputs]


def week_stamps(values: pd.Series) -> pd.Series:
    """week_start values as naive midnight Timestamps (`weeks.week_stamp`, for a whole column at once)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.dt.normalize().astype("datetime64[ns]")


def checked_halflives(halflives: Iterable[float]) -> list[float]:
    """The halflives, sorted and without repeats; ValueError naming a bad value and what is allowed."""
    values = [float(value) for value in halflives]
    bad = [value for value in values if not math.isfinite(value) or value < 0]
    if bad or not values:
        raise ValueError(
            f"halflife_weeks must list at least one value, each 0 (this week only) or a positive number of weeks; "
            f"got {values}. Set it like [0, 2, 4, 8]."
        )
    return sorted(set(values))


def weekly_universes(universes: pd.DataFrame) -> dict[pd.Timestamp, pd.Index]:
    """week_start -> that week's tickers, from rows of signals.numerai_universe (week_start, numerai_ticker)."""
    missing = [col for col in (PARTITION_COLUMN, TICKER_COLUMN) if col not in universes.columns]
    if missing:
        raise ValueError(f"The universes lack column(s) {', '.join(missing)}; pass rows of signals.numerai_universe.")
    weeks = week_stamps(universes[PARTITION_COLUMN])
    return {week: universe_index(group[TICKER_COLUMN]) for week, group in universes.groupby(weeks, sort=True)}


def halflife_evaluations(
    scores: pd.DataFrame,
    universes: pd.DataFrame,
    inputs_for: InputsFor,
    halflives: Iterable[float] = DEFAULT_HALFLIVES,
    method: ScalingMethod = DEFAULT_METHOD,
    variant: str = SWEPT_SIGNAL,
) -> pd.DataFrame:
    """One row per (halflife, stored week): one variant's signal (`variant`, its name) smoothed with that halflife as `scaled_signal`
    smooths it, scored.

    scores: one variant's rows of signals.finbert_scores (week_start, numerai_ticker, sentiment; other columns
    ignored).
    universes: rows of signals.numerai_universe (week_start, numerai_ticker); a week without any is `no_data`.
    inputs_for: the Numerai inputs of a Friday (called once per date).
    Columns: halflife_weeks, week_start, signal (the variant's name), status, coverage, ncorr, numerai_corr,
    nmmc_proxy, neutral_churn, churn_penalty (NaN where missing), reasons (figure -> why it is missing):
    the shape of signals.signal_evaluation, ready for `summarize(rows, by="halflife_weeks")`.
    """
    halflives = checked_halflives(halflives)
    missing = [col for col in (PARTITION_COLUMN, TICKER_COLUMN, SENTIMENT_COLUMN) if col not in scores.columns]
    if missing:
        raise ValueError(
            f"The FinBERT scores lack column(s) {', '.join(missing)}; pass rows of signals.finbert_scores "
            f"({PARTITION_COLUMN}, {TICKER_COLUMN}, {SENTIMENT_COLUMN})."
        )
    stored = scores[[PARTITION_COLUMN, TICKER_COLUMN, SENTIMENT_COLUMN]]
    stored = stored.assign(**{PARTITION_COLUMN: week_stamps(stored[PARTITION_COLUMN])})
    weeks = sorted(pd.unique(stored[PARTITION_COLUMN]))
    tickers_of = weekly_universes(universes)
    cache: dict[date, NumeraiInputs] = {}

    def inputs(friday: date) -> NumeraiInputs:
        if friday not in cache:
            cache[friday] = inputs_for(friday)
        return cache[friday]

    by_week = {week: rows for week, rows in stored.groupby(PARTITION_COLUMN, sort=True)}
    rows = []
    for halflife in halflives:
        signals: dict[pd.Timestamp, pd.Series] = {}
        for week in weeks:
            smoothed = smoothed_signal(by_week[week], stored, week, friday_of(week), halflife, method).signal
            signal = signals[week] = pd.Series(
                smoothed[SIGNAL_COLUMN].to_numpy(), index=smoothed[TICKER_COLUMN].astype(str).to_numpy()
            )
            previous_week = week - pd.Timedelta(days=7)
            previous = signals.get(previous_week)
            friday = inputs(friday_of(week))
            score = score_week(
                signal,
                tickers_of.get(week, pd.Index([], name=TICKER_COLUMN)),
                targets=friday.targets,
                neutralizer=friday.neutralizer,
                example_preds=friday.example_preds,
                previous_signal=previous,
                previous_neutralizer=inputs(friday_of(previous_week)).neutralizer if previous is not None else None,
            )
            row = {HALFLIFE_COLUMN: halflife, PARTITION_COLUMN: week, "signal": variant, "status": score.status}
            rows.append({**row, **{figure: getattr(score, figure) for figure in FIGURES}, "reasons": score.reasons})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype(
        {
            HALFLIFE_COLUMN: "float64",
            PARTITION_COLUMN: "datetime64[ns]",
            "signal": "string",
            "status": "string",
            **dict.fromkeys(FIGURES, "float64"),
        }
    )
