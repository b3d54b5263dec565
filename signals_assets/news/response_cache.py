# Kept rather than requests-cache: that caches below the call ledger (a cached page would need budget), in one flat folder.
"""Stock News API answers of closed weeks, kept on disk, so re-materializing a past week costs no calls.

`CachedGet` wraps any `get(path, params) -> payload` (the HTTP client's) with a `ResponseCache`.
The token is in no cache file: not in a file name (keys are built from the parameters without it),
not in a file's content (an answer that contains it is not written).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from signals_assets.news import articles
from signals_assets.news.endpoints import NEWS_PATH, TICKERS_DB_PATH
from signals_assets.news.redaction import contains_secret, redact, without_token

CACHE_FORMAT = 1
# A request range is cached only once this long after it has passed: the provider may index an
# article a little after its publication time, and an answer cached too early would miss it forever.
CLOSED_GRACE = timedelta(hours=6)
TICKERS_MAX_AGE = timedelta(days=1)  # the supported-ticker list changes slowly: ask at most daily
PROVIDER_ZONE = ZoneInfo("America/New_York")  # the zone of the provider's calendar dates

Get = Callable[[str, Mapping[str, Any]], dict[str, Any]]


def request_range_ends_at(date_range: str) -> datetime:
    """The instant a `date=MMDDYYYY-MMDDYYYY` request range has fully passed: midnight US Eastern
    after its last (inclusive) date. The provider's calendar dates are US Eastern (see
    `articles.request_date_range`), so until then the range's last day is still being written to."""
    try:
        last = datetime.strptime(date_range.split("-")[1], articles.REQUEST_DATE_FORMAT).date()
    except (IndexError, ValueError):
        raise ValueError(f"date range {date_range!r} is not MMDDYYYY-MMDDYYYY") from None
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=PROVIDER_ZONE)


def _now() -> datetime:
    """The current time (a function, so tests can move the clock)."""
    return datetime.now(timezone.utc)


class ResponseCache:
    """Parsed JSON pages on disk, one gzip file per request: `<dir>/<date range>/<sha256>.json.gz`.

    Layout: the date range subfolder is `YYYY-MM-DD_YYYY-MM-DD` (the request's `date`, so one week's
    pages sit together and can be deleted together) or `undated` (the ticker list). The file name is
    the sha256 of the request's key: base URL + endpoint path + every query parameter except the
    token, sorted. The file holds {"format", "request" (that key), "fetched_at", "payload"}.

    What may be cached (`rule`):
    - a request with `date=MMDDYYYY-MMDDYYYY` whose range has fully passed: the provider's dates are
      US Eastern, so the range ends at midnight US Eastern after its last date (request_range_ends_at;
      a week's range is its UTC window widened by a day, so that is the Sunday 00:00 Eastern after the
      window's end), plus CLOSED_GRACE for articles the provider indexes late. Such a week is closed:
      nothing the API answers for it changes any more, so its pages are kept for good;
    - the supported-ticker list, for TICKERS_MAX_AGE;
    - nothing else: open weeks and relative dates (`last7days`) are always asked for again.
    Unreadable or mismatched files are ignored with a warning (and overwritten by the fresh answer).
    """

    def __init__(self, directory: Path, base_url: str, secret: str | None, log: Any):
        self.directory = Path(directory)
        self._base_url = redact(base_url.rstrip("/"), secret)
        self._secret = secret
        self._log = log

    def rule(self, path: str, params: Mapping[str, Any]) -> tuple[str, timedelta | None] | None:
        """(subfolder, max age or None for no expiry) when this request's answer may be kept, else None."""
        date_range = params.get("date")
        if date_range is None:
            return ("undated", TICKERS_MAX_AGE) if path == TICKERS_DB_PATH else None
        try:
            ends_at = request_range_ends_at(str(date_range))
        except ValueError:  # relative dates (today, last7days): never final
            return None
        if _now() < ends_at + CLOSED_GRACE:
            return None
        first, last = (datetime.strptime(part, articles.REQUEST_DATE_FORMAT) for part in str(date_range).split("-"))
        return f"{first:%Y-%m-%d}_{last:%Y-%m-%d}", None

    def folder_for(self, date_range: str) -> Path | None:
        """Where a request range's answers are kept: its folder once it has closed, None while it is open."""
        rule = self.rule(NEWS_PATH, {"date": date_range})
        return None if rule is None else self.directory / rule[0]

    def request_key(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"endpoint": self._base_url + path, "params": dict(sorted(without_token(params).items()))}

    def file_for(self, subfolder: str, request: Mapping[str, Any]) -> Path:
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode("utf-8")).hexdigest()
        return self.directory / subfolder / f"{digest}.json.gz"

    def load(self, file: Path, request: Mapping[str, Any], max_age: timedelta | None) -> dict[str, Any] | None:
        """The cached payload, or None when there is none, it expired, or it cannot be used."""
        if not file.is_file():
            return None
        problem, expired = "", False
        try:
            entry = json.loads(gzip.decompress(file.read_bytes()))
            payload = entry["payload"]
            expired = max_age is not None and _now() - datetime.fromisoformat(entry["fetched_at"]) > max_age
            if entry.get("format") != CACHE_FORMAT or entry.get("request") != request:
                problem = "written for another request or by another version"
            elif not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                problem = "no JSON object with a 'data' list inside"
        except (OSError, EOFError, ValueError, TypeError, KeyError) as exc:  # gzip.BadGzipFile is an OSError
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            self._log.warning(
                f"Ignoring unreadable Stock News API cache file {file} ({redact(problem, self._secret)}); "
                "asking the API again."
            )
            return None
        return None if expired else payload

    def store(self, file: Path, request: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
        entry = {"format": CACHE_FORMAT, "request": request, "fetched_at": _now().isoformat(), "payload": payload}
        text = json.dumps(entry, ensure_ascii=False)
        if contains_secret(text, self._secret):
            self._log.warning(f"Not caching the answer to {request['endpoint']}: it contains the API token.")
            return
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            # Written aside, then renamed: a crash never leaves a half-written file under the real name.
            with tempfile.NamedTemporaryFile(dir=file.parent, suffix=".tmp", delete=False) as handle:
                handle.write(gzip.compress(text.encode("utf-8"), compresslevel=1))  # 2.5x faster than 5, ~10% larger
            os.replace(handle.name, file)
        except OSError as exc:
            self._log.warning(
                f"Could not write the Stock News API cache file {file} ({type(exc).__name__}: {exc}); "
                "carrying on without it."
            )


class CachedGet:
    """`get` behind a ResponseCache: a cache hit is no request (counted in `hits`, not by the client)."""

    def __init__(self, get: Get, cache: ResponseCache, *, refresh: bool = False, log: Any):
        self._get = get
        self.cache = cache
        self._refresh = refresh
        self._log = log
        self.hits = 0

    def describe_week(self, week_key: str, date_range: str) -> None:
        """One log line: whether this week's answers are cached (closed week) or not (still open)."""
        if self.cache.rule(NEWS_PATH, {"date": date_range}) is None:
            self._log.info(
                f"Week {week_key} is still open (its request range {date_range} passes at "
                f"{request_range_ends_at(date_range) + CLOSED_GRACE:%Y-%m-%d %H:%M %Z} with a "
                f"{CLOSED_GRACE} grace): asking the API, caching nothing."
            )
        else:
            self._log.info(
                f"Week {week_key} is closed: API answers are kept in {self.cache.directory}"
                f"{' (refresh: asking the API again)' if self._refresh else ''}."
            )

    def get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        rule = self.cache.rule(path, params)
        if rule is None:
            return self._get(path, params)
        subfolder, max_age = rule
        request = self.cache.request_key(path, params)
        file = self.cache.file_for(subfolder, request)
        if not self._refresh:
            payload = self.cache.load(file, request, max_age)
            if payload is not None:
                self.hits += 1
                return payload
        payload = self._get(path, params)
        self.cache.store(file, request, payload)
        return payload
