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
from collections.abc import Callable, Mapping
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
    "connection_error", "timeout"), retries included; use it as a context manager to close the session.

    `before_resend`, when set, is called before each further request of one `get` (a retry, or a redirect to
    follow), so a call budget can count it before it is sent; a StockNewsAPIError it raises ends the get there,
    that request unsent."""

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
        before_resend: Callable[[], None] | None = None,
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
        self.before_resend = before_resend
        self.by_status: Counter[str] = Counter()
        self._attempts = 0  # of the request in progress
        self._last_failure: tuple[str, str] = ("", "")  # (kind, description) of its last failed attempt
        self._answers: list[str] = []  # statuses of its answers received (redirects, then the last), to count
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
        self._session.hooks["response"].append(self._answered)  # every answer, each redirect included
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
        self._endpoint, self._attempts, self._last_failure, self._answers = endpoint, 0, ("", ""), []
        failure: StockNewsAPIError | None = None
        try:
            response = self._session.get(
                endpoint,
                params={**params, "token": self._key},  # in params, so no URL string with the key is built here
                timeout=self._timeout,
            )
        except StockNewsAPIError as exc:  # before_resend stopped a retry or a redirect before it was sent
            failure = exc
        except QuotaAnswer as exc:
            preview = self._redact(exc.body[:BODY_PREVIEW_CHARS])
            if api_message(exc.body) is None:  # quota words, but in no API answer (a proxy's page)
                failure = self._not_the_api(exc.status, exc.reason, preview, described)
            else:
                failure = self._quota_used_up(exc.status, exc.reason, preview, described)
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
        for status in self._answers:  # also when it failed: a redirect followed was sent all the same
            self.by_status[status] += 1
        if failure is not None:
            raise failure from None
        return self._payload(response, endpoint, described)

    # ----- requests' and urllib3's reports -----

    def _answered(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """requests' response hook: notes each answer, and reserves the redirect it is about to follow."""
        self._answers.append(str(response.status_code))
        if response.is_redirect and self.before_resend is not None:
            self.before_resend()
        return response

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
        if self.before_resend is not None:  # may stop the retry (a call budget spent)
            self.before_resend()
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
            if self._answers:  # its head was noted as answered: it counts as this failure instead
                self._answers.pop()
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

    def _not_the_api(self, status: int, reason: str, body: str, described: str) -> StockNewsAPIError:
        return StockNewsAPIError(
            f"Stock News API request {described} was answered {_status_text(status, reason)}, but not with the "
            f"API's JSON (first {BODY_PREVIEW_CHARS} characters: {body!r}): something between here and the API, "
            f"such as a proxy, a firewall or a captive portal, answered instead, or {BASE_URL_ENV} (now "
            f"{redact(self.base_url, self._key)!r}) points elsewhere. Check {BASE_URL_ENV} and the proxy settings "
            f"(HTTPS_PROXY, HTTP_PROXY) of the machine running Dagster.{_if_both_right(status)}",
            status=status,
            endpoint=self._endpoint,
        )

    def _payload(self, response: requests.Response, endpoint: str, described: str) -> dict[str, Any]:
        status = response.status_code
        message = api_message(response.text) if status >= 400 else None
        if status >= 400 and message is None:
            raise self._not_the_api(status, response.reason, self._preview(response), described)
        if message and says_quota_used_up(status, message):
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


def api_message(body: str) -> str | None:
    """The API's own words in an error answer: the body parsed as a JSON object, its `message` (or `error`) text,
    "" when it has none. None when the body is not a JSON object (an HTML page from a proxy or firewall, say),
    whatever words it holds."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    text = payload.get("message", payload.get("error"))
    return text if isinstance(text, str) else ""


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


def _if_both_right(status: int) -> str:
    return f" If both are right: {status_cause(status)}." if status in (401, 403) else ""


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
