"""signal_evaluation: each week's signal variants (the provider-label baseline among them) scored as Numerai does."""

from datetime import timedelta

import dagster as dg
import duckdb
import pandas as pd

from signals_assets.defs.metadata import bounded_metadata, preview
from signals_assets.defs.numerai.assets import NUMERAI_CACHE
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.evaluation.scoring import score_week
from signals_assets.evaluation.week_data import read_week_data
from signals_assets.signal.variants import VARIANT_COLUMN, with_variant
from signals_assets.weeks import Week, with_week_column

FIGURES = ["status", "coverage", "ncorr", "numerai_corr", "nmmc_proxy", "neutral_churn", "churn_penalty"]
EVALUATION_COLUMNS = ["signal", *FIGURES]


def _signals(scaled_signal: pd.DataFrame) -> dict[str, pd.Series]:
    """Each variant's signal of a week, by variant name."""
    return {
        str(name): pd.Series(rows["signal"].to_numpy(), index=rows["numerai_ticker"].astype(str))
        for name, rows in with_variant(scaled_signal).groupby(VARIANT_COLUMN, sort=False)
    }


def _stored_week(warehouse: Warehouse, week: Week) -> dict[str, pd.Series]:
    """The previous week's signals from the warehouse (for churn); none when that week was not materialized."""
    try:
        with warehouse.connect() as connection:
            frame = connection.execute(
                f"SELECT * FROM {SCHEMA}.scaled_signal WHERE week_start = ?", [week.week_start]
            ).fetchdf()
    except duckdb.CatalogException:
        return {}
    return _signals(frame) if len(frame) else {}


@weekly_asset(group_name="evaluation", kinds={"numerai", "duckdb"})
def signal_evaluation(
    context: dg.AssetExecutionContext,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    warehouse: Warehouse,
    signal_settings: SignalSettings,
    scaled_signal: pd.DataFrame,
    numerai_universe: pd.DataFrame,
) -> pd.DataFrame:
    """Every variant's signal of the week scored as Numerai scores it (numerai-tools), one row each (`signal`
    holds the variant's name; the provider_labels variant is the baseline FinBERT has to beat): status (scored; pending until the targets resolve; no_data when Numerai's files or the universe cannot
    give a score, the reason in the metadata and the log), coverage, NCORR (what Numerai pays on),
    numerai_corr, the NMMC proxy against the example predictions, and neutral churn against the previous week
    with the payout share it keeps. A figure that cannot be computed is NULL, its reason in the metadata."""
    week = week_of(context)
    previous_week = Week.from_key((week.start - timedelta(days=7)).strftime("%Y-%m-%d"))
    friday, previous_friday = week.friday, previous_week.friday
    data = read_week_data(
        lambda: numerai_data.files(warehouse.cache_dir(NUMERAI_CACHE), numerai.api(), context.log),
        friday,
        previous_friday,
    )
    if data.problem:
        context.log.warning(f"Week {week.key} cannot be scored (no_data): {data.problem}")
    if data.previous_problem:
        context.log.warning(f"Week {week.key} has no neutral churn: {data.previous_problem}")

    current = _signals(scaled_signal)
    previous = _stored_week(warehouse, previous_week)
    rows, reasons = [], {}
    names = [variant.name for variant in signal_settings.all_variants() if variant.name in current]
    for name in names + sorted(set(current) - set(names)):
        score = score_week(
            current[name],
            numerai_universe["numerai_ticker"].astype(str),
            previous_signal=previous.get(name),
            **data.inputs(),
        )
        if data.previous_problem and previous.get(name) is not None and score.neutral_churn is None:
            why = f"the previous week's neutralizer could not be read: {data.previous_problem}"
            score.reasons["neutral_churn"] = why
            score.reasons["churn_penalty"] = "neutral_churn_penalty needs the neutral churn: " + why
        rows.append({"signal": name, **{figure: getattr(score, figure) for figure in FIGURES}})
        reasons[name] = score.reasons
    frame = pd.DataFrame(rows, columns=EVALUATION_COLUMNS).astype(
        {"signal": "string", "status": "string", **{figure: "float64" for figure in FIGURES[1:]}}
    )
    context.log.info(
        f"Week {week.key} (Friday {friday}): "
        + "; ".join(
            f"{row.signal} {row.status}, NCORR {row.ncorr if pd.notna(row.ncorr) else 'n/a'}"
            for row in frame.itertuples()
        )
    )
    context.add_output_metadata(
        bounded_metadata(
            {
                "numerai_data": data.problem or data.note,
                "reasons": dg.MetadataValue.json(reasons),
                "preview": preview(frame),
            }
        )
    )
    return with_week_column(frame, week)
