"""Numerai's diagnostics through numerapi 3.1.1, made as loud as the weekly upload (signals_api).

numerapi's `upload_diagnostics` has the upload's quiet failures: it PUTs the file to the presigned URL without
looking at the answer, so a refused file still gets a diagnostics id, and an HTTP error turns into `{}` (then a
KeyError). `diagnostics` dies the same way. So the three steps of `upload_diagnostics` (diagnosticsUploadAuth, the
PUT, createDiagnostics) and the `diagnostics` query run here through the SignalsAPI's own machinery: its GraphQL
call (`_query`: its retries, the library loggers redacting the keys, numerapi's logged cause collected and
scrubbed), its checked PUT (`_put`), its model lookup. The documents are numerapi's; the diagnostics query asks
for the subset of numerapi's fields the project reads.

Polling is bounded: `wait_for_diagnostics` asks until Numerai says done or failed, and gives up after `max_wait_s`
with the diagnostics id (the run goes on at Numerai, and its results show on numer.ai).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numerapi
import numerapi.base_api

from signals_assets.numerai.diagnostics import DONE, FAILED, PER_ERA_FIELDS, SUMMARY_FIELDS, status_of
from signals_assets.numerai.numerapi_wire import (
    CREATE_DIAGNOSTICS_MUTATION,
    DIAGNOSTICS_UPLOAD_AUTH_QUERY,
    SIGNALS_TOURNAMENT,
)
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI, _Refused, _Unreachable

logger = logging.getLogger(__name__)

DIAGNOSTICS_QUERY = f"""
  query($id: String $modelId: String!) {{
    diagnostics(id: $id modelId: $modelId) {{
      status
      message
      updatedAt
      {" ".join(SUMMARY_FIELDS)}
      perEraDiagnostics {{
        era
        {" ".join(PER_ERA_FIELDS)}
      }}
    }}
  }}
"""
RERUN = "materialize numerai_diagnostics again"
KEYS_HINT = (
    "Check NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY and that the API key may upload submissions and read their "
    "results (numer.ai > Account > API keys)."
)


class DiagnosticsFailed(NumeraiError):
    """Numerai ran the diagnostics and answered `failed`; the message is Numerai's."""


class DiagnosticsTimeout(NumeraiError):
    """Numerai had not finished the diagnostics within the wait; the message names the diagnostics id."""


@dataclass(frozen=True)
class DiagnosticsUpload:
    diagnostics_id: str
    model_id: str
    model_name: str
    filename: str


def _request(
    api: SignalsAPI, client: numerapi.SignalsAPI, query: str, variables: dict, action: str, stored: str | None = None
) -> dict:
    """One authorized GraphQL call, its failures as NumeraiError naming `action` and what to do. `stored`: the
    file the PUT already stored at Numerai."""
    after = f"{stored} was stored at Numerai but no diagnostics run was created; {RERUN} (it sends the file again)."
    try:
        return api._query(client, query, variables, authorization=True)
    except _Refused as err:
        lowered = str(err).lower()
        hint = KEYS_HINT if any(word in lowered for word in ("auth", "scope", "permission", "api key")) else ""
        outcome = after if stored else f"Fix what Numerai's message names, then {RERUN}."
        raise NumeraiError(f"Numerai refused {action}: {err}. {hint + ' ' if hint else ''}{outcome}") from None
    except _Unreachable as err:
        url = numerapi.base_api.API_TOURNAMENT_URL
        outcome = after if stored else f"Check the network and Numerai's status, then {RERUN}."
        raise NumeraiError(f"could not reach Numerai at {url} while {action}: {err}. {outcome}") from None


def upload_diagnostics(
    api: SignalsAPI, csv_path: str | Path, model_name: str, log: logging.Logger | None = None
) -> DiagnosticsUpload:
    """Send the CSV for diagnostics as `model_name`: numerapi's upload_diagnostics, each step checked."""
    log = log or logger
    if not api.has_keys:  # checked first: without keys or a model no request is made
        raise NumeraiError("NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set: set both to run Numerai's diagnostics.")
    if not model_name:
        raise NumeraiError("NUMERAI_MODEL_NAME not set: set it to the Signals model the diagnostics run as.")
    path = Path(csv_path)
    payload = path.read_bytes()
    client = api._client()
    model_id = api.resolve_model_id(model_name, client)
    variables = {"filename": path.name, "tournament": SIGNALS_TOURNAMENT, "modelId": model_id}
    auth = _request(
        api, client, DIAGNOSTICS_UPLOAD_AUTH_QUERY, variables, f"authorizing the diagnostics upload of {path.name}"
    ).get("diagnosticsUploadAuth")
    if not isinstance(auth, dict) or not auth.get("url") or not auth.get("filename"):
        raise NumeraiError(
            f"Numerai gave no upload URL for the diagnostics file {path.name}. {KEYS_HINT} Then {RERUN}."
        )
    try:
        api._put(auth["url"], payload, path.name)
    except NumeraiError as err:
        raise NumeraiError(f"The diagnostics file was not sent ({RERUN} to send it again): {err}") from None

    variables = {"filename": auth["filename"], "tournament": SIGNALS_TOURNAMENT, "modelId": model_id}
    created = _request(
        api, client, CREATE_DIAGNOSTICS_MUTATION, variables, f"creating the diagnostics of {path.name}", path.name
    ).get("createDiagnostics")
    diagnostics_id = created.get("id") if isinstance(created, dict) else None
    if not diagnostics_id:
        raise NumeraiError(
            f"Numerai returned no diagnostics id. {path.name} was stored at Numerai but no diagnostics run was "
            f"created; {RERUN}."
        )
    log.info(f"Sent {path.name} for Numerai's diagnostics as Signals model {model_name}: diagnostics {diagnostics_id}.")
    return DiagnosticsUpload(str(diagnostics_id), model_id, model_name, path.name)


def diagnostics_answer(api: SignalsAPI, upload: DiagnosticsUpload, client: numerapi.SignalsAPI | None = None) -> dict:
    """Numerai's answer about the diagnostics run now (its status, summary and per-era figures)."""
    variables = {"id": upload.diagnostics_id, "modelId": upload.model_id}
    action = f"reading diagnostics {upload.diagnostics_id}"
    answer = _request(api, client or api._client(), DIAGNOSTICS_QUERY, variables, action).get("diagnostics")
    if not isinstance(answer, dict):
        raise NumeraiError(
            f"Numerai has no diagnostics {upload.diagnostics_id} for model {upload.model_name}; {RERUN} to send "
            "the file again."
        )
    return answer


def wait_for_diagnostics(
    api: SignalsAPI,
    upload: DiagnosticsUpload,
    *,
    max_wait_s: float,
    poll_interval_s: float,
    log: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Numerai's answer once the run is done: asked every `poll_interval_s` for at most `max_wait_s`.
    DiagnosticsFailed with Numerai's message when it failed, DiagnosticsTimeout when still running."""
    log = log or logger
    client = api._client()
    deadline = clock() + max_wait_s
    polls = 0
    while True:
        answer = diagnostics_answer(api, upload, client)
        polls += 1
        status = status_of(answer)
        if status == DONE:
            return answer
        if status in FAILED:
            message = api._scrub(str(answer.get("message") or "no message"))
            raise DiagnosticsFailed(
                f"Numerai's diagnostics {upload.diagnostics_id} of {upload.filename} failed: {message}. Fix what "
                f"Numerai's message names (the file holds the stored weeks of the submitted variant), then {RERUN}."
            )
        if clock() + poll_interval_s > deadline:
            raise DiagnosticsTimeout(
                f"Numerai had not finished diagnostics {upload.diagnostics_id} (model {upload.model_name}) after "
                f"{max_wait_s:g} s and {polls} polls (status {status or 'none'}). The run goes on at Numerai: its "
                f"results show on numer.ai under the model's diagnostics. Nothing was stored here; to store them, "
                f"{RERUN} with a longer max_wait_s in its run config (it sends the file again and waits for the "
                "new run)."
            )
        log.info(f"Numerai's diagnostics {upload.diagnostics_id}: {status or 'no status'}; asking again shortly.")
        sleep(poll_interval_s)
