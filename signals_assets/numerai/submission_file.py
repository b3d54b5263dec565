"""The submission table and its CSV file: `numerai_ticker`, `signal` (and optionally `date`), written atomically."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

from signals_assets.signal.scaling import DATE_COLUMN, SIGNAL_COLUMN, TICKER_COLUMN
from signals_assets.signal.variants import VARIANT_COLUMN, rows_of


def _friday_iso(friday: date | str | pd.Timestamp) -> str:
    return pd.Timestamp(friday).date().isoformat()


def submitted_rows(scaled_signal: pd.DataFrame, variant: str) -> pd.DataFrame:
    """The rows of the submitted variant in a week's scaled_signal (every variant's signal, side by side).

    Raises ValueError when the week holds other variants but not this one: its signal was built before the
    variant existed or was submitted, and must be built again before it can be checked or uploaded."""
    rows = rows_of(scaled_signal, variant)
    if rows.empty and not scaled_signal.empty:
        present = (
            sorted(set(scaled_signal[VARIANT_COLUMN].dropna().astype(str))) if VARIANT_COLUMN in scaled_signal else []
        )
        raise ValueError(
            f"The week's scaled_signal has no rows of variant {variant!r} (SIGNAL_VARIANT), only of "
            f"{', '.join(present) or 'the default variant'}: it was built with other variants. Materialize "
            "finbert_scores and scaled_signal of the week again (job weekly_signal) with this variant defined."
        )
    return rows


def build_submission(scaled_signal: pd.DataFrame, include_date: bool = False) -> pd.DataFrame:
    """The upload table: `numerai_ticker`, `signal` and, with include_date, `date` as 'YYYY-MM-DD'.

    Numerai wants the ticker column first and the signal second; the optional date column (numerai-tools
    accepts `date` or `friday_date`) goes last. Other columns of `scaled_signal` (week_start, ...) are dropped.
    """
    wanted = [TICKER_COLUMN, SIGNAL_COLUMN] + ([DATE_COLUMN] if include_date else [])
    missing = [col for col in wanted if col not in scaled_signal.columns]
    if missing:
        raise ValueError(
            f"Scaled signal lacks column(s) {', '.join(missing)}; build it with build_scaled_signal, "
            f"which gives {TICKER_COLUMN}, {SIGNAL_COLUMN} and {DATE_COLUMN}."
        )
    submission = scaled_signal[wanted].copy()
    submission[TICKER_COLUMN] = submission[TICKER_COLUMN].astype(str)
    submission[SIGNAL_COLUMN] = submission[SIGNAL_COLUMN].astype("float64")
    if include_date:
        dates = pd.to_datetime(submission[DATE_COLUMN]).dt.strftime("%Y-%m-%d")
        if dates.nunique() > 1:
            raise ValueError(
                f"Scaled signal spans {dates.nunique()} dates ({', '.join(sorted(dates.unique()))}); "
                f"a submission is one week's signal: select one week's partition."
            )
        submission[DATE_COLUMN] = dates
    return submission.sort_values(TICKER_COLUMN, kind="stable").reset_index(drop=True)


def submission_csv_path(directory: str | os.PathLike, friday: date | str | pd.Timestamp) -> Path:
    """Where the week's submission lives: `<directory>/signals_<YYYY-MM-DD>.csv`."""
    return Path(directory) / f"signals_{_friday_iso(friday)}.csv"


def write_submission_csv(
    submission: pd.DataFrame, directory: str | os.PathLike, friday: date | str | pd.Timestamp
) -> Path:
    """Write the CSV atomically: a temp file in the same directory, then os.replace onto the valid name.

    An interrupted or failed write leaves the old file (or none) under the valid name, never a partial one.
    """
    return _write_atomically(
        submission_csv_path(directory, friday), lambda handle: submission.to_csv(handle, index=False)
    )


def _write_atomically(target: Path, fill) -> Path:
    """`fill(handle)` writes the text; it lands under `target` whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".csv.tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", newline="") as temp_file:
            fill(temp_file)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def remove_submission_csv(directory: str | os.PathLike, friday: date | str | pd.Timestamp) -> bool:
    """Delete the week's file under the valid name (a stale one from an earlier run); True if one existed."""
    target = submission_csv_path(directory, friday)
    existed = target.exists()
    target.unlink(missing_ok=True)
    return existed


# What Numerai received, kept under the output folder: the churn gate measures a week against these, the files
# Numerai compares with, not whatever a later run left under the valid name.
UPLOADED_DIR = "uploaded"


def uploaded_csv_path(directory: str | os.PathLike, friday: date | str | pd.Timestamp) -> Path:
    """Where the copy of the week's uploaded file is kept: `<directory>/uploaded/signals_<YYYY-MM-DD>.csv`."""
    return submission_csv_path(Path(directory) / UPLOADED_DIR, friday)


def keep_uploaded_copy(csv_path: Path, directory: str | os.PathLike, friday: date | str | pd.Timestamp) -> Path:
    """Copy the file just uploaded, byte for byte, to `uploaded_csv_path` (atomically)."""
    with open(csv_path, newline="") as uploaded:
        text = uploaded.read()
    return _write_atomically(uploaded_csv_path(directory, friday), lambda handle: handle.write(text))


def rendered(submission: pd.DataFrame) -> bytes:
    """The bytes `write_submission_csv` writes for these rows: what a file must hold to be this submission."""
    return submission.to_csv(index=False).encode()
