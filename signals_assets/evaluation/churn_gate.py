"""Churn of a submission against earlier ones, and the gate that blocks (or warns about) a churny upload.

Signals v3 penalizes neutral churn: numerai-tools' `neutral_churn` (each week's cleaned submission
rank-gaussianized and neutralized against its own date's neutralizer, then 1 - Spearman) averaged over the
last five submissions (`calculate_mean_neutral_churn`), and `neutral_churn_penalty` gives the share of a
positive payout kept. Where the live date has no neutralizer, plain `churn` (1 - Spearman of the cleaned
submissions) stands in, labelled `plain`.

The mean is taken here over `neutral_churn` per week rather than by calling `calculate_mean_neutral_churn`
itself: that function skips weeks silently, so it cannot say which weeks counted. Both clean each week over its
universe first, so the figures are equal (tested). Like it, the gate fails closed: when earlier submissions exist
but none can be compared, the churn is 1.0, numerai-tools' figure for that case, not "nothing to compare". Before
that, a week whose tickers moved too far for numerai-tools' 80 % overlap is compared over the tickers both weeks
hold, when those are most of this week's universe.
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
GateMode = Literal["blend", "block", "warn"]
GATE_MODES: tuple[str, ...] = ("blend", "block", "warn")
WeekKey = date | str | pd.Timestamp
# Numerai averages churn over the last five submissions.
RECENT_WEEKS = 5
# What numerai-tools' calculate_mean_neutral_churn answers when no earlier submission can be compared.
NOT_COMPARABLE_CHURN = 1.0
# An earlier week that numerai-tools will not compare (under 80 % overlap) is compared over the tickers both weeks
# hold when they are at least this share of this week's universe; fewer, and the two weeks say little of each other.
MIN_COMMON_SHARE = 0.5


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


def common_ticker_churn(
    current: pd.Series,
    previous: pd.Series,
    current_universe: UniverseLike,
    previous_universe: UniverseLike,
    current_neutralizer: pd.DataFrame | None = None,
    previous_neutralizer: pd.DataFrame | None = None,
) -> tuple[float, ChurnKind, str]:
    """`pair_churn` over the universe tickers both weeks hold, for weeks numerai-tools will not compare whole;
    with a line saying so. Raises ValueError when those are under MIN_COMMON_SHARE of this week's universe."""
    current_tickers, previous_tickers = universe_index(current_universe), universe_index(previous_universe)
    common = current_tickers.intersection(previous_tickers)
    if len(common) < MIN_COMMON_SHARE * len(current_tickers):
        raise ValueError(
            f"only {len(common)} of this week's {len(current_tickers)} universe tickers are in that week's universe "
            f"(numerai-tools compares two weeks at 80 % overlap; over shared tickers it takes {MIN_COMMON_SHARE:.0%})"
        )
    value, kind = pair_churn(current, previous, common, common, current_neutralizer, previous_neutralizer)
    return value, kind, f"compared over the {len(common)} tickers both weeks' universes hold"


@dataclass(frozen=True)
class ChurnCheck:
    """Churn of this week's submission against up to the last five.

    churn: the mean over the weeks compared; NOT_COMPARABLE_CHURN when earlier weeks exist but none could be
    compared (`not_comparable`); None when there is no earlier week at all. kind: `neutral` or `plain`;
    payout_share_kept: `neutral_churn_penalty(churn)` (for `plain` churn an approximation);
    weeks_compared: ISO dates of the weeks in the mean, newest first; per_week: each week's churn;
    skipped: week -> why it was left out; common_tickers: week -> how it was compared over shared tickers only.
    """

    churn: float | None
    kind: ChurnKind | None
    payout_share_kept: float | None
    weeks_compared: tuple[str, ...] = ()
    per_week: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    common_tickers: dict[str, str] = field(default_factory=dict)

    @property
    def not_comparable(self) -> bool:
        return not self.per_week and bool(self.skipped)


def churn_against_recent(
    current: pd.Series,
    previous: Mapping[WeekKey, pd.Series],
    current_neutralizer: pd.DataFrame | None = None,
    previous_neutralizers: Mapping[WeekKey, pd.DataFrame | None] | None = None,
    *,
    current_universe: UniverseLike | None = None,
    previous_universes: Mapping[WeekKey, UniverseLike] | None = None,
    max_weeks: int = RECENT_WEEKS,
    unreadable: Mapping[WeekKey, str] | None = None,
) -> ChurnCheck:
    """Mean churn of `current` against the newest `max_weeks` of `previous` (earlier weeks' submissions).

    All signals are Series indexed by numerai_ticker. Neutral churn when the live date has a neutralizer
    (weeks without one are skipped, with the reason); plain churn when it has none or no earlier week has
    one. Each week is cleaned over its universe: `previous_universes[week]`, else that week's neutralizer's
    tickers, else the current universe (`current_universe`, else the current neutralizer's tickers), else
    the union of all the signals' tickers. `unreadable`: earlier submissions known to exist whose signal cannot be
    read (week -> why); they count among the weeks that could not be compared.
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
    common: dict[str, str] = {}
    for week, reason in (unreadable or {}).items():
        skipped[week_label(week)] = reason
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
        pair = (current, previous[week], current_universe, universe)
        neutralizers = (current_neutralizer, neutralizer) if neutral else (None, None)
        try:
            value, _ = pair_churn(*pair, *neutralizers)
        except (AssertionError, ValueError) as error:
            try:
                value, _, common[label] = common_ticker_churn(*pair, *neutralizers)
            except (AssertionError, ValueError) as common_error:
                skipped[label] = f"{failure_reason(error)}; {failure_reason(common_error)}"
                continue
        per_week[label] = value
    if not per_week:
        if not skipped:
            return ChurnCheck(None, None, None)
        # Fail closed, as Numerai's own figure does: an upload it cannot compare is not a first submission.
        return ChurnCheck(NOT_COMPARABLE_CHURN, kind, payout_share_kept(NOT_COMPARABLE_CHURN), (), {}, skipped)
    mean = fmean(per_week.values())
    return ChurnCheck(mean, kind, payout_share_kept(mean), tuple(per_week), per_week, skipped, common)


@dataclass(frozen=True)
class GateOutcome:
    """passed: the upload may go ahead; over_threshold: churn is above the threshold (warn or block)."""

    passed: bool
    over_threshold: bool
    message: str


def describe(check: ChurnCheck) -> str:
    kind = "neutral churn" if check.kind == "neutral" else "plain churn (no neutralizer for the live date)"
    if check.not_comparable:
        why = "; ".join(f"{week}: {reason}" for week, reason in check.skipped.items())
        return (
            f"{kind} {check.churn:.4f}, numerai-tools' figure when none of the earlier submissions can be compared "
            f"({why})"
        )
    weeks = len(check.weeks_compared)
    return (
        f"mean {kind} {check.churn:.4f} against the last {weeks} week{'s' if weeks != 1 else ''}' submissions "
        f"({', '.join(check.weeks_compared)})"
    )


def gate(
    check: ChurnCheck,
    threshold: float,
    mode: GateMode,
    halflife_weeks: float | None = None,
    blended: str | None = None,
) -> GateOutcome:
    """Decide whether this week's upload goes ahead, with a message naming the churn, threshold and halflife.

    Within the threshold, or no earlier submission at all: passed. Over it: `block` blocks; `warn` passes with a
    warning; `blend` passes with a warning too, since the blend (described by `blended`, made before the gate)
    went as far as it could: a missed round costs more than the churn.
    """
    if not 0.0 <= threshold <= 2.0:
        raise ValueError(f"The churn threshold must be between 0 and 2 (churn is 1 - Spearman); got {threshold}.")
    if mode not in GATE_MODES:
        raise ValueError(f"Unknown churn gate mode {mode!r}; choose one of {', '.join(GATE_MODES)}.")
    setting = (
        f"halflife_weeks {halflife_weeks:g}" + (" (this week's headlines only)" if halflife_weeks == 0 else "")
        if halflife_weeks is not None
        else "the halflife_weeks setting"
    )
    done = f" {blended}." if blended else ""
    if check.churn is None:
        return GateOutcome(
            True,
            False,
            f"Churn gate not applied (threshold {threshold:g}): nothing to compare (no earlier submission).",
        )
    kept = f"Numerai would keep {check.payout_share_kept:.2f} of a positive payout"
    if check.churn <= threshold:
        return GateOutcome(
            True,
            False,
            f"Churn gate passed: {describe(check)} is within the threshold {threshold:g}; {kept} ({setting}).{done}",
        )
    over = f"{describe(check)} is over the churn threshold {threshold:g}; {kept}."
    advice = (
        f"To churn less, raise {setting} so the signal is smoothed over earlier weeks, or raise the churn threshold"
    )
    if mode == "block":
        return GateOutcome(
            False,
            True,
            f"Upload blocked: {over}{done} {advice}, or set the gate to blend (blend this week toward the last upload "
            "until the churn is within the threshold) or warn (upload anyway).",
        )
    if mode == "warn":
        return GateOutcome(True, True, f"Churn warning (blocking is off, uploading anyway): {over} {advice}.")
    return GateOutcome(
        True,
        True,
        f"Churn warning (blend could not reach the threshold, uploading anyway: a missed round costs more): {over}"
        f"{done} {advice}.",
    )
