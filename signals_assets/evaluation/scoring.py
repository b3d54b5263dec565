"""Score one week's signal as Numerai would, with numerai-tools: `score_week` -> `WeekScore`.

The signal is cleaned over the date's universe (`clean_submission(..., rank_and_fill=True)`), then scored
on the tickers whose target has resolved (as Numerai's v3 notebook drops rows without a target):
- ncorr: `neutral_correlation` with the date's neutralizer (the v3 payout score),
- numerai_corr: `numerai_corr` on the target (informational),
- nmmc_proxy: `neutral_contribution` against the example predictions: a reference proxy, not official NMMC
  (the Meta Model is not public; Numerai's notebook labels it so),
- neutral_churn / plain_churn against the previous week's signal, churn_penalty = `neutral_churn_penalty`.
A figure that cannot be computed is None and `reasons[figure]` says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from signals_assets.evaluation.churn_gate import failure_reason, pair_churn, payout_share_kept
from signals_assets.evaluation.inputs import (
    UniverseLike,
    clean_signal,
    in_universe,
    neutralizer_matrix,
    ticker_series,
    universe_index,
)
from signals_assets.signal.scaling import SIGNAL_COLUMN

Status = Literal["scored", "pending", "no_data"]
FIGURES = ("ncorr", "numerai_corr", "nmmc_proxy", "neutral_churn", "plain_churn", "churn_penalty")
# Below this share of universe tickers with a resolved target the week waits (status pending).
MIN_RESOLVED_SHARE = 0.5
TARGET_NAME = "target"


@dataclass
class WeekScore:
    """One week's figures for one signal.

    status: `scored` (targets resolved), `pending` (not yet: figures needing targets are None) or `no_data`
    (no universe, the signal covers none of it, or Numerai's data for the date is unusable: time will not fix
    it, the reasons say what will). coverage: universe tickers with a signal / universe.
    n_universe, n_signal, n_targets: universe size, tickers with a signal, tickers with a resolved target.
    reasons: figure -> why it is None.
    """

    status: Status
    coverage: float | None = None
    n_universe: int = 0
    n_signal: int = 0
    n_targets: int = 0
    ncorr: float | None = None
    numerai_corr: float | None = None
    nmmc_proxy: float | None = None
    neutral_churn: float | None = None
    plain_churn: float | None = None
    churn_penalty: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The fields as a flat dict (reasons stay a dict) for one row of signals.signal_evaluation."""
        return asdict(self)


def finite_or_reason(value: float, figure: str, reasons: dict[str, str]) -> float | None:
    if np.isfinite(value):
        return float(value)
    reasons[figure] = "numerai-tools gave NaN (an input without spread on the scored tickers, e.g. a constant target)"
    return None


def score_week(
    signal: pd.Series,
    universe: UniverseLike,
    targets: pd.Series | None = None,
    neutralizer: pd.DataFrame | None = None,
    example_preds: pd.Series | None = None,
    previous_signal: pd.Series | None = None,
    previous_neutralizer: pd.DataFrame | None = None,
    *,
    previous_universe: UniverseLike | None = None,
    min_resolved_share: float = MIN_RESOLVED_SHARE,
    unusable: str | None = None,
) -> WeekScore:
    """Score the submitted `signal` (index numerai_ticker) for one date.

    universe: that date's tickers (Index, Series of tickers, or a frame with numerai_ticker).
    targets: the date's target per ticker, NaN while unresolved; None or too few resolved
    (< min_resolved_share of the universe) gives status `pending`.
    neutralizer: the date's neutralizer (index or column numerai_ticker, `neutralizer_*` columns).
    example_preds: Numerai's example predictions for the date (index numerai_ticker) for the NMMC proxy.
    previous_signal / previous_neutralizer / previous_universe: last week's submission, its date's
    neutralizer and universe (default: the previous neutralizer's tickers, else this universe).
    unusable: why the date's Numerai data cannot be used (a damaged file, a missing column...): status
    `no_data`, every figure None with this reason. Targets that are all infinite, or whose tickers share none
    with the universe, are `no_data` too: waiting would not resolve them.
    Never raises for a missing or unusable input (the figure is None, with the reason); raises ValueError
    when a ticker occurs twice in the signal, targets, neutralizer or example predictions.
    """
    # numerai-tools imports scipy and scikit-learn (~2 s): loaded on first use, not with the code location.
    from numerai_tools.scoring import neutral_contribution, neutral_correlation, numerai_corr

    reasons: dict[str, str] = {}
    tickers = universe_index(universe)
    covered = in_universe(ticker_series(signal, "signal values"), tickers)
    if tickers.empty or covered.empty:
        why = "the universe is empty" if tickers.empty else "the signal has no value for any universe ticker"
        return WeekScore("no_data", None, len(tickers), 0, 0, reasons=dict.fromkeys(FIGURES, why))
    if unusable:
        reasons.update(dict.fromkeys(FIGURES, unusable))
        return WeekScore("no_data", len(covered) / len(tickers), len(tickers), len(covered), reasons=reasons)
    score = WeekScore("pending", len(covered) / len(tickers), len(tickers), len(covered), reasons=reasons)
    cleaned = clean_signal(signal, tickers)
    score.neutral_churn, score.plain_churn, score.churn_penalty = churn_figures(
        signal, tickers, neutralizer, previous_signal, previous_neutralizer, previous_universe, reasons
    )

    resolved = pd.Series(dtype="float64")
    if targets is not None:
        finite = ticker_series(targets, "targets")
        # numerai_corr looks the target up by its Series name: it must have one.
        resolved = in_universe(finite, tickers).rename(TARGET_NAME)
        if why := unusable_targets(targets, finite, tickers):
            reasons.update(dict.fromkeys(("ncorr", "numerai_corr", "nmmc_proxy"), why))
            score.status = "no_data"
            return score
    score.n_targets = len(resolved)
    if len(resolved) < min_resolved_share * len(tickers):
        why = (
            "no targets for this date yet"
            if resolved.empty
            else f"targets not resolved yet: {len(resolved)} of {len(tickers)} universe tickers have one"
        )
        reasons.update(dict.fromkeys(("ncorr", "numerai_corr", "nmmc_proxy"), why))
        return score
    score.status = "scored"
    predictions = cleaned.loc[resolved.index].to_frame(SIGNAL_COLUMN)
    if predictions[SIGNAL_COLUMN].nunique() < 2:
        why = "the cleaned signal is constant on the scored tickers (one value, or all filled with 0.5)"
        reasons.update(dict.fromkeys(("ncorr", "numerai_corr", "nmmc_proxy"), why))
        return score
    try:
        value = numerai_corr(predictions, resolved)[SIGNAL_COLUMN]
        score.numerai_corr = finite_or_reason(value, "numerai_corr", reasons)
    except AssertionError as error:
        reasons["numerai_corr"] = failure_reason(error)

    if neutralizer is None:
        reasons["ncorr"] = reasons["nmmc_proxy"] = "no neutralizer for this date"
        return score
    matrix = neutralizer_matrix(neutralizer, tickers)
    try:
        value = neutral_correlation(predictions, matrix, resolved)
        score.ncorr = finite_or_reason(value[SIGNAL_COLUMN], "ncorr", reasons)
    except AssertionError as error:
        covered_rows = matrix.dropna().index.isin(resolved.index).sum()
        reasons["ncorr"] = (
            f"{failure_reason(error)} (the neutralizer covers {covered_rows} of the {len(resolved)} scored tickers)"
        )

    if example_preds is None:
        reasons["nmmc_proxy"] = "no example predictions for this date"
        return score
    reference = in_universe(ticker_series(example_preds, "example predictions"), tickers)
    try:
        value = neutral_contribution(predictions, reference, matrix, resolved)[SIGNAL_COLUMN]
        score.nmmc_proxy = finite_or_reason(value, "nmmc_proxy", reasons)
    except AssertionError as error:
        covered_rows = reference.index.isin(resolved.index).sum()
        reasons["nmmc_proxy"] = (
            f"{failure_reason(error)} (the example predictions cover {covered_rows} of the {len(resolved)} scored tickers)"
        )
    return score


def unusable_targets(targets: pd.Series, finite: pd.Series, tickers: pd.Index) -> str | None:
    """Why targets that are there can never score this universe (None: they can, or are just unresolved)."""
    stated = int(pd.to_numeric(targets, errors="coerce").notna().sum())  # NaN is unresolved; inf is not
    if stated and finite.empty:
        return f"none of the {stated} targets is finite (infinite values): Numerai's targets are between 0 and 1"
    if not finite.empty and not finite.index.isin(tickers).any():
        same_case = finite.index.str.upper().isin(tickers.str.upper()).any()
        return (
            f"none of the {len(finite)} tickers with a target is in the date's universe of {len(tickers)} (targets "
            f"e.g. {finite.index[0]!r}, universe e.g. {tickers[0]!r})"
            + ("; they differ only in upper/lower case" if same_case else "")
        )
    return None


def churn_figures(
    signal: pd.Series,
    tickers: pd.Index,
    neutralizer: pd.DataFrame | None,
    previous_signal: pd.Series | None,
    previous_neutralizer: pd.DataFrame | None,
    previous_universe: UniverseLike | None,
    reasons: dict[str, str],
) -> tuple[float | None, float | None, float | None]:
    """(neutral_churn, plain_churn, churn_penalty) against last week; reasons filled for the None ones."""
    if previous_signal is None or previous_signal.dropna().empty:
        reasons.update(dict.fromkeys(("neutral_churn", "plain_churn", "churn_penalty"), "no previous week's signal"))
        return None, None, None
    if previous_universe is None:
        previous_universe = (
            neutralizer_matrix(previous_neutralizer).index if previous_neutralizer is not None else tickers
        )
    plain = neutral = None
    try:
        plain, _ = pair_churn(signal, previous_signal, tickers, previous_universe)
    except (AssertionError, ValueError) as error:
        reasons["plain_churn"] = failure_reason(error)
    if neutralizer is None or previous_neutralizer is None:
        which = "this" if neutralizer is None else "the previous"
        reasons["neutral_churn"] = f"no neutralizer for {which} week's date"
    else:
        try:
            neutral, _ = pair_churn(
                signal, previous_signal, tickers, previous_universe, neutralizer, previous_neutralizer
            )
        except (AssertionError, ValueError) as error:
            reasons["neutral_churn"] = failure_reason(error)
    if neutral is None:
        reasons["churn_penalty"] = "neutral_churn_penalty needs the neutral churn: " + reasons["neutral_churn"]
        return None, plain, None
    return neutral, plain, payout_share_kept(neutral)
