"""The packaged sample: five weeks of invented news, the provider's ticker list and a Numerai-style
universe (made deterministically by scripts/make_sample_data.py), served through the API emulator."""

from __future__ import annotations

import functools
import gzip
import io
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import pandas as pd

from signals_assets.news.emulator import NewsAPIEmulator

# The five complete weeks the packaged sample covers (a few articles fall just outside them).
SAMPLE_WEEK_KEYS = ("2026-10-10", "2026-10-17", "2026-10-24", "2026-10-31", "2026-11-07")

SAMPLE_DATA_PACKAGE = "signals_assets.news"
SAMPLE_DATA_DIR = "sample_data"
ARTICLES_FILE = "articles.json.gz"
TICKERS_FILE = "tickers.json"
UNIVERSE_FILE = "universe.csv"


def _read_bytes(name: str) -> bytes:
    return (resources.files(SAMPLE_DATA_PACKAGE) / SAMPLE_DATA_DIR / name).read_bytes()


@functools.lru_cache(maxsize=1)
def sample_articles() -> tuple[Mapping[str, Any], ...]:
    """The packaged sample news items, in the API's item shape."""
    return tuple(json.loads(gzip.decompress(_read_bytes(ARTICLES_FILE))))


@functools.lru_cache(maxsize=1)
def sample_tickers() -> tuple[Mapping[str, Any], ...]:
    """The packaged sample ticker list, in the shape of /account/tickersdbv2 items."""
    return tuple(json.loads(_read_bytes(TICKERS_FILE))["data"])


def sample_universe() -> pd.DataFrame:
    """The packaged sample Numerai universe: numerai_ticker and bloomberg_ticker ("XYZ US")."""
    return pd.read_csv(io.BytesIO(_read_bytes(UNIVERSE_FILE)), dtype="string", keep_default_na=False)


@functools.lru_cache(maxsize=1)
def sample_api() -> NewsAPIEmulator:
    """The emulated API over the packaged sample (built once per process)."""
    return NewsAPIEmulator(sample_articles(), sample_tickers())
