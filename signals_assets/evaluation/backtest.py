"""Per-signal figures over every evaluated week: what a user reads before staking.

Numerai's own notebooks (hello_numerai / model diagnostics) define them: mean, std with ddof=0, Sharpe =
mean / std (numerai-tools' `sharpe_ratio`, which uses np.std, i.e. ddof=0), max drawdown =
(cumsum.expanding().max() - cumsum).max(), the peak running from the first week's cumulative score (not
from 0). Numerai's v3 Signals notebook prints scores.mean() / scores.std() with pandas' ddof=1 instead;
with many weeks the two differ by sqrt(n / (n - 1)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from signals_assets.weeks import PARTITION_COLUMN

STATUS_SCORED = "scored"
SCORES = ("ncorr", "numerai_corr")
STATS = ("weeks", "mean", "std", "sharpe", "positive_share", "max_drawdown")
# signals.backtest_report: both tables in one frame, told apart by `section`.
SECTION_COLUMN = "section"
SIGNALS_SECTION, HALFLIFE_SECTION = "signals", "halflife"
HALFLIFE_COLUMN = "halflife_weeks"
REPORT_DTYPES = {
    SECTION_COLUMN: "string",
    "signal": "string",
    HALFLIFE_COLUMN: "float64",
    "weeks": "int64",
    "first_week": "datetime64[ns]",
    "last_week": "datetime64[ns]",
    **{f"{score}_{stat}": "int64" if stat == "weeks" else "float64" for score in SCORES for stat in STATS},
    "mean_neutral_churn": "float64",
    "mean_payout_share_kept": "float64",
    "mean_nmmc_proxy": "float64",
}


def max_drawdown(values: pd.Series) -> float:
    """The largest fall of the cumulative sum from its running peak (>= 0); NaN for no values.

    E.g. [0.02, -0.01, 0.03, -0.04] -> cumulative [0.02, 0.01, 0.04, 0.00] -> 0.04.
    """
    if values.empty:
        return float("nan")
    cumulative = values.cumsum()
    return float((cumulative.cummax() - cumulative).max())


def score_stats(values: pd.Series) -> dict[str, float]:
    """weeks, mean, std (ddof=0), sharpe, positive_share, max_drawdown of one score, in week order.

    Sharpe is NaN with fewer than two weeks or no spread (numerai-tools would divide by zero).
    """
    from numerai_tools.scoring import sharpe_ratio  # ~2 s of imports (scipy): on first use

    values = values.dropna().astype("float64")
    if values.empty:
        return {"weeks": 0, **dict.fromkeys(STATS[1:], float("nan"))}
    std = float(np.std(values.to_numpy()))
    sharpe = float(sharpe_ratio(values)) if len(values) > 1 and std > 0 else float("nan")
    return {
        "weeks": len(values),
        "mean": float(values.mean()),
        "std": std,
        "sharpe": sharpe,
        "positive_share": float((values > 0).mean()),
        "max_drawdown": max_drawdown(values),
    }


def numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def summarize(evaluations: pd.DataFrame, by: str | Sequence[str] = "signal") -> pd.DataFrame:
    """One row per signal (or per `by` group) over the weeks whose status is `scored`.

    evaluations: rows of signals.signal_evaluation: week_start, signal, status, ncorr, numerai_corr,
    neutral_churn, churn_penalty (None/NaN where a figure is missing; other columns ignored).
    Columns: the `by` columns, weeks (scored weeks), first_week, last_week, then for ncorr and numerai_corr
    `<score>_weeks` (weeks with that figure), `_mean`, `_std`, `_sharpe`, `_positive_share`,
    `_max_drawdown`, then mean_neutral_churn, mean_payout_share_kept (mean churn_penalty) and mean_nmmc_proxy (the
    contribution over Numerai's example predictions, a stand-in for the meta model: not the official NMMC).
    A group with no scored week gets weeks 0 and NaN figures. For the halflife table pass
    by=["halflife_weeks", "signal"] over evaluations that carry a halflife_weeks column.
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [col for col in (*keys, PARTITION_COLUMN, "status") if col not in evaluations.columns]
    if missing:
        raise ValueError(f"The evaluations lack column(s) {', '.join(missing)}.")
    frame = evaluations.assign(_week=pd.to_datetime(evaluations[PARTITION_COLUMN])).sort_values("_week", kind="stable")
    rows = []
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        scored = group[group["status"] == STATUS_SCORED]
        row: dict[str, object] = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["weeks"] = len(scored)
        row["first_week"] = scored["_week"].min() if len(scored) else pd.NaT
        row["last_week"] = scored["_week"].max() if len(scored) else pd.NaT
        for score in SCORES:
            for stat, value in score_stats(numeric(scored, score)).items():
                row[f"{score}_{stat}"] = value
        row["mean_neutral_churn"] = numeric(scored, "neutral_churn").mean()
        row["mean_payout_share_kept"] = numeric(scored, "churn_penalty").mean()
        row["mean_nmmc_proxy"] = numeric(scored, "nmmc_proxy").mean()
        rows.append(row)
    columns = [*keys, "weeks", "first_week", "last_week"]
    columns += [f"{score}_{stat}" for score in SCORES for stat in STATS]
    columns += ["mean_neutral_churn", "mean_payout_share_kept", "mean_nmmc_proxy"]
    return pd.DataFrame(rows, columns=columns)


def cumulative_scores(evaluations: pd.DataFrame, score: str = "ncorr", by: str = "signal") -> pd.DataFrame:
    """Cumulative sum of `score` over scored weeks: index week_start, one column per `by` value.

    A week where a signal has no figure adds nothing to its sum (the line stays flat).
    """
    scored = evaluations[evaluations["status"] == STATUS_SCORED]
    table = (
        scored.assign(_week=pd.to_datetime(scored[PARTITION_COLUMN]), _score=numeric(scored, score))
        .pivot_table(index="_week", columns=by, values="_score", aggfunc="sum", dropna=False)
        .sort_index()
    )
    table.index.name = PARTITION_COLUMN
    return table.fillna(0.0).cumsum()


def scored_weeks(evaluations: pd.DataFrame) -> int:
    """How many weeks have at least one scored evaluation (0 for no rows or no status column)."""
    if evaluations.empty or "status" not in evaluations.columns:
        return 0
    scored = evaluations.loc[evaluations["status"] == STATUS_SCORED, PARTITION_COLUMN]
    return int(pd.to_datetime(scored).nunique())


def report_rows(summary: pd.DataFrame, halflife_table: pd.DataFrame, swept_signal: str = "finbert") -> pd.DataFrame:
    """Both tables as one frame to store (signals.backtest_report): a `section` column (`signals`: one row per
    signal from `summarize(evaluations)`; `halflife`: one row per (variant, halflife_weeks), the variant in
    `signal`, or `swept_signal` when the table has no signal column), then
    signal, halflife_weeks (NaN in the signals section) and the `summarize` columns, typed the same way
    every time (empty tables included), so the stored table keeps one schema."""
    signals = summary.assign(**{SECTION_COLUMN: SIGNALS_SECTION, HALFLIFE_COLUMN: float("nan")})
    halflives = halflife_table.assign(**{SECTION_COLUMN: HALFLIFE_SECTION})
    if "signal" not in halflives.columns:
        halflives["signal"] = swept_signal
    frames = [frame for frame in (signals, halflives) if not frame.empty]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(REPORT_DTYPES))
    return rows[list(REPORT_DTYPES)].astype(REPORT_DTYPES)


def report_sections(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`report_rows` (e.g. read back from signals.backtest_report) split into (summary, halflife_table), each
    in the shape `summarize` gives: summary keyed by signal, halflife_table by (signal, halflife_weeks)."""
    missing = [col for col in (SECTION_COLUMN, "signal", HALFLIFE_COLUMN) if col not in rows.columns]
    if missing:
        raise ValueError(
            f"The rows lack column(s) {', '.join(missing)}; pass signals.backtest_report (materialize "
            "backtest_report first)."
        )
    order = rows.sort_values(["signal", HALFLIFE_COLUMN], kind="stable")
    summary = order[order[SECTION_COLUMN] == SIGNALS_SECTION].drop(columns=[SECTION_COLUMN, HALFLIFE_COLUMN])
    halflives = order[order[SECTION_COLUMN] == HALFLIFE_SECTION].drop(columns=[SECTION_COLUMN])
    halflives = halflives[
        ["signal", HALFLIFE_COLUMN, *[c for c in halflives.columns if c not in ("signal", HALFLIFE_COLUMN)]]
    ]
    return summary.reset_index(drop=True), halflives.reset_index(drop=True)
