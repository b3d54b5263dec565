"""Build, validate and write a Numerai Signals submission file.

Pure pandas: no Dagster here. Validation is Numerai's own validator
(`numerai_tools.submissions.validate_submission_signals`); this module only translates its terse assertion
messages into errors that name the rule, the counts and the fix.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from numerai_tools.submissions import (
    SIGNALS_ALLOWED_DATE_COLS,
    SIGNALS_ALLOWED_ID_COLS,
    SIGNALS_ALLOWED_PRED_COLS,
    SIGNALS_MIN_TICKERS,
    validate_submission_signals,
)

from signals_assets.signal.signal import DATE_COLUMN, SIGNAL_COLUMN, TICKER_COLUMN, listed_tickers

UNIVERSE_ENV = "NUMERAI_UNIVERSE"
UNIVERSE_SUFFIXES = (".parquet", ".csv")


class SubmissionInvalid(Exception):
    """The submission breaks a Numerai Signals rule; the message names the rule and the counts."""


class UniverseUnavailable(Exception):
    """The live universe file is missing, unreadable, or has no numerai_ticker column."""


@dataclass(frozen=True)
class ValidationReport:
    n_submitted: int
    n_in_universe: int
    ticker_col: str
    signal_col: str
    date_col: str | None = None
    invalid_tickers: list[str] = field(default_factory=list)


def _friday_iso(friday: date | str | pd.Timestamp) -> str:
    return pd.Timestamp(friday).date().isoformat()


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


def _rejection(message: str, universe: pd.DataFrame, submission: pd.DataFrame) -> SubmissionInvalid:
    """Translate one numerai-tools assertion into a SubmissionInvalid with the counts behind it."""
    columns = [str(col) for col in submission.columns]
    if message.startswith("invalid_submission_headers"):
        return SubmissionInvalid(
            f"Invalid columns {columns}: Numerai expects a ticker column (one of "
            f"{', '.join(SIGNALS_ALLOWED_ID_COLS)}) then a signal column (one of "
            f"{', '.join(SIGNALS_ALLOWED_PRED_COLS)}), in that order, plus optionally one date column "
            f"({' or '.join(SIGNALS_ALLOWED_DATE_COLS)}). Build the table with build_submission."
        )
    ticker_col = next((col for col in submission.columns if col in SIGNALS_ALLOWED_ID_COLS), columns[0])
    signal_col = next((col for col in submission.columns if col in SIGNALS_ALLOWED_PRED_COLS), columns[-1])
    tickers = submission[ticker_col]
    universe_tickers = set(universe[ticker_col].astype(str)) if ticker_col in universe.columns else set()
    in_universe = tickers.notna() & tickers.astype(str).isin(universe_tickers)
    live = submission[in_universe]
    signals = live[signal_col]

    if "must not contain NaNs in the" in message:
        return SubmissionInvalid(
            f"{int(tickers.isna().sum())} of {len(submission)} rows have no ticker ({ticker_col} is NaN); "
            f"every row needs a ticker: drop the rows whose ticker could not be mapped."
        )
    if "Duplicates detected" in message:
        live_tickers = live[ticker_col].astype(str)
        duplicated = sorted(set(live_tickers[live_tickers.duplicated()]))
        return SubmissionInvalid(
            f"{len(duplicated)} duplicated tickers: {listed_tickers(duplicated)}; Numerai accepts one row per ticker. "
            f"Aggregate the signal per {ticker_col} before submitting."
        )
    if "Not enough stocks" in message:
        return SubmissionInvalid(
            f"only {len(live)} of {len(submission)} tickers are in Numerai's live universe; Numerai requires at "
            f"least {SIGNALS_MIN_TICKERS}. Check the ticker mapping (e.g. 'AAPL US') and that the universe is "
            f"current ({UNIVERSE_ENV} or the downloaded live.parquet), or cover more tickers."
        )
    if "must not contain NaNs" in message:
        return SubmissionInvalid(
            f"{int(signals.isna().sum())} NaN signals among the {len(live)} tickers in the universe; every "
            f"submitted ticker needs a signal: drop unscored tickers."
        )
    if "between 0 and 1" in message:
        outside = int((~signals.between(0, 1, inclusive="neither")).sum())
        return SubmissionInvalid(
            f"values must lie strictly inside (0, 1): {outside} of {len(live)} are outside "
            f"(min {signals.min()!r}, max {signals.max()!r}); scale with scale_signal."
        )
    if "standard deviation" in message:
        return SubmissionInvalid(
            f"signal is constant (std {float(signals.std()):.3g}) across {len(live)} tickers in the universe; "
            f"Numerai needs a ranking: the week needs tickers with different sentiment."
        )
    return SubmissionInvalid(f"Numerai's validator rejected the submission: {message}")


def validate_submission(universe: pd.DataFrame, submission: pd.DataFrame) -> ValidationReport:
    """Validate with numerai-tools; raise SubmissionInvalid naming the rule broken and the counts."""
    # numerai-tools drops columns in place (`inplace=True`): hand it copies so the caller's tables survive.
    try:
        ticker_col, signal_col, date_col, live_sub, invalid_tickers = validate_submission_signals(
            universe.copy(), submission.copy()
        )
    except AssertionError as err:
        raise _rejection(str(err), universe, submission) from None
    except KeyError as err:
        raise SubmissionInvalid(
            f"The universe has no {err} column to check the submission's tickers against; the submission's "
            f"ticker column must be one the universe carries (use {TICKER_COLUMN})."
        ) from None

    # numerai-tools' range check is `between(0, 1)`, which lets exact 0 and 1 through although its own message
    # (and Numerai's rules) say "exclusive"; the seed's MinMaxScaler produced exactly those values.
    live_signals = live_sub[signal_col]
    at_bounds = int((live_signals.le(0) | live_signals.ge(1)).sum())
    if at_bounds:
        raise SubmissionInvalid(
            f"values must lie strictly inside (0, 1): {at_bounds} of {len(live_sub)} at 0 or 1 "
            f"(or beyond); scale with scale_signal, which keeps every value strictly inside."
        )
    return ValidationReport(
        n_submitted=len(submission),
        n_in_universe=len(live_sub),
        ticker_col=str(ticker_col),
        signal_col=str(signal_col),
        date_col=None if date_col is None else str(date_col),
        invalid_tickers=sorted(str(ticker) for ticker in invalid_tickers),
    )


def submission_csv_path(directory: str | os.PathLike, friday: date | str | pd.Timestamp) -> Path:
    """Where the week's submission lives: `<directory>/signals_<YYYY-MM-DD>.csv`."""
    return Path(directory) / f"signals_{_friday_iso(friday)}.csv"


def write_submission_csv(
    submission: pd.DataFrame, directory: str | os.PathLike, friday: date | str | pd.Timestamp
) -> Path:
    """Write the CSV atomically: a temp file in the same directory, then os.replace onto the valid name.

    An interrupted or failed write leaves the old file (or none) under the valid name, never a partial one.
    """
    target = submission_csv_path(directory, friday)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".csv.tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", newline="") as temp_file:
            submission.to_csv(temp_file, index=False)
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


def validate_and_write_submission(
    universe: pd.DataFrame,
    submission: pd.DataFrame,
    directory: str | os.PathLike,
    friday: date | str | pd.Timestamp,
) -> tuple[Path, ValidationReport]:
    """Validate, then write; on SubmissionInvalid remove any stale file under the valid name and re-raise."""
    try:
        report = validate_submission(universe, submission)
    except SubmissionInvalid:
        remove_submission_csv(directory, friday)
        raise
    return write_submission_csv(submission, directory, friday), report


def load_universe(path: str | os.PathLike) -> pd.DataFrame:
    """Read a live universe (parquet or csv) that has a `numerai_ticker` column; tickers come back as str."""
    source = Path(path)
    fix = (
        f"Set {UNIVERSE_ENV} to a local parquet or csv with a {TICKER_COLUMN} column "
        f"(e.g. Numerai's signals/v2.1/live.parquet), or unset it to download the universe from Numerai."
    )
    if source.suffix.lower() not in UNIVERSE_SUFFIXES:
        raise UniverseUnavailable(f"Universe file {source} is neither .parquet nor .csv. {fix}")
    if not source.is_file():
        raise UniverseUnavailable(f"Universe file {source} does not exist. {fix}")
    try:
        if source.suffix.lower() == ".parquet":
            universe = pd.read_parquet(source)
        else:
            # Read tickers as text: '000640 KR' must keep its leading zeros.
            universe = pd.read_csv(source, dtype={TICKER_COLUMN: str})
    except (OSError, ValueError) as err:  # pandas' and pyarrow's parse errors are ValueErrors
        raise UniverseUnavailable(f"Universe file {source} could not be read ({err}). {fix}") from None
    if TICKER_COLUMN not in universe.columns:
        raise UniverseUnavailable(
            f"Universe file {source} has no {TICKER_COLUMN} column (columns: "
            f"{', '.join(map(str, universe.columns[:10]))}). {fix}"
        )
    universe = universe[universe[TICKER_COLUMN].notna()].reset_index(drop=True)
    if universe.empty:
        raise UniverseUnavailable(f"Universe file {source} lists no tickers. {fix}")
    universe[TICKER_COLUMN] = universe[TICKER_COLUMN].astype(str)
    return universe
