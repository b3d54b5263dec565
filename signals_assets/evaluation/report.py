"""The backtest report a user opens: the cumulative NCORR plot and a Markdown page of the figures."""

from __future__ import annotations

import base64
import io
import math

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from signals_assets.evaluation.backtest import SCORES, cumulative_scores

SCORE_TITLES = {
    "ncorr": "NCORR (neutral correlation, the v3 payout score)",
    "numerai_corr": "numerai_corr (informational)",
}
STAT_TITLES = {
    "weeks": "weeks",
    "mean": "mean",
    "std": "std",
    "sharpe": "Sharpe",
    "positive_share": "positive weeks",
    "max_drawdown": "max drawdown",
}


def cumulative_plot_png(evaluations: pd.DataFrame, score: str = "ncorr", by: str = "signal") -> bytes:
    """A PNG of the cumulative `score` over the scored weeks, one line per signal (matplotlib, Agg).

    Uses a Figure of its own (no pyplot state), so it is safe in a multi-threaded run.
    """
    cumulative = cumulative_scores(evaluations, score, by)
    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for column in cumulative.columns:
        axes.plot(cumulative.index, cumulative[column], marker="o", markersize=3, label=str(column))
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_title(f"Cumulative {score} over scored weeks")
    axes.set_xlabel("week_start")
    axes.set_ylabel(f"cumulative {score}")
    if len(cumulative.columns):
        axes.legend()
    else:
        axes.text(0.5, 0.5, "no scored week yet", ha="center", va="center", transform=axes.transAxes)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A plain Markdown table (no tabulate dependency); NaN shows as '–'."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def score_table(summary: pd.DataFrame, score: str, keys: list[str]) -> pd.DataFrame:
    """The `summarize` columns of one score, renamed for reading."""
    columns = {f"{score}_{stat}": title for stat, title in STAT_TITLES.items() if f"{score}_{stat}" in summary}
    return summary[[*keys, *columns]].rename(columns=columns)


def report_markdown(
    summary: pd.DataFrame,
    halflife_table: pd.DataFrame | None = None,
    png: bytes | str | None = None,
    title: str = "Signals backtest",
) -> str:
    """The report as Markdown: per signal, NCORR and numerai_corr figures, churn and payout kept; the
    halflife table; the cumulative plot (PNG bytes embedded as a data URI, or a str path/URL linked).

    `summary` and `halflife_table` are `summarize` outputs (the latter grouped by halflife_weeks).
    """
    keys = [col for col in summary.columns if col not in ("weeks", "first_week", "last_week")][:1]
    lines = [f"# {title}", ""]
    if summary.empty or not summary["weeks"].fillna(0).astype(int).any():
        lines += ["No week has been scored yet (targets resolve about 13 weeks after a date).", ""]
    else:
        first, last = summary["first_week"].min(), summary["last_week"].max()
        lines += [
            f"Scored weeks from {cell(first)} to {cell(last)}. Sharpe is mean / std (ddof=0, as in Numerai's "
            "notebooks); max drawdown is the largest fall of the cumulative score from its running peak.",
            "",
        ]
    for score in SCORES:
        lines += [f"## {SCORE_TITLES[score]}", "", markdown_table(score_table(summary, score, keys)), ""]
    churn = summary[[*keys, "weeks", "mean_neutral_churn", "mean_payout_share_kept"]]
    lines += ["## Churn", "", "Mean neutral churn against the previous week and the mean share of a positive payout"]
    lines += ["kept after Numerai's neutral churn penalty.", "", markdown_table(churn), ""]
    if halflife_table is not None and not halflife_table.empty:
        half_keys = [col for col in ("halflife_weeks", "signal") if col in halflife_table.columns]
        table = halflife_table[
            [*half_keys, "weeks", "ncorr_mean", "ncorr_sharpe", "ncorr_max_drawdown", "numerai_corr_mean"]
            + ["mean_neutral_churn", "mean_payout_share_kept"]
        ]
        if "halflife_weeks" in table:
            table = table.assign(halflife_weeks=[f"{value:g}" for value in table["halflife_weeks"]])
        lines += ["## FinBERT sentiment smoothed over weeks (halflife_weeks)", ""]
        lines += ["Computed from the stored per-ticker scores; 0 is this week only.", "", markdown_table(table), ""]
    if png is not None:
        lines += ["## Cumulative NCORR", ""]
        if isinstance(png, bytes):
            lines.append(f"![cumulative NCORR](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")
        else:
            lines.append(f"![cumulative NCORR]({png})")
        lines.append("")
    return "\n".join(lines)
