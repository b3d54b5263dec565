"""The retry policy of Stock News API requests: urllib3's `Retry`, mounted on the client's session.

urllib3 does the retrying (429 and 5xx answers, connection errors, timeouts), the exponential backoff
and its jitter, and honours `Retry-After`. This subclass adds only what the client needs around it:
- each failed attempt is reported (`on_failure`), so every request sent is counted, retries included,
  and also those that end in an exception (urllib3 keeps its history only on a returned response);
- each wait is reported before it starts (`on_wait`), for a log line;
- a `Retry-After` longer than `backoff_max` is not slept through: `RetryAfterTooLong` is raised at
  once (the plan's quota is probably used up; urllib3 alone would clamp or sleep for hours);
- a 429 whose body says the plan's quota is used up (`says_quota_used_up`) is not retried either:
  `QuotaAnswer` is raised at once, since no retry can succeed before the quota resets.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from urllib3.exceptions import HTTPError, InvalidHeader
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

# Retried answers: rate limiting and server errors. Others (403, 422, ...) are final.
RETRY_STATUSES = frozenset({429, *range(500, 600)})

# The API's answer when the plan's calls are used up is undocumented: a 429 or 403 whose body speaks of the
# quota or of a monthly / plan / API limit is taken for it (e.g. {"message": "You have reached your monthly API
# limit"}); one that speaks of a rate limit, of requests per second or minute, or of trying again in some seconds
# or minutes is a passing rate limit (retried as any 429).
QUOTA_STATUSES = frozenset({403, 429})
_QUOTA_WORDS = re.compile(
    r"quota|monthly|per month|(api|plan|usage|call)s?'?s? limit|limit of your plan|out of (api )?calls|"
    r"no (api )?calls left|credits?",
    re.IGNORECASE,
)
_PASSING_WORDS = re.compile(
    r"rate.?limit|per (second|minute)|slow down|try again in \d+ (seconds?|minutes?)", re.IGNORECASE
)

OnFailure = Callable[[BaseHTTPResponse | None, Exception | None], None]
OnWait = Callable[[int, float], None]  # (retry number from 1, seconds about to be waited)


class RetryAfterTooLong(Exception):
    """The API asked to wait longer than the policy allows between two attempts."""

    def __init__(self, seconds: float, limit: float, status: int, reason: str):
        super().__init__(f"Retry-After {seconds:.0f} s is over {limit:g} s")
        self.seconds = seconds
        self.limit = limit
        self.status = status
        self.reason = reason


def says_quota_used_up(status: int, body: str) -> bool:
    """Whether an answer says the plan's call quota is used up (so no retry can help until it resets)."""
    return status in QUOTA_STATUSES and bool(_QUOTA_WORDS.search(body)) and not _PASSING_WORDS.search(body)


class QuotaAnswer(Exception):
    """The API answered that the plan's call quota is used up (a retried status whose body says so)."""

    def __init__(self, status: int, reason: str, body: str):
        super().__init__(f"{status} {reason}: the call quota is used up")
        self.status = status
        self.reason = reason
        self.body = body


class NewsRetry(Retry):
    """urllib3's Retry with failure and wait reports, and a cap on Retry-After that fails fast."""

    # Statuses whose Retry-After header is honoured (urllib3's default also has 413).
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def __init__(self, *args: Any, on_failure: OnFailure | None = None, on_wait: OnWait | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_failure = on_failure
        self.on_wait = on_wait

    @classmethod
    def policy(
        cls,
        *,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
        on_failure: OnFailure | None = None,
        on_wait: OnWait | None = None,
    ) -> NewsRetry:
        """Up to `max_retries` retries of GETs answered 429/5xx or failed to connect, read or answer.

        urllib3's backoff: the first retry goes at once, retry n >= 2 waits backoff_base_s * 2**(n-1)
        plus up to backoff_base_s of jitter, at most backoff_max_s; a Retry-After answer is waited for
        instead, unless it is longer than backoff_max_s (then `RetryAfterTooLong`).
        """
        return cls(
            total=max_retries,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            backoff_factor=backoff_base_s,
            backoff_jitter=backoff_base_s,
            backoff_max=backoff_max_s,
            respect_retry_after_header=True,
            raise_on_status=True,  # exhausted on a status: MaxRetryError, every attempt reported by then
            on_failure=on_failure,
            on_wait=on_wait,
        )

    def new(self, **kw: Any) -> NewsRetry:
        retry = super().new(**kw)
        retry.on_failure, retry.on_wait = self.on_failure, self.on_wait
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> NewsRetry:
        # urllib3 calls this once for every failed attempt, the last one included (then it raises).
        if self.on_failure is not None:
            self.on_failure(response, error)
        if response is not None and response.status in QUOTA_STATUSES:
            body = _body_text(response)
            if says_quota_used_up(response.status, body):
                raise QuotaAnswer(response.status, response.reason or "", body)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def retry_after_s(self, value: str | None) -> float | None:
        """A Retry-After header's value as seconds (a number of seconds or an HTTP date), None if unusable."""
        if not value:
            return None
        try:
            return float(self.parse_retry_after(value))
        except InvalidHeader:
            return None

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        retry_after = None
        if response is not None and self.respect_retry_after_header:
            retry_after = self.retry_after_s(response.headers.get("Retry-After"))
        if retry_after is not None and retry_after > self.backoff_max:
            raise RetryAfterTooLong(retry_after, self.backoff_max, response.status, response.reason or "")
        delay = self.get_backoff_time() if retry_after is None else retry_after
        if self.on_wait is not None:
            self.on_wait(len(self.history), delay)
        if delay > 0:
            time.sleep(delay)


def _body_text(response: BaseHTTPResponse) -> str:
    """A retried answer's body as text (error bodies are small), its connection handed back to the pool."""
    try:
        data = response.data or b""
    except (HTTPError, OSError):  # a body that cannot be read says nothing about the quota
        return ""
    response.release_conn()
    return data.decode("utf-8", errors="replace")
