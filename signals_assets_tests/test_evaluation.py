"""Issue 11's pure core: scoring as Numerai does, the provider-label baseline, the halflife decay, the churn
gate and the backtest figures, each against an answer known in advance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numerai_tools.scoring import neutral_correlation
from numerai_tools.signals import calculate_mean_neutral_churn, churn, neutral_churn_penalty

from signals_assets.evaluation.backtest import max_drawdown, summarize
from signals_assets.evaluation.churn_gate import ChurnCheck, churn_against_recent, gate
from signals_assets.evaluation.inputs import clean_signal
from signals_assets.evaluation.report import cumulative_plot_png, report_markdown
from signals_assets.evaluation.scoring import score_week
from signals_assets.sentiment.aggregation import ticker_sentiment
from signals_assets.sentiment.provider_labels import label_scores
from signals_assets.signal.decay import decayed_sentiment, decayed_signal
from signals_assets.signal.scaling import scale_signal

N = 500


def _tickers(n: int = N, prefix: str = "T") -> pd.Index:
    return pd.Index([f"{prefix}{i:04d} US" for i in range(n)], name="numerai_ticker")


def _neutralizer(rng, tickers: pd.Index, k: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        rng.normal(size=(len(tickers), k)), index=tickers, columns=[f"neutralizer_{i}" for i in range(k)]
    )


@pytest.fixture
def week():
    """500 tickers, a target in Numerai's five buckets, a random 5-column neutralizer that does not span it."""
    rng = np.random.default_rng(2026)
    tickers = _tickers()
    raw = rng.normal(size=N)
    target = pd.Series(np.digitize(raw, np.quantile(raw, [0.2, 0.4, 0.6, 0.8])) / 4, index=tickers)
    return {"rng": rng, "tickers": tickers, "target": target, "neutralizer": _neutralizer(rng, tickers)}


# --- scoring -----------------------------------------------------------------------------------------------


def test_signal_equal_to_target_scores_near_plus_one(week):
    score = score_week(week["target"], week["tickers"], week["target"], week["neutralizer"])
    assert score.status == "scored" and score.coverage == 1.0 and score.n_targets == N
    assert score.ncorr > 0.95
    assert score.numerai_corr > 0.95


def test_negated_signal_scores_near_minus_one_exactly_mirrored(week):
    same = score_week(week["target"], week["tickers"], week["target"], week["neutralizer"])
    negated = score_week(1.0 - week["target"], week["tickers"], week["target"], week["neutralizer"])
    assert negated.ncorr < -0.95
    assert negated.ncorr == pytest.approx(-same.ncorr, abs=1e-12)
    assert negated.numerai_corr == pytest.approx(-same.numerai_corr, abs=1e-12)


def test_shuffled_signal_scores_near_zero(week):
    scores = []
    for _ in range(20):
        shuffled = pd.Series(week["rng"].permutation(week["target"].to_numpy()), index=week["tickers"])
        scores.append(score_week(shuffled, week["tickers"], week["target"], week["neutralizer"]).ncorr)
    # One shuffle's NCORR has a standard error of about 1/sqrt(500) = 0.045.
    assert max(abs(s) for s in scores) < 0.2
    assert abs(np.mean(scores)) < 0.03


def test_neutralizer_spanning_the_target_leaves_no_ncorr(week):
    spanning = week["neutralizer"].assign(neutralizer_target=week["target"])
    score = score_week(week["target"], week["tickers"], week["target"], spanning)
    # neutralizing against the target leaves a residual orthogonal to it: NCORR is 0 for any signal
    assert score.ncorr == pytest.approx(0.0, abs=1e-9)
    assert score.numerai_corr > 0.95  # numerai_corr does not neutralize


def test_ncorr_is_numerai_tools_own_on_the_cleaned_signal(week):
    signal = pd.Series(week["rng"].uniform(size=N), index=week["tickers"])
    score = score_week(signal, week["tickers"], week["target"], week["neutralizer"])
    direct = neutral_correlation(signal.to_frame("signal"), week["neutralizer"], week["target"].rename("target"))
    assert score.ncorr == pytest.approx(direct["signal"], abs=1e-12)


def test_week_without_resolved_targets_is_pending_not_an_error(week):
    previous = pd.Series(week["rng"].uniform(size=N), index=week["tickers"])
    for targets in (week["target"] * np.nan, None):
        score = score_week(
            week["target"], week["tickers"], targets, week["neutralizer"], None, previous, week["neutralizer"]
        )
        assert score.status == "pending"
        assert score.ncorr is None and score.numerai_corr is None and score.nmmc_proxy is None
        assert "no targets" in score.reasons["ncorr"]
        # churn needs no target: it is known the day the signal is submitted
        assert score.neutral_churn is not None and score.churn_penalty is not None


def test_week_with_few_resolved_targets_waits(week):
    few = week["target"].where(np.arange(N) < 100)  # 100 of 500 resolved: under half
    score = score_week(week["target"], week["tickers"], few, week["neutralizer"])
    assert score.status == "pending" and score.n_targets == 100
    assert "100 of 500" in score.reasons["ncorr"]


def test_constant_signal_gives_reasons_not_nan(week):
    score = score_week(pd.Series(0.3, index=week["tickers"]), week["tickers"], week["target"], week["neutralizer"])
    assert score.status == "scored" and score.ncorr is None and score.numerai_corr is None
    assert "constant" in score.reasons["ncorr"] and "constant" in score.reasons["numerai_corr"]


def test_coverage_counts_universe_tickers_with_a_signal(week):
    signal = pd.Series(np.linspace(0.1, 0.9, 300), index=week["tickers"][:300])
    outside = pd.Series(0.5, index=_tickers(50, prefix="X"))
    score = score_week(pd.concat([signal, outside]), week["tickers"], week["target"], week["neutralizer"])
    assert score.coverage == pytest.approx(0.6)
    assert (score.n_signal, score.n_universe) == (300, N)
    assert score.status == "scored" and score.ncorr is not None


def test_missing_neutralizer_and_example_preds_give_none_with_reasons(week):
    no_neutralizer = score_week(week["target"], week["tickers"], week["target"], None)
    assert no_neutralizer.ncorr is None and no_neutralizer.nmmc_proxy is None
    assert no_neutralizer.reasons["ncorr"] == "no neutralizer for this date"
    assert no_neutralizer.numerai_corr > 0.95

    no_examples = score_week(week["target"], week["tickers"], week["target"], week["neutralizer"], None)
    assert no_examples.ncorr is not None and no_examples.nmmc_proxy is None
    assert no_examples.reasons["nmmc_proxy"] == "no example predictions for this date"
    assert no_examples.reasons["neutral_churn"] == "no previous week's signal"


def test_nmmc_proxy_against_example_predictions(week):
    example = pd.Series(week["rng"].uniform(size=N), index=week["tickers"])
    score = score_week(week["target"], week["tickers"], week["target"], week["neutralizer"], example)
    assert score.nmmc_proxy > 0
    same_as_example = score_week(example, week["tickers"], week["target"], week["neutralizer"], example)
    assert same_as_example.nmmc_proxy == pytest.approx(0.0, abs=1e-9)  # no contribution beyond the reference


def test_neutralizer_covering_too_little_of_the_universe_gives_the_reason(week):
    thin = week["neutralizer"].iloc[:300]
    score = score_week(week["target"], week["tickers"], week["target"], thin)
    assert score.status == "scored" and score.ncorr is None
    assert "numerai-tools refused" in score.reasons["ncorr"] and "overlapping" in score.reasons["ncorr"]
    assert "the neutralizer covers 300 of the 500 scored tickers" in score.reasons["ncorr"]


def test_signal_outside_the_universe_is_no_data(week):
    score = score_week(pd.Series([0.2, 0.8], index=["ZZZ US", "YYY US"]), week["tickers"], week["target"])
    assert score.status == "no_data" and score.coverage is None
    assert set(score.as_row()) >= {"status", "coverage", "ncorr", "numerai_corr", "nmmc_proxy", "neutral_churn"}


def test_unchanged_signal_has_no_churn_and_keeps_the_payout(week):
    signal = pd.Series(week["rng"].uniform(size=N), index=week["tickers"])
    score = score_week(signal, week["tickers"], None, week["neutralizer"], None, signal, week["neutralizer"])
    assert score.neutral_churn == pytest.approx(0.0, abs=1e-9)
    assert score.plain_churn == pytest.approx(0.0, abs=1e-9)
    assert score.churn_penalty == 1.0


def test_clean_signal_ranks_and_fills_over_the_universe():
    signal = pd.Series({"A US": 0.9, "B US": 0.1, "C US": 0.5, "Z US": 0.7})
    cleaned = clean_signal(signal, ["A US", "B US", "C US", "D US"])
    # ranked over A, B, C (Z is outside the universe): (rank - 0.5) / 3; D has no signal: 0.5
    assert cleaned.to_dict() == pytest.approx({"A US": 2.5 / 3, "B US": 0.5 / 3, "C US": 0.5, "D US": 0.5})


# --- the provider-label baseline ---------------------------------------------------------------------------


def provider_label_signal(headlines: pd.DataFrame) -> pd.Series:
    """The provider_labels variant's signal of a week: each headline's label as its score, the mean per ticker,
    ranked (the same functions finbert_scores and scaled_signal run)."""
    rows = headlines.assign(headline="h", weight=1.0, story_id=[str(i) for i in range(len(headlines))])
    rows["score"] = label_scores(rows["sentiment"]).to_numpy()
    sentiment = ticker_sentiment(rows).set_index("numerai_ticker")["sentiment"]
    return scale_signal(sentiment).rename("signal")


def test_provider_label_signal_on_a_hand_example():
    headlines = pd.DataFrame(
        {
            "numerai_ticker": ["A US", "A US", "A US", "B US", "C US", "C US", "D US"],
            "sentiment": ["Positive", "positive", "Negative", "Negative", "Neutral", "Positive", " Positive "],
        }
    )
    # means: A 1/3, B -1, C 0.5, D 1 -> ranks B 1, A 2, C 3, D 4 -> (rank - 0.5) / 4
    signal = provider_label_signal(headlines)
    assert signal.to_dict() == {"A US": 0.375, "B US": 0.125, "C US": 0.625, "D US": 0.875}
    assert signal.name == "signal"


def test_provider_labels_reject_unknown_labels():
    with pytest.raises(ValueError, match="Bullish"):
        label_scores(pd.Series(["Bullish"]))


# --- the halflife decay ------------------------------------------------------------------------------------


@pytest.fixture
def weekly_scores() -> pd.DataFrame:
    weeks = ["2026-10-17", "2026-10-24", "2026-10-31"]
    return pd.DataFrame(
        {
            "week_start": pd.to_datetime([weeks[0], weeks[1], weeks[2], weeks[2], weeks[1]]),
            "numerai_ticker": ["A US", "A US", "A US", "B US", "C US"],
            "sentiment": [1.0, -0.4, 0.2, 0.3, -0.9],
            "n_headlines": [1, 2, 4, 3, 5],
        }
    )


def test_halflife_zero_is_exactly_the_undecayed_week(weekly_scores):
    result = decayed_sentiment(weekly_scores, "2026-10-31", 0)
    assert result["numerai_ticker"].tolist() == ["A US", "B US"]
    assert result["sentiment"].tolist() == [0.2, 0.3]  # exact, no arithmetic on them
    assert result["n_headlines"].tolist() == [4, 3]


def test_decay_on_a_hand_example(weekly_scores):
    result = decayed_sentiment(weekly_scores, "2026-10-31", 1).set_index("numerai_ticker")
    # A: weights 1, 0.5, 0.25 for ages 0, 1, 2 weeks -> (0.2 - 0.2 + 0.25) / 1.75
    assert result.loc["A US", "sentiment"] == pytest.approx(0.25 / 1.75)
    assert result.loc["C US", "sentiment"] == pytest.approx(-0.9)  # one old week: a mean keeps it whole
    assert result.loc["A US", "n_weeks"] == 3 and result.loc["A US", "n_headlines"] == 7
    by_headlines = decayed_sentiment(weekly_scores, "2026-10-31", 1, weight_by_headlines=True)
    a = by_headlines.set_index("numerai_ticker").loc["A US", "sentiment"]
    assert a == pytest.approx((4 * 0.2 + 2 * 0.5 * -0.4 + 1 * 0.25 * 1.0) / (4 + 1 + 0.25))
    recent = decayed_sentiment(weekly_scores, "2026-10-31", 1, lookback_weeks=1)
    assert set(recent["numerai_ticker"]) == {"A US", "B US", "C US"}
    assert recent.set_index("numerai_ticker").loc["A US", "n_weeks"] == 2


@pytest.mark.parametrize("halflife", [0, 2, 8])
def test_decay_never_reads_a_later_week(weekly_scores, halflife):
    later = pd.DataFrame(
        {
            "week_start": pd.to_datetime(["2026-11-07", "2026-11-07"]),
            "numerai_ticker": ["A US", "D US"],
            "sentiment": [1e9, np.nan],
            "n_headlines": [1000, 1],
        }
    )
    before = decayed_sentiment(weekly_scores, "2026-10-24", halflife)
    after = decayed_sentiment(pd.concat([weekly_scores, later], ignore_index=True), "2026-10-24", halflife)
    pd.testing.assert_frame_equal(before, after)
    assert "D US" not in set(after["numerai_ticker"])


def test_decay_rejects_a_negative_halflife(weekly_scores):
    with pytest.raises(ValueError, match="halflife_weeks"):
        decayed_sentiment(weekly_scores, "2026-10-31", -1)


def test_decayed_signal_is_ranked_inside_the_unit_interval(weekly_scores):
    signal = decayed_signal(weekly_scores, "2026-10-31", 1)
    # sentiments A 0.143, B 0.3, C -0.9 -> ranks 2, 3, 1
    assert signal.to_dict() == pytest.approx({"A US": 1.5 / 3, "B US": 2.5 / 3, "C US": 0.5 / 3})


# --- the churn gate ----------------------------------------------------------------------------------------


@pytest.fixture
def history():
    """The current week and seven earlier ones, drifting week to week, each date with its own neutralizer."""
    rng = np.random.default_rng(5)
    tickers = _tickers(300)
    weeks = pd.date_range("2026-09-19", periods=8, freq="7D")
    base = rng.normal(size=len(tickers))
    signals, neutralizers = {}, {}
    for week in weeks:
        base = base + 0.4 * rng.normal(size=len(tickers))
        signals[week] = pd.Series(base.copy(), index=tickers).rank(pct=True) * 0.98 + 0.01
        neutralizers[week] = _neutralizer(rng, tickers)
    current = weeks[-1]
    return current, signals.pop(current), neutralizers.pop(current), signals, neutralizers


def test_neutral_churn_over_recent_weeks_matches_numerai_tools(history):
    _, current, current_neutralizer, signals, neutralizers = history
    last3 = dict(list(signals.items())[-3:])
    check = churn_against_recent(current, last3, current_neutralizer, neutralizers)
    assert check.kind == "neutral" and len(check.weeks_compared) == 3 and not check.skipped

    def weights(frame):
        return pd.Series(1.0, index=frame.index)

    expected = calculate_mean_neutral_churn(
        current.rename("signal"),
        current_neutralizer,
        weights(current_neutralizer),
        {str(w): s.rename("signal") for w, s in last3.items()},
        {str(w): neutralizers[w] for w in last3},
        {str(w): weights(neutralizers[w]) for w in last3},
    )
    assert check.churn == pytest.approx(expected, abs=1e-12)
    assert check.payout_share_kept == pytest.approx(neutral_churn_penalty(expected))


def test_churn_compares_only_the_last_five_weeks(history):
    _, current, current_neutralizer, signals, neutralizers = history
    check = churn_against_recent(current, signals, current_neutralizer, neutralizers)
    newest_first = sorted(signals, reverse=True)[:5]
    assert check.weeks_compared == tuple(w.date().isoformat() for w in newest_first)


def test_plain_churn_without_a_neutralizer_for_the_live_date(history):
    _, current, _, signals, neutralizers = history
    last = max(signals)
    check = churn_against_recent(current, {last: signals[last]}, None, neutralizers)
    assert check.kind == "plain"
    assert check.churn == pytest.approx(churn(clean_signal(current, current.index), signals[last]), abs=1e-12)


def test_neutral_churn_skips_a_week_without_its_neutralizer(history):
    _, current, current_neutralizer, signals, neutralizers = history
    weeks = sorted(signals)[-2:]
    check = churn_against_recent(
        current, {w: signals[w] for w in weeks}, current_neutralizer, {weeks[1]: neutralizers[weeks[1]]}
    )
    assert check.weeks_compared == (weeks[1].date().isoformat(),)
    assert "no neutralizer" in check.skipped[weeks[0].date().isoformat()]


def test_gate_blocks_warns_and_passes_as_set():
    check = ChurnCheck(0.35, "neutral", neutral_churn_penalty(0.35), ("2026-10-31", "2026-10-24"))
    blocked = gate(check, threshold=0.2, mode="block", halflife_weeks=0)
    assert not blocked.passed and blocked.over_threshold
    for text in ("blocked", "0.3500", "threshold 0.2", "halflife_weeks 0", "2 weeks"):
        assert text in blocked.message

    warned = gate(check, threshold=0.2, mode="warn", halflife_weeks=4)
    assert warned.passed and warned.over_threshold
    assert "warning" in warned.message.lower() and "halflife_weeks 4" in warned.message

    within = gate(check, threshold=0.5, mode="block", halflife_weeks=4)
    assert within.passed and not within.over_threshold and "0.3500" in within.message


def test_gate_without_an_earlier_week_is_not_applied():
    outcome = gate(ChurnCheck(None, None, None), threshold=0.2, mode="block")
    assert outcome.passed and not outcome.over_threshold and "not applied" in outcome.message
    with pytest.raises(ValueError, match="threshold"):
        gate(ChurnCheck(None, None, None), threshold=3, mode="block")


# --- the backtest report -----------------------------------------------------------------------------------


@pytest.fixture
def evaluations() -> pd.DataFrame:
    weeks = pd.to_datetime(["2026-01-03", "2026-01-10", "2026-01-17", "2026-01-24", "2026-01-31"])
    finbert = pd.DataFrame(
        {
            "week_start": weeks,
            "signal": "finbert",
            "status": ["scored"] * 4 + ["pending"],
            "ncorr": [0.02, -0.01, 0.03, -0.04, None],
            "numerai_corr": [0.01, 0.03, -0.02, 0.02, None],
            "neutral_churn": [0.1, 0.3, None, 0.2, 0.9],
            "churn_penalty": [1.0, 0.5, None, 0.8, 0.0],
        }
    )
    baseline = pd.DataFrame(
        {
            "week_start": weeks[:3],
            "signal": "provider_labels",
            "status": ["scored", "scored", "no_data"],
            "ncorr": [-0.01, None, 0.5],
            "numerai_corr": [0.0, 0.01, 0.5],
            "neutral_churn": [np.nan] * 3,
            "churn_penalty": [np.nan] * 3,
        }
    )
    # stored newest first, as a query might return them: summarize orders by week itself
    return pd.concat([finbert, baseline], ignore_index=True).iloc[::-1]


def test_summarize_on_a_hand_checked_series(evaluations):
    summary = summarize(evaluations).set_index("signal")
    finbert = summary.loc["finbert"]
    assert finbert["weeks"] == 4
    # ncorr [0.02, -0.01, 0.03, -0.04]: mean 0; cumulative [0.02, 0.01, 0.04, 0.00] -> drawdown 0.04
    assert finbert["ncorr_mean"] == pytest.approx(0.0, abs=1e-15)
    assert finbert["ncorr_std"] == pytest.approx(np.sqrt((4 + 1 + 9 + 16) / 4) / 100)  # ddof=0
    assert finbert["ncorr_positive_share"] == 0.5
    assert finbert["ncorr_max_drawdown"] == pytest.approx(0.04)
    # numerai_corr [0.01, 0.03, -0.02, 0.02]: mean 0.01, deviations 0, 2, -3, 1 (x 0.01)
    std = np.sqrt((0 + 4 + 9 + 1) / 4) / 100
    assert finbert["numerai_corr_mean"] == pytest.approx(0.01)
    assert finbert["numerai_corr_std"] == pytest.approx(std)
    assert finbert["numerai_corr_sharpe"] == pytest.approx(0.01 / std)
    assert finbert["numerai_corr_positive_share"] == 0.75
    # cumulative [0.01, 0.04, 0.02, 0.04] -> the fall from 0.04 to 0.02
    assert finbert["numerai_corr_max_drawdown"] == pytest.approx(0.02)
    # the pending week's churn does not count; the missing one is skipped
    assert finbert["mean_neutral_churn"] == pytest.approx(0.2)
    assert finbert["mean_payout_share_kept"] == pytest.approx(2.3 / 3)

    baseline = summary.loc["provider_labels"]
    assert baseline["weeks"] == 2 and baseline["ncorr_weeks"] == 1
    assert baseline["ncorr_mean"] == pytest.approx(-0.01) and np.isnan(baseline["ncorr_sharpe"])
    assert baseline["ncorr_max_drawdown"] == 0.0 and np.isnan(baseline["mean_neutral_churn"])


def test_max_drawdown_runs_from_the_first_week():
    # Numerai's notebooks: (cumsum.expanding().max() - cumsum).max(); the peak is the first week, not 0
    assert max_drawdown(pd.Series([-0.01, -0.02])) == pytest.approx(0.02)
    assert max_drawdown(pd.Series([0.01, 0.02])) == 0.0
    assert np.isnan(max_drawdown(pd.Series([], dtype="float64")))


def test_report_has_the_plot_and_the_tables(evaluations):
    png = cumulative_plot_png(evaluations)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    halflives = pd.concat([evaluations.assign(halflife_weeks=h) for h in (0, 2)], ignore_index=True)
    halflife_table = summarize(halflives[halflives["signal"] == "finbert"], by="halflife_weeks")
    assert halflife_table["halflife_weeks"].tolist() == [0, 2]
    markdown = report_markdown(summarize(evaluations), halflife_table, png)
    assert "| signal | weeks | mean |" in markdown and "| finbert | 4 |" in markdown
    assert "halflife_weeks" in markdown and "data:image/png;base64," in markdown
    assert "from 2026-01-03 to 2026-01-24" in markdown


def test_report_before_any_scored_week():
    pending = pd.DataFrame({"week_start": pd.to_datetime(["2026-01-03"]), "signal": "finbert", "status": "pending"})
    assert cumulative_plot_png(pending).startswith(b"\x89PNG")
    assert "No week has been scored yet" in report_markdown(summarize(pending))
