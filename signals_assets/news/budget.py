"""What a week's fetch, or a backfill, costs of the monthly call budget: the calls it is expected to make, the
check before a week fetches, and the messages when the calls run out mid-week or a backfill will not fit (the
ledger and its enforcement call by call are in quota.py). Pure (no Dagster).

The estimate reads only the response cache's folder listings and one page a stream. A week's request streams
are those `paging.fetch_week` reads (one all-tickers stream, or one per ticker). A stream the cache holds to its
end costs 0 calls: closed weeks' pages are kept for good (response_cache.py), so a week fetched once, or the
pages a run read before the quota stopped it, are free the next time. A stream not (fully) cached is expected
to take as many pages as a stream of the nearest cached week (up to LOOKBACK_WEEKS before or after: a whole
week in all_tickers mode, the mean per ticker in per_ticker mode), else a stated default, less the pages
already cached, at least one call (the API is asked until a page says it is the last) and at most its page
cutoff. Retries are not counted: a call that fails and is retried costs more.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from signals_assets.news import articles, paging
from signals_assets.news.client import QuotaExhausted, StockNewsAPIError
from signals_assets.news.paging import FetchMode, StreamRequest
from signals_assets.news.quota import BUDGET_FIX, QUOTA_ENV, BudgetStatus, CallBudgetExceeded
from signals_assets.news.response_cache import ResponseCache
from signals_assets.weeks import Week

# Defaults when no week near it is cached: the synthetic benchmark week (bench/week.py, BENCHMARKS.md), 24,750
# articles for a week's request range at 50 a page, took 495 pages in all_tickers mode, and 2,298 calls for its
# 2,000 tickers in per_ticker mode (1.15 a ticker: one page each, more for the busiest).
DEFAULT_ALL_TICKERS_PAGES = 500
DEFAULT_PAGES_PER_TICKER = 1.15
LOOKBACK_WEEKS = 4


@dataclass(frozen=True)
class FetchSettings:
    """The news resource's settings that decide a week's request streams."""

    fetch_mode: FetchMode
    items_per_page: int = 50
    page_cutoff: int = 10
    all_tickers_page_cutoff: int = 1000

    @property
    def per_ticker(self) -> bool:
        return self.fetch_mode == "per_ticker"

    def streams(self, week: Week, tickers: Sequence[str]) -> list[StreamRequest]:
        return paging.stream_requests(week, tickers, **asdict(self))


@dataclass(frozen=True)
class WeekEstimate:
    calls: int  # API calls expected (retries not counted)
    streams: int
    complete_streams: int  # streams the cache holds to their end
    cached_pages: int
    closed: bool  # the week's answers are kept in the cache
    text: str

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class BackfillEstimate:
    calls: int
    cached_weeks: int  # weeks the cache holds whole (0 calls)
    calls_per_uncached_week: float
    text: str

    def describe(self) -> str:
        return self.text


def estimate_week(
    week: Week, tickers: Sequence[str], settings: FetchSettings, cache: ResponseCache | None, *, refresh: bool = False
) -> WeekEstimate:
    """The calls fetching `week` is expected to make (`cache` None: caching is off). `refresh`: the cache is not
    read for this week (as StockNewsAPI's refresh does), though other weeks still tell how many pages a stream takes."""
    tickers = paging.normalise_tickers(tickers)
    states = _streams(week, tickers, settings, None if refresh else cache)
    pending = {pages: n for (pages, complete), n in states.items() if not complete}
    per_stream, basis = _reference(week, tickers, settings, cache) if pending else (0.0, "")
    cutoff = settings.page_cutoff if settings.per_ticker else settings.all_tickers_page_cutoff
    calls = math.ceil(sum(n * min(cutoff - pages, max(1.0, per_stream - pages)) for pages, n in pending.items()) - 1e-9)
    streams, cached_pages = sum(states.values()), sum(pages * n for (pages, _), n in states.items())
    closed = cache is not None and cache.folder_for(articles.request_date_range(week)) is not None
    text = f"Week {week.key} ({settings.fetch_mode}): "
    if calls == 0:
        text += f"all {streams:,} request stream(s) are in the response cache: 0 API calls expected"
    else:
        cached = f"{cached_pages:,} page(s) cached" if closed else "nothing cached (the week is open)"
        text += (
            f"about {calls:,} API calls expected ({sum(pending.values()):,} of {streams:,} stream(s) not fully "
            f"cached, {cached}; about {_pages(per_stream)} page(s) a stream, {basis})"
        )
    return WeekEstimate(calls, streams, streams - sum(pending.values()), cached_pages, closed, text)


def estimate_backfill(
    weeks: Sequence[Week], tickers: Sequence[str], settings: FetchSettings, cache: ResponseCache | None
) -> BackfillEstimate:
    """The calls a backfill of `weeks` is expected to make from here on (`tickers`: every week's, per_ticker)."""
    if not weeks:
        return BackfillEstimate(0, 0, 0.0, "This backfill has no weeks.")
    tickers, weeks = paging.normalise_tickers(tickers), sorted(weeks, key=lambda week: week.start)
    estimates = [estimate_week(week, tickers, settings, cache) for week in weeks]
    calls, cached = sum(week.calls for week in estimates), sum(week.calls == 0 for week in estimates)
    partly_cached = sum(week.calls > 0 and week.cached_pages > 0 for week in estimates)
    uncached = [week.calls for week in estimates if week.calls > 0 and week.cached_pages == 0]
    per_week = sum(uncached) / len(uncached) if uncached else 0.0
    each = f", {len(tickers):,} tickers a week as this week has" if settings.per_ticker else ""
    partly = f", {partly_cached:,} partly" if partly_cached else ""
    rate = f"; about {per_week:,.0f} calls a week not cached" if per_week else ""
    text = (
        f"This backfill of {len(weeks):,} week(s) ({weeks[0].key} to {weeks[-1].key}, {settings.fetch_mode}{each}) "
        f"needs about {calls:,} more Stock News API calls: {cached:,} of its weeks are in the response cache "
        f"(0 calls){partly}{rate}; plus the ticker list, at most one call a day."
    )
    return BackfillEstimate(calls, cached, per_week, text)


def _streams(week: Week, tickers: list[str], settings: FetchSettings, cache: ResponseCache | None) -> Counter:
    """How many of the week's streams the cache holds in each state: (pages from page 1, complete) -> count."""
    folder = cache.folder_for(articles.request_date_range(week)) if cache else None
    if folder is None or not folder.is_dir():  # nothing of the week is cached: no need to look at each stream
        streams = len(tickers) if settings.per_ticker else 1
        return Counter({(0, False): streams} if streams else {})
    return Counter(_cached(cache, folder.name, request) for request in settings.streams(week, tickers))


def _cached(cache: ResponseCache, folder: str, request: StreamRequest) -> tuple[int, bool]:
    """(consecutive pages from page 1 that the cache holds, whether they are the whole stream): only the last
    page is read, to tell whether it ends the stream."""
    pages, last = 0, None
    while pages < request.max_pages:
        key = cache.request_key(request.path, {**request.params, "page": pages + 1})
        if not (file := cache.file_for(folder, key)).is_file():
            break
        pages, last = pages + 1, (file, key)
    if pages in (0, request.max_pages):
        return pages, pages > 0
    if (payload := cache.load(*last, max_age=None)) is None:  # unreadable: the fetch asks for it again
        return pages - 1, False
    per_page = request.params.get("items")
    return pages, paging.is_last_page(pages, payload, None if per_page is None else int(per_page))


def _reference(
    week: Week, tickers: list[str], settings: FetchSettings, cache: ResponseCache | None
) -> tuple[float, str]:
    """Pages a stream takes: from the nearest week (earlier first: 1 week before, 1 after, 2 before, ...) whose
    streams the cache holds (at least half of them) in this fetch mode, else the default; and which it was."""
    for weeks in (offset for distance in range(1, LOOKBACK_WEEKS + 1) for offset in (-distance, distance)):
        other = Week(week.start + timedelta(weeks=weeks), week.end + timedelta(weeks=weeks))
        states = _streams(other, tickers, settings, cache)
        complete = {pages: n for (pages, done), n in states.items() if done}
        if complete and 2 * sum(complete.values()) >= sum(states.values()):
            mean = sum(pages * n for pages, n in complete.items()) / sum(complete.values())
            return mean, f"as week {other.key} took in the cache"
    default, unit = (
        (DEFAULT_PAGES_PER_TICKER, "a ticker") if settings.per_ticker else (DEFAULT_ALL_TICKERS_PAGES, "a week")
    )
    return default, f"the default of {_pages(default)} {unit}: no week within {LOOKBACK_WEEKS} of it is cached"


def _pages(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def check_week(week_key: str, expected_calls: int, estimate: str, status: BudgetStatus) -> str:
    """The line to log before a week fetches; CallBudgetExceeded (before any call) when the calls the week is
    expected to need are more than what is left of the month's budget."""
    if status.left is not None and expected_calls > status.left:
        raise CallBudgetExceeded(
            f"Week {week_key} is expected to need about {expected_calls:,} Stock News API calls ({estimate}), but "
            f"only {status.left:,} of this month's budget are left: {status.describe()}. Nothing was asked. Re-run "
            f"after {status.resets_at:%Y-%m-%d %H:%M} UTC, or {BUDGET_FIX}. Weeks already in the response cache "
            "cost no calls."
        )
    return f"{estimate}. {status.describe()}."


def calls_ran_out(error: StockNewsAPIError, status: BudgetStatus, resume: str) -> StockNewsAPIError:
    """The error a week fails with when the API says the quota is used up, or the budget is reached mid-week:
    the cause, this month's calls and budget, and how a re-run continues."""
    if isinstance(error, QuotaExhausted):
        cause = (
            f"{error} {status.describe()}. If that is fewer calls than your plan allows, the same key is also used "
            f"elsewhere, or the plan resets on another day than the 1st: set {QUOTA_ENV} to the calls your plan "
            "allows a month, so weeks that would not fit stop before calling."
        )
    else:
        cause = str(error)
    return type(error)(f"{cause} {resume}", status=error.status, endpoint=error.endpoint)


def resume_note(week_key: str, folder: Path | None, why_not_cached: str, api_calls: int, cache_hits: int) -> str:
    """How re-running a week that stopped for want of calls goes on: from its cached pages, or from the start."""
    nothing = f"Nothing of week {week_key} was written to the warehouse."
    if folder is None:
        return f"{nothing} Its pages are not cached ({why_not_cached}): a re-run asks the API for all of them again."
    return (
        f"{nothing} The pages this run read ({api_calls:,} API calls, {cache_hits:,} from the cache) are cached in "
        f"{folder}: re-running the week once calls are available again asks only for the pages not cached yet, and "
        "a backfill's weeks that are cached cost nothing."
    )


def backfill_budget_note(calls: int, uncached_week_calls: float, status: BudgetStatus) -> str:
    """Whether a backfill's remaining calls fit what is left of this month's budget, and if not, what happens.
    (Read after `status.describe()`, which gives the numbers.)"""
    if status.budget is None:
        return "Nothing stops the backfill before the API's own quota."
    if calls <= status.left:
        return "That fits what is left of the budget."
    weeks = int(status.left // uncached_week_calls) if uncached_week_calls > 0 else 0
    return (
        f"That is more than is left: about {weeks:,} more uncached week(s) fit this month. Later weeks fail before "
        f"calling the API; re-running the backfill after {status.resets_at:%Y-%m-%d %H:%M} UTC continues where it "
        f"stopped (cached weeks cost nothing), or {BUDGET_FIX}."
    )
