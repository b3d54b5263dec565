"""The Numerai Signals universe a week is mapped and validated against: from a file, or Numerai's live file.

Numerai's live file comes from where its other files come from (`NumeraiFiles`: NUMERAI_DATA_DIR's copy, else
the pinned NUMERAI_DATASET_VERSION, else the newest Signals version on Numerai that has live.parquet).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from signals_assets.numerai.datasets import LIVE as LIVE_FILE  # Numerai's name, in every Signals dataset version
from signals_assets.numerai.datasets import LIVE_MAX_AGE_S, NumeraiFiles
from signals_assets.numerai.file_checks import NumeraiDataError
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI
from signals_assets.signal.scaling import TICKER_COLUMN

logger = logging.getLogger(__name__)

UNIVERSE_ENV = "NUMERAI_UNIVERSE"
UNIVERSE_SUFFIXES = (".parquet", ".csv")


class UniverseUnavailable(Exception):
    """The universe file is missing, unreadable, or has no numerai_ticker column."""


def load_universe(path: str | os.PathLike) -> pd.DataFrame:
    """Read a live universe (parquet or csv) that has a `numerai_ticker` column; tickers come back as str."""
    source = Path(path)
    fix = (
        f"Set {UNIVERSE_ENV} to a local parquet or csv with a {TICKER_COLUMN} column "
        f"(e.g. Numerai's {LIVE_FILE}), or to 'live' to download Numerai's live universe."
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


def live_universe(
    api: SignalsAPI, dataset_version: str, cache_dir: Path, log: logging.Logger | None = None
) -> tuple[pd.DataFrame, str]:
    """Numerai's live universe (`<dataset_version>/live.parquet`), downloaded at most once a day into
    `cache_dir`, and where it came from. If the download fails, a cached copy (however old) is used with
    a warning; with none, NumeraiError saying how to run without Numerai."""
    log = log or logger
    filename = f"{dataset_version}/{LIVE_FILE}"
    cache = cache_dir / dataset_version / LIVE_FILE
    if cache.exists() and time.time() - cache.stat().st_mtime < LIVE_MAX_AGE_S:
        try:
            return load_universe(cache), f"Numerai's {filename} (cached at {cache})"
        except UniverseUnavailable as err:
            log.warning(f"The cached live universe is unreadable, downloading it again: {err}")
    origin = f"Numerai's {filename} (cached at {cache})"

    def check(downloaded: Path) -> None:  # the message names what Numerai served, not the temp file
        try:
            load_universe(downloaded)
        except UniverseUnavailable as err:
            raise UniverseUnavailable(
                str(err).replace(f"Universe file {downloaded}", f"The {filename} that Numerai served")
            ) from None

    try:
        api.download(filename, cache, check=check)
    except (NumeraiError, UniverseUnavailable) as err:
        failed = "could not be reached" if isinstance(err, NumeraiError) else "served an unusable file"
        no_cache = (
            f"Numerai {failed} for the live universe and there is no cached copy: {err} "
            f"To run without Numerai, set {UNIVERSE_ENV} to a local parquet or csv with a {TICKER_COLUMN} column."
        )
        if not cache.exists():
            raise NumeraiError(no_cache) from None
        try:
            universe = load_universe(cache)
        except UniverseUnavailable:  # the cached copy is unreadable too: as good as none
            raise NumeraiError(no_cache) from None
        cached_at = datetime.fromtimestamp(cache.stat().st_mtime, timezone.utc).isoformat(timespec="minutes")
        log.warning(f"Could not refresh the live universe ({err}); using the copy cached at {cached_at}.")
        return universe, origin
    return load_universe(cache), origin


def newest_cached_version(cache_dir: Path) -> str | None:
    """The newest 'signals/vX.Y' whose live file is in the cache (numeric order: v3.10 > v3.9), or None."""
    cached = []
    for path in cache_dir.glob(f"signals/v*/{LIVE_FILE}"):
        major, _, minor = path.parent.name.removeprefix("v").partition(".")
        if major.isdigit() and minor.isdigit():
            cached.append(((int(major), int(minor)), f"signals/{path.parent.name}"))
    return max(cached)[1] if cached else None


def numerai_live_universe(files: NumeraiFiles, log: logging.Logger | None = None) -> tuple[pd.DataFrame, str]:
    """Numerai's live universe from the same place as its other files, and where it came from.

    With NUMERAI_DATA_DIR: that folder's live.parquet. Else the pinned NUMERAI_DATASET_VERSION's, or the
    newest Signals version on Numerai that has one (asked at most daily), downloaded at most daily into the
    cache by `live_universe`. When Numerai cannot say which versions it has (and has no saved listing), the
    newest cached copy is used with a warning; with none, NumeraiError saying how to run without Numerai.
    """
    log = log or logger
    if files.data_dir is not None:
        path = files.path(LIVE_FILE)  # NumeraiDataError naming NUMERAI_DATA_DIR when it lacks the file
        try:
            return load_universe(path), f"{path} (NUMERAI_DATA_DIR)"
        except UniverseUnavailable as err:  # the file came from NUMERAI_DATA_DIR: that is what to fix
            label, fix = files.described(LIVE_FILE)
            problem = str(err).replace(f"Universe file {path} ", "").split(f" Set {UNIVERSE_ENV}")[0]
            raise NumeraiDataError(
                f"{label} is not a usable live universe: it {problem} {fix} Or set {UNIVERSE_ENV} to a local "
                f"parquet or csv with a {TICKER_COLUMN} column."
            ) from None
    assert files.api is not None and files.cache_dir is not None
    try:
        version = files.version_of(LIVE_FILE)
    except NumeraiError as err:  # the listing failed and none is saved
        version = newest_cached_version(files.cache_dir)
        if version is None:
            raise NumeraiError(
                f"Numerai could not be reached for the live universe and there is no cached copy: {err} "
                f"To run without Numerai, set {UNIVERSE_ENV} to a local parquet or csv with a {TICKER_COLUMN} column."
            ) from None
        log.warning(f"Could not ask Numerai which dataset versions it has ({err}); using the cached {version}.")
    try:
        return live_universe(files.api, version, files.cache_dir, log)
    except NumeraiError as err:
        if not files.pinned:
            raise
        raise NumeraiError(
            f"{err} NUMERAI_DATASET_VERSION pins {version}: check that it has {LIVE_FILE}, or unset it to use "
            "the newest version that has one."
        ) from None
