"""Numerai's API for Signals through numerapi: dataset downloads and the weekly upload, made loud.

numerapi 3.1.1 fails quietly: HTTP and connection errors are logged and turned into `{}` (the caller then
dies on `KeyError('data')`), and the status of the presigned PUT that carries the CSV is never checked, so
a refused upload still returns a submission id. This resource therefore runs the three upload steps itself:
the GraphQL calls through numerapi's `raw_query` (checked for an empty answer, with the logged cause
collected), the PUT through `requests` with its status checked. No upload is reported that did not happen,
and a failure after the PUT says the file is stored but not registered. Downloads ask for the file's URL
the same way and fetch it with numerapi's `download_file`, both with this API's retry settings.

The API keys never reach a log line, an exception or metadata: the fields are hidden from repr, every
message built from Numerai's answers is scrubbed of the keys and of presigned query strings, and while a
call runs numerapi's and urllib3's own loggers redact them (log_redaction), so an error that echoes the
Authorization header is not logged with it.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numerapi
import numerapi.base_api
import numerapi.utils
import requests

from signals_assets.numerai.log_redaction import redact
from signals_assets.numerai.numerapi_wire import (
    CREATE_SUBMISSION_MUTATION,
    DATASET_QUERY,
    MODELS_QUERY,
    SIGNALS_TOURNAMENT,
    UPLOAD_AUTH_QUERY,
    numerapi_call,
)

logger = logging.getLogger(__name__)

PUT_TIMEOUT_S = (10, 600)  # (connect, read), as numerapi uses for the presigned PUT
KEYS_HINT = (
    "Check NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY and that the API key has the upload_submission scope "
    "(numer.ai > Account > API keys)."
)


class NumeraiError(Exception):
    """Numerai could not be reached, refused a request, or did not take the upload; the message says which."""


class _Refused(Exception):
    """Numerai answered with GraphQL `errors` (the message, scrubbed)."""


class _Unreachable(Exception):
    """numerapi turned a failed request into no data (the cause it logged, scrubbed)."""


@dataclass(frozen=True)
class UploadResult:
    submission_id: str
    model_id: str
    model_name: str
    filename: str


def _not_registered(filename: str) -> str:
    return (
        f"{filename} was stored at Numerai but not registered as a submission, so it does not count; rerun "
        f"the upload (it uploads the file again and registers it)."
    )


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


class SignalsAPI:
    """numerapi's SignalsAPI with its quiet failures turned into NumeraiError and the keys kept out of
    every message. The keys are never shown (not in repr, logs or errors)."""

    def __init__(
        self,
        public_id: str | None,
        secret_key: str | None,
        *,
        request_retries: int = 3,
        retry_delay_seconds: float = 5.0,
    ):
        self._public_id = public_id
        self._secret_key = secret_key
        self.request_retries = request_retries
        self.retry_delay_seconds = retry_delay_seconds

    def __repr__(self) -> str:
        return f"SignalsAPI(keys {'set' if self.has_keys else 'not set'})"

    @property
    def has_keys(self) -> bool:
        return bool(self._public_id and self._secret_key)

    def _client(self) -> numerapi.SignalsAPI:
        return numerapi.SignalsAPI(public_id=self._public_id, secret_key=self._secret_key, show_progress_bars=False)

    def _scrub(self, text: str) -> str:
        """Remove the keys and presigned signatures from text that came from Numerai or requests."""
        return redact(text, (self._secret_key, self._public_id))

    def _call(self) -> AbstractContextManager[list[str]]:
        """Around every request: library loggers redact the keys; numerapi's logged errors are collected."""
        return numerapi_call((self._secret_key, self._public_id))

    def _query(self, api: numerapi.SignalsAPI, query: str, variables: dict | None, authorization: bool) -> dict:
        """One GraphQL call through numerapi with this API's retries: its `data`, or _Refused/_Unreachable."""
        with self._call() as logged:
            try:
                result = api.raw_query(
                    query,
                    variables,
                    authorization=authorization,
                    retries=self.request_retries,
                    delay=self.retry_delay_seconds,
                )
            except ValueError as err:  # numerapi raises Numerai's GraphQL `errors` as ValueError(message)
                raise _Refused(self._scrub(str(err)) or "no message") from None
        data = result.get("data") if isinstance(result, dict) else None
        if not data:
            raise _Unreachable(self._scrub("; ".join(logged)) or "no data in the response")
        return data

    def download(self, filename: str, dest: Path, check: Callable[[Path], object] | None = None) -> None:
        """Download one of Numerai's dataset files (e.g. 'signals/v2.1/live.parquet') onto `dest`: into a
        fresh temp file, checked by `check` when given, then moved onto `dest`.

        A fresh name matters: numerapi resumes into an existing `<dest>.temp` and skips a `<dest>` of the
        same size, either of which could keep a stale or corrupt file.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex}{dest.suffix}")
        url = numerapi.base_api.API_TOURNAMENT_URL
        try:
            variables = {"filename": filename, "round": None, "tournament": SIGNALS_TOURNAMENT}
            try:  # numerapi's download_dataset, minus its fixed retries (3, 5 s): public, so unauthorized
                file_url = self._query(self._client(), DATASET_QUERY, variables, authorization=False).get("dataset")
            except _Unreachable as err:
                raise NumeraiError(f"could not reach Numerai at {url}: {err}.") from None
            except _Refused as err:  # e.g. an unknown dataset file
                raise NumeraiError(
                    f"Numerai refused the download of {filename}: {err}. "
                    "Check the dataset version (numerai_data resource, dataset_version; env NUMERAI_DATASET_VERSION)."
                ) from None
            if not file_url:
                raise NumeraiError(f"Numerai gave no download URL for {filename}; check the dataset version.")
            self._fetch(file_url, temp, filename)
            if check is not None:
                check(temp)
            os.replace(temp, dest)
        finally:
            temp.unlink(missing_ok=True)
            Path(f"{temp}.temp").unlink(missing_ok=True)

    def _fetch(self, url: str, dest: Path, filename: str) -> None:
        """GET the file with numerapi's download_file, retrying a 5xx answer as GraphQL calls are retried."""
        delay = self.retry_delay_seconds
        for attempt in range(1, self.request_retries + 1):
            try:
                with self._call():
                    numerapi.utils.download_file(url, str(dest), show_progress_bars=False)
                return
            except requests.RequestException as err:
                status = err.response.status_code if err.response is not None else None
                if status is None or status < 500 or attempt == self.request_retries:
                    raise NumeraiError(
                        f"the download of {filename} from Numerai failed: {self._scrub(str(err))}."
                    ) from None
            time.sleep(delay)
            delay *= 2

    def _graphql(
        self, api: numerapi.SignalsAPI, query: str, variables: dict | None, action: str, stored: str | None = None
    ) -> dict:
        """One authorized GraphQL call, its failures as NumeraiError. `stored`: the file the PUT already
        stored at Numerai, which a failure then names as stored but not registered."""
        try:
            return self._query(api, query, variables, authorization=True)
        except _Refused as err:
            message = str(err)
            outcome = f" {_not_registered(stored)}" if stored else ""
            raise NumeraiError(f"Numerai refused {action}: {message}. {_refusal_hint(message)}{outcome}") from None
        except _Unreachable as err:
            outcome = (
                f"Check the network and Numerai's status. {_not_registered(stored)}"
                if stored
                else "Nothing was uploaded; check the network and Numerai's status, then rerun the upload."
            )
            url = numerapi.base_api.API_TOURNAMENT_URL
            raise NumeraiError(f"could not reach Numerai at {url} while {action}: {err}. {outcome}") from None

    def resolve_model_id(self, model_name: str, api: numerapi.SignalsAPI | None = None) -> str:
        """The id of `model_name` among the account's Signals models."""
        if not self.has_keys:
            raise NumeraiError("NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set: set both to look up the model.")
        data = self._graphql(api or self._client(), MODELS_QUERY, None, "listing the account's models")
        account_models = (data.get("account") or {}).get("models") or []
        models = {
            model["name"]: model["id"] for model in account_models if model.get("tournament") == SIGNALS_TOURNAMENT
        }
        if model_name not in models:
            available = ", ".join(sorted(models)) or "none (create one at numer.ai/signals)"
            raise NumeraiError(
                f"Model {model_name!r} is not a Signals model of this account; its Signals models: "
                f"{available}. Set NUMERAI_MODEL_NAME to one of them."
            )
        return models[model_name]

    def upload(self, csv_path: str | os.PathLike, model_name: str, log: logging.Logger | None = None) -> UploadResult:
        """Upload the CSV as `model_name`'s Signals submission; raise NumeraiError unless Numerai took it."""
        log = log or logger
        # Checked before anything else: without keys or a model name no request is made.
        if not self.has_keys:
            raise NumeraiError("Cannot upload: NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set: set both to upload.")
        if not model_name:
            raise NumeraiError("Cannot upload: NUMERAI_MODEL_NAME not set: set it to the Signals model to submit as.")
        path = Path(csv_path)
        if not path.is_file():
            raise NumeraiError(f"Cannot upload {path}: no such file. Materialize the week's submission first.")
        payload = path.read_bytes()

        api = self._client()
        model_id = self.resolve_model_id(model_name, api)
        auth = (
            self._graphql(
                api,
                UPLOAD_AUTH_QUERY,
                {"filename": path.name, "tournament": SIGNALS_TOURNAMENT, "modelId": model_id},
                f"authorizing the upload of {path.name}",
            ).get("submissionUploadSignalsAuth")
            or {}
        )
        if not auth.get("url") or not auth.get("filename"):
            raise NumeraiError(
                f"Numerai gave no upload URL for {path.name}; nothing was uploaded. {KEYS_HINT} Then rerun the upload."
            )
        self._put(auth["url"], payload, path.name)

        created = (
            self._graphql(
                api,
                CREATE_SUBMISSION_MUTATION,
                {
                    "filename": auth["filename"],
                    "modelId": model_id,
                    "triggerId": os.getenv("TRIGGER_ID"),  # set by Numerai Compute, as numerapi reads it
                    "dataDatestamp": None,
                },
                f"registering the submission {path.name}",
                stored=path.name,
            ).get("createSignalsSubmission")
            or {}
        )
        submission_id = created.get("id")
        if not submission_id:
            raise NumeraiError(f"Numerai returned no submission id. {_not_registered(path.name)}")
        log.info(f"Uploaded {path.name} as Signals model {model_name}: submission {submission_id}.")
        return UploadResult(
            submission_id=str(submission_id), model_id=model_id, model_name=model_name, filename=path.name
        )

    def _put(self, url: str, payload: bytes, filename: str) -> None:
        """PUT the CSV to the presigned URL and fail unless storage answers 2xx (numerapi never checks)."""
        where = _without_query(url)
        compute_id = os.getenv("NUMERAI_COMPUTE_ID")  # numerapi forwards it for Numerai Compute runs
        headers = {"x_compute_id": compute_id} if compute_id else {}
        try:
            with self._call():  # urllib3 logs the presigned URL at DEBUG
                response = requests.put(url, data=payload, headers=headers, timeout=PUT_TIMEOUT_S)
        except requests.RequestException as err:
            raise NumeraiError(
                f"could not reach Numerai's upload storage at {where}: {self._scrub(str(err))}. Nothing was "
                f"uploaded; check the network and rerun the upload."
            ) from None
        if not response.ok:
            status = self._scrub(f"HTTP {response.status_code} {response.reason or ''}".strip())
            detail = self._scrub(response.text.strip()[:300])
            raise NumeraiError(
                f"Numerai's upload storage refused {filename} at {where}: {status}{': ' + detail if detail else ''}. "
                f"Nothing was uploaded; the upload URL may have expired, rerun the upload."
            )
