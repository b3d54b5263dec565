"""Numerai: the week's universe, the submission file, and its upload."""

from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd

from signals_assets.defs.metadata import preview
from signals_assets.defs.numerai.churn import CHURN_GATE, churn_gate_report, read_submission_csv
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import LIVE, NumeraiSignals
from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import Warehouse
from signals_assets.numerai.datasets import VALIDATION, NumeraiDataError
from signals_assets.numerai.signals_api import NumeraiError
from signals_assets.numerai.submission_file import build_submission, submission_csv_path, write_submission_csv
from signals_assets.weeks import Week, with_week_column

NUMERAI_CACHE = "numerai"  # under the warehouse's data_dir
UNIVERSE_COLUMNS = ["numerai_ticker", "bloomberg_ticker"]
UPLOAD_COLUMNS = ["friday", "status", "reason", "model_name", "submission_id", "filename", "uploaded_at"]


def point_in_time_universe(
    context: dg.AssetExecutionContext, numerai: NumeraiSignals, numerai_data: NumeraiData, cache_dir: Path, friday: date
) -> tuple[pd.DataFrame | None, str]:
    """The tickers on `friday` in Numerai's historical data (validation.parquet) with where they came from,
    or None and why not (then the live universe is used)."""
    if numerai.universe != LIVE:
        return None, f"the universe is {numerai.universe!r} (NUMERAI_UNIVERSE), not Numerai's"
    try:
        files = numerai_data.files(cache_dir, numerai.api(), context.log)
        universe = files.universe_on(friday)
    except (NumeraiError, NumeraiDataError) as err:
        context.log.warning(f"Numerai's historical data could not be read, so the live universe is used: {err}")
        return None, f"Numerai's historical data could not be read: {err}"
    if universe is None:
        return None, f"{friday} is not a date of Numerai's historical data ({VALIDATION})"
    where = files.version_of(VALIDATION) or numerai_data.data_dir
    return universe, f"Numerai's {where}/{VALIDATION} on {friday}"


@weekly_asset(kinds={"numerai", "duckdb"})
def numerai_universe(
    context: dg.AssetExecutionContext, numerai: NumeraiSignals, numerai_data: NumeraiData, warehouse: Warehouse
) -> pd.DataFrame:
    """The tickers the week is mapped and validated against (numerai_ticker, bloomberg_ticker), and where
    they came from: with the live universe setting, the tickers on the week's Friday in Numerai's historical
    data when the Friday is one of its dates (point in time), else Numerai's live file; or the
    NUMERAI_UNIVERSE file, or the packaged sample."""
    week = week_of(context)
    cache_dir = warehouse.cache_dir(NUMERAI_CACHE)
    universe, origin = point_in_time_universe(context, numerai, numerai_data, cache_dir, week.friday)
    point_in_time, why_not = universe is not None, origin
    if universe is None:
        universe, origin = numerai.load_universe(numerai_data, cache_dir, context.log)
    frame = pd.DataFrame({"numerai_ticker": universe["numerai_ticker"].astype("string")})
    bloomberg = universe["bloomberg_ticker"] if "bloomberg_ticker" in universe.columns else universe["numerai_ticker"]
    frame["bloomberg_ticker"] = bloomberg.astype("string").fillna(frame["numerai_ticker"])
    frame = frame.dropna(subset=["numerai_ticker"]).drop_duplicates("numerai_ticker").reset_index(drop=True)
    if point_in_time:
        context.log.info(f"Week {week.key}: {len(frame)} universe tickers from {origin} (point in time).")
    else:
        context.log.info(
            f"Week {week.key}: {len(frame)} universe tickers from {origin}. Not point in time ({why_not}): a past "
            "week may include tickers listed later."
        )
    context.add_output_metadata({"source": origin, "point_in_time": point_in_time, "preview": preview(frame)})
    return with_week_column(frame[UNIVERSE_COLUMNS], week)


@weekly_asset(kinds={"numerai", "csv"})
def submission(
    context: dg.AssetExecutionContext, numerai: NumeraiSignals, warehouse: Warehouse, scaled_signal: pd.DataFrame
) -> pd.DataFrame:
    """`signals_<Friday>.csv` in the warehouse's output_dir (SIGNALS_OUTPUT_DIR): numerai_ticker, signal
    (and the date with include_date_column). Written only after `submission_is_valid` passed on the signal."""
    week = week_of(context)
    rows = build_submission(scaled_signal, include_date=numerai.include_date_column)
    csv_path = write_submission_csv(rows, warehouse.submissions_dir(), week.friday)
    context.log.info(f"Wrote {len(rows)} tickers to {csv_path}")
    context.add_output_metadata(
        {
            "path": dg.MetadataValue.path(str(csv_path.resolve())),
            "friday": week.friday.isoformat(),
            "preview": preview(rows),
        }
    )
    return with_week_column(rows, week)


def churn_gate_ran(context: dg.AssetExecutionContext) -> bool:
    """Whether this run evaluated the churn_gate check (blocking: it runs before the upload, and a block stops it)."""
    gate_key = dg.AssetCheckKey(dg.AssetKey("submission"), CHURN_GATE)
    events = context.instance.all_logs(context.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return any(
        entry.dagster_event is not None and entry.dagster_event.asset_check_evaluation_data.asset_check_key == gate_key
        for entry in events
    )


def gate_here(
    context: dg.AssetExecutionContext,
    week: Week,
    csv_path: Path,
    *,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
) -> None:
    """The churn gate, for a run that uploads without the churn_gate check (numerai_upload materialized alone):
    raises dg.Failure when it blocks, so no run uploads around it."""
    if churn_gate_ran(context) or not csv_path.is_file():
        return  # the check decided; or no file, which the upload reports itself
    report = churn_gate_report(
        week,
        read_submission_csv(csv_path),
        numerai=numerai,
        numerai_data=numerai_data,
        signal_settings=signal_settings,
        warehouse=warehouse,
        cache_dir=warehouse.cache_dir(NUMERAI_CACHE),
        log=context.log,
    )
    if report.blocked:
        raise dg.Failure(description=report.description, metadata=report.metadata())
    (context.log.warning if report.warned else context.log.info)(report.description)


@weekly_asset(kinds={"numerai"}, deps=["submission"])
def numerai_upload(
    context: dg.AssetExecutionContext,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
) -> pd.DataFrame:
    """What happened to the week's submission file at Numerai: uploaded (the submission id and model),
    or skipped and why. Only the latest complete week uploads, with upload on, keys and a model name set, and
    only past the churn gate (the churn_gate check on submission; evaluated here when the run lacks it)."""
    week = week_of(context)
    csv_path = submission_csv_path(warehouse.submissions_dir(), week.friday)
    reason = numerai.reason_not_to_upload(week)
    record = dict.fromkeys(UPLOAD_COLUMNS)
    record.update(friday=week.friday.isoformat(), filename=csv_path.name)
    if reason:
        context.log.info(f"Not uploading {csv_path.name} to Numerai: {reason}")
        record.update(status="skipped", reason=reason)
    else:
        gate_here(
            context,
            week,
            csv_path,
            numerai=numerai,
            numerai_data=numerai_data,
            signal_settings=signal_settings,
            warehouse=warehouse,
        )
        uploaded = numerai.upload_submission(csv_path, log=context.log)
        record.update(
            status="uploaded",
            model_name=uploaded.model_name,
            submission_id=uploaded.submission_id,
            uploaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
    context.add_output_metadata({key: value for key, value in record.items() if value is not None})
    return with_week_column(pd.DataFrame([record], columns=UPLOAD_COLUMNS).astype("string"), week)
