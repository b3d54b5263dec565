"""Numerai: the week's submission file, and its upload.

Only what was checked goes to Numerai: the submission is written after the week's validity checks passed (and,
with churn_gate 'blend', blended toward the last upload first), and `numerai_upload` sends the week's file only
while it is byte for byte the stored submission, built after the week's latest signal and universe. A copy of
what was sent is kept, for the churn gate of the weeks after.
"""

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from signals_assets.defs.metadata import bounded, bounded_metadata, preview
from signals_assets.defs.numerai.assets import NUMERAI_CACHE
from signals_assets.defs.numerai.churn import (
    BLEND_FIGURES,
    blend_for_upload,
    blend_metadata,
    gate_report_in,
    latest_materialization,
)
from signals_assets.defs.numerai.churn_history import read_submission_csv
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.round import UPLOAD_FRESHNESS
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.numerai.submission_file import (
    build_submission,
    keep_uploaded_copy,
    rendered,
    submission_csv_path,
    submitted_rows,
    write_submission_csv,
)
from signals_assets.numerai.validation import check_rules
from signals_assets.signal.scaling import DATE_COLUMN, SIGNAL_COLUMN, TICKER_COLUMN
from signals_assets.weeks import PARTITION_COLUMN, Week, with_week_column

UPLOAD_COLUMNS = ["friday", "status", "reason", "model_name", "submission_id", "filename", "uploaded_at"]
# Rebuilding either of these after the submission makes the stored submission stale for its week.
SUBMISSION_INPUTS = ("scaled_signal", "numerai_universe")


@weekly_asset(group_name="numerai", kinds={"numerai", "csv"}, ins={"numerai_universe": dg.AssetIn("numerai_universe")})
def submission(
    context: dg.AssetExecutionContext,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
    scaled_signal: pd.DataFrame,
    numerai_universe: pd.DataFrame,
) -> pd.DataFrame:
    """The submitted variant's signal (SIGNAL_VARIANT, default finbert) as `signals_<Friday>.csv` in the warehouse's output_dir (SIGNALS_OUTPUT_DIR): numerai_ticker, signal
    (and the date with include_date_column). Written only after `submission_is_valid` passed on the signal. A week
    that uploads with churn_gate 'blend' (the default) is first blended toward the last upload by the least
    weight that brings its churn within max_churn; the weight and the churn before and after are recorded."""
    week = week_of(context)
    rows = build_submission(
        submitted_rows(scaled_signal, signal_settings.variant), include_date=numerai.include_date_column
    )
    blend = blend_for_upload(
        week,
        rows,
        numerai=numerai,
        numerai_data=numerai_data,
        warehouse=warehouse,
        cache_dir=warehouse.cache_dir(NUMERAI_CACHE),
        log=context.log,
    )
    figures = blend_metadata(blend, numerai.max_churn) if blend is not None else {}
    if blend is not None and blend.weight > 0:
        blended = pd.DataFrame({TICKER_COLUMN: blend.signal.index.astype(str), SIGNAL_COLUMN: blend.signal.to_numpy()})
        if numerai.include_date_column:
            blended[DATE_COLUMN] = week.friday.isoformat()
        rows = blended.sort_values(TICKER_COLUMN, kind="stable").reset_index(drop=True)
        failed = [result for result in check_rules(numerai_universe, rows)[0] if not result.passed]
        if failed:
            raise dg.Failure(
                f"The blended submission of week {week.key} fails Numerai's rules ({failed[0].description}); nothing "
                "was written. Set SIGNAL_CHURN_GATE=block or warn to submit the week's own signal.",
                metadata=bounded_metadata(figures),
            )
        context.log.info(figures["blend"])
    csv_path = write_submission_csv(rows, warehouse.submissions_dir(), week.friday)
    context.log.info(f"Wrote {len(rows)} tickers of variant {signal_settings.variant} to {csv_path}")
    context.add_output_metadata(
        bounded_metadata(
            {
                "path": dg.MetadataValue.path(str(csv_path.resolve())),
                "friday": week.friday.isoformat(),
                "variant": signal_settings.variant,
                "preview": preview(rows),
                **figures,
            }
        )
    )
    return with_week_column(rows, week)


def unchecked_reason(context, week: Week, csv_path: Path, warehouse: Warehouse) -> str | None:
    """Why the week's file is not the one its checks passed on, or None when it is: the file must exist, be byte
    for byte the stored submission, and that submission must be newer than the week's signal and universe."""
    rebuild = "Materialize the week again (job weekly_signal) to rebuild, check and upload it."
    if not csv_path.is_file():
        return (
            f"no submission file at {csv_path}: it is written only after the week's validity checks pass (or it was "
            f"removed when they failed). {rebuild}"
        )
    try:
        with warehouse.connect() as connection:
            stored = connection.execute(
                f"SELECT * FROM {SCHEMA}.submission WHERE {PARTITION_COLUMN} = ?", [week.week_start]
            ).fetchdf()
    except duckdb.CatalogException:
        stored = pd.DataFrame()
    stored = stored.drop(columns=[PARTITION_COLUMN], errors="ignore")
    if not stored.empty:
        stored = stored.sort_values(TICKER_COLUMN, kind="stable").reset_index(drop=True)
    if stored.empty or rendered(stored) != csv_path.read_bytes():
        return (
            f"{csv_path} is not the week's stored submission ({len(stored)} rows stored): it was changed, or left by "
            f"a run whose checks did not pass. {rebuild}"
        )
    built = latest_materialization(context, "submission", week)
    for name in SUBMISSION_INPUTS:
        source = latest_materialization(context, name, week)
        if built is not None and source is not None and source.storage_id > built.storage_id:
            return (
                f"the week's {name} was rebuilt (run {source.run_id}) after its submission (run {built.run_id}), and "
                f"the submission was not: its checks failed or it did not run, so the file was not checked against "
                f"the week's latest {name}. {rebuild}"
            )
    return None


@weekly_asset(group_name="numerai", kinds={"numerai"}, deps=["submission"], freshness_policy=UPLOAD_FRESHNESS)
def numerai_upload(
    context: dg.AssetExecutionContext,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
) -> pd.DataFrame:
    """What happened to the week's submission file at Numerai: uploaded (the submission id and model),
    or skipped and why. Only the latest complete week uploads, with upload on, keys and a model name set; only
    the file its checks passed on (the stored submission, built after the week's signal and universe); and only
    past the churn gate, measured here on that file against the last five uploads."""
    week = week_of(context)
    csv_path = submission_csv_path(warehouse.submissions_dir(), week.friday)
    reason = numerai.reason_not_to_upload(week) or unchecked_reason(context, week, csv_path, warehouse)
    record = dict.fromkeys(UPLOAD_COLUMNS)
    record.update(friday=week.friday.isoformat(), filename=csv_path.name)
    figures: dict[str, object] = {}
    if reason:
        log = context.log.info if numerai.reason_not_to_upload(week) else context.log.error
        log(f"Not uploading {csv_path.name} to Numerai: {reason}")
        record.update(status="skipped", reason=reason)
    else:
        report = gate_report_in(
            context,
            week,
            read_submission_csv(csv_path),
            numerai=numerai,
            numerai_data=numerai_data,
            signal_settings=signal_settings,
            warehouse=warehouse,
        )
        if report.blocked:
            raise dg.Failure(description=str(bounded(report.description)), metadata=bounded_metadata(report.metadata()))
        (context.log.warning if report.warned else context.log.info)(report.description)
        uploaded = numerai.upload_submission(csv_path, log=context.log)
        keep_uploaded_copy(csv_path, warehouse.submissions_dir(), week.friday)
        record.update(
            status="uploaded",
            model_name=uploaded.model_name,
            submission_id=uploaded.submission_id,
            uploaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        figures = {
            name: value for name, value in report.metadata().items() if name in {"churn", "kind", *BLEND_FIGURES}
        }
    recorded = {key: value for key, value in record.items() if value is not None}
    context.add_output_metadata(bounded_metadata({**recorded, **figures}))
    return with_week_column(pd.DataFrame([record], columns=UPLOAD_COLUMNS).astype("string"), week)
