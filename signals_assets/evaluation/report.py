"""The backtest report a user opens: the cumulative NCORR plot and a Markdown page of the figures."""

from __future__ import annotations

import base64
import io
import math

import pandas as pd

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
    # matplotlib (~0.9 s of imports) loads here, in the backtest step, not with the code location.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
        lines += ["## Each variant smoothed over weeks (halflife_weeks)", ""]
        lines += ["Computed from the stored per-ticker scores; 0 is this week only.", ""]
        lines += [markdown_table(halflife_rows(halflife_table)), ""]
    if png is not None:
        lines += ["## Cumulative NCORR", ""]
        if isinstance(png, bytes):
            lines.append(f"![cumulative NCORR](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")
        else:
            lines.append(f"![cumulative NCORR]({png})")
        lines.append("")
    return "\n".join(lines)


# One row per figure in the tables read side by side (signals, or halflives, as columns).
FIGURE_ROWS = (
    ("scored weeks", "weeks"),
    *(
        (f"{label} {STAT_TITLES[stat]}", f"{score}_{stat}")
        for score, label in (("ncorr", "NCORR"), ("numerai_corr", "numerai_corr"))
        for stat in STAT_TITLES
        if stat != "weeks"
    ),
    ("mean neutral churn", "mean_neutral_churn"),
    ("mean payout share kept", "mean_payout_share_kept"),
    ("mean NMMC proxy", "mean_nmmc_proxy"),
)
# The rows a short account shows (the demo): what is paid on, its risk, and what churn costs.
COMPACT_FIGURES = (
    "scored weeks",
    "NCORR mean",
    "NCORR Sharpe",
    "NCORR max drawdown",
    "numerai_corr mean",
    "mean neutral churn",
    "mean payout share kept",
)

FIGURE_NOTES = """## What the figures mean

- **NCORR** (`numerai_tools.scoring.neutral_correlation`): the signal ranked and gaussianized, neutralized
  against the date's neutralizer, correlated with the target. Numerai Signals v3 pays on it (with NMMC).
- **numerai_corr**: the ranked, gaussianized signal correlated with the target (both raised to the power
  1.5), without neutralizing: informational, not paid on in v3.
- **NMMC proxy** (in `signals.signal_evaluation`): the contribution over Numerai's example predictions, a
  stand-in for the meta model, which is not public: not the official NMMC.
- **mean neutral churn**: how much the neutralized signal changed from the previous week (1 minus the
  Spearman correlation of the two weeks' neutralized signals: 0 unchanged, 1 unrelated).
- **mean payout share kept**: `neutral_churn_penalty` of that churn, the share of a positive payout Numerai
  keeps (1.0 up to a churn of 0.1, then falling).
- Per score over the scored weeks: **mean**, **std** (ddof=0), **Sharpe** = mean / std, **positive weeks**
  (share of weeks above 0) and **max drawdown** (the largest fall of the cumulative score from its peak).
- **halflife_weeks**: FinBERT's weekly sentiment smoothed as an exponentially decayed mean of this and
  earlier weeks (a week `age` weeks old weighted 0.5 ** (age / halflife)); 0 is this week only. A longer
  halflife churns less and keeps more of a positive payout, but reacts later to the news and may score
  less: weigh NCORR against the payout share kept, then set the halflife as SIGNAL_HALFLIFE_WEEKS.
"""


def column_label(key: str, value: object) -> str:
    return f"halflife {value:g}" if key == "halflife_weeks" and isinstance(value, float | int) else str(value)


def figures_table(summary: pd.DataFrame, key: str = "signal", compact: bool = False) -> pd.DataFrame:
    """A `summarize` output turned round for reading: a `figure` column (scored weeks, NCORR and
    numerai_corr mean / std / Sharpe / positive weeks / max drawdown, mean neutral churn, mean payout share
    kept; with `compact` only COMPACT_FIGURES), then one column of formatted values per `key` value (a
    signal, or `halflife <h>`)."""
    rows = [(label, column) for label, column in FIGURE_ROWS if not compact or label in COMPACT_FIGURES]
    table = {"figure": [label for label, _ in rows]}
    for _, row in summary.iterrows():
        table[column_label(key, row[key])] = [cell(row.get(column)) for _, column in rows]
    return pd.DataFrame(table)


def text_table(frame: pd.DataFrame) -> str:
    """Fixed-width plain text: the first column left-aligned, the others right-aligned."""
    columns = [[str(name), *map(cell, frame[name])] for name in frame.columns]
    widths = [max(map(len, column)) for column in columns]
    lines = []
    for index in range(len(frame) + 1):
        cells = [
            column[index].ljust(width) if position == 0 else column[index].rjust(width)
            for position, (column, width) in enumerate(zip(columns, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def backtest_tables_text(
    summary: pd.DataFrame, halflife_table: pd.DataFrame | None = None, compact: bool = False, variant: str | None = None
) -> str:
    """The two tables as plain text for a terminal: per signal, then (when given) per halflife_weeks; with
    `compact` only the COMPACT_FIGURES rows (7 a table instead of 13); with `variant` only that variant's halflife
    rows.

    `summary` is `summarize(evaluations)`; `halflife_table` is `summarize(rows, by="halflife_weeks")`. Both
    come back from signals.backtest_report through `backtest.report_sections`.
    """
    scored = not summary.empty and bool(summary["weeks"].fillna(0).astype(int).any())
    if not scored:
        lines = ["Backtest: no week has been scored yet (targets resolve about 13 weeks after a date)."]
    else:
        first, last = cell(summary["first_week"].min()), cell(summary["last_week"].max())
        table = text_table(figures_table(summary, "signal", compact))
        lines = [f"Backtest over the scored weeks {first} .. {last}:", table]
    if halflife_table is not None and variant is not None and "signal" in halflife_table.columns:
        halflife_table = halflife_table[halflife_table["signal"] == variant]
    if halflife_table is not None and not halflife_table.empty:
        whose = f"The variant {variant}" if variant is not None else "Each variant"
        lines += [
            "",
            f"{whose} smoothed over weeks (halflife_weeks; 0 = this week only), from the stored scores:",
            text_table(halflife_rows(halflife_table)),
        ]
    return "\n".join(lines)


HALFLIFE_ROW_COLUMNS = {
    "signal": "variant",
    "halflife_weeks": "halflife",
    "weeks": "weeks",
    "ncorr_mean": "NCORR mean",
    "ncorr_sharpe": "NCORR Sharpe",
    "numerai_corr_mean": "numerai_corr mean",
    "mean_neutral_churn": "churn",
    "mean_payout_share_kept": "payout kept",
}
VARIANT_TABLE_TITLES = {
    "variant": "variant",
    "weeks": "weeks",
    "ncorr_mean": "NCORR mean",
    "ncorr_sharpe": "NCORR Sharpe",
    "mean_nmmc_proxy": "NMMC proxy",
    "mean_neutral_churn": "churn",
    "mean_payout_share_kept": "payout kept",
    "headlines": "headlines",
    "stories": "stories",
    "counted": "counted",
}


def halflife_rows(halflife_table: pd.DataFrame) -> pd.DataFrame:
    """The halflife table for reading: a row per (variant, halflife_weeks), formatted."""
    columns = {key: title for key, title in HALFLIFE_ROW_COLUMNS.items() if key in halflife_table.columns}
    table = halflife_table[list(columns)].rename(columns=columns)
    if "halflife" in table.columns:
        table["halflife"] = [f"{value:g}" for value in table["halflife"]]
    return table.map(cell)


def variant_table_text(table: pd.DataFrame) -> pd.DataFrame:
    """`comparison.variant_table` formatted for reading (terminal or Markdown)."""
    return table[list(VARIANT_TABLE_TITLES)].rename(columns=VARIANT_TABLE_TITLES).map(cell)


def agreement_table(agreement: pd.DataFrame) -> pd.DataFrame:
    """`comparison.variant_agreement` with the variant as its first column, formatted."""
    if agreement.empty:
        return pd.DataFrame({"variant": []})
    return agreement.reset_index().rename(columns={agreement.index.name or "index": "variant"}).map(cell)


def variants_markdown(table: pd.DataFrame, agreement: pd.DataFrame, described: dict[str, str]) -> str:
    """The report's variant sections: what each variant is, how it scored, and how alike their signals are."""
    made_of = pd.DataFrame({"variant": list(described), "made of": list(described.values())})
    lines = ["## Variants side by side", "", markdown_table(made_of), ""]
    lines += [
        "NCORR over the scored weeks, mean neutral churn, and over every stored week the (ticker, headline) rows, "
        "the distinct stories among them, and what the variant's mean counted (stories for a variant that counts "
        "a story once, else headlines).",
        "",
        markdown_table(variant_table_text(table)),
        "",
        "## How alike the variants are",
        "",
        "Mean over weeks of the Spearman correlation of two variants' signals on the tickers both signal: near 1 "
        "the two rank tickers alike (their scores differ by noise), lower they are different bets.",
        "",
        markdown_table(agreement_table(agreement)),
        "",
    ]
    return "\n".join(lines)
