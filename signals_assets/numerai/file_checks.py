"""What can be wrong with one of Numerai's files, said so that a user can fix it.

Numerai's files are big and come from far away: a download cut short, a copy replaced by hand in
NUMERAI_DATA_DIR, a file rewritten by another tool. pyarrow and pandas would raise what they find bare
(ArrowInvalid, an OSError from a page header, a ValueError about duplicate tickers far downstream); each
check here raises one NumeraiDataError instead, naming the file, what is wrong with it and how to get a
good copy. The saved dataset listing is written and read here too: whole or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from signals_assets.signal.scaling import TICKER_COLUMN as TICKER

# What pyarrow raises for a file it cannot read: ArrowInvalid (a ValueError) for a missing footer, OSError
# for a damaged page.
READ_ERRORS = (pa.ArrowException, OSError)


class NumeraiDataError(Exception):
    """A Numerai file, version, date or column is not there or not usable; the message names the file, what
    is wrong and which setting or file to change."""


def local_fix(name: str, data_dir: Path) -> str:
    return (
        f"Replace it with Numerai's own {name} (NUMERAI_DATA_DIR={data_dir}), or unset NUMERAI_DATA_DIR to "
        "download it from Numerai."
    )


def cached_fix(path: Path, version: str | None) -> str:
    return (
        f"Delete {path} so that the next run downloads it again from Numerai ({version}); if Numerai's copy has "
        "the same problem, set NUMERAI_DATASET_VERSION to another Signals version, or NUMERAI_DATA_DIR to a "
        "folder holding a good copy."
    )


def read_problem(path: Path, error: BaseException) -> str:
    """pyarrow's error as a reader would say it: what the file looks like, then pyarrow's words."""
    size = path.stat().st_size if path.is_file() else None
    text = " ".join(str(error).split()).rstrip(".")
    if size == 0:
        return "it is empty (0 bytes)"
    if "magic bytes" in text:
        return f"it has no parquet footer ({size} bytes): the file was cut short, or it is not parquet at all"
    # Drop pyarrow's preamble ("Error creating dataset. Could not read schema from '<path>' ...: ").
    return f"pyarrow: {re.sub(r'^.*?Could not open Parquet input source [^:]*: ', '', text)}"


def unreadable(label: str, path: Path, error: BaseException, fix: str) -> NumeraiDataError:
    return NumeraiDataError(f"{label} is not a readable parquet file: {read_problem(path, error)}. {fix}")


def parquet_download_check(name: str, version: str | None) -> Callable[[Path], None]:
    """A check for SignalsAPI.download: the file Numerai served opens as parquet (its footer), else nothing
    is cached and NumeraiDataError says what came instead."""

    def check(downloaded: Path) -> None:
        try:
            pq.ParquetFile(downloaded).close()
        except READ_ERRORS as err:
            raise NumeraiDataError(
                f"The {name} that Numerai served for {version} is not a parquet file ({read_problem(downloaded, err)}); "
                "nothing was cached. Run again later; if it persists, set NUMERAI_DATASET_VERSION to another Signals "
                f"version, or NUMERAI_DATA_DIR to a folder holding Numerai's {name}."
            ) from None

    return check


def one_row_per_ticker(frame: pd.DataFrame, label: str, day: object, fix: str) -> None:
    """Numerai's files hold one row per (date, numerai_ticker): a duplicate would score a ticker twice."""
    tickers = frame[TICKER]
    duplicated = tickers.notna() & tickers.duplicated(keep=False)
    if duplicated.any():
        examples = ", ".join(repr(str(t)) for t in tickers[duplicated].drop_duplicates().head(3))
        raise NumeraiDataError(
            f"{int(duplicated.sum())} duplicated (date, {TICKER}) rows in {label}, e.g. {examples} on {day}: "
            f"Numerai's files hold one row per ticker and date. {fix}"
        )


def upper_case_tickers(frame: pd.DataFrame, label: str, day: object, fix: str) -> None:
    """Numerai writes its tickers upper-case ('AAPL US'); a file whose tickers are mostly not would match no
    universe ticker or signal, and its date would wait for targets that never come."""
    tickers = frame[TICKER].dropna().astype(str)
    lower = tickers[tickers != tickers.str.upper()]
    if len(lower) > len(tickers) / 2:
        raise NumeraiDataError(
            f"{len(lower)} of the {len(tickers)} {TICKER} values in {label} on {day} are not upper-case (e.g. "
            f"{lower.iloc[0]!r}); Numerai's are ('AAPL US'), so none would match the universe or the signal. {fix}"
        )


def finite_targets(values: pd.Series, label: str, column: str, day: object, fix: str) -> None:
    """Numerai's targets are between 0 and 1, NaN while unresolved; an infinite one is a damaged file."""
    infinite = np.isinf(pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64"))
    if infinite.any():
        examples = ", ".join(repr(str(t)) for t in values.index[infinite][:3])
        raise NumeraiDataError(
            f"{int(infinite.sum())} of the {len(values)} values of {column} in {label} on {day} are infinite (e.g. "
            f"{examples}); Numerai's targets are between 0 and 1, or NaN while unresolved. {fix}"
        )


def read_listing(saved: Path, log: logging.Logger) -> list[str] | None:
    """The saved dataset listing; None when there is none, or it is unreadable (then it is asked again)."""
    if not saved.is_file():
        return None
    try:
        listing = json.loads(saved.read_text())
    except (OSError, ValueError) as err:
        log.warning(f"The saved Numerai dataset listing {saved} is unreadable ({err}); asking Numerai again.")
        return None
    if not isinstance(listing, list) or not all(isinstance(name, str) for name in listing):
        log.warning(f"The saved Numerai dataset listing {saved} is not a list of file names; asking Numerai again.")
        return None
    return listing


def save_listing(saved: Path, listing: list[str]) -> None:
    """Written to a temp file and moved into place: a run stopped mid-write leaves the old listing, not half."""
    saved.parent.mkdir(parents=True, exist_ok=True)
    temp = saved.with_name(f".{saved.name}.{uuid.uuid4().hex}")
    try:
        temp.write_text(json.dumps(listing))
        os.replace(temp, saved)
    finally:
        temp.unlink(missing_ok=True)
