"""The Numerai Signals universe a week is mapped and validated against: from a file, or Numerai's live file."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI
from signals_assets.signal.scaling import TICKER_COLUMN

logger = logging.getLogger(__name__)
LIVE_MAX_AGE_S = 24 * 3600  # download the live universe at most once a day

UNIVERSE_ENV = "NUMERAI_UNIVERSE"
UNIVERSE_SUFFIXES = (".parquet", ".csv")


class UniverseUnavailable(Exception):
    """The universe file is missing, unreadable, or has no numerai_ticker column."""


def load_universe(path: str | os.PathLike) -> pd.DataFrame:
    """Read a live universe (parquet or csv) that has a `numerai_ticker` column; tickers come back as str."""
    source = Path(path)
    fix = (
        f"Set {UNIVERSE_ENV} to a local parquet or csv with a {TICKER_COLUMN} column "
        f"(e.g. Numerai's signals/v2.1/live.parquet), or to 'live' to download Numerai's live universe."
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
    filename = f"{dataset_version}/live.parquet"
    cache = cache_dir / dataset_version / "live.parquet"
    if cache.exists() and time.time() - cache.stat().st_mtime < LIVE_MAX_AGE_S:
        try:
            return load_universe(cache), f"Numerai's {filename} (cached at {cache})"
        except UniverseUnavailable as err:
            log.warning(f"The cached live universe is unreadable, downloading it again: {err}")
    origin = f"Numerai's {filename} (cached at {cache})"
    try:
        api.download(filename, cache, check=load_universe)
    except (NumeraiError, UniverseUnavailable) as err:
        no_cache = (
            f"Numerai could not be reached for the live universe and there is no cached copy: {err} "
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
