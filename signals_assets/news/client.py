"""The Stock News API over HTTP: one requests.Session, urllib3's retries, counted calls, clear errors.

`StockNewsClient.get(path, params)` returns the JSON payload of one page (a dict with a `data` list).
The token is added to the query parameters only inside `get`, so no URL string holding it is built
here; every message, log line and exception this module produces is redacted, and requests' own
exceptions (whose messages embed the full URL) are replaced by `StockNewsAPIError`s raised outside
the `except` block, so the original is not chained.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse

from signals_assets.news.endpoints import DEFAULT_BASE_URL
from signals_assets.news.redaction import install_urllib3_redaction, redact, redacted_query
from signals_assets.news.retry import NewsRetry, QuotaAnswer, RetryAfterTooLong, says_quota_used_up

API_KEY_ENV = "STOCKNEWS_API_KEY"
BASE_URL_ENV = "STOCKNEWS_BASE_URL"
USER_AGENT = "signals_assets (+https://numer.ai/signals)"
BODY_PREVIEW_CHARS = 200


class StockNewsAPIError(Exception):
    """The Stock News API could not give an answer; the message names the cause and the fix."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str | None = None):
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class QuotaExhausted(StockNewsAPIError):
    """The API answered that the plan's call quota is used up (or asked to wait longer than backoff_max_s):
    no retry can help before the quota resets."""


class StockNewsClient:
    """GET pages of the Stock News API. `by_status` counts every request sent ("200", "429", ...,
    "connection_error", "timeout"), retries included; use it as a context manager to close the session."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout_s: float = 10,
        read_timeout_s: float = 60,
        max_retries: int = 5,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60,
        log: Any = None,
    ):
        key = (api_key or "").strip()
        if not key:
            raise StockNewsAPIError(
                f"The Stock News API needs a key: set the environment variable {API_KEY_ENV} (leave it unset "
                "to use the packaged sample news instead)."
            )
        install_urllib3_redaction()
        self._key = key
        self.base_url = base_url.rstrip("/")
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._max_retries = max_retries
        self._log = log or logging.getLogger(__name__)
        self.by_status: Counter[str] = Counter()
        self._attempts = 0  # of the request in progress
        self._last_failure: tuple[str, str] = ("", "")  # (kind, description) of its last failed attempt
        self._endpoint = ""
        retry = NewsRetry.policy(
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            on_failure=self._attempt_failed,
            on_wait=self._waiting,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    @property
    def api_calls(self) -> int:
        """HTTP requests sent so far, retries included."""
        return sum(self.by_status.values())

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> StockNewsClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON payload for one request; StockNewsAPIError when there is none after the retries."""
        endpoint = self.base_url + path
        described = f"{endpoint}?{redacted_query(params)}"
        self._endpoint, self._attempts, self._last_failure = endpoint, 0, ("", "")
        failure: StockNewsAPIError | None = None
        try:
            response = self._session.get(
                endpoint,
                params={**params, "token": self._key},  # in params, so no URL string with the key is built here
                timeout=self._timeout,
            )
        except QuotaAnswer as exc:
            failure = self._quota_used_up(
                exc.status, exc.reason, self._redact(exc.body[:BODY_PREVIEW_CHARS]), described
            )
        except RetryAfterTooLong as exc:
            failure = QuotaExhausted(
                f"Stock News API answered {exc.status} {exc.reason} for {described} and asks to wait "
                f"{exc.seconds:.0f} s (Retry-After), longer than backoff_max_s={exc.limit:g}: the plan's quota is "
                "probably used up for now. Try again later, or raise backoff_max_s to wait it out.",
                status=exc.status,
                endpoint=endpoint,
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.RetryError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            failure = self._gave_up(exc, endpoint, described)
        except requests.RequestException as exc:  # bad URL and the like: nothing was sent, retrying cannot help
            failure = StockNewsAPIError(
                f"Stock News API request {described} could not be sent: {self._redact(_describe(exc))}. "
                f"Check {BASE_URL_ENV} (now {redact(self.base_url, self._key)!r}).",
                endpoint=endpoint,
            )
        if failure is not None:
            raise failure
        for answer in (*response.history, response):  # redirects followed by requests, then the answer
            self.by_status[str(answer.status_code)] += 1
        return self._payload(response, endpoint, described)

    # ----- urllib3's retry reports -----

    def _attempt_failed(self, response: BaseHTTPResponse | None, error: Exception | None) -> None:
        self._attempts += 1
        if response is not None:
            kind, text = str(response.status), _status_text(response.status, response.reason)
        elif isinstance(error, NewConnectionError) or not isinstance(error, Urllib3Timeout):
            kind, text = "connection_error", f"connection failed ({_describe(error)})"
        else:
            kind, text = "timeout", f"timed out ({_describe(error)})"
        self.by_status[kind] += 1
        self._last_failure = (kind, self._redact(text))

    def _waiting(self, retry: int, delay_s: float) -> None:
        self._log.warning(
            f"Stock News API {redact(self._endpoint, self._key)}: {self._last_failure[1]}; retry {retry} of "
            f"{self._max_retries} in {delay_s:.1f} s."
        )

    # ----- outcomes -----

    def _gave_up(self, exc: requests.RequestException, endpoint: str, described: str) -> StockNewsAPIError:
        exhausted = any(isinstance(arg, MaxRetryError) for arg in exc.args)
        if not exhausted:  # failed while reading an answer urllib3 had accepted: that attempt is not counted yet
            timed_out = isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower()
            kind = "timeout" if timed_out else "connection_error"
            self._attempts += 1
            self.by_status[kind] += 1
            self._last_failure = (kind, self._redact(f"{kind.replace('_', ' ')} ({_describe(exc)})"))
        kind, text = self._last_failure
        return StockNewsAPIError(
            f"Stock News API request {described} failed after {self._attempts} attempts; last: {text}. The "
            f"service is down, rate-limiting or unreachable: check {BASE_URL_ENV} and your network, try again "
            "later, or raise max_retries / backoff_max_s.",
            status=int(kind) if kind.isdigit() else None,
            endpoint=endpoint,
        )

    def _quota_used_up(self, status: int, reason: str, body: str, described: str) -> QuotaExhausted:
        return QuotaExhausted(
            f"Stock News API answered {_status_text(status, reason)} for {described}: the plan's call quota is used "
            f"up (response: {body!r}), so the request was not retried. Try again once the quota resets, or move to "
            "a plan with more calls.",
            status=status,
            endpoint=self._endpoint,
        )

    def _payload(self, response: requests.Response, endpoint: str, described: str) -> dict[str, Any]:
        status = response.status_code
        if status >= 400 and says_quota_used_up(status, response.text):
            raise self._quota_used_up(status, response.reason, self._preview(response), described)
        if status >= 400:
            raise StockNewsAPIError(
                f"Stock News API answered {_status_text(status, response.reason)} for {endpoint} (query: "
                f"{described.partition('?')[2]}): {status_cause(status)}. Response: {self._preview(response)!r}",
                status=status,
                endpoint=endpoint,
            )
        try:
            payload = json.loads(response.text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise StockNewsAPIError(
                f"Stock News API answered {_status_text(status, response.reason)} for {described}, but the body is "
                f"not a JSON object with a 'data' list (a proxy or maintenance page, or a cut-off answer?). First "
                f"{BODY_PREVIEW_CHARS} characters: {self._preview(response)!r}. Check {BASE_URL_ENV} "
                f"(now {redact(self.base_url, self._key)!r}) and try again later.",
                status=status,
                endpoint=endpoint,
            )
        return payload

    def _preview(self, response: requests.Response) -> str:
        return self._redact(response.text[:BODY_PREVIEW_CHARS])

    def _redact(self, text: str) -> str:
        return redact(text, self._key)


def status_cause(status: int) -> str:
    """What a final (not retried) error status most likely means, and what to do."""
    if status in (401, 403):
        return (
            f"the key in {API_KEY_ENV} is wrong or expired, or your plan lacks this endpoint; the all-tickers "
            "endpoint needs a paid plan: set fetch_mode='per_ticker'"
        )
    if status == 404:
        return f"no such endpoint at this base URL; check {BASE_URL_ENV} (default {DEFAULT_BASE_URL})"
    if status == 422:
        return (
            "the request's parameters were rejected (dates out of your plan's history? Premium reaches back to "
            "March 2019; check items_per_page too)"
        )
    return "the request was rejected; check the query above and your plan"


def _status_text(status: int, reason: str | None) -> str:
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return f"{status} {reason}".strip()


def _describe(error: BaseException | None) -> str:
    """An exception as `Type: message`, the innermost urllib3 reason when requests wrapped one."""
    if error is None:
        return "no answer"
    inner = error.args[0] if error.args else None
    if isinstance(inner, MaxRetryError) and inner.reason is not None:
        error = inner.reason
    return f"{type(error).__name__}: {error}"
