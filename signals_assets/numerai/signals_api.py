"""Numerai Signals as a Dagster resource: the live universe (download + daily cache) and the weekly upload.

numerapi 3.1.1 fails quietly: HTTP and connection errors are logged and turned into `{}` (the caller then
dies on `KeyError('data')`), and the status of the presigned PUT that carries the CSV is never checked, so
a refused upload still returns a submission id. This resource therefore runs the three upload steps itself:
the GraphQL calls through numerapi's `raw_query` (checked for an empty answer, with the logged cause
collected), the PUT through `requests` with its status checked. No upload is reported that did not happen.

The API keys never reach a log line, an exception or metadata: numerapi logs request bodies but not headers,
the fields are hidden from repr, and every message built from Numerai's answers is scrubbed of the keys and
of presigned query strings.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import numerapi
import numerapi.base_api
import numerapi.utils
import pandas as pd
import requests
from dagster import ConfigurableResource
from pydantic import Field

from signals_assets.partitions import Week, latest_complete_week
from signals_assets.submission.submission import UNIVERSE_ENV, UniverseUnavailable, load_universe
from signals_assets.warehouse import data_dir

logger = logging.getLogger(__name__)

SIGNALS_TOURNAMENT = 11  # numerapi.SignalsAPI().tournament_id
UNIVERSE_MAX_AGE_S = 24 * 3600  # download the live universe at most once a day
PUT_TIMEOUT_S = (10, 600)  # (connect, read), as numerapi uses for the presigned PUT
KEYS_HINT = (
    "Check NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY and that the API key has the upload_submission scope "
    "(numer.ai > Account > API keys)."
)

# The GraphQL documents numerapi 3.1.1 sends for get_models and upload_predictions.
MODELS_QUERY = """
  query {
    account {
      models { id name tournament }
    }
  }
"""
UPLOAD_AUTH_QUERY = """
  query($filename: String! $tournament: Int! $modelId: String) {
    submissionUploadSignalsAuth(filename: $filename tournament: $tournament modelId: $modelId) {
      filename
      url
    }
  }
"""
CREATE_SUBMISSION_MUTATION = """
  mutation($filename: String! $modelId: String $triggerId: String $dataDatestamp: Int) {
    createSignalsSubmission(filename: $filename modelId: $modelId triggerId: $triggerId
                            source: "numerapi" dataDatestamp: $dataDatestamp) {
      id
      firstEffectiveDate
    }
  }
"""


class NumeraiError(Exception):
    """Numerai could not be reached, refused a request, or did not take the upload; the message says which."""


@dataclass(frozen=True)
class UploadResult:
    submission_id: str
    model_id: str
    model_name: str
    filename: str


class _CollectErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _numerapi_logged_errors() -> Iterator[list[str]]:
    """Collect what numerapi logs instead of raising (its HTTP/connection errors), to name the cause."""
    handler = _CollectErrors()
    source = logging.getLogger(numerapi.utils.__name__)
    source.addHandler(handler)
    try:
        yield handler.messages
    finally:
        source.removeHandler(handler)


def _without_query(url: str) -> str:
    """A presigned URL minus its query string (the signature is a credential)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _refusal_hint(message: str) -> str:
    lowered = message.lower()
    if any(word in lowered for word in ("auth", "scope", "permission", "forbidden", "token", "api key")):
        return KEYS_HINT
    if any(word in lowered for word in ("round", "window", "closed")):
        return (
            "Signals rounds run Tuesday to Saturday; the Saturday round is open from Saturday 18:00 UTC to "
            "Monday 14:30 UTC: rerun the upload while a round is open."
        )
    return "Fix what Numerai's message names and rerun the upload."


class NumeraiSignals(ConfigurableResource):
    """Numerai Signals: the live universe and the upload of the latest complete week's submission.

    An upload happens only for the latest complete week, with `upload` on (the default), both API keys and
    a model name set; anything else builds and validates the submission without touching Numerai's upload.
    """

    public_id: Optional[str] = Field(
        default=None,
        repr=False,
        description="Numerai API public id (env NUMERAI_PUBLIC_ID). Needed to upload; never logged.",
    )
    secret_key: Optional[str] = Field(
        default=None,
        repr=False,
        description="Numerai API secret key (env NUMERAI_SECRET_KEY), with the upload_submission scope. "
        "Needed to upload; never logged.",
    )
    model_name: Optional[str] = Field(
        default=None,
        description="Name of the Signals model to submit as (env NUMERAI_MODEL_NAME).",
    )
    upload: bool = Field(
        default=True,
        description="Upload the latest complete week's submission when both keys and model_name are set. "
        "Set false for a dry run (build and validate only). Backfilled weeks never upload.",
    )
    universe_path: Optional[str] = Field(
        default=None,
        description="Local parquet or csv with a numerai_ticker column to use as the live universe "
        "(env NUMERAI_UNIVERSE). Unset: download <dataset_version>/live.parquet from Numerai, at most daily.",
    )
    dataset_version: str = Field(
        default="signals/v2.1",
        description="Numerai Signals dataset version whose live.parquet is the live universe.",
    )
    include_date_column: bool = Field(
        default=False,
        description="Add the optional date column (the week's Friday, YYYY-MM-DD) to the submission CSV.",
    )
    request_retries: int = Field(
        default=3,
        description="Attempts per Numerai GraphQL request while Numerai answers with a 5xx status.",
    )
    retry_delay_seconds: float = Field(
        default=5.0,
        description="Wait before the first retry of a 5xx answer; doubles after each retry.",
    )

    # ----- universe -----

    def universe_cache_path(self) -> Path:
        return data_dir() / "numerai" / self.dataset_version / "live.parquet"

    def universe(self, log: Optional[logging.Logger] = None) -> pd.DataFrame:
        """The live universe: NUMERAI_UNIVERSE when set, else Numerai's live.parquet cached for a day.

        If the download fails, a cached copy (however old) is used with a warning; with none, NumeraiError.
        """
        log = log or logger
        if self.universe_path:
            universe = load_universe(self.universe_path)
            log.info(f"Live universe: {len(universe)} tickers from {self.universe_path} ({UNIVERSE_ENV}).")
            return universe

        cache = self.universe_cache_path()
        if cache.exists() and time.time() - cache.stat().st_mtime < UNIVERSE_MAX_AGE_S:
            try:
                return load_universe(cache)
            except UniverseUnavailable as err:
                log.warning(f"The cached live universe is unreadable, downloading it again: {err}")

        filename = f"{self.dataset_version}/live.parquet"
        try:
            self._download_universe(filename, cache)
        except (NumeraiError, UniverseUnavailable) as err:
            if not cache.exists():
                raise NumeraiError(
                    f"Numerai could not be reached for the live universe and there is no cached copy: {err} "
                    f"To run without Numerai, set {UNIVERSE_ENV} to a local parquet or csv with a "
                    f"numerai_ticker column."
                ) from None
            cached_at = datetime.fromtimestamp(cache.stat().st_mtime, timezone.utc).isoformat(timespec="minutes")
            log.warning(f"Could not refresh the live universe ({err}); using the copy cached at {cached_at}.")
        universe = load_universe(cache)
        log.info(f"Live universe: {len(universe)} tickers from Numerai's {filename} (cached at {cache}).")
        return universe

    def _download_universe(self, filename: str, cache: Path) -> None:
        """Download into a fresh temp file, check it, then move it onto the cache path.

        A fresh name matters: numerapi resumes into an existing `<dest>.temp` and skips a `<dest>` of the
        same size, either of which could keep a stale or corrupt file.
        """
        cache.parent.mkdir(parents=True, exist_ok=True)
        temp = cache.with_name(f".{cache.stem}.{uuid.uuid4().hex}.parquet")
        url = numerapi.base_api.API_TOURNAMENT_URL
        try:
            with _numerapi_logged_errors() as logged:
                try:
                    self._client().download_dataset(filename, str(temp))
                except (KeyError, TypeError):  # numerapi turned a failed request into `{}`
                    cause = "; ".join(logged) or "no data in the response"
                    raise NumeraiError(f"could not reach Numerai at {url}: {self._scrub(cause)}.") from None
                except ValueError as err:  # GraphQL `errors`, e.g. an unknown dataset file
                    raise NumeraiError(
                        f"Numerai refused the download of {filename}: {self._scrub(str(err))}. "
                        f"Check dataset_version ({self.dataset_version!r})."
                    ) from None
                except requests.RequestException as err:
                    raise NumeraiError(
                        f"the download of {filename} from Numerai failed: {self._scrub(str(err))}."
                    ) from None
            load_universe(temp)
            os.replace(temp, cache)
        finally:
            temp.unlink(missing_ok=True)
            Path(f"{temp}.temp").unlink(missing_ok=True)

    # ----- upload -----

    def _missing_upload_setting(self) -> Optional[str]:
        if not self.upload:
            return "upload is off (NumeraiSignals.upload = false): the submission is built and validated only"
        if not (self.public_id and self.secret_key):
            return "NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set: set both to upload"
        if not self.model_name:
            return "NUMERAI_MODEL_NAME not set: set it to the Signals model to submit as"
        return None

    def upload_reason_skipped(self, week: Week | str, now: Optional[datetime] = None) -> Optional[str]:
        """Why this week's submission will not be uploaded, or None when it should be.

        Pure settings check: it makes no request, so a backfilled week never talks to Numerai.
        """
        week = week if isinstance(week, Week) else Week.from_key(week)
        latest = latest_complete_week(now)
        if week.start < latest.start:
            return f"week {week.key} is not the latest complete week ({latest.key}): backfills never upload"
        if week.start > latest.start:
            return (
                f"week {week.key} has not closed yet (latest complete week: {latest.key}): only a closed week "
                f"uploads"
            )
        return self._missing_upload_setting()

    def _client(self) -> numerapi.SignalsAPI:
        return numerapi.SignalsAPI(
            public_id=self.public_id, secret_key=self.secret_key, show_progress_bars=False
        )

    def _scrub(self, text: str) -> str:
        """Remove the keys and presigned signatures from text that came from Numerai or requests."""
        for secret in (self.secret_key, self.public_id):
            if secret:
                text = text.replace(secret, "<redacted>")
        return re.sub(r"(https?://[^\s?'\"]+)\?[^\s'\")]*", r"\1?<redacted>", text)

    def _graphql(self, api: numerapi.SignalsAPI, query: str, variables: Optional[dict], action: str) -> dict:
        """One authorized GraphQL call through numerapi, with its quiet failures turned into NumeraiError."""
        url = numerapi.base_api.API_TOURNAMENT_URL
        with _numerapi_logged_errors() as logged:
            try:
                result = api.raw_query(
                    query,
                    variables,
                    authorization=True,
                    retries=self.request_retries,
                    delay=self.retry_delay_seconds,
                )
            except ValueError as err:  # numerapi raises Numerai's GraphQL `errors` as ValueError(message)
                message = self._scrub(str(err)) or "no message"
                raise NumeraiError(
                    f"Numerai refused {action}: {message}. {_refusal_hint(message)}"
                ) from None
        data = result.get("data") if isinstance(result, dict) else None
        if not data:
            cause = self._scrub("; ".join(logged)) or "no data in the response"
            raise NumeraiError(
                f"could not reach Numerai at {url} while {action}: {cause}. Nothing was uploaded; check the "
                f"network and Numerai's status, then rerun the upload."
            )
        return data

    def resolve_model_id(self, api: Optional[numerapi.SignalsAPI] = None) -> str:
        """The id of `model_name` among the account's Signals models."""
        if not (self.public_id and self.secret_key):
            raise NumeraiError("NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set: set both to look up the model.")
        if not self.model_name:
            raise NumeraiError("NUMERAI_MODEL_NAME not set: set it to the Signals model to submit as.")
        data = self._graphql(api or self._client(), MODELS_QUERY, None, "listing the account's models")
        account_models = (data.get("account") or {}).get("models") or []
        models = {
            model["name"]: model["id"]
            for model in account_models
            if model.get("tournament") == SIGNALS_TOURNAMENT
        }
        if self.model_name not in models:
            available = ", ".join(sorted(models)) or "none (create one at numer.ai/signals)"
            raise NumeraiError(
                f"Model {self.model_name!r} is not a Signals model of this account; its Signals models: "
                f"{available}. Set NUMERAI_MODEL_NAME to one of them."
            )
        return models[self.model_name]

    def upload_submission(self, csv_path: str | os.PathLike, log: Optional[logging.Logger] = None) -> UploadResult:
        """Upload the CSV as `model_name`'s Signals submission; raise NumeraiError unless Numerai took it."""
        log = log or logger
        missing = self._missing_upload_setting()
        if missing:
            raise NumeraiError(f"Cannot upload: {missing}.")
        path = Path(csv_path)
        if not path.is_file():
            raise NumeraiError(f"Cannot upload {path}: no such file. Materialize the week's submission first.")
        payload = path.read_bytes()

        api = self._client()
        model_id = self.resolve_model_id(api)
        auth = self._graphql(
            api,
            UPLOAD_AUTH_QUERY,
            {"filename": path.name, "tournament": SIGNALS_TOURNAMENT, "modelId": model_id},
            f"authorizing the upload of {path.name}",
        ).get("submissionUploadSignalsAuth") or {}
        if not auth.get("url") or not auth.get("filename"):
            raise NumeraiError(
                f"Numerai gave no upload URL for {path.name}; nothing was uploaded. {KEYS_HINT} Then rerun "
                f"the upload."
            )
        self._put(auth["url"], payload, path.name)

        created = self._graphql(
            api,
            CREATE_SUBMISSION_MUTATION,
            {
                "filename": auth["filename"],
                "modelId": model_id,
                "triggerId": os.getenv("TRIGGER_ID"),  # set by Numerai Compute, as numerapi reads it
                "dataDatestamp": None,
            },
            f"registering the submission {path.name}",
        ).get("createSignalsSubmission") or {}
        submission_id = created.get("id")
        if not submission_id:
            raise NumeraiError(
                f"Numerai stored {path.name} but registered no submission (no id returned); rerun the upload."
            )
        log.info(f"Uploaded {path.name} as Signals model {self.model_name}: submission {submission_id}.")
        return UploadResult(
            submission_id=str(submission_id), model_id=model_id, model_name=self.model_name, filename=path.name
        )

    def _put(self, url: str, payload: bytes, filename: str) -> None:
        """PUT the CSV to the presigned URL and fail unless storage answers 2xx (numerapi never checks)."""
        where = _without_query(url)
        compute_id = os.getenv("NUMERAI_COMPUTE_ID")  # numerapi forwards it for Numerai Compute runs
        headers = {"x_compute_id": compute_id} if compute_id else {}
        try:
            response = requests.put(url, data=payload, headers=headers, timeout=PUT_TIMEOUT_S)
        except requests.RequestException as err:
            raise NumeraiError(
                f"could not reach Numerai's upload storage at {where}: {self._scrub(str(err))}. Nothing was "
                f"uploaded; check the network and rerun the upload."
            ) from None
        if not response.ok:
            detail = self._scrub(response.text.strip()[:300])
            raise NumeraiError(
                f"Numerai's upload storage refused {filename} at {where}: HTTP {response.status_code} "
                f"{response.reason}{': ' + detail if detail else ''}. Nothing was uploaded; the upload URL may "
                f"have expired, rerun the upload."
            )
