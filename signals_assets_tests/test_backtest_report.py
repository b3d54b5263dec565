"""The backtest report (issue 11, point 5): its figures on a hand-checked series, the halflife table from the
stored per-ticker scores, and the `backtest_report` asset over sample weeks through Dagster."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from signals_assets.definitions import build_definitions
from signals_assets.defs.evaluation.report import PLOT_FILE, REPORT_FILE
from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import warehouse_io_manager
from signals_assets.evaluation.backtest import report_rows, report_sections, scored_weeks, summarize
from signals_assets.evaluation.halflife_sweep import NumeraiInputs, halflife_evaluations
from signals_assets.evaluation.report import backtest_tables_text, figures_table
from signals_assets.evaluation.scoring import score_week
from signals_assets.news.sample import SAMPLE_WEEK_KEYS
from signals_assets.signal.scaling import scale_signal
from signals_assets.signal.variants import DEFAULT_VARIANTS
from signals_assets.weeks import friday_of

# --- the figures on a hand-checked series ------------------------------------------------------------------

WEEKS = pd.to_datetime(["2026-01-03", "2026-01-10", "2026-01-17", "2026-01-24", "2026-01-31"])


@pytest.fixture
def evaluations() -> pd.DataFrame:
    """Rows shaped like signals.signal_evaluation: four scored weeks and a pending one per signal."""
    finbert = pd.DataFrame(
        {
            "week_start": WEEKS,
            "signal": "finbert",
            "status": ["scored"] * 4 + ["pending"],
            "ncorr": [0.02, -0.01, 0.03, -0.04, None],
            "numerai_corr": [0.01, 0.03, -0.02, 0.02, None],
            "neutral_churn": [None, 0.3, 0.1, 0.2, 0.9],
            "churn_penalty": [None, 0.6, 1.0, 0.8, 0.0],
        }
    )
    baseline = finbert.assign(
        signal="provider_labels",
        ncorr=[0.03, -0.01, 0.02, -0.02, None],
        numerai_corr=[0.01, 0.01, 0.01, 0.01, None],
        neutral_churn=[None, 0.05, 0.15, 0.1, 0.4],
        churn_penalty=[None, 1.0, 0.9, 1.0, 0.2],
    )
    return pd.concat([finbert, baseline], ignore_index=True)


def figures(table_text: str) -> dict[str, list[str]]:
    """A printed table as {figure: [values...]} (the figure labels hold spaces, the values do not)."""
    rows = {}
    for line in table_text.splitlines():
        words = line.split()
        values = [word for word in words if word[0].isdigit() or word[0] in "-–"]
        rows[" ".join(words[: len(words) - len(values)])] = values
    return rows


def test_backtest_figures_on_a_hand_checked_series(evaluations):
    summary = summarize(evaluations).set_index("signal")
    finbert, baseline = summary.loc["finbert"], summary.loc["provider_labels"]
    assert scored_weeks(evaluations) == 4 and finbert["weeks"] == baseline["weeks"] == 4
    # finbert NCORR [0.02, -0.01, 0.03, -0.04]: mean 0, cumulative [0.02, 0.01, 0.04, 0.00] -> drawdown 0.04
    assert finbert["ncorr_max_drawdown"] == pytest.approx(0.04)
    # baseline NCORR [0.03, -0.01, 0.02, -0.02]: mean 0.005, deviations 2.5, -1.5, 1.5, -2.5 (x 0.01)
    std = np.sqrt((6.25 + 2.25 + 2.25 + 6.25) / 4) / 100
    assert baseline["ncorr_mean"] == pytest.approx(0.005)
    assert baseline["ncorr_std"] == pytest.approx(std)  # ddof=0
    assert baseline["ncorr_sharpe"] == pytest.approx(0.005 / std)
    assert baseline["ncorr_positive_share"] == 0.5
    # cumulative [0.03, 0.02, 0.04, 0.02]: the fall from 0.04 to 0.02
    assert baseline["ncorr_max_drawdown"] == pytest.approx(0.02)
    # a constant numerai_corr has no spread: Sharpe is NaN, not infinite
    assert baseline["numerai_corr_std"] == 0 and np.isnan(baseline["numerai_corr_sharpe"])
    # churn over the scored weeks with a previous week (the first has none; the pending one does not count)
    assert finbert["mean_neutral_churn"] == pytest.approx(0.2)
    assert finbert["mean_payout_share_kept"] == pytest.approx(0.8)
    assert baseline["mean_neutral_churn"] == pytest.approx(0.1)
    assert baseline["mean_payout_share_kept"] == pytest.approx(2.9 / 3)


def test_printed_tables_read_back_from_the_stored_report(evaluations):
    halflives = pd.concat([evaluations.assign(halflife_weeks=h) for h in (0.0, 4.0)], ignore_index=True)
    halflife_table = summarize(halflives[halflives["signal"] == "finbert"], by="halflife_weeks")
    rows = report_rows(summarize(evaluations), halflife_table)
    assert rows["section"].tolist() == ["signals", "signals", "halflife", "halflife"]
    # Through DuckDB and back, as the demo reads signals.backtest_report.
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE report AS SELECT * FROM rows")
        stored = connection.execute("SELECT * FROM report").fetchdf()
    summary, halflife_back = report_sections(stored)
    assert summary["signal"].tolist() == ["finbert", "provider_labels"]
    assert halflife_back["halflife_weeks"].tolist() == [0.0, 4.0]

    text = backtest_tables_text(summary, halflife_back)
    signals_part, halflife_part = text.split("\n\n")
    assert "2026-01-03 .. 2026-01-24" in signals_part
    table = figures(signals_part)
    assert "finbert  provider_labels" in signals_part
    assert table["scored weeks"] == ["4", "4"]
    assert table["NCORR mean"] == ["0.0000", "0.0050"]
    assert table["NCORR std"] == ["0.0274", "0.0206"]
    assert table["NCORR Sharpe"] == ["0.0000", "0.2425"]
    assert table["NCORR positive weeks"] == ["0.5000", "0.5000"]
    assert table["NCORR max drawdown"] == ["0.0400", "0.0200"]
    assert table["numerai_corr Sharpe"] == ["0.5345", "–"]
    assert table["mean neutral churn"] == ["0.2000", "0.1000"]
    assert table["mean payout share kept"] == ["0.8000", "0.9667"]
    # A row per (variant, halflife): variant, halflife, weeks, NCORR mean and Sharpe, numerai_corr, churn, kept.
    caption, header, *halflife_rows = halflife_part.splitlines()
    assert header.split()[:4] == ["variant", "halflife", "weeks", "NCORR"]
    assert [row.split()[:5] for row in halflife_rows] == [
        ["finbert", "0", "4", "0.0000", "0.0000"],
        ["finbert", "4", "4", "0.0000", "0.0000"],
    ]
    assert halflife_rows[0].split()[-2:] == ["0.2000", "0.8000"]

    # The demo's short account: the paid score, its risk and what churn costs, 7 rows; the halflife rows.
    short = backtest_tables_text(summary, halflife_back, compact=True)
    assert len(short.splitlines()) == (2 + 7) + 1 + (2 + 2) and "NCORR std" not in short
    assert figures(short.split("\n\n")[0])["mean payout share kept"] == ["0.8000", "0.9667"]


def test_tables_before_any_scored_week():
    pending = pd.DataFrame({"week_start": WEEKS[:1], "signal": "finbert", "status": "pending", "ncorr": [None]})
    summary = summarize(pending)
    assert scored_weeks(pending) == 0 and scored_weeks(pending.iloc[:0]) == 0
    assert "no week has been scored yet" in backtest_tables_text(summary)
    stored = report_rows(summary, summarize(pending.assign(halflife_weeks=0.0), by="halflife_weeks"))
    empty = report_rows(summary.iloc[:0], summary.iloc[:0].rename(columns={"signal": "halflife_weeks"}))
    assert empty.empty and empty.dtypes.equals(stored.dtypes)  # one schema for the stored table
    assert figures_table(summary.iloc[:0]).columns.tolist() == ["figure"]


# --- the halflife table from stored per-ticker scores -------------------------------------------------------

N_TICKERS = 300
SWEEP_WEEKS = pd.date_range("2026-09-05", periods=6, freq="7D")  # Saturdays


@pytest.fixture
def stored_weeks():
    """Per-ticker weekly sentiment that jumps from week to week around a steady per-ticker level, the targets
    leaning on that level; each Friday with its own neutralizer and example predictions; the last pending."""
    rng = np.random.default_rng(11)
    tickers = pd.Index([f"T{i:04d} US" for i in range(N_TICKERS)], name="numerai_ticker")
    level = rng.normal(size=N_TICKERS)
    scores, inputs = [], {}
    for number, week in enumerate(SWEEP_WEEKS):
        sentiment = np.tanh(0.5 * level + rng.normal(size=N_TICKERS))
        scores.append(pd.DataFrame({"week_start": week, "numerai_ticker": tickers, "sentiment": sentiment}))
        raw = level + 2 * rng.normal(size=N_TICKERS)
        target = pd.Series(np.digitize(raw, np.quantile(raw, [0.2, 0.4, 0.6, 0.8])) / 4, index=tickers)
        neutralizer = pd.DataFrame(
            rng.normal(size=(N_TICKERS, 3)), index=tickers, columns=[f"neutralizer_{i}" for i in range(3)]
        )
        example = pd.Series(rng.uniform(0.01, 0.99, N_TICKERS), index=tickers)
        pending = number == len(SWEEP_WEEKS) - 1
        inputs[friday_of(week)] = NumeraiInputs(None if pending else target, neutralizer, example)
    scores = pd.concat(scores, ignore_index=True)
    universes = scores[["week_start", "numerai_ticker"]]
    return scores, universes, inputs


def test_halflife_zero_is_the_weekly_score_and_a_longer_halflife_churns_less(stored_weeks):
    scores, universes, inputs = stored_weeks
    asked: list[date] = []

    def inputs_for(friday: date) -> NumeraiInputs:
        asked.append(friday)
        return inputs.get(friday, NumeraiInputs())

    rows = halflife_evaluations(scores, universes, inputs_for, [8, 0, 2, 2])
    assert sorted(set(rows["halflife_weeks"])) == [0.0, 2.0, 8.0] and len(rows) == 3 * len(SWEEP_WEEKS)
    # Each Friday's files are read once, whatever the number of halflives.
    assert sorted(asked) == sorted(set(asked))
    assert set(asked) == {friday_of(week) for week in SWEEP_WEEKS}

    # Halflife 0 is each week's own signal scored as signal_evaluation scores it.
    zero = rows[rows["halflife_weeks"] == 0].set_index("week_start")
    previous = None
    for week in SWEEP_WEEKS:
        week_scores = scores[scores["week_start"] == week]
        signal = scale_signal(pd.Series(week_scores["sentiment"].to_numpy(), index=week_scores["numerai_ticker"]))
        friday = inputs[friday_of(week)]
        expected = score_week(
            signal,
            week_scores["numerai_ticker"],
            targets=friday.targets,
            neutralizer=friday.neutralizer,
            example_preds=friday.example_preds,
            previous_signal=previous,
            previous_neutralizer=inputs[friday_of(week - pd.Timedelta(days=7))].neutralizer
            if previous is not None
            else None,
        )
        row = zero.loc[week]
        assert row["status"] == expected.status
        for figure in ("ncorr", "numerai_corr", "nmmc_proxy", "neutral_churn", "churn_penalty"):
            value = getattr(expected, figure)
            assert (np.isnan(row[figure]) and value is None) or row[figure] == pytest.approx(value), figure
        previous = signal
    assert zero["status"].tolist() == ["scored"] * 5 + ["pending"]
    assert np.isnan(zero.iloc[0]["neutral_churn"])  # no week before the first stored one

    table = summarize(rows, by="halflife_weeks").set_index("halflife_weeks")
    assert table["weeks"].tolist() == [5, 5, 5]
    churn = table["mean_neutral_churn"]
    assert churn[8.0] < churn[2.0] < churn[0.0]
    assert table["mean_payout_share_kept"][8.0] >= table["mean_payout_share_kept"][0.0]


def test_halflife_table_never_reads_a_later_week(stored_weeks):
    scores, universes, inputs = stored_weeks
    early = scores["week_start"] < SWEEP_WEEKS[3]
    changed = scores.assign(sentiment=scores["sentiment"].where(early, -scores["sentiment"]))
    before = halflife_evaluations(scores, universes, lambda d: inputs.get(d, NumeraiInputs()), [4])
    after = halflife_evaluations(changed, universes, lambda d: inputs.get(d, NumeraiInputs()), [4])
    untouched = before["week_start"] < SWEEP_WEEKS[3]
    figures_ = ["ncorr", "numerai_corr", "neutral_churn"]
    pd.testing.assert_frame_equal(before.loc[untouched, figures_], after.loc[untouched, figures_])
    assert not before.loc[~untouched, "ncorr"].equals(after.loc[~untouched, "ncorr"])


def test_halflife_table_says_what_is_wrong(stored_weeks):
    scores, universes, inputs = stored_weeks
    with pytest.raises(ValueError, match=r"halflife_weeks .* like \[0, 2, 4, 8\]"):
        halflife_evaluations(scores, universes, inputs.get, [0, -2])
    with pytest.raises(ValueError, match="finbert_scores"):
        halflife_evaluations(scores.drop(columns="sentiment"), universes, inputs.get, [0])
    # A week whose universe is not stored is no_data, not an error; without Numerai's files, pending.
    rows = halflife_evaluations(scores, universes.iloc[:0], lambda d: NumeraiInputs(), [0])
    assert set(rows["status"]) == {"no_data"}
    rows = halflife_evaluations(scores, universes, lambda d: NumeraiInputs(), [0])
    assert set(rows["status"]) == {"pending"} and summarize(rows, by="halflife_weeks")["weeks"].tolist() == [0]


# --- the asset over sample weeks -----------------------------------------------------------------------------

DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]
REPORT_WEEKS = SAMPLE_WEEK_KEYS[:2]  # two resolved weeks: the second has churn against the first


def sample_resources(warehouse, finbert_dir) -> dict:
    """The sample news and Numerai files, the tiny FinBERT, the test's warehouse."""
    return {
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "news": SampleNews(),
        "finbert": FinBERT(model=str(finbert_dir)),
        "numerai": NumeraiSignals(universe="sample"),
        "numerai_data": NumeraiData(),
        "signal_settings": SignalSettings(),
    }


def test_backtest_report_over_sample_weeks(warehouse, tiny_finbert_dir):
    resources = sample_resources(warehouse, tiny_finbert_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        # Nothing evaluated yet: a message saying what to materialize, not a failure.
        empty = dg.materialize(GRAPH, selection=["backtest_report"], resources=resources, instance=instance)
        (event,) = empty.get_asset_materialization_events()
        message = event.materialization.metadata["message"].value
        assert "materialize signal_evaluation" in message.replace("Materialize", "materialize")
        assert all(key in message for key in SAMPLE_WEEK_KEYS[:-1]) and "pending" in message

        upstream = dg.AssetSelection.assets("signal_evaluation").upstream()
        for key in REPORT_WEEKS:
            assert dg.materialize(
                GRAPH, partition_key=key, selection=upstream, resources=resources, instance=instance
            ).success
        result = dg.materialize(GRAPH, selection=["backtest_report"], resources=resources, instance=instance)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = {key: value.value for key, value in event.materialization.metadata.items()}
    assert metadata["weeks"] == len(REPORT_WEEKS) and "message" not in metadata
    names = [variant.name for variant in DEFAULT_VARIANTS]
    assert "| figure | " + " | ".join(sorted(names)) + " |" in metadata["backtest"]
    assert "| scored weeks | 2 | 2 | 2 | 2 |" in metadata["backtest"] and "| NCORR Sharpe |" in metadata["backtest"]
    # The halflife trade-off per variant: a row per (variant, halflife), two scored weeks each.
    halflife_lines = [line for line in metadata["halflife_table"].splitlines()[2:] if line.startswith("|")]
    assert len(halflife_lines) == len(names) * 4, metadata["halflife_table"]
    assert all(line.split("|")[3].strip() == "2" for line in halflife_lines)
    # The variant table: the collapsing variants counted stories, fewer than the headlines behind them.
    variants = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in metadata["variants"].splitlines()[2:]}
    assert list(variants) == names
    for name in names:
        headlines, stories, counted = (int(value.strip().replace(",", "")) for value in variants[name][-3:])
        assert 0 < stories < headlines and counted == (stories if name.endswith("_stories") else headlines)
    # How alike the variants are: 1 on the diagonal, FinBERT and its stories variant alike but not identical.
    agreement = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in metadata["variant_agreement"].splitlines()[2:]
    }
    order = sorted(names)
    assert [agreement[name][order.index(name)] for name in order] == ["1.0000"] * 4
    assert 0.5 < float(agreement["finbert"][order.index("finbert_stories")]) < 1.0
    assert "data:image/png;base64,iVBORw0KGgo" in metadata["cumulative_ncorr"]  # a PNG's first bytes

    report = warehouse.submissions_dir() / REPORT_FILE
    assert metadata["report"] == str(report.resolve())
    page = report.read_text(encoding="utf-8")
    assert "| finbert | 2 |" in page and "| provider_labels | 2 |" in page and "halflife_weeks" in page
    assert "## Variants side by side" in page and "## How alike the variants are" in page
    assert f"![cumulative NCORR]({PLOT_FILE})" in page and "Numerai Signals v3 pays on it" in page
    assert (warehouse.submissions_dir() / PLOT_FILE).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    with duckdb.connect(warehouse.database, read_only=True) as connection:
        stored = connection.execute("SELECT * FROM signals.backtest_report").fetchdf()
    summary, halflife_table = report_sections(stored)
    assert summary["signal"].tolist() == sorted(names) and summary["weeks"].tolist() == [2] * 4
    assert summary[["ncorr_mean", "numerai_corr_mean", "mean_neutral_churn"]].notna().all().all()
    assert halflife_table["halflife_weeks"].tolist() == [0.0, 2.0, 4.0, 8.0] * 4
    # Halflife 0 is the submitted FinBERT signal (SIGNAL_HALFLIFE_WEEKS unset: this week only), scored again.
    finbert = summary.set_index("signal").loc["finbert"]
    zero = halflife_table.set_index(["signal", "halflife_weeks"]).loc[("finbert", 0.0)]
    assert zero["ncorr_mean"] == pytest.approx(finbert["ncorr_mean"])
    assert zero["mean_neutral_churn"] == pytest.approx(finbert["mean_neutral_churn"])


def test_weekly_evaluation_scores_a_week_again_once_the_week_before_is_stored(warehouse, tiny_finbert_dir):
    """As in a backfill that ran weeks at once: the later week is materialized first, so its churn has no
    earlier week to compare with; the weekly_evaluation job, run afterwards, measures it against that week."""
    definitions = build_definitions(sample_resources(warehouse, tiny_finbert_dir))
    earlier, later = REPORT_WEEKS
    weekly, evaluation = definitions.resolve_job_def("weekly_signal"), definitions.resolve_job_def("weekly_evaluation")
    assert {node.name for node in evaluation.graph.node_defs} == {"signal_evaluation"}
    assert evaluation.executor_def is dg.in_process_executor

    def churn_of(week: str) -> pd.Series:
        with duckdb.connect(warehouse.database, read_only=True) as connection:
            rows = connection.execute(
                "SELECT signal, neutral_churn FROM signals.signal_evaluation WHERE week_start = ?", [week]
            ).fetchdf()
        return rows.set_index("signal")["neutral_churn"]

    with dg.DagsterInstance.ephemeral() as instance:
        for week in (later, earlier):
            assert weekly.execute_in_process(partition_key=week, instance=instance).success
        assert churn_of(later).isna().all(), "scored before the week before it was stored: no churn yet"
        rescored = evaluation.execute_in_process(partition_key=later, instance=instance)
    assert rescored.success
    assert [event.asset_key.path[-1] for event in rescored.get_asset_materialization_events()] == ["signal_evaluation"]
    assert churn_of(later).notna().all()
