"""How many Stock News API calls a week, or a backfill of weeks, will cost: from what the response cache
holds and the fetch mode. Pure (no Dagster); reads only the cache's folder listings and one page a stream.

A week's request streams are those `paging.fetch_week` reads (one all-tickers stream, or one per ticker).
A stream the cache holds to its end costs 0 calls: closed weeks' pages are kept for good (response_cache.py),
so a week fetched once, or the pages a run read before the quota stopped it, are free the next time. A stream
not (fully) cached is expected to take as many pages as a stream of the nearest cached week (up to
LOOKBACK_WEEKS before or after: a whole week in all_tickers mode, the mean per ticker in per_ticker mode), else
a stated default, less the pages already cached, at least one call (the API is asked until a page says it is
the last) and at most its page cutoff. Retries are not counted: a call that fails and is retried costs more.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from signals_assets.news import paging
from signals_assets.news.paging import FetchMode, StreamRequest
from signals_assets.news.response_cache import ResponseCache
from signals_assets.weeks import Week

# Defaults when no earlier week is cached: the synthetic benchmark week (bench/week.py, BENCHMARKS.md), 24,750
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

    def streams(self, week: Week, tickers: Sequence[str]) -> list[StreamRequest]:
        return paging.stream_requests(
            week,
            tickers,
            fetch_mode=self.fetch_mode,
            items_per_page=self.items_per_page,
            page_cutoff=self.page_cutoff,
            all_tickers_page_cutoff=self.all_tickers_page_cutoff,
        )


@dataclass(frozen=True)
class CachedStream:
    pages: int  # consecutive pages from page 1 that the cache holds
    complete: bool  # they are the whole stream (its last page, or its page cutoff)


class CacheReader:
    """What the response cache holds of request streams, read cheaply (a folder listing per week, one page
    per stream parsed); `cache=None` (caching off) holds nothing."""

    def __init__(self, cache: ResponseCache | None):
        self.cache = cache
        self._folders: dict[str, str | None] = {}  # request date range -> its cache subfolder (None: open week)
        self._listings: dict[str, frozenset[str]] = {}  # subfolder -> file names in it

    def closed(self, request: StreamRequest) -> bool:
        """Whether the stream's week is closed, so its answers are kept (False when caching is off)."""
        return self._folder(request) is not None

    def holds_any(self, request: StreamRequest) -> bool:
        """Whether the cache holds any answer of the stream's week (a cheap test before reading its streams)."""
        return bool(self._listing(self._folder(request)))

    def stream(self, request: StreamRequest) -> CachedStream:
        subfolder = self._folder(request)
        names = self._listing(subfolder)
        if subfolder is None or self.cache is None or not names:
            return CachedStream(0, False)
        per_page = request.params.get("items")
        pages, last = 0, None
        while pages < request.max_pages:
            key = self.cache.request_key(request.path, {**request.params, "page": pages + 1})
            file = self.cache.file_for(subfolder, key)
            if file.name not in names:
                break
            pages, last = pages + 1, (file, key)
        if pages == 0 or pages == request.max_pages:
            return CachedStream(pages, pages > 0)
        payload = self.cache.load(*last, max_age=None)
        if payload is None:  # unreadable: the fetch asks for it again
            return CachedStream(pages - 1, False)
        return CachedStream(pages, paging.is_last_page(pages, payload, None if per_page is None else int(per_page)))

    def _folder(self, request: StreamRequest) -> str | None:
        if self.cache is None:
            return None
        date_range = str(request.params.get("date"))
        if date_range not in self._folders:
            rule = self.cache.rule(request.path, request.params)
            self._folders[date_range] = None if rule is None else rule[0]
        return self._folders[date_range]

    def _listing(self, subfolder: str | None) -> frozenset[str]:
        if subfolder is None or self.cache is None:
            return frozenset()
        if subfolder not in self._listings:
            try:
                self._listings[subfolder] = frozenset(os.listdir(self.cache.directory / subfolder))
            except OSError:  # no such folder: nothing of that week is cached
                self._listings[subfolder] = frozenset()
        return self._listings[subfolder]


@dataclass(frozen=True)
class WeekEstimate:
    week_key: str
    fetch_mode: str
    calls: int  # API calls expected (retries not counted)
    streams: int
    complete_streams: int  # streams the cache holds to their end
    cached_pages: int
    pages_per_stream: float  # expected pages of a stream not cached
    basis: str  # where pages_per_stream comes from
    closed: bool  # the week's answers are kept in the cache

    def describe(self) -> str:
        head = f"Week {self.week_key} ({self.fetch_mode}): "
        if self.calls == 0:
            return f"{head}all {self.streams:,} request stream(s) are in the response cache: 0 API calls expected"
        missing = self.streams - self.complete_streams
        cached = f"{self.cached_pages:,} page(s) cached" if self.closed else "nothing cached (the week is open)"
        return (
            f"{head}about {self.calls:,} API calls expected ({missing:,} of {self.streams:,} stream(s) not fully "
            f"cached, {cached}; about {_pages(self.pages_per_stream)} page(s) a stream, {self.basis})"
        )


@dataclass(frozen=True)
class BackfillEstimate:
    weeks: tuple[WeekEstimate, ...]
    tickers: int = 0  # per_ticker: the tickers assumed every week

    @property
    def calls(self) -> int:
        return sum(week.calls for week in self.weeks)

    @property
    def cached_weeks(self) -> int:
        return sum(week.calls == 0 for week in self.weeks)

    @property
    def partial_weeks(self) -> int:
        return sum(week.calls > 0 and week.cached_pages > 0 for week in self.weeks)

    @property
    def calls_per_uncached_week(self) -> float:
        uncached = [week.calls for week in self.weeks if week.calls > 0 and week.cached_pages == 0]
        return sum(uncached) / len(uncached) if uncached else 0.0

    def describe(self) -> str:
        if not self.weeks:
            return "This backfill has no weeks."
        mode = self.weeks[0].fetch_mode
        tickers = f", {self.tickers:,} tickers a week as this week has" if mode == "per_ticker" else ""
        partial = f", {self.partial_weeks:,} partly" if self.partial_weeks else ""
        per_week = self.calls_per_uncached_week
        rate = f"; about {per_week:,.0f} calls a week not cached" if per_week else ""
        return (
            f"This backfill of {len(self.weeks):,} week(s) ({self.weeks[0].week_key} to {self.weeks[-1].week_key}, "
            f"{mode}{tickers}) needs about {self.calls:,} more Stock News API calls: {self.cached_weeks:,} of its "
            f"weeks are in the response cache (0 calls){partial}{rate}; plus the ticker list, at most one call a day."
        )


def estimate_week(
    week: Week, tickers: Sequence[str], settings: FetchSettings, reader: CacheReader, *, refresh: bool = False
) -> WeekEstimate:
    """The calls fetching `week` is expected to make. `refresh`: the cache is not read for this week (as
    StockNewsAPI's refresh does), though other weeks still tell how many pages a stream takes."""
    return _estimate_week(week, paging.normalise_tickers(tickers), settings, reader, refresh)


def estimate_backfill(
    weeks: Sequence[Week], tickers: Sequence[str], settings: FetchSettings, reader: CacheReader
) -> BackfillEstimate:
    """The calls a backfill of `weeks` is expected to make from here on (`tickers`: every week's, per_ticker)."""
    tickers = paging.normalise_tickers(tickers)
    estimates = tuple(_estimate_week(week, tickers, settings, reader, False) for week in sorted(weeks, key=_start))
    return BackfillEstimate(estimates, tickers=len(tickers))


def _estimate_week(
    week: Week, tickers: list[str], settings: FetchSettings, reader: CacheReader, refresh: bool
) -> WeekEstimate:
    probe = settings.streams(week, tickers[:1])  # every stream of a week shares its cache folder
    if not refresh and probe and reader.holds_any(probe[0]):
        states = Counter((request.max_pages, reader.stream(request)) for request in settings.streams(week, tickers))
    else:  # nothing of the week is cached: no need to look at each stream
        streams = len(tickers) if settings.fetch_mode == "per_ticker" else 1
        states = Counter({(probe[0].max_pages, CachedStream(0, False)): streams} if probe else {})
    pending = {(max_pages, state.pages): count for (max_pages, state), count in states.items() if not state.complete}
    pages_per_stream, basis = _reference(week, tickers, settings, reader) if pending else (0.0, "")
    calls = sum(
        count * min(max_pages - pages, max(1.0, pages_per_stream - pages))
        for (max_pages, pages), count in pending.items()
    )
    streams = sum(states.values())
    return WeekEstimate(
        week_key=week.key,
        fetch_mode=settings.fetch_mode,
        calls=math.ceil(calls - 1e-9),
        streams=streams,
        complete_streams=streams - sum(count for (_, state), count in states.items() if not state.complete),
        cached_pages=sum(state.pages * count for (_, state), count in states.items()),
        pages_per_stream=pages_per_stream,
        basis=basis,
        closed=bool(probe) and reader.closed(probe[0]),
    )


def _start(week: Week):
    return week.start


def _reference(week: Week, tickers: Sequence[str], settings: FetchSettings, reader: CacheReader) -> tuple[float, str]:
    """Pages a stream takes: from the nearest week (earlier first: 1 week before, 1 after, 2 before, ...) whose
    streams the cache holds (at least half of them) in this fetch mode, else the default; and a phrase that
    says which."""
    for weeks in (offset for distance in range(1, LOOKBACK_WEEKS + 1) for offset in (-distance, distance)):
        other = Week.from_key((week.start + timedelta(weeks=weeks)).strftime("%Y-%m-%d"))
        probe = settings.streams(other, tickers[:1])  # every stream of a week shares its cache folder
        if not probe or not reader.holds_any(probe[0]):
            continue
        requests = settings.streams(other, tickers)
        complete = [state.pages for state in map(reader.stream, requests) if state.complete]
        if complete and 2 * len(complete) >= len(requests):
            mean = sum(complete) / len(complete)
            return mean, f"as week {other.key} took in the cache"
    if settings.fetch_mode == "per_ticker":
        default, unit = DEFAULT_PAGES_PER_TICKER, "a ticker"
    else:
        default, unit = float(DEFAULT_ALL_TICKERS_PAGES), "a week"
    return default, f"the default of {_pages(default)} {unit}: no week within {LOOKBACK_WEEKS} of it is cached"


def _pages(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
