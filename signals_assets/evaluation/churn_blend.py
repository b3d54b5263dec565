"""The churn gate's default remedy: blend this week's submission toward the last one Numerai received, by the least
weight that brings the gate's own churn figure within its threshold.

Numerai pays a positive score in full only while a submission's churn against its last five stays low, and it sets
a model's stake to 0 when a round is missed: blocking a churny week costs more than the churn does. So instead of
blocking, this week's ranking (cleaned as Numerai cleans it: ranked over the universe, 0.5 where it has no value)
moves toward the last upload's by a weight w,

    blended = (1 - w) * this_week + w * last_upload,

re-ranked strictly inside (0, 1) over this week's tickers and the last upload's still in the universe. w is the
least (to 1/1024, by bisection) whose churn is within the threshold. At w = 1 the submission ranks as the last
upload did, whose own churn passed the gate a week earlier, so a threshold that held then can be met now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from signals_assets.evaluation.inputs import UniverseLike, clean_signal, universe_index
from signals_assets.signal.scaling import SIGNAL_COLUMN, scale_signal

# Bisection steps: the weight is found to 2 ** -BISECTION_STEPS.
BISECTION_STEPS = 10


@dataclass(frozen=True)
class Blend:
    """What the blend did: weight (0: this week's ranking as it is), the churn before and after, whether the
    threshold was reached, and the signal to submit (indexed by numerai_ticker)."""

    weight: float
    churn_before: float
    churn_after: float
    reached: bool
    toward: str
    signal: pd.Series

    def describe(self, threshold: float) -> str:
        if self.weight == 0:
            return f"Not blended: churn {self.churn_before:.4f} needs no blend toward the upload of {self.toward}"
        result = "within" if self.reached else "still over"
        return (
            f"Blended {self.weight:.1%} toward the upload of {self.toward}: churn {self.churn_before:.4f} before, "
            f"{self.churn_after:.4f} after, {result} the threshold {threshold:g}"
        )


def blend_signal(current: pd.Series, target: pd.Series, universe: UniverseLike, weight: float) -> pd.Series:
    """`current` blended toward `target` by `weight`, each cleaned over `universe` first; ranked strictly inside
    (0, 1) over the tickers of either that the universe holds. Weight 0 gives `current` unchanged."""
    if weight == 0:
        return current
    tickers = universe_index(universe)
    mixed = (1 - weight) * clean_signal(current, tickers) + weight * clean_signal(target, tickers)
    kept = tickers.intersection(universe_index(current.index).union(universe_index(target.index)))
    return scale_signal(mixed.loc[kept], "rank").rename(SIGNAL_COLUMN)


def least_blend(
    current: pd.Series,
    target: pd.Series,
    toward: str,
    universe: UniverseLike,
    churn_of: Callable[[pd.Series], float],
    threshold: float,
) -> Blend:
    """The least blend of `current` toward `target` (the last upload, of week `toward`) whose `churn_of` is within
    `threshold`. When no weight reaches it, the end (0 or 1) with the lower churn, `reached` False."""
    before = churn_of(current)
    if before <= threshold:
        return Blend(0.0, before, before, True, toward, current)
    full = blend_signal(current, target, universe, 1.0)
    at_full = churn_of(full)
    if at_full > threshold:
        if at_full < before:
            return Blend(1.0, before, at_full, False, toward, full)
        return Blend(0.0, before, before, False, toward, current)
    low, high, best, best_churn = 0.0, 1.0, full, at_full
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        candidate = blend_signal(current, target, universe, middle)
        value = churn_of(candidate)
        if value <= threshold:
            high, best, best_churn = middle, candidate, value
        else:
            low = middle
    return Blend(high, before, best_churn, True, toward, best)
