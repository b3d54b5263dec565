"""Numerai Signals as a resource: where the universe comes from, the keys, and the upload."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from signals_assets.defs.environment import choice_from_env, from_env, number_from_env, universe_default
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.evaluation.churn_gate import GATE_MODES, GateMode
from signals_assets.news.sample import sample_universe
from signals_assets.numerai.signals_api import SignalsAPI, UploadResult
from signals_assets.numerai.universe import load_universe, numerai_live_universe
from signals_assets.numerai.upload_policy import reason_not_to_upload
from signals_assets.weeks import Week

LIVE, SAMPLE = "live", "sample"


class NumeraiSignals(dg.ConfigurableResource):
    """Numerai Signals: the universe, and the upload of the latest complete week's submission.

    An upload happens only for the latest complete week, with `upload` on (the default), both API keys and
    a model name set; anything else builds and validates the submission without touching Numerai.
    """

    public_id: str | None = Field(
        default=from_env("NUMERAI_PUBLIC_ID"),
        repr=False,
        description="Numerai API public id (env NUMERAI_PUBLIC_ID). Needed to upload; never logged.",
    )
    secret_key: str | None = Field(
        default=from_env("NUMERAI_SECRET_KEY"),
        repr=False,
        description="Numerai API secret key (env NUMERAI_SECRET_KEY), with the upload_submission scope. "
        "Needed to upload; never logged.",
    )
    model_name: str | None = Field(
        default=from_env("NUMERAI_MODEL_NAME"),
        description="Name of the Signals model to submit as (env NUMERAI_MODEL_NAME).",
    )
    upload: bool = Field(
        default=True,
        description="Upload the latest complete week's submission when both keys and model_name are set. "
        "Set false for a dry run (build and validate only). Backfilled weeks never upload.",
    )
    universe: str = Field(
        default=universe_default(),
        description="The universe weeks are mapped and validated against (env NUMERAI_UNIVERSE): a local parquet "
        "or csv with a numerai_ticker column, 'live' (Numerai's live.parquet from where the numerai_data resource "
        "reads Numerai's files: NUMERAI_DATA_DIR, else the NUMERAI_DATASET_VERSION pinned or the newest version "
        "that has it, downloaded at most daily) or 'sample' (the packaged sample universe). Default: 'sample' "
        "without STOCKNEWS_API_KEY (it goes with the sample news), else 'live'.",
    )
    include_date_column: bool = Field(
        default=False,
        description="Add the optional date column (the week's Friday, YYYY-MM-DD) to the submission CSV.",
    )
    max_churn: float = Field(
        default=number_from_env("SIGNAL_MAX_CHURN", 0.2, 0.0, 2.0),
        ge=0,
        le=2,
        description="The churn gate's threshold (env SIGNAL_MAX_CHURN, default 0.2): before an upload, the mean "
        "neutral churn (plain churn where the live date has no neutralizer) of this week's submission against "
        "up to the last five weeks' submissions. Numerai keeps all of a positive payout up to churn 0.1 and "
        "about half at 0.2 (numerai-tools' neutral_churn_penalty).",
    )
    churn_gate: GateMode = Field(
        default=choice_from_env("SIGNAL_CHURN_GATE", "blend", GATE_MODES),
        description="What the churn gate does over max_churn (env SIGNAL_CHURN_GATE): 'blend' (the default) blends "
        "the week's ranking toward the last upload by the least weight that brings the churn within max_churn, so "
        "the week still uploads (a missed round costs the stake); 'block' stops the upload (the week's submission "
        "file is still written); 'warn' uploads the week's own signal with a warning.",
    )
    request_retries: int = Field(
        default=3,
        ge=1,
        description="Attempts per Numerai request (each GraphQL call, and the GET of a dataset file such as the "
        "live universe) while Numerai answers with a 5xx status.",
    )
    retry_delay_seconds: float = Field(
        default=5.0, ge=0, description="Wait before the first retry of a 5xx answer; doubles after each retry."
    )

    def api(self) -> SignalsAPI:
        return SignalsAPI(
            self.public_id,
            self.secret_key,
            request_retries=self.request_retries,
            retry_delay_seconds=self.retry_delay_seconds,
        )

    def load_universe(
        self, numerai_data: NumeraiData, cache_dir: Path, log: logging.Logger
    ) -> tuple[pd.DataFrame, str]:
        """The universe's tickers and a line saying where they came from. The live universe is Numerai's
        live.parquet from where `numerai_data` reads Numerai's files (its folder, pinned or newest version),
        downloaded into `cache_dir`."""
        if self.universe == SAMPLE:
            return sample_universe(), "the packaged sample universe (it goes with the sample news)"
        if self.universe == LIVE:
            return numerai_live_universe(numerai_data.files(cache_dir, self.api(), log), log)
        return load_universe(self.universe), f"{self.universe} (NUMERAI_UNIVERSE)"

    def reason_not_to_upload(self, week: Week) -> str | None:
        return reason_not_to_upload(
            week, upload=self.upload, keys_set=bool(self.public_id and self.secret_key), model_name=self.model_name
        )

    def upload_submission(self, csv_path: Path, log: logging.Logger) -> UploadResult:
        return self.api().upload(csv_path, self.model_name or "", log=log)
