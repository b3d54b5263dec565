"""Numerai's Signals dataset files, by the right version, read one date at a time.

The version moves (signals/v2.1, v3.0, v3.1, ...): unless one is pinned, each file comes from the newest
`signals/vX.Y` on the server that has it (numerapi's list_datasets; the listing is cached a day). Files
come from a local folder holding them under their own names (NUMERAI_DATA_DIR), or are downloaded once
into `<cache_dir>/<version>/<name>` (live.parquet is refreshed daily). Every read is one date with
predicate pushdown: only the row groups whose statistics can hold the date are read, so the 4 GB
neutralizer is never loaded whole; `last_read` says how many row groups a read touched.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numerapi
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from signals_assets.numerai.numerapi_wire import SIGNALS_TOURNAMENT, numerapi_call
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI
from signals_assets.numerai.universe import LIVE_MAX_AGE_S

logger = logging.getLogger(__name__)

VALIDATION, NEUTRALIZER = "validation.parquet", "validation_neutralizer.parquet"
EXAMPLE_PREDS, LIVE = "validation_example_preds.parquet", "live.parquet"
TICKER, DATE = "numerai_ticker", "date"
# The main payout target of each version (Numerai's notebooks, numerai-cli); any other version: "target",
# the name Numerai gives the main target from v3.1 on.
DEFAULT_TARGETS = {"signals/v2.1": "target_chili_60", "signals/v3.0": "target_jupiter_60", "signals/v3.1": "target"}
FALLBACK_TARGET = "target"
MAX_AGE_S = {LIVE: LIVE_MAX_AGE_S}  # any other file is downloaded once per version
LISTING_MAX_AGE_S = 24 * 3600
LIST_DATASETS_QUERY = """
  query($round: Int $tournament: Int) {
    listDatasets(round: $round tournament: $tournament)
  }
"""
_VERSION = re.compile(r"^(?:signals/)?v?(\d+)\.(\d+)$")
_FILE = re.compile(r"^signals/v(\d+)\.(\d+)/(.+)$")


class NumeraiDataError(Exception):
    """A Numerai file, version, date or column is not there; the message says what is and which setting to change."""


@dataclass(frozen=True)
class ReadStats:
    name: str
    date: date
    row_groups_read: int
    row_groups_total: int
    rows: int


def normalize_version(text: str) -> str:
    """'signals/v3.0', 'v3.0' or '3.0' -> 'signals/v3.0'."""
    match = _VERSION.match(str(text).strip())
    if not match:
        raise NumeraiDataError(
            f"{text!r} is not a Signals dataset version: set NUMERAI_DATASET_VERSION to signals/vX.Y."
        )
    return f"signals/v{int(match[1])}.{int(match[2])}"


def versions(filenames: Iterable[str]) -> dict[str, list[str]]:
    """Signals versions in a listing -> their file names, oldest version first (numeric: v3.10 > v3.9)."""
    found: dict[tuple[int, int], list[str]] = {}
    for filename in filenames:
        if match := _FILE.match(filename):
            found.setdefault((int(match[1]), int(match[2])), []).append(match[3])
    return {f"signals/v{major}.{minor}": sorted(names) for (major, minor), names in sorted(found.items())}


def newest_version(filenames: Iterable[str], needed_file: str) -> str:
    """The newest 'signals/vX.Y' in the listing that has `needed_file`."""
    listed = versions(filenames)
    having = [version for version, names in listed.items() if needed_file in names]
    if not having:
        raise NumeraiDataError(
            f"No Signals dataset version on Numerai has {needed_file}; versions listed: "
            f"{', '.join(listed) or 'none'}. Set NUMERAI_DATA_DIR to a folder holding it."
        )
    return having[-1]


def default_target(version: str | None) -> str:
    return DEFAULT_TARGETS.get(version or "", FALLBACK_TARGET)


def list_datasets(api: SignalsAPI) -> list[str]:
    """numerapi's list_datasets for Signals, with numerapi's quiet failures made NumeraiError."""
    client = numerapi.SignalsAPI(show_progress_bars=False)
    variables = {"round": None, "tournament": SIGNALS_TOURNAMENT}
    with numerapi_call(()) as logged:
        try:
            result = client.raw_query(
                LIST_DATASETS_QUERY, variables, retries=api.request_retries, delay=api.retry_delay_seconds
            )
        except ValueError as err:
            raise NumeraiError(f"Numerai refused to list its datasets: {err}.") from None
    listing = ((result or {}).get("data") or {}).get("listDatasets")
    if listing is None:
        cause = "; ".join(logged) or "no data in the response"
        raise NumeraiError(f"could not list Numerai's datasets at {numerapi.base_api.API_TOURNAMENT_URL}: {cause}.")
    return list(listing)


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
        """Numerai's file names, asked at most daily (saved in the cache), the saved ones when it fails."""
        if self._listing is None:
            assert self.cache_dir is not None and self.api is not None
            saved = self.cache_dir / "list_datasets.json"
            fresh = saved.exists() and time.time() - saved.stat().st_mtime < LISTING_MAX_AGE_S
            try:
                self._listing = json.loads(saved.read_text()) if fresh else list_datasets(self.api)
            except NumeraiError as err:
                if not saved.exists():
                    raise
                self.log.warning(f"Could not list Numerai's datasets ({err}); using the listing saved at {saved}.")
                self._listing = json.loads(saved.read_text())
                return self._listing
            if not fresh:
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(self._listing))
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
            self.api.download(f"{version}/{name}", cache, check=pq.ParquetFile)
        except NumeraiError as err:
            if cache.exists():  # a stale live file beats none
                self.log.warning(f"Could not refresh {version}/{name} ({err}); using the cached {cache}.")
                return cache
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

    def _open(self, name: str) -> tuple[ds.Dataset, list[ds.ParquetFileFragment]]:
        if name not in self._opened:  # the footer is read once per file, not once per date
            dataset = ds.dataset(self.path(name), format="parquet")
            if DATE not in dataset.schema.names:
                raise NumeraiDataError(f"{self.path(name)} has no {DATE} column; is it one of Numerai's files?")
            self._opened[name] = (dataset, list(dataset.get_fragments()))
        return self._opened[name]

    def columns(self, name: str) -> list[str]:
        return self._open(name)[0].schema.names

    def dates(self, name: str = VALIDATION) -> list[date]:
        """The file's dates, sorted, read from its date column alone."""
        if name not in self._dates:
            column = self._open(name)[0].to_table(columns=[DATE]).column(DATE).unique()
            self._dates[name] = sorted({_as_date(value) for value in column.to_pylist() if value is not None})
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
            raise NumeraiDataError(f"{name} has no column {', '.join(missing)}.")
        where = ds.field(DATE) == self._value(dataset, day)
        groups = [group for fragment in fragments for group in fragment.split_by_row_group(where)]
        tables = [group.to_table(schema=dataset.schema, columns=columns, filter=where) for group in groups]
        table = pa.concat_tables(tables) if tables else dataset.schema.empty_table()
        table = table.select(columns) if columns else table
        total = sum(fragment.metadata.num_row_groups for fragment in fragments)
        self.last_read = ReadStats(name, day, len(groups), total, table.num_rows)
        return table.to_pandas()

    def target_column(self, target_col: str | None = None) -> str:
        """`target_col`, else the target setting, else the version's main target; it must be in validation.parquet."""
        column = target_col or self.target or default_target(self.version_of(VALIDATION))
        if column not in self.columns(VALIDATION):
            has = ", ".join(n for n in self.columns(VALIDATION) if n.startswith("target")) or "none"
            source = "the target setting" if (target_col or self.target) else "the version's main target"
            raise NumeraiDataError(
                f"{VALIDATION} ({self.version_of(VALIDATION) or self.data_dir}) has no column {column!r} "
                f"({source}); its target columns: {has}. Set the target setting of the numerai_data resource "
                f"to one of them."
            )
        return column

    def targets(self, day: date, target_col: str | None = None) -> pd.Series:
        """The target of each ticker on `day`; tickers whose target is not resolved yet (NaN) dropped."""
        column = self.target_column(target_col)
        return self.read_date(VALIDATION, day, [TICKER, column]).set_index(TICKER)[column].dropna()

    def neutralizer(self, day: date) -> pd.DataFrame:
        """The neutralizer_* matrix of `day`, indexed by numerai_ticker, all-NaN rows dropped."""
        columns = [n for n in self.columns(NEUTRALIZER) if n.startswith("neutralizer")]
        return self.read_date(NEUTRALIZER, day, [TICKER, *columns]).set_index(TICKER).dropna(how="all")

    def example_preds(self, day: date) -> pd.Series:
        """Numerai's example predictions on `day` (a proxy for the meta model), indexed by numerai_ticker."""
        names = self.columns(EXAMPLE_PREDS)
        column = next((n for n in ("prediction", "signal") if n in names), None)
        column = column or next(n for n in names if n not in (TICKER, DATE, "composite_figi", "data_type"))
        return self.read_date(EXAMPLE_PREDS, day, [TICKER, column]).set_index(TICKER)[column].dropna()

    def universe_on(self, day: date) -> pd.DataFrame | None:
        """The tickers on `day` in Numerai's historical data (validation.parquet); None when the date is not
        in it (then the live universe is the one to use)."""
        if not self.has_date(day):
            return None
        columns = [n for n in (TICKER, "bloomberg_ticker", "composite_figi") if n in self.columns(VALIDATION)]
        frame = self.read_date(VALIDATION, day, columns)
        return frame.dropna(subset=[TICKER]).drop_duplicates(TICKER).reset_index(drop=True)
