"""Numerai's Signals dataset files, by the right version, read one date at a time.

The version moves (signals/v2.1, v3.0, v3.1, ...): unless one is pinned, each file comes from the newest
`signals/vX.Y` on the server that has it (numerapi's list_datasets; the listing is cached a day). Files
come from a local folder holding them under their own names (NUMERAI_DATA_DIR), or are downloaded once
into `<cache_dir>/<version>/<name>` (live.parquet is refreshed daily). Every read is one date with
predicate pushdown: only the row groups whose statistics can hold the date are read, so the 4 GB
neutralizer is never loaded whole; `last_read` says how many row groups a read touched. A file that cannot
be read or used (damaged, cut short, duplicate or lower-case tickers, infinite targets, a column missing)
raises NumeraiDataError naming the file and how to get a good copy (file_checks).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from signals_assets.numerai.dataset_versions import (
    DEFAULT_TARGETS as DEFAULT_TARGETS,  # part of this module's interface: the version's main targets
)
from signals_assets.numerai.dataset_versions import (
    default_target,
    list_datasets,
    newest_version,
    normalize_version,
    versions,
)
from signals_assets.numerai.file_checks import (
    READ_ERRORS,
    TICKER,
    NumeraiDataError,
    cached_fix,
    finite_targets,
    local_fix,
    one_row_per_ticker,
    parquet_download_check,
    read_listing,
    save_listing,
    unreadable,
    upper_case_tickers,
)
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI

logger = logging.getLogger(__name__)

VALIDATION, NEUTRALIZER = "validation.parquet", "validation_neutralizer.parquet"
EXAMPLE_PREDS, LIVE = "validation_example_preds.parquet", "live.parquet"
DATE = "date"
LIVE_MAX_AGE_S = 24 * 3600  # download the live universe at most once a day
MAX_AGE_S = {LIVE: LIVE_MAX_AGE_S}  # any other file is downloaded once per version
LISTING_MAX_AGE_S = 24 * 3600
LISTING_FILE = "list_datasets.json"
EXAMPLE_PREDICTION_COLUMNS = ("prediction", "signal")  # the v3 notebook's name, and the submission's
T = TypeVar("T")


@dataclass(frozen=True)
class ReadStats:
    name: str
    date: date
    row_groups_read: int
    row_groups_total: int
    rows: int


def _as_date(value: object) -> date:
    if isinstance(value, (int, str)) and re.fullmatch(r"\d{8}", str(value)):
        return datetime.strptime(str(value), "%Y%m%d").date()
    return pd.Timestamp(value).date()


class NumeraiFiles:
    """Numerai's files from `data_dir` (their own names) or downloaded through `api` into `cache_dir`."""

    def __init__(
        self,
        *,
        data_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        api: SignalsAPI | None = None,
        version: str | None = None,
        target: str | None = None,
        log: logging.Logger | None = None,
    ):
        if data_dir is None and (cache_dir is None or api is None):
            raise ValueError("NumeraiFiles needs data_dir, or cache_dir and api to download into it.")
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.api, self.target, self.log = api, target, log or logger
        self.pinned = normalize_version(version) if version else None
        folder = self.data_dir.resolve().name if self.data_dir is not None else ""
        if self.pinned is None and re.fullmatch(r"v\d+\.\d+", folder):  # e.g. .../signals/v3.0
            self.pinned = normalize_version(folder)
        self._listing: list[str] | None = None
        self._versions: dict[str, str] = {}  # file name -> the newest version with it
        self._dates: dict[str, list[date]] = {}
        self._opened: dict[str, tuple[ds.Dataset, list[ds.ParquetFileFragment]]] = {}
        self.last_read: ReadStats | None = None

    def _list(self) -> list[str]:
        """Numerai's file names, asked at most daily (saved in the cache), the saved ones when it fails. An
        unreadable saved listing counts as none."""
        if self._listing is None:
            assert self.cache_dir is not None and self.api is not None
            saved_path = self.cache_dir / LISTING_FILE
            saved = read_listing(saved_path, self.log)
            if saved is not None and time.time() - saved_path.stat().st_mtime < LISTING_MAX_AGE_S:
                self._listing = saved
                return saved
            try:
                self._listing = list_datasets(self.api)
            except NumeraiError as err:
                if saved is None:
                    raise
                self.log.warning(f"Could not list Numerai's datasets ({err}); using the listing saved at {saved_path}.")
                self._listing = saved
                return saved
            save_listing(saved_path, self._listing)
        return self._listing

    def version_of(self, name: str) -> str | None:
        """The version `name` comes from: the pinned one, else the newest on Numerai that has it (None: a
        local folder of unknown version)."""
        if self.pinned or self.data_dir is not None:
            return self.pinned
        if name not in self._versions:
            self._versions[name] = newest_version(self._list(), name)
            self.log.info(f"Numerai's {name}: the newest Signals dataset version with it is {self._versions[name]}.")
        return self._versions[name]

    def path(self, name: str) -> Path:
        """A local path to `name`: in data_dir, or in the cache (downloaded once; live.parquet daily)."""
        if self.data_dir is not None:
            path = self.data_dir / name
            if not path.is_file():
                present = ", ".join(sorted(p.name for p in self.data_dir.glob("*.parquet"))) or "no parquet file"
                raise NumeraiDataError(
                    f"NUMERAI_DATA_DIR={self.data_dir} has no {name} (it has: {present}). Put Numerai's {name} "
                    f"there, or unset NUMERAI_DATA_DIR to download it."
                )
            return path
        version = self.version_of(name)
        assert self.cache_dir is not None and self.api is not None and version is not None
        cache = self.cache_dir / version / name
        max_age = MAX_AGE_S.get(name)
        if cache.exists() and (max_age is None or time.time() - cache.stat().st_mtime < max_age):
            return cache
        try:
            self.api.download(f"{version}/{name}", cache, check=parquet_download_check(name, version))
        except (NumeraiError, NumeraiDataError) as err:
            if cache.exists():  # a stale live file beats none
                self.log.warning(f"Could not refresh {version}/{name} ({err}); using the cached {cache}.")
                return cache
            if isinstance(err, NumeraiDataError):  # Numerai has the file, but served something else
                raise
            try:
                has = versions(self._list()).get(version, [])
            except NumeraiError:
                has = [name]  # Numerai cannot say what it has: its first answer is the one to report
            if name in has:
                raise err from None
            raise NumeraiDataError(
                f"Numerai's {version} has no {name} (it has: {', '.join(has) or 'nothing'}). Set "
                f"NUMERAI_DATASET_VERSION to a version with {name}, or unset it to use the newest."
            ) from None
        return cache

    def described(self, name: str) -> tuple[str, str]:
        """How a message names `name` (where it is, where it came from), and how to get a good copy of it. Asks
        nothing and downloads nothing: call it once `path(name)` has answered."""
        if self.data_dir is not None:
            return f"{self.data_dir / name} (NUMERAI_DATA_DIR)", local_fix(name, self.data_dir)
        assert self.cache_dir is not None
        version = self.version_of(name)
        path = self.cache_dir / str(version) / name
        return f"Numerai's {version}/{name} (cached at {path})", cached_fix(path, version)

    def _open(self, name: str) -> tuple[ds.Dataset, list[ds.ParquetFileFragment]]:
        if name not in self._opened:  # the footer is read once per file, not once per date
            path = self.path(name)
            label, fix = self.described(name)
            try:
                dataset = ds.dataset(path, format="parquet")
                fragments = list(dataset.get_fragments())
            except READ_ERRORS as err:
                raise unreadable(label, path, err, fix) from None
            if DATE not in dataset.schema.names:
                raise NumeraiDataError(
                    f"{label} has no {DATE} column (columns: {', '.join(dataset.schema.names[:8])}): it is not one of "
                    f"Numerai's dataset files. {fix}"
                )
            if not sum(fragment.metadata.num_rows for fragment in fragments):  # the footer's count: no read
                raise NumeraiDataError(f"{label} has no rows. {fix}")
            self._opened[name] = (dataset, fragments)
        return self._opened[name]

    def _read(self, name: str, read: Callable[[], T]) -> T:
        """`read()` of `name`'s rows, with a damaged page raised as NumeraiDataError naming the file."""
        try:
            return read()
        except READ_ERRORS as err:
            label, fix = self.described(name)
            raise unreadable(label, Path(self._opened[name][0].files[0]), err, fix) from None

    def columns(self, name: str) -> list[str]:
        return self._open(name)[0].schema.names

    def dates(self, name: str = VALIDATION) -> list[date]:
        """The file's dates, sorted, read from its date column alone; a file without any is not usable."""
        if name not in self._dates:
            dataset = self._open(name)[0]
            column = self._read(name, lambda: dataset.to_table(columns=[DATE])).column(DATE).unique()
            self._dates[name] = sorted({_as_date(value) for value in column.to_pylist() if value is not None})
            if not self._dates[name]:
                label, fix = self.described(name)
                raise NumeraiDataError(f"{label} has no rows with a date (its {DATE} column is empty). {fix}")
        return self._dates[name]

    def has_date(self, day: date, name: str = VALIDATION) -> bool:
        return _as_date(day) in self.dates(name)

    def _value(self, dataset: ds.Dataset, day: date) -> object:
        """`day` as the file stores its dates: timestamp, date, int yyyymmdd or text (ISO, yyyymmdd...)."""
        kind = dataset.schema.field(DATE).type
        kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        if pa.types.is_timestamp(kind):  # midnight, in the column's time zone when it has one
            return pa.scalar(pd.Timestamp(day).tz_localize(kind.tz), type=kind)
        if pa.types.is_date(kind):
            return pa.scalar(day, type=kind)
        if pa.types.is_integer(kind):
            return int(day.strftime("%Y%m%d"))
        sample = next((str(v) for v in dataset.head(1, columns=[DATE]).column(DATE).to_pylist() if v), "")
        return day.strftime("%Y%m%d") if re.fullmatch(r"\d{8}", sample) else day.isoformat() + sample[10:]

    def read_date(self, name: str, day: date, columns: list[str] | None = None) -> pd.DataFrame:
        """The rows of one date: only the row groups whose statistics can hold it are read."""
        day = _as_date(day)
        dataset, fragments = self._open(name)
        missing = [column for column in columns or [] if column not in dataset.schema.names]
        if missing:
            label, fix = self.described(name)
            raise NumeraiDataError(
                f"{label} has no column {', '.join(missing)} (columns: {', '.join(dataset.schema.names[:12])}). {fix}"
            )

        def read() -> tuple[pa.Table, int]:
            where = ds.field(DATE) == self._value(dataset, day)
            groups = [group for fragment in fragments for group in fragment.split_by_row_group(where)]
            tables = [group.to_table(schema=dataset.schema, columns=columns, filter=where) for group in groups]
            return (pa.concat_tables(tables) if tables else dataset.schema.empty_table()), len(groups)

        table, groups_read = self._read(name, read)
        table = table.select(columns) if columns else table
        total = sum(fragment.metadata.num_row_groups for fragment in fragments)
        self.last_read = ReadStats(name, day, groups_read, total, table.num_rows)
        return table.to_pandas()

    def _by_ticker(self, name: str, day: date, columns: list[str]) -> pd.DataFrame:
        """`columns` of `name` on `day`, indexed by numerai_ticker: one row per ticker, tickers as Numerai
        writes them (NumeraiDataError naming the file otherwise)."""
        frame = self.read_date(name, day, [TICKER, *columns])
        label, fix = self.described(name)
        one_row_per_ticker(frame, label, _as_date(day), fix)
        upper_case_tickers(frame, label, _as_date(day), fix)
        return frame.set_index(TICKER)

    def target_column(self, target_col: str | None = None) -> str:
        """`target_col`, else the target setting, else the version's main target; it must be in validation.parquet."""
        column = target_col or self.target or default_target(self.version_of(VALIDATION))
        if column not in self.columns(VALIDATION):
            has = ", ".join(n for n in self.columns(VALIDATION) if n.startswith("target"))
            version = self.version_of(VALIDATION)
            source = f"{version}'s main target" if version else "the default target: the folder names no version"
            source = "the target setting" if (target_col or self.target) else source
            label, fix = self.described(VALIDATION)
            fix = "Set the target setting of the numerai_data resource to one of them." if has else fix
            raise NumeraiDataError(
                f"{label} has no column {column!r} ({source}); its target columns: "
                f"{has or 'none, so it cannot score a week'}. {fix}"
            )
        return column

    def targets(self, day: date, target_col: str | None = None) -> pd.Series:
        """The target of each ticker on `day`; tickers whose target is not resolved yet (NaN) dropped."""
        column = self.target_column(target_col)
        values = self._by_ticker(VALIDATION, day, [column])[column]
        label, fix = self.described(VALIDATION)
        finite_targets(values, label, column, _as_date(day), fix)
        return values.dropna()

    def neutralizer(self, day: date) -> pd.DataFrame:
        """The neutralizer_* matrix of `day`, indexed by numerai_ticker, all-NaN rows dropped."""
        columns = [n for n in self.columns(NEUTRALIZER) if n.startswith("neutralizer")]
        if not columns:
            label, fix = self.described(NEUTRALIZER)
            raise NumeraiDataError(
                f"{label} has no neutralizer_* column (columns: {', '.join(self.columns(NEUTRALIZER)[:8])}). {fix}"
            )
        return self._by_ticker(NEUTRALIZER, day, columns).dropna(how="all")

    def example_preds(self, day: date) -> pd.Series:
        """Numerai's example predictions on `day` (a proxy for the meta model), indexed by numerai_ticker: the
        prediction (or signal) column, else the file's only column besides the ticker and date ones."""
        names = self.columns(EXAMPLE_PREDS)
        others = [n for n in names if n not in (TICKER, DATE, "composite_figi", "bloomberg_ticker", "data_type")]
        column = next((n for n in EXAMPLE_PREDICTION_COLUMNS if n in names), others[0] if len(others) == 1 else None)
        if column is None:
            label, fix = self.described(EXAMPLE_PREDS)
            raise NumeraiDataError(
                f"{label} has no prediction column: neither {' nor '.join(EXAMPLE_PREDICTION_COLUMNS)}, and "
                f"{'no other column' if not others else 'several others: ' + ', '.join(others[:8])} besides "
                f"{TICKER} and {DATE}. {fix}"
            )
        return self._by_ticker(EXAMPLE_PREDS, day, [column])[column].dropna()

    def universe_on(self, day: date) -> pd.DataFrame | None:
        """The tickers on `day` in Numerai's historical data (validation.parquet); None when the date is not
        in it (then the live universe is the one to use)."""
        if not self.has_date(day):
            return None
        columns = [n for n in (TICKER, "bloomberg_ticker", "composite_figi") if n in self.columns(VALIDATION)]
        frame = self.read_date(VALIDATION, day, columns)
        label, fix = self.described(VALIDATION)
        upper_case_tickers(frame, label, _as_date(day), fix)  # a duplicate row names the same ticker: harmless here
        return frame.dropna(subset=[TICKER]).drop_duplicates(TICKER).reset_index(drop=True)
