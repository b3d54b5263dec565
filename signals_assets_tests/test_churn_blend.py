"""The churn gate's pure core on hostile inputs: weeks numerai-tools will not compare, and the blend toward the
last upload that keeps a churny week uploadable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numerai_tools.signals import churn

from signals_assets.evaluation.churn_blend import BISECTION_STEPS, blend_signal, least_blend
from signals_assets.evaluation.churn_gate import NOT_COMPARABLE_CHURN, churn_against_recent, gate
from signals_assets.evaluation.inputs import clean_signal

WEEKS = pd.date_range("2026-09-19", periods=6, freq="7D")


def tickers(n: int, start: int = 0) -> pd.Index:
    return pd.Index([f"T{i:04d} US" for i in range(start, start + n)], name="numerai_ticker")


def ranks(index: pd.Index, seed: int) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).uniform(size=len(index)), index=index).rank(pct=True) * 0.98 + 0.01


def test_a_universe_grown_past_numerai_tools_overlap_is_compared_over_the_shared_tickers():
    before, after = tickers(400), tickers(560)  # grown by 40 %: numerai-tools asserts 80 % overlap and refuses
    previous = ranks(before, 1)
    current = previous.reindex(after).fillna(0.5)  # the same ranking on the shared tickers

    check = churn_against_recent(
        current, {WEEKS[0]: previous}, current_universe=after, previous_universes={WEEKS[0]: before}
    )

    assert check.weeks_compared == ("2026-09-19",) and check.churn == pytest.approx(0.0, abs=1e-9)
    assert "400 tickers both weeks' universes hold" in check.common_tickers["2026-09-19"]


def test_no_comparable_upload_counts_as_numerai_tools_counts_it_and_the_gate_blocks():
    current = ranks(tickers(400, start=1000), 2)  # nothing in common with the earlier upload
    previous = ranks(tickers(400), 1)

    check = churn_against_recent(
        current, {WEEKS[0]: previous}, current_universe=current.index, previous_universes={WEEKS[0]: previous.index}
    )

    assert check.not_comparable and check.churn == NOT_COMPARABLE_CHURN and check.kind == "plain"
    assert "2026-09-19" in check.skipped
    outcome = gate(check, threshold=0.2, mode="block")
    assert not outcome.passed and "numerai-tools' figure when none of the earlier submissions" in outcome.message
    # The very first upload has nothing to compare and passes.
    assert gate(churn_against_recent(current, {}), threshold=0.2, mode="block").passed


def test_an_unreadable_upload_is_not_a_first_week():
    check = churn_against_recent(ranks(tickers(300), 2), {}, unreadable={WEEKS[0]: "the copy is gone"})
    assert check.churn == NOT_COMPARABLE_CHURN and check.skipped == {"2026-09-19": "the copy is gone"}


def test_blend_finds_the_least_weight_within_the_threshold():
    universe = tickers(500)
    history = {week: ranks(universe, seed) for seed, week in enumerate(WEEKS[:5])}
    # Each earlier week a small step from the one before (as blended uploads are); this week unrelated.
    for older, newer in zip(WEEKS[:4], WEEKS[1:5]):
        history[newer] = 0.9 * clean_signal(history[older], universe) + 0.1 * history[newer]
    current = ranks(universe, 99)
    latest = WEEKS[4]

    def churn_of(signal):
        return churn_against_recent(signal, history, current_universe=universe).churn

    blend = least_blend(current, history[latest], "2026-10-17", universe, churn_of, threshold=0.2)

    assert blend.reached and blend.churn_before > 0.5 and blend.churn_after <= 0.2
    assert 0 < blend.weight < 1
    # The least weight: one bisection step less is over the threshold.
    less = blend_signal(current, history[latest], universe, blend.weight - 2**-BISECTION_STEPS)
    assert churn_of(less) > 0.2
    assert blend.signal.between(0, 1, inclusive="neither").all() and blend.signal.index.is_unique
    assert "Blended" in blend.describe(0.2) and "toward the upload of 2026-10-17" in blend.describe(0.2)


def test_blend_at_full_weight_ranks_as_the_last_upload_and_keeps_its_tickers():
    universe = tickers(300)
    current, target = ranks(tickers(200), 1), ranks(tickers(250, start=50), 2)
    full = blend_signal(current, target, universe, 1.0)
    assert set(full.index) == set(tickers(300))  # this week's tickers and the last upload's
    assert churn(clean_signal(full, universe), clean_signal(target, universe)) == pytest.approx(0.0, abs=1e-9)
    assert blend_signal(current, target, universe, 0.0) is current


def test_a_threshold_no_blend_reaches_uploads_with_the_least_churn_and_says_so():
    universe = tickers(300)
    current, target = ranks(universe, 1), ranks(universe, 2)

    def churn_of(_signal):
        return 0.9  # nothing a blend does changes it (earlier uploads that cannot be compared)

    blend = least_blend(current, target, "2026-10-17", universe, churn_of, threshold=0.2)
    assert not blend.reached and blend.weight == 0 and blend.signal is current
    earlier = ranks(tickers(300, start=900), 3)
    check = churn_against_recent(
        current, {WEEKS[0]: earlier}, current_universe=universe, previous_universes={WEEKS[0]: earlier.index}
    )
    outcome = gate(check, threshold=0.2, mode="blend", blended="Blended 100.0% toward ...")
    assert outcome.passed and outcome.over_threshold and "uploading anyway" in outcome.message
