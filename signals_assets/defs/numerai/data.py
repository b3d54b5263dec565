"""Numerai's Signals data as a resource: which dataset version, where the files are, which target."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
from pydantic import Field

from signals_assets.defs.environment import from_env, numerai_data_default
from signals_assets.numerai.datasets import NumeraiFiles
from signals_assets.numerai.signals_api import SignalsAPI


class NumeraiData(dg.ConfigurableResource):
    """Numerai's dataset files (validation, neutralizer, example predictions, live), read one date at a time.

    Each file comes from NUMERAI_DATA_DIR when set (Numerai's files under their own names), else from the
    pinned version (NUMERAI_DATASET_VERSION) or the newest Signals version on Numerai that has it,
    downloaded once into the warehouse's data directory.
    """

    dataset_version: str | None = Field(
        default=from_env("NUMERAI_DATASET_VERSION", None),
        description="Signals dataset version to read, e.g. signals/v3.0 (env NUMERAI_DATASET_VERSION). Unset: the "
        "newest version on Numerai that has the file (a NUMERAI_DATA_DIR folder named like signals/v3.0 gives its "
        "own).",
    )
    data_dir: str | None = Field(
        default=numerai_data_default(),
        description="A local folder holding Numerai's files under their own names (validation.parquet, "
        "validation_neutralizer.parquet, validation_example_preds.parquet, live.parquet, ...) (env "
        "NUMERAI_DATA_DIR). Unset: download them from Numerai into <data_dir>/numerai/<version>/; without "
        "STOCKNEWS_API_KEY, the packaged synthetic files of the sample weeks.",
    )
    target: str | None = Field(
        default=None,
        description="Target column to score against. Unset: the version's main payout target (target_chili_60 in "
        "v2.1, target_jupiter_60 in v3.0, target in v3.1 and any other version).",
    )

    def files(self, cache_dir: Path, api: SignalsAPI | None = None, log: logging.Logger | None = None) -> NumeraiFiles:
        """The files, downloaded into `cache_dir` (the warehouse's numerai cache) through `api` when needed."""
        if self.data_dir is None and api is None:
            api = SignalsAPI(None, None)  # dataset downloads are public
        return NumeraiFiles(
            data_dir=self.data_dir,
            cache_dir=cache_dir,
            api=api,
            version=self.dataset_version,
            target=self.target,
            log=log,
        )
