"""Churn of a submission against earlier ones, and the gate that blocks (or warns about) a churny upload.

Signals v3 penalizes neutral churn: numerai-tools' `neutral_churn` (each week's cleaned submission
rank-gaussianized and neutralized against its own date's neutralizer, then 1 - Spearman) averaged over the
last five submissions (`calculate_mean_neutral_churn`), and `neutral_churn_penalty` gives the share of a
positive payout kept. Where the live date has no neutralizer, plain `churn` (1 - Spearman of the cleaned
submissions) stands in, labelled `plain`.

The mean is taken here over `neutral_churn` per week rather than by calling `calculate_mean_neutral_churn`
itself: that function returns 1.0 when no week could be compared and skips weeks silently, so it cannot say
which weeks counted. Both clean each week over its universe first, so the figures are equal (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from statistics import fmean
from typing import Literal

import pandas as pd

from signals_assets.evaluation.inputs import UniverseLike, clean_signal, neutralizer_matrix, universe_index

ChurnKind = Literal["neutral", "plain"]
WeekKey = date | str | pd.Timestamp
# Numerai averages churn over the last five submissions.
RECENT_WEEKS = 5


def week_label(week: WeekKey) -> str:
    return pd.Timestamp(week).date().isoformat()


def payout_share_kept(churn_value: float) -> float:
    """numerai-tools' `neutral_churn_penalty`: the share of a positive payout kept at this churn.

    Float noise can put the churn of identical submissions a hair below 0; it is clipped into [0, 2],
    the range the penalty asserts.
    """
    from numerai_tools.signals import neutral_churn_penalty  # ~2 s of imports (scipy): on first use

    return neutral_churn_penalty(min(max(float(churn_value), 0.0), 2.0))


def failure_reason(error: Exception) -> str:
    """Why a figure is missing: numerai-tools' assertion message (its way of refusing) or our own ValueError."""
    if isinstance(error, AssertionError):
        return f"numerai-tools refused: {error}" if str(error) else "numerai-tools refused (AssertionError)"
    return str(error)


def pair_churn(
    current: pd.Series,
    previous: pd.Series,
    current_universe: UniverseLike,
    previous_universe: UniverseLike,
    current_neutralizer: pd.DataFrame | None = None,
    previous_neutralizer: pd.DataFrame | None = None,
) -> tuple[float, ChurnKind]:
    """Churn between two weeks' signals, each cleaned over its own universe first (rank, fill 0.5).

    Neutral churn when both neutralizers are given, else plain churn. numerai-tools asserts at least 80 %
    overlap between the two weeks (and between a week and its neutralizer): an AssertionError or
    ValueError says why no figure could be computed.
    """
    from numerai_tools.signals import churn, neutral_churn  # ~2 s of imports (scipy): on first use

    current_clean = clean_signal(current, current_universe)
    previous_clean = clean_signal(previous, previous_universe)
    for which, cleaned in (("this week's", current_clean), ("the earlier week's", previous_clean)):
        if cleaned.nunique() < 2:
            # numerai-tools would answer with a misleading overlap assertion (the NaN residual is dropped)
            raise ValueError(f"{which} signal is constant once cleaned over its universe, so churn is undefined")
    if current_neutralizer is not None and previous_neutralizer is not None:
        value = neutral_churn(
            current_clean,
            previous_clean,
            neutralizer_matrix(current_neutralizer, current_clean.index),
            neutralizer_matrix(previous_neutralizer, previous_clean.index),
        )
        return float(value), "neutral"
    return float(churn(current_clean, previous_clean)), "plain"


@dataclass(frozen=True)
class ChurnCheck:
    """Churn of this week's submission against up to the last five.

    churn: the mean over the weeks compared (None when none could be); kind: `neutral` or `plain`;
    payout_share_kept: `neutral_churn_penalty(churn)` (for `plain` churn an approximation);
    weeks_compared: ISO dates of the weeks in the mean, newest first; per_week: each week's churn;
    skipped: week -> why it was left out.
    """

    churn: float | None
    kind: ChurnKind | None
    payout_share_kept: float | None
    weeks_compared: tuple[str, ...] = ()
    per_week: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def churn_against_recent(
    current: pd.Series,
    previous: Mapping[WeekKey, pd.Series],
    current_neutralizer: pd.DataFrame | None = None,
    previous_neutralizers: Mapping[WeekKey, pd.DataFrame | None] | None = None,
    *,
    current_universe: UniverseLike | None = None,
    previous_universes: Mapping[WeekKey, UniverseLike] | None = None,
    max_weeks: int = RECENT_WEEKS,
) -> ChurnCheck:
    """Mean churn of `current` against the newest `max_weeks` of `previous` (earlier weeks' submissions).

    All signals are Series indexed by numerai_ticker. Neutral churn when the live date has a neutralizer
    (weeks without one are skipped, with the reason); plain churn when it has none or no earlier week has
    one. Each week is cleaned over its universe: `previous_universes[week]`, else that week's neutralizer's
    tickers, else the current universe (`current_universe`, else the current neutralizer's tickers), else
    the union of all the signals' tickers.
    """
    previous_neutralizers = dict(previous_neutralizers or {})
    previous_universes = dict(previous_universes or {})
    recent = sorted(previous, key=pd.Timestamp, reverse=True)[:max_weeks]
    if current_universe is None and current_neutralizer is not None:
        current_universe = neutralizer_matrix(current_neutralizer).index
    if current_universe is None:
        signals = [current, *(previous[week] for week in recent)]
        current_universe = universe_index(pd.Index([]).append([signal.index for signal in signals]))
    neutral = current_neutralizer is not None and any(previous_neutralizers.get(week) is not None for week in recent)

    per_week: dict[str, float] = {}
    skipped: dict[str, str] = {}
    kind: ChurnKind = "neutral" if neutral else "plain"
    for week in recent:
        label = week_label(week)
        neutralizer = previous_neutralizers.get(week)
        if neutral and neutralizer is None:
            skipped[label] = "no neutralizer for this week, so no neutral churn"
            continue
        universe = previous_universes.get(week)
        if universe is None:
            universe = neutralizer_matrix(neutralizer).index if neutralizer is not None else current_universe
        try:
            value, _ = pair_churn(
                current,
                previous[week],
                current_universe,
                universe,
                current_neutralizer if neutral else None,
                neutralizer if neutral else None,
            )
        except (AssertionError, ValueError) as error:
            skipped[label] = failure_reason(error)
            continue
        per_week[label] = value
    if not per_week:
        return ChurnCheck(None, None, None, (), {}, skipped)
    mean = fmean(per_week.values())
    return ChurnCheck(mean, kind, payout_share_kept(mean), tuple(per_week), per_week, skipped)


@dataclass(frozen=True)
class GateOutcome:
    """passed: the upload may go ahead; over_threshold: churn is above the threshold (warn or block)."""

    passed: bool
    over_threshold: bool
    message: str


def describe(check: ChurnCheck) -> str:
    weeks = len(check.weeks_compared)
    what = "mean neutral churn" if check.kind == "neutral" else "mean plain churn (no neutralizer for the live date)"
    return (
        f"{what} {check.churn:.4f} against the last {weeks} week{'s' if weeks != 1 else ''}' submissions "
        f"({', '.join(check.weeks_compared)})"
    )


def gate(check: ChurnCheck, threshold: float, block: bool, halflife_weeks: float | None = None) -> GateOutcome:
    """Decide whether this week's upload goes ahead, with a message naming the churn, threshold and halflife.

    Over the threshold: blocked when `block`, else passed with a warning. No week to compare: passed.
    """
    if not 0.0 <= threshold <= 2.0:
        raise ValueError(f"The churn threshold must be between 0 and 2 (churn is 1 - Spearman); got {threshold}.")
    setting = (
        f"halflife_weeks {halflife_weeks:g}" + (" (this week's headlines only)" if halflife_weeks == 0 else "")
        if halflife_weeks is not None
        else "the halflife_weeks setting"
    )
    if check.churn is None:
        why = "; ".join(f"{week}: {reason}" for week, reason in check.skipped.items()) or "no earlier submission"
        return GateOutcome(
            True, False, f"Churn gate not applied (threshold {threshold:g}): nothing to compare ({why})."
        )
    kept = f"Numerai would keep {check.payout_share_kept:.2f} of a positive payout"
    if check.churn <= threshold:
        return GateOutcome(
            True,
            False,
            f"Churn gate passed: {describe(check)} is within the threshold {threshold:g}; {kept} ({setting}).",
        )
    advice = (
        f"To churn less, raise {setting} so the signal is smoothed over earlier weeks, or raise the churn threshold"
    )
    if block:
        return GateOutcome(
            False,
            True,
            f"Upload blocked: {describe(check)} is over the churn threshold {threshold:g}; {kept}. {advice}, or set "
            f"blocking off to upload anyway.",
        )
    return GateOutcome(
        True,
        True,
        f"Churn warning (blocking is off, uploading anyway): {describe(check)} is over the churn threshold "
        f"{threshold:g}; {kept}. {advice}.",
    )
