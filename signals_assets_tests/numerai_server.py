"""A loopback fake of Numerai for tests: the GraphQL API, the presigned upload URL and dataset downloads.

Point the real numerapi client at it by patching the constant numerapi reads at call time:

    with FakeNumerai(models={"my_model": "id-1"}, universe_df=universe) as fake:
        monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", fake.graphql_url)
        ...
        assert fake.received_csv == path.read_bytes()

It answers the operations numerapi 3.1.1 sends (`account { models }`, `submissionUploadSignalsAuth`,
`createSignalsSubmission`, `dataset`, and for diagnostics `diagnosticsUploadAuth`, `createDiagnostics`,
`diagnostics`), checks `Authorization: Token PUBLIC$SECRET` on the authorized ones,
records every request, and fails on demand: `put_status` (e.g. 403 on the presigned PUT), `graphql_status`
(e.g. 500 on every GraphQL POST), `graphql_errors` (a GraphQL `errors` answer per operation),
`download_status`, `fail_with` (HTTP statuses answered, one per request, before answering normally, per
operation name, 'put' or 'download'), `answers` (the `data` an operation answers instead of its own) and
`echo_authorization` (every error answer, body and HTTP reason phrase, repeats the request's Authorization
header, as a careless API or proxy does). Like Numerai as numerapi sees it, `createSignalsSubmission`
returns an id even when the PUT was refused: that is the quiet failure a client must catch itself.

Diagnostics: the presigned PUT (`/diagnostics/...`, the same `put_status` faults) stores the file, `createDiagnostics`
returns an id (also without a stored file, like the submission), and `diagnostics` answers `pending` for the first
`diagnostics_pending_polls` polls, then `done` with per-era figures for the uploaded file's dates (the `date`
column; validationCorr from `era_corr`, 0.01 where it has none, the other figures derived from it) and a summary;
or `failed` with `diagnostics_failure` as its message when that is set.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

FAKE_PUBLIC_ID = "PUBLICKEY123"
FAKE_SECRET_KEY = "SECRETKEY456"
SIGNALS_TOURNAMENT = 11
AUTHORIZED_OPERATIONS = (
    "account",
    "submissionUploadSignalsAuth",
    "createSignalsSubmission",
    "diagnosticsUploadAuth",
    "createDiagnostics",
    "diagnostics",
)
# Matched by substring in this order (no document of one operation names another; `diagnostics` last, as
# `diagnosticsUploadAuth` contains it).
OPERATIONS = (
    "submissionUploadSignalsAuth",
    "createSignalsSubmission",
    "diagnosticsUploadAuth",
    "createDiagnostics",
    "dataset",
    "account",
    "listDatasets",
    "diagnostics",
)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    operation: str | None = None  # the GraphQL field asked for, for POSTs to the GraphQL path
    variables: dict = field(default_factory=dict)


class FakeNumerai:
    """Context manager serving a fake Numerai on 127.0.0.1 (a free port) from a background thread."""

    def __init__(
        self,
        models: dict[str, str] | None = None,
        universe_df: pd.DataFrame | None = None,
        *,
        dataset_version: str = "signals/v2.1",
        classic_models: dict[str, str] | None = None,
        public_id: str = FAKE_PUBLIC_ID,
        secret_key: str = FAKE_SECRET_KEY,
    ) -> None:
        self.models = dict(models if models is not None else {"my_model": "id-1"})
        self.classic_models = dict(classic_models or {})  # tournament 8 models get_models must leave out
        self.expected_authorization = f"Token {public_id}${secret_key}"
        self.datasets: dict[str, bytes] = {}
        if universe_df is not None:
            buffer = io.BytesIO()
            universe_df.to_parquet(buffer, index=False)
            self.datasets[f"{dataset_version}/live.parquet"] = buffer.getvalue()

        # Faults, settable at any time.
        self.put_status: int | None = None
        self.graphql_status: int | None = None
        self.graphql_errors: dict[str, str] = {}
        self.download_status: int | None = None
        self.fail_with: dict[str, list[int]] = {}
        self.answers: dict[str, dict] = {}
        self.echo_authorization = False
        self.diagnostics_pending_polls = 1
        self.diagnostics_failure: str | None = None
        self.era_corr: dict[str, float] = {}

        self.requests: list[RecordedRequest] = []
        self.uploads: dict[str, bytes] = {}  # stored filename -> bytes received by an accepted PUT
        self.submissions: list[dict] = []
        self.diagnostics_uploads: dict[str, bytes] = {}  # stored filename -> bytes of an accepted diagnostics PUT
        self.diagnostics_runs: dict[str, dict] = {}  # id -> filename, modelId, polls
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle -----

    def __enter__(self) -> FakeNumerai:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, and every test stops a server.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-numerai", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakeNumerai as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    # ----- what was received -----

    @property
    def received_csv(self) -> bytes | None:
        """Bytes of the last accepted upload, or None."""
        with self._lock:
            return list(self.uploads.values())[-1] if self.uploads else None

    def add_dataset(self, filename: str, content: bytes | pd.DataFrame) -> None:
        """Serve `filename` (e.g. 'signals/v3.0/validation.parquet'): listed by listDatasets, fetched by dataset."""
        if isinstance(content, pd.DataFrame):
            buffer = io.BytesIO()
            content.to_parquet(buffer, index=False)
            content = buffer.getvalue()
        with self._lock:
            self.datasets[filename] = content

    @property
    def received_diagnostics_csv(self) -> bytes | None:
        """Bytes of the last accepted diagnostics upload, or None."""
        with self._lock:
            return list(self.diagnostics_uploads.values())[-1] if self.diagnostics_uploads else None

    def operations(self) -> list[str]:
        with self._lock:
            return [req.operation or f"{req.method} {req.path.split('?')[0]}" for req in self.requests]

    # ----- request handling (called from server threads) -----

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _queued_failure(self, key: str) -> int | None:
        with self._lock:
            queue = self.fail_with.get(key)
            return queue.pop(0) if queue else None

    def echoed(self, request: RecordedRequest, message: str) -> str:
        """An error message, with the request's Authorization header in it when echo_authorization is on."""
        if not self.echo_authorization:
            return message
        return f"{message}: Invalid API key: got header '{request.headers.get('authorization', '')}'"

    def _graphql(self, request: RecordedRequest) -> tuple[int, dict]:
        status = self._queued_failure(request.operation or "") or self.graphql_status
        if status is not None:
            return status, {"errors": [{"message": self.echoed(request, f"HTTP {status}")}]}
        operation = request.operation
        if operation is None:
            return 200, _errors("unknown operation: the fake answers " + ", ".join(OPERATIONS))
        if operation in AUTHORIZED_OPERATIONS and request.headers.get("authorization") != self.expected_authorization:
            return 200, _errors(
                self.echoed(request, "You must be authenticated: invalid or missing API key (Authorization header)")
            )
        if operation in self.graphql_errors:
            return 200, _errors(self.echoed(request, self.graphql_errors[operation]))
        if operation in self.answers:
            return 200, {"data": self.answers[operation]}
        variables = request.variables
        if operation == "account":
            listed = [{"id": mid, "name": name, "tournament": SIGNALS_TOURNAMENT} for name, mid in self.models.items()]
            listed += [{"id": mid, "name": name, "tournament": 8} for name, mid in self.classic_models.items()]
            return 200, {"data": {"account": {"models": listed}}}
        if operation == "listDatasets":  # numerapi's list_datasets: every file name the server has
            with self._lock:
                return 200, {"data": {"listDatasets": sorted(self.datasets)}}
        if operation == "dataset":
            filename = variables.get("filename")
            if filename not in self.datasets:
                return 200, _errors(self.echoed(request, f"dataset {filename} not found"))
            return 200, {"data": {"dataset": f"{self.base_url}/datasets/{filename}?X-Amz-Signature=fakesig"}}
        if operation in ("submissionUploadSignalsAuth", "diagnosticsUploadAuth"):
            if variables.get("modelId") not in self.models.values():
                return 200, _errors(f"model {variables.get('modelId')} not found")
            stored = f"{variables['modelId']}/{variables['filename']}"
            folder = "upload" if operation == "submissionUploadSignalsAuth" else "diagnostics"
            url = f"{self.base_url}/{folder}/{stored}?X-Amz-Signature=fakesig"
            return 200, {"data": {operation: {"filename": stored, "url": url}}}
        if operation == "createDiagnostics":  # like Numerai as numerapi sees it: no check that the PUT succeeded
            with self._lock:
                diagnostics_id = f"diagnostics-{len(self.diagnostics_runs) + 1}"
                self.diagnostics_runs[diagnostics_id] = {
                    "filename": variables.get("filename"),
                    "modelId": variables.get("modelId"),
                    "polls": 0,
                }
            return 200, {"data": {"createDiagnostics": {"id": diagnostics_id}}}
        if operation == "diagnostics":
            return self._diagnostics(request)
        # createSignalsSubmission: like Numerai as numerapi sees it, no check that the PUT succeeded.
        with self._lock:
            submission_id = f"submission-{len(self.submissions) + 1}"
            self.submissions.append(
                {"id": submission_id, "filename": variables.get("filename"), "modelId": variables.get("modelId")}
            )
        return 200, {"data": {"createSignalsSubmission": {"id": submission_id, "firstEffectiveDate": None}}}

    def _diagnostics(self, request: RecordedRequest) -> tuple[int, dict]:
        variables = request.variables
        with self._lock:
            run = self.diagnostics_runs.get(variables.get("id"))
            if run is None or run["modelId"] != variables.get("modelId"):
                return 200, _errors(f"diagnostics {variables.get('id')} not found for model {variables.get('modelId')}")
            run["polls"] += 1
            polls, content = run["polls"], self.diagnostics_uploads.get(run["filename"])
        if polls <= self.diagnostics_pending_polls:
            return 200, {"data": {"diagnostics": {"status": "pending", "message": None, "perEraDiagnostics": None}}}
        if self.diagnostics_failure is not None or content is None:
            message = self.diagnostics_failure or "no file was uploaded for these diagnostics"
            return 200, {"data": {"diagnostics": {"status": "failed", "message": message, "perEraDiagnostics": None}}}
        return 200, {"data": {"diagnostics": self._diagnostics_done(content)}}

    def _diagnostics_done(self, content: bytes) -> dict:
        """Per-era figures for the file's dates, and a summary of them."""
        eras = sorted(set(pd.read_csv(io.BytesIO(content))["date"].astype(str)))
        corr = np.array([self.era_corr.get(era, 0.01) for era in eras])
        per_era = [
            {
                "era": era,
                "validationCorr": value,
                "validationMmc": value / 2,
                "validationBmc": value / 3,
                "validationAlpha": value / 4,
                "validationChurn": 0.1,
                "validationFncV4": value * 0.9,
                "validationIcV2": value * 0.8,
                "validationRic": value * 0.7,
                "examplePredsCorr": 0.02,
            }
            for era, value in zip(eras, corr.tolist(), strict=True)
        ]
        cumulative = np.cumsum(corr)
        std = float(corr.std(ddof=1)) if len(corr) > 1 else 0.0
        return {
            "status": "done",
            "message": None,
            "updatedAt": "2026-11-24T12:00:00Z",
            "erasAcceptedCount": len(eras),
            "trainedOnVal": False,
            "validationCorrMean": float(corr.mean()),
            "validationCorrStd": std,
            "validationCorrSharpe": float(corr.mean()) / std if std else None,
            "validationMaxDrawdown": float((cumulative - np.maximum.accumulate(cumulative)).min()),
            "validationMmcMean": float(corr.mean()) / 2,
            "validationBmcMean": float(corr.mean()) / 3,
            "validationAlphaMean": float(corr.mean()) / 4,
            "perEraDiagnostics": per_era,
        }

    def _put(self, request: RecordedRequest) -> int:
        status = self._queued_failure("put") or self.put_status
        if status is not None:
            return status
        path = unquote(urlsplit(request.path).path)
        with self._lock:
            if path.startswith("/diagnostics/"):
                self.diagnostics_uploads[path.removeprefix("/diagnostics/")] = request.body
            else:
                self.uploads[path.removeprefix("/upload/")] = request.body
        return 200

    def _download(self, request: RecordedRequest) -> tuple[int, bytes]:
        status = self._queued_failure("download") or self.download_status
        if status is not None:
            return status, self.echoed(request, "download refused").encode()
        filename = unquote(urlsplit(request.path).path.removeprefix("/datasets/"))
        if filename not in self.datasets:
            return 404, self.echoed(request, "no such dataset").encode()
        return 200, self.datasets[filename]


def _errors(message: str) -> dict:
    return {"errors": [{"message": message}], "data": None}


def _operation(query: str) -> str | None:
    return next((name for name in OPERATIONS if name in query), None)


def _handler_for(fake: FakeNumerai) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _read(self) -> RecordedRequest:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = RecordedRequest(
                method=self.command,
                path=self.path,
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
            )
            if self.command == "POST" and urlsplit(self.path).path == "/graphql":
                try:
                    document = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    document = {}
                request.operation = _operation(document.get("query") or "")
                request.variables = document.get("variables") or {}
            fake._record(request)
            return request

        def _reply(self, status: int, body: bytes, content_type: str, request: RecordedRequest) -> None:
            # An error's reason phrase echoes the Authorization header too when echo_authorization is on.
            reason = fake.echoed(request, self.responses.get(status, ("Error",))[0]) if status >= 400 else None
            self.send_response(status, reason)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            request = self._read()
            if urlsplit(self.path).path != "/graphql":
                self._reply(404, b"not found", "text/plain", request)
                return
            status, answer = fake._graphql(request)
            self._reply(status, json.dumps(answer).encode(), "application/json", request)

        def do_PUT(self) -> None:
            request = self._read()
            if not self.path.startswith(("/upload/", "/diagnostics/")):
                self._reply(404, b"not found", "text/plain", request)
                return
            status = fake._put(request)
            message = fake.echoed(request, "<Error><Code>AccessDenied</Code></Error>")
            self._reply(status, b"" if status == 200 else message.encode(), "application/xml", request)

        def do_GET(self) -> None:
            request = self._read()
            if not self.path.startswith("/datasets/"):
                self._reply(404, b"not found", "text/plain", request)
                return
            status, body = fake._download(request)
            self._reply(status, body, "application/octet-stream", request)

        def log_message(self, format: str, *args) -> None:  # keep test output quiet
            return

    return Handler
