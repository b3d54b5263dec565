"""Numerai's diagnostics of the submitted signal's history: the file sent, the dates it covers, Numerai's answer as
frames, and how far the project's own figures are from Numerai's (pure: no Dagster here).

Numerai's diagnostics score a file of historical signals on its validation dates only, with the same ticker and
value rules as a weekly submission. So the file holds the submitted variant's stored weeks whose Friday is a date
of Numerai's validation data, each week checked against that date's universe (the tickers on the date in the
validation data, which is what Numerai scores the date against); a week that breaks a rule is left out and named.

Numerai answers per era (for Signals an era is a date) and does not return NCORR: its figures are compared with
the project's numerai_corr of the same Friday, not expected to equal it (Numerai scores against its own targets).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from signals_assets.numerai.validation import check_rules
from signals_assets.signal.scaling import SIGNAL_COLUMN, TICKER_COLUMN
from signals_assets.signal.variants import rows_of
from signals_assets.weeks import PARTITION_COLUMN

# numerai-tools accepts `date` or `friday_date`; `date` is what Numerai's own Signals dataset files call it.
DATE_COLUMN = "date"
FILE_COLUMNS = [TICKER_COLUMN, SIGNAL_COLUMN, DATE_COLUMN]
FRIDAY = "friday"
# perEraDiagnostics fields stored, as Numerai names them -> the table's column.
PER_ERA_FIELDS = {
    "validationCorr": "validation_corr",
    "validationMmc": "validation_mmc",
    "validationBmc": "validation_bmc",
    "validationAlpha": "validation_alpha",
    "validationChurn": "validation_churn",
    "validationFncV4": "validation_fnc_v4",
    "validationIcV2": "validation_ic_v2",
    "validationRic": "validation_ric",
    "examplePredsCorr": "example_preds_corr",
}
# The summary figures kept in the metadata, when Numerai returns them.
SUMMARY_FIELDS = {
    "validationCorrMean": "validation_corr_mean",
    "validationCorrSharpe": "validation_corr_sharpe",
    "validationCorrStd": "validation_corr_std",
    "validationMaxDrawdown": "validation_max_drawdown",
    "validationMmcMean": "validation_mmc_mean",
    "validationBmcMean": "validation_bmc_mean",
    "validationAlphaMean": "validation_alpha_mean",
    "validationAlphaSharpe": "validation_alpha_sharpe",
    "validationFncV4Mean": "validation_fnc_v4_mean",
    "validationIcV2Mean": "validation_ic_v2_mean",
    "validationRicMean": "validation_ric_mean",
    "examplePredsCorrMean": "example_preds_corr_mean",
    "erasAcceptedCount": "eras_accepted",
    "trainedOnVal": "trained_on_val",
}
PROJECT_FIGURES = ("ncorr", "numerai_corr")
TABLE_COLUMNS = ["diagnostics_id", "era", FRIDAY, *PER_ERA_FIELDS.values(), *PROJECT_FIGURES]
DONE, FAILED = "done", ("failed", "error")


def stored_weeks_of(stored: pd.DataFrame, variant: str) -> pd.DataFrame:
    """numerai_ticker, signal and friday (a date) of `variant`'s rows of stored scaled_signal weeks. Rows of a
    table written before variants existed (no `variant` column, or NULL) are LEGACY_VARIANT's."""
    rows = rows_of(stored, variant)
    # A week's Friday: its stored date, else six days after the Saturday that opens the week.
    fridays = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
    if PARTITION_COLUMN in rows.columns:
        fridays = pd.to_datetime(rows[PARTITION_COLUMN]) + pd.Timedelta(days=6)
    if DATE_COLUMN in rows.columns:
        fridays = pd.to_datetime(rows[DATE_COLUMN]).fillna(fridays)
    known = fridays.notna()
    return pd.DataFrame(
        {
            TICKER_COLUMN: rows.loc[known, TICKER_COLUMN].astype(str).to_numpy(),
            SIGNAL_COLUMN: rows.loc[known, SIGNAL_COLUMN].astype("float64").to_numpy(),
            FRIDAY: [stamp.date() for stamp in fridays[known]],
        }
    )


@dataclass(frozen=True)
class LeftOut:
    friday: date
    rule: str
    reason: str


@dataclass
class DiagnosticsFile:
    rows: pd.DataFrame  # FILE_COLUMNS, the date as YYYY-MM-DD
    fridays: list[date]
    left_out: list[LeftOut] = field(default_factory=list)
    outside: list[date] = field(default_factory=list)  # stored weeks whose Friday is no validation date
    tickers_dropped: int = 0  # rows of kept weeks whose ticker is not in the date's universe


def diagnostics_file(
    rows: pd.DataFrame, validation_dates: list[date], universe_on: Callable[[date], pd.DataFrame | None]
) -> DiagnosticsFile:
    """The file's rows: each stored week (`stored_weeks_of`) whose Friday is a validation date and whose rows pass
    Numerai's rules against that date's universe, minus the tickers not in it (Numerai would drop them)."""
    covered = set(validation_dates)
    kept: list[pd.DataFrame] = []
    built = DiagnosticsFile(rows=pd.DataFrame(columns=FILE_COLUMNS), fridays=[])
    for friday, week in rows.groupby(FRIDAY, sort=True):
        if friday not in covered:
            built.outside.append(friday)
            continue
        week = pd.DataFrame(
            {
                TICKER_COLUMN: week[TICKER_COLUMN].to_numpy(),
                SIGNAL_COLUMN: week[SIGNAL_COLUMN].to_numpy(),
                DATE_COLUMN: friday.isoformat(),
            }
        )
        universe = universe_on(friday)
        if universe is None:
            built.left_out.append(LeftOut(friday, "tickers", "Numerai's validation data has no universe on this date"))
            continue
        results, report = check_rules(universe, week)
        if report is None:
            failed = next(result for result in results if not result.passed)
            built.left_out.append(LeftOut(friday, failed.rule, failed.description))
            continue
        in_universe = week[TICKER_COLUMN].isin(set(universe[TICKER_COLUMN].astype(str)))
        built.tickers_dropped += int((~in_universe).sum())
        kept.append(week[in_universe].sort_values(TICKER_COLUMN, kind="stable"))
        built.fridays.append(friday)
    if kept:
        built.rows = pd.concat(kept, ignore_index=True)[FILE_COLUMNS]
    return built


def diagnostics_csv_path(directory: str | os.PathLike, variant: str, fridays: list[date]) -> Path:
    """`<directory>/diagnostics_<variant>_<first Friday>_<last Friday>.csv`."""
    return Path(directory) / f"diagnostics_{variant}_{min(fridays).isoformat()}_{max(fridays).isoformat()}.csv"


def write_diagnostics_csv(rows: pd.DataFrame, path: Path) -> Path:
    """The CSV, whole or not at all under `path` (a temp file in the same folder, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".csv.tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="") as file:
            rows[FILE_COLUMNS].to_csv(file, index=False)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def status_of(answer: dict) -> str:
    return str(answer.get("status") or "").strip().lower()


def era_friday(era: object) -> date | None:
    """The date an era names: Signals eras are dates ('2024-01-05', or 20240105); None for anything else."""
    text = str(era).strip() if era is not None else ""
    if re.fullmatch(r"\d{8}", text):
        return datetime.strptime(text, "%Y%m%d").date()
    if re.match(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text[:10])
    return None


def summary(answer: dict) -> dict[str, object]:
    """Numerai's summary figures (SUMMARY_FIELDS) that it returned, under snake_case names."""
    found: dict[str, object] = {}
    for name, key in SUMMARY_FIELDS.items():
        value = answer.get(name)
        if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
            found[key] = value
    return found


def per_era_frame(answer: dict, diagnostics_id: str) -> pd.DataFrame:
    """One row per era of Numerai's perEraDiagnostics: the era as given, its Friday, the PER_ERA_FIELDS figures
    (NULL where Numerai returned none), sorted by era."""
    items = [item for item in answer.get("perEraDiagnostics") or [] if isinstance(item, dict)]
    frame = pd.DataFrame(
        {
            "diagnostics_id": pd.Series([diagnostics_id] * len(items), dtype="string"),
            "era": pd.Series([str(item.get("era")) for item in items], dtype="string"),
            FRIDAY: pd.Series([era_friday(item.get("era")) for item in items], dtype="datetime64[ns]"),
        }
    )
    for name, column in PER_ERA_FIELDS.items():
        frame[column] = pd.to_numeric(pd.Series([item.get(name) for item in items], dtype="object"), errors="coerce")
        frame[column] = frame[column].astype("float64")
    return frame.sort_values("era", kind="stable").reset_index(drop=True)


def with_project_figures(per_era: pd.DataFrame, evaluation: pd.DataFrame, variant: str) -> pd.DataFrame:
    """`per_era` with the project's ncorr and numerai_corr of the same Friday (signal_evaluation rows of
    `variant`; a week's Friday is its week_start + 6 days); NULL for an era the project has not scored."""
    ours = evaluation[evaluation["signal"].astype(str) == variant] if not evaluation.empty else evaluation
    figures = pd.DataFrame(
        {
            FRIDAY: pd.to_datetime(ours[PARTITION_COLUMN]).dt.normalize() + pd.Timedelta(days=6),
            **{column: pd.to_numeric(ours[column], errors="coerce") for column in PROJECT_FIGURES},
        }
    ).drop_duplicates(FRIDAY, keep="last")
    figures[FRIDAY] = figures[FRIDAY].astype("datetime64[ns]")
    merged = per_era.merge(figures, on=FRIDAY, how="left")
    for column in PROJECT_FIGURES:
        merged[column] = merged[column].astype("float64")
    return merged[TABLE_COLUMNS]


def comparison(frame: pd.DataFrame) -> dict[str, float | int | None]:
    """How far the project's numerai_corr is from Numerai's validationCorr over the eras both have: how many,
    both means, the mean absolute difference and their correlation across eras (None under three eras or when
    either is constant)."""
    both = frame[["numerai_corr", "validation_corr"]].dropna()
    ours, theirs = both["numerai_corr"].to_numpy(), both["validation_corr"].to_numpy()
    result: dict[str, float | int | None] = {"eras_compared": len(both)}
    if both.empty:
        return result
    result["project_numerai_corr_mean"] = float(ours.mean())
    result["numerai_validation_corr_mean"] = float(theirs.mean())
    result["mean_abs_difference"] = float(np.abs(ours - theirs).mean())
    constant = len(both) < 3 or np.isclose(ours.std(), 0) or np.isclose(theirs.std(), 0)
    result["correlation"] = None if constant else float(np.corrcoef(ours, theirs)[0, 1])
    return result
