"""scaled_signal: the week's FinBERT sentiment as a Numerai signal strictly inside (0, 1)."""

from typing import Literal

import dagster as dg
import pandas as pd

from signals_assets.defs.metadata import histogram, preview
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.signal.scaling import build_scaled_signal
from signals_assets.weeks import with_week_column


class ScaledSignalConfig(dg.Config):
    method: Literal["rank", "minmax"] = "rank"
    """`rank`: (rank - 0.5) / n with ties kept, as Numerai scores by rank. `minmax`: the seed's
    MinMaxScaler, squeezed strictly inside (0, 1)."""


@weekly_asset(kinds={"duckdb", "pandas"})
def scaled_signal(
    context: dg.AssetExecutionContext, config: ScaledSignalConfig, finbert_scores: pd.DataFrame
) -> pd.DataFrame:
    """numerai_ticker, signal strictly inside (0, 1), date (the week's Friday)."""
    week = week_of(context)
    signal = with_week_column(build_scaled_signal(finbert_scores, week.friday, config.method), week)
    metadata = {"method": config.method, "friday": week.friday.isoformat(), "preview": preview(signal)}
    if len(signal):
        metadata["histogram"] = histogram(signal["signal"], "signal")
    context.add_output_metadata(metadata)
    return signal
