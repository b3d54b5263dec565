"""Signal variants side by side (pure pandas): how each one scored, what went into it, and whether two variants
are really different signals or the same one twice.

- `variant_table`: one row per variant: its NCORR mean and Sharpe over the scored weeks, mean neutral churn and
  payout share kept (from `backtest.summarize`), and the headlines and stories behind it (from the stored
  finbert_scores): a variant that counts a story once is built from fewer, more independent items.
- `variant_agreement`: the mean over weeks of the Spearman rank correlation between two variants' signals on the
  tickers both signal. Near 1: the variants rank tickers alike, and their scores differ by noise; lower: they
  are different bets, and their scores can be compared as such.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from signals_assets.signal.scaling import SIGNAL_COLUMN, TICKER_COLUMN
from signals_assets.signal.variants import VARIANT_COLUMN, with_variant
from signals_assets.weeks import PARTITION_COLUMN

VARIANT_TABLE_COLUMNS = [
    "variant",
    "weeks",
    "ncorr_mean",
    "ncorr_sharpe",
    "mean_nmmc_proxy",
    "mean_neutral_churn",
    "mean_payout_share_kept",
    "headlines",
    "stories",
    "counted",
]
# Two variants share fewer tickers than this in a week: their correlation that week says too little to count.
MIN_COMMON_TICKERS = 10


def variant_table(
    summary: pd.DataFrame, scores: pd.DataFrame, collapsing: Sequence[str] = (), order: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per variant (in `order`, then any other found): weeks scored, NCORR mean and Sharpe, the mean NMMC
    proxy, mean neutral churn and payout share kept, and over every stored week the headlines, the distinct stories among them, and
    what the variant's mean counted (stories for a variant in `collapsing`, else headlines).

    summary: `summarize(evaluations)` (keyed by `signal`, the variant's name); scores: rows of
    signals.finbert_scores (variant, n_headlines, n_stories; other columns ignored)."""
    stored = with_variant(scores) if len(scores) else pd.DataFrame(columns=[VARIANT_COLUMN])
    sums = (
        stored.groupby(VARIANT_COLUMN)[["n_headlines", "n_stories"]].sum()
        if {"n_headlines", "n_stories"} <= set(stored.columns)
        else pd.DataFrame(columns=["n_headlines", "n_stories"])
    )
    by_signal = summary.set_index("signal") if "signal" in summary.columns else pd.DataFrame()
    names = list(dict.fromkeys([*order, *map(str, by_signal.index), *map(str, sums.index)]))
    rows = []
    for name in names:
        figures = by_signal.loc[name] if name in by_signal.index else pd.Series(dtype="float64")
        headlines = int(sums.loc[name, "n_headlines"]) if name in sums.index else 0
        stories = int(sums.loc[name, "n_stories"]) if name in sums.index else 0
        rows.append(
            {
                "variant": name,
                "weeks": int(figures.get("weeks", 0) or 0),
                **{column: figures.get(column, np.nan) for column in VARIANT_TABLE_COLUMNS[2:7]},
                "headlines": headlines,
                "stories": stories,
                "counted": stories if name in collapsing else headlines,
            }
        )
    table = pd.DataFrame(rows, columns=VARIANT_TABLE_COLUMNS)
    return table.astype({"weeks": "int64", "headlines": "int64", "stories": "int64", "counted": "int64"})


def variant_agreement(signals: pd.DataFrame, min_common: int = MIN_COMMON_TICKERS) -> pd.DataFrame:
    """Mean weekly Spearman correlation between every two variants' signals: a square frame indexed and labelled by
    variant (1 on the diagonal; NaN where no week had `min_common` tickers in common).

    signals: rows of signals.scaled_signal (week_start, variant, numerai_ticker, signal)."""
    frame = with_variant(signals)
    names = sorted(frame[VARIANT_COLUMN].unique()) if len(frame) else []
    sums = pd.DataFrame(0.0, index=names, columns=names)
    counts = pd.DataFrame(0, index=names, columns=names)
    for _, week in frame.groupby(PARTITION_COLUMN, sort=True):
        wide = week.pivot_table(index=TICKER_COLUMN, columns=VARIANT_COLUMN, values=SIGNAL_COLUMN, aggfunc="first")
        common = wide.notna().astype(int)
        shared = common.T @ common
        # pandas ranks each pair on the tickers both signal: a Spearman correlation over the common tickers.
        correlations = wide.corr(method="spearman", min_periods=min_common)
        for first in wide.columns:
            for second in wide.columns:
                value = correlations.loc[first, second]
                if shared.loc[first, second] >= min_common and np.isfinite(value):
                    sums.loc[first, second] += value
                    counts.loc[first, second] += 1
    mean = sums / counts.where(counts > 0)
    for name in names:
        mean.loc[name, name] = 1.0
    mean.index.name = VARIANT_COLUMN
    return mean
