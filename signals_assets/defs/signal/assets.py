"""scaled_signal: each variant's sentiment of the week (smoothed over earlier weeks with its halflife_weeks) as a
Numerai signal strictly inside (0, 1)."""

from typing import Literal

import dagster as dg
import duckdb
import pandas as pd

from signals_assets.defs.metadata import histogram, preview
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.signal.smoothing import SmoothedSignal, earlier_weeks, missing_weeks_listed, smoothed_signal
from signals_assets.signal.variants import VARIANT_COLUMN, rows_of
from signals_assets.weeks import Week, with_week_column

SCORES_TABLE = "finbert_scores"


class ScaledSignalConfig(dg.Config):
    method: Literal["rank", "minmax"] = "rank"
    """`rank`: (rank - 0.5) / n with ties kept, as Numerai scores by rank. `minmax`: the blog post's
    MinMaxScaler, squeezed strictly inside (0, 1)."""


def _earlier_scores(warehouse: Warehouse, week: Week, weeks: list[pd.Timestamp]) -> pd.DataFrame | None:
    """The stored finbert_scores of `weeks` (all before this week), read from the warehouse; None when the
    table does not exist yet.

    A warehouse read rather than a time-window partition mapping: the lookback follows a run-time setting,
    and a missing earlier week (a gap, a backfill out of order) should warn, not fail the week."""
    if not weeks:
        return None
    try:
        with warehouse.connect() as connection:
            return connection.execute(
                f"SELECT * FROM {SCHEMA}.{SCORES_TABLE} WHERE week_start >= ? AND week_start < ?",
                [min(weeks), week.week_start],
            ).fetchdf()
    except duckdb.CatalogException:
        return None


def _days(weeks: list[pd.Timestamp]) -> list[str]:
    return [stamp.date().isoformat() for stamp in weeks]


def _warn_about_history(context: dg.AssetExecutionContext, week: Week, smoothed: SmoothedSignal, name: str) -> None:
    missing = smoothed.weeks_missing
    if missing:
        shown = missing_weeks_listed(missing)
        context.log.warning(
            f"Week {week.key}, variant {name}: halflife_weeks={smoothed.halflife_weeks:g} looks back {smoothed.lookback_weeks} "
            f"weeks, but {len(missing)} of them have no rows in {SCHEMA}.{SCORES_TABLE} ({shown}): the decay used "
            f"only the {len(smoothed.weeks_used)} weeks present. If those weeks had news, materialize "
            f"finbert_scores for them first (backfill oldest week first), then this week's scaled_signal again."
        )
    if smoothed.other_models:
        context.log.warning(
            f"Week {week.key}, variant {name}: some earlier weeks in the decay were scored by another FinBERT model "
            f"({', '.join(smoothed.other_models)}) than this week's; their sentiment may not be comparable. "
            "Re-materialize finbert_scores for those weeks with the current model (FINBERT_MODEL) to smooth "
            "over one model's scores."
        )


@weekly_asset(group_name="signal", kinds={"duckdb", "pandas"})
def scaled_signal(
    context: dg.AssetExecutionContext,
    config: ScaledSignalConfig,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
    finbert_scores: pd.DataFrame,
) -> pd.DataFrame:
    """variant, numerai_ticker, signal strictly inside (0, 1), date (the week's Friday): one signal per variant.

    With a variant's halflife_weeks > 0 (its own, else SIGNAL_HALFLIFE_WEEKS) each ticker's sentiment is the
    exponentially decayed mean of this week's scores and the variant's stored scores of earlier weeks (never a
    later one); 0 is this week only. The submitted variant (SIGNAL_VARIANT) is the one checked and uploaded."""
    week = week_of(context)
    variants = signal_settings.all_variants()
    halflives = {variant.name: signal_settings.halflife_of(variant) for variant in variants}
    longest = max(halflives.values())
    earlier = _earlier_scores(warehouse, week, earlier_weeks(week.week_start, longest)) if longest > 0 else None
    parts, table = [], []
    for variant in variants:
        this_week = rows_of(finbert_scores, variant.name)
        smoothed = smoothed_signal(
            this_week,
            rows_of(earlier, variant.name),
            week.week_start,
            week.friday,
            halflives[variant.name],
            config.method,
        )
        _warn_about_history(context, week, smoothed, variant.name)
        parts.append(smoothed.signal.assign(**{VARIANT_COLUMN: variant.name}))
        table.append(
            {
                "variant": variant.name,
                "tickers": len(smoothed.signal),
                "halflife_weeks": float(smoothed.halflife_weeks),
                "weeks_used": len(smoothed.weeks_used),
                "weeks_missing": len(smoothed.weeks_missing),
            }
        )
        if variant.name == signal_settings.variant:
            submitted = smoothed
    signal = pd.concat(parts, ignore_index=True)
    signal = with_week_column(signal[[VARIANT_COLUMN, *[c for c in signal.columns if c != VARIANT_COLUMN]]], week)
    signal[VARIANT_COLUMN] = signal[VARIANT_COLUMN].astype("string")
    metadata = {
        "method": config.method,
        "friday": week.friday.isoformat(),
        "submitted_variant": signal_settings.variant,
        "variants": preview(pd.DataFrame(table)),
        # The submitted variant's smoothing, as before variants existed.
        "halflife_weeks": float(submitted.halflife_weeks),
        "lookback_weeks": submitted.lookback_weeks,
        "weeks_used": len(submitted.weeks_used),
        "earliest_week_used": _days(submitted.weeks_used)[0],
        "weeks_used_list": dg.MetadataValue.json(_days(submitted.weeks_used)),
        "weeks_missing": dg.MetadataValue.json(_days(submitted.weeks_missing)),
        "preview": preview(signal),
    }
    if len(submitted.signal):
        metadata["histogram"] = histogram(submitted.signal["signal"], "signal")
    context.add_output_metadata(metadata)
    return signal
