"""What this project sends through numerapi 3.1.1, and how one call is kept loud and free of the keys.

The GraphQL documents are the ones numerapi sends for get_models, download_dataset and
upload_predictions. `numerapi_call` surrounds every request: numerapi's and urllib3's loggers redact the
keys meanwhile (log_redaction), and the errors numerapi logs instead of raising (HTTP and connection
errors, turned into `{}`) are collected, already redacted, so the caller can name the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numerapi.utils

from signals_assets.numerai.log_redaction import redacting_library_logs

SIGNALS_TOURNAMENT = 11  # numerapi.SignalsAPI().tournament_id

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
DIAGNOSTICS_UPLOAD_AUTH_QUERY = """
  query($filename: String! $tournament: Int! $modelId: String) {
    diagnosticsUploadAuth(filename: $filename tournament: $tournament modelId: $modelId) {
      filename
      url
    }
  }
"""
CREATE_DIAGNOSTICS_MUTATION = """
  mutation($filename: String! $tournament: Int! $modelId: String) {
    createDiagnostics(filename: $filename tournament: $tournament modelId: $modelId) {
      id
    }
  }
"""
DATASET_QUERY = """
  query($filename: String! $round: Int $tournament: Int) {
    dataset(filename: $filename round: $round tournament: $tournament)
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


class _CollectErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def numerapi_call(keys: Iterable[str | None]) -> Iterator[list[str]]:
    """Around one request: library loggers redact `keys`; yields the error messages numerapi logs."""
    handler = _CollectErrors()
    source = logging.getLogger(numerapi.utils.__name__)
    with redacting_library_logs(keys):
        source.addHandler(handler)  # after the filters: what it collects is already redacted
        try:
            yield handler.messages
        finally:
            source.removeHandler(handler)
