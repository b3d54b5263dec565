"""scaled_signal and the checks that gate the submission: valid by Numerai's own rules."""

import base64
import io
from typing import Literal

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Config,
    MetadataValue,
    asset_check,
)

from signals_assets.news.resources import StockNewsAPI
from signals_assets.partitions import PARTITION_COLUMN, week_of, weekly_asset, weekly_partitions, with_week_column
from signals_assets.signal.signal import build_scaled_signal
from signals_assets.submission.resources import NumeraiSignals
from signals_assets.submission.submission import SubmissionInvalid, build_submission, validate_submission
from signals_assets.tickers.assets import week_universe

MIN_UNIVERSE_TICKERS = 100  # Numerai's minimum for a Signals submission.


class ScaledSignalConfig(Config):
    method: Literal["rank", "minmax"] = "rank"
    """`rank`: (rank - 0.5) / n with ties kept, as Numerai scores by rank. `minmax`: the seed's
    MinMaxScaler, squeezed strictly inside (0, 1)."""


def _histogram_markdown(signal: pd.Series) -> MetadataValue:
    """The week's signal distribution as a PNG embedded in markdown (renders in the Dagster UI)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 2.5), dpi=80)
    axes.hist(signal, bins=20, range=(0, 1), color="#4f43dd")
    axes.set_xlabel("signal")
    axes.set_ylabel("tickers")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return MetadataValue.md(f"![signal histogram](data:image/png;base64,{encoded})")


@weekly_asset(
    group_name="signal",
    kinds={"duckdb", "pandas"},
)
def scaled_signal(
    context: AssetExecutionContext, config: ScaledSignalConfig, finbert_scores: pd.DataFrame
) -> pd.DataFrame:
    """numerai_ticker, signal strictly inside (0, 1), date (the week's Friday)."""
    week = week_of(context)
    signal = with_week_column(build_scaled_signal(finbert_scores, week.friday, config.method), week)
    metadata = {
        "rows": len(signal),
        "tickers_covered": len(signal),
        "method": config.method,
        "friday": week.friday.isoformat(),
        "preview": MetadataValue.md(signal.drop(columns=[PARTITION_COLUMN]).head(10).to_markdown(index=False)),
    }
    if len(signal):
        metadata["histogram"] = _histogram_markdown(signal["signal"])
    context.add_output_metadata(metadata)
    return signal


@asset_check(asset=scaled_signal, blocking=True, partitions_def=weekly_partitions)
def submission_is_valid(
    context: AssetCheckExecutionContext,
    scaled_signal: pd.DataFrame,
    news: StockNewsAPI,
    numerai: NumeraiSignals,
) -> AssetCheckResult:
    """Numerai's own validator (numerai-tools) accepts the week's submission; blocks writing and upload."""
    universe = week_universe(news, numerai, context.log)
    try:
        report = validate_submission(universe, build_submission(scaled_signal, include_date=False))
    except SubmissionInvalid as invalid:
        return AssetCheckResult(passed=False, description=str(invalid), metadata={"reason": str(invalid)})
    return AssetCheckResult(
        passed=True,
        metadata={"tickers": report.n_submitted, "in_universe": report.n_in_universe},
    )


@asset_check(asset=scaled_signal, blocking=True, partitions_def=weekly_partitions)
def at_least_100_universe_tickers(
    context: AssetCheckExecutionContext,
    scaled_signal: pd.DataFrame,
    news: StockNewsAPI,
    numerai: NumeraiSignals,
) -> AssetCheckResult:
    """At least 100 of the week's tickers are in Numerai's universe (Numerai's minimum)."""
    universe = set(week_universe(news, numerai, context.log)["numerai_ticker"])
    in_universe = int(scaled_signal["numerai_ticker"].isin(universe).sum())
    return AssetCheckResult(
        passed=in_universe >= MIN_UNIVERSE_TICKERS,
        metadata={"in_universe": in_universe, "required": MIN_UNIVERSE_TICKERS},
    )


@asset_check(asset=scaled_signal, blocking=True, partitions_def=weekly_partitions)
def signal_not_constant(scaled_signal: pd.DataFrame) -> AssetCheckResult:
    """Numerai rejects a signal with zero standard deviation."""
    std = float(scaled_signal["signal"].std()) if len(scaled_signal) > 1 else 0.0
    return AssetCheckResult(passed=std > 0, metadata={"std": std, "tickers": len(scaled_signal)})
