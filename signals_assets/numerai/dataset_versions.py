"""Which Signals dataset version a file comes from: Numerai's listing, version names, the main target of each.

The version moves (signals/v2.1, v3.0, v3.1, ...) and Numerai retires old ones, so none is hard-wired: the
newest `signals/vX.Y` in `list_datasets()` that has the file, unless the user pins one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numerapi
import numerapi.base_api

from signals_assets.numerai.file_checks import NumeraiDataError
from signals_assets.numerai.numerapi_wire import SIGNALS_TOURNAMENT, numerapi_call
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI

# The main payout target of each version (Numerai's notebooks, numerai-cli); any other version: "target",
# the name Numerai gives the main target from v3.1 on.
DEFAULT_TARGETS = {"signals/v2.1": "target_chili_60", "signals/v3.0": "target_jupiter_60", "signals/v3.1": "target"}
FALLBACK_TARGET = "target"
LIST_DATASETS_QUERY = """
  query($round: Int $tournament: Int) {
    listDatasets(round: $round tournament: $tournament)
  }
"""
_VERSION = re.compile(r"^(?:signals/)?v?(\d+)\.(\d+)$")
_FILE = re.compile(r"^signals/v(\d+)\.(\d+)/(.+)$")


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
