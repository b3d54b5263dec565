"""One week of news read page by page from any `get(path, params) -> payload` (the HTTP client, the
cache in front of it, or the packaged sample's emulator): the request streams, their paging, and the
`NewsFetch` that says what came back and what it cost."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from signals_assets.news import articles
from signals_assets.news.endpoints import CATEGORY_PATH, NEWS_PATH
from signals_assets.weeks import Week

PROGRESS_EVERY_S = 5.0  # per_ticker progress lines at most this often

FetchMode = Literal["all_tickers", "per_ticker"]
Get = Callable[[str, Mapping[str, Any]], dict[str, Any]]


class TooManyDroppedItems(ValueError):
    """More of a week's items were malformed (and dropped) than `max_dropped_share` allows."""


@dataclass(frozen=True)
class Usage:
    """What the requests so far cost: HTTP calls (retries included) by status, and cache hits."""

    api_calls: int = 0
    requests_by_status: Mapping[str, int] = field(default_factory=dict)
    cache_hits: int = 0


@dataclass(frozen=True)
class NewsFetch:
    """One week of news and what it cost."""

    articles: pd.DataFrame  # parsed, inside the week's window, one row per article (articles.ARTICLE_COLUMNS)
    source: str  # "stocknewsapi" or "sample"
    fetch_mode: str  # "per_ticker" or "all_tickers"
    api_calls: int  # HTTP requests sent, retries included (0 for the sample)
    pages: int  # pages received, from the API or the cache, empty ones included
    requests_by_status: dict[str, int]  # "200", "429", ..., "connection_error", "timeout"
    streams: int  # paged request streams (one per ticker in per_ticker mode)
    truncated_streams: tuple[str, ...]  # streams stopped by their page cutoff while more pages were left
    items_received: int  # items in all pages, before window filter and deduplication
    seconds: float
    cache_hits: int = 0  # pages read from the response cache instead of the API (not in api_calls)
    dropped_items: dict[str, int] = field(default_factory=dict)  # malformed items left out, by reason
    miscounted_streams: tuple[str, ...] = ()  # streams with more pages than the API's total_pages said
    expected_api_calls: int | None = None  # the estimate logged before fetching (budget.py), if any
    api_calls_this_month: int | None = None  # per the call ledger (quota), after this fetch, if kept


@dataclass(frozen=True)
class StreamRequest:
    """One paged request stream of a week: what `read_stream` is asked for."""

    name: str  # e.g. "tickers=AAPL" or "section=alltickers"
    path: str
    params: Mapping[str, Any]  # without `page`
    max_pages: int


@dataclass(frozen=True)
class Stream:
    """The pages of one request stream that were read."""

    name: str  # e.g. "tickers=AAPL" or "section=alltickers"
    items: list[dict]
    pages: int
    complete: bool  # False: stopped by max_pages with pages maybe left
    api_total_pages: int | None = None  # the API's total_pages, when pages past it still held items


def read_stream(get: Get, path: str, params: Mapping[str, Any], max_pages: int, name: str = "") -> Stream:
    """Pages 1, 2, ... until an empty page, a page at or past `total_pages` that is not full, or `max_pages`.

    A full page (as many items as `params["items"]` asks) does not trust `total_pages`: the API's count can
    be too low, so the next page is asked too (at worst one empty page more when the count was right).
    """
    per_page = _int_or_none(params.get("items"))
    items: list[dict] = []
    wrong_total: int | None = None
    for page in range(1, max_pages + 1):
        payload = get(path, {**params, "page": page})
        items.extend(payload["data"])
        total_pages = _int_or_none(payload.get("total_pages"))
        if payload["data"] and total_pages is not None and page > total_pages and wrong_total is None:
            wrong_total = total_pages
        if is_last_page(page, payload, per_page):
            return Stream(name, items, page, True, wrong_total)
    return Stream(name, items, max_pages, False, wrong_total)


def is_last_page(page: int, payload: Mapping[str, Any], per_page: int | None) -> bool:
    """Whether a stream ends with this page: it is empty, or at or past `total_pages` and not full."""
    data = payload["data"]
    if not data:
        return True
    total_pages = _int_or_none(payload.get("total_pages"))
    return total_pages is not None and page >= total_pages and (per_page is None or len(data) < per_page)


def stream_requests(
    week: Week,
    tickers: Sequence[str],
    *,
    fetch_mode: FetchMode,
    items_per_page: int,
    page_cutoff: int,
    all_tickers_page_cutoff: int,
) -> list[StreamRequest]:
    """The request streams `fetch_week` reads for a week: one per ticker, or the single all-tickers stream."""
    query = {"items": items_per_page, "type": "article", "date": articles.request_date_range(week)}
    if fetch_mode == "per_ticker":
        return [
            StreamRequest(f"tickers={ticker}", NEWS_PATH, {"tickers": ticker, **query}, page_cutoff)
            for ticker in normalise_tickers(tickers)
        ]
    return [
        StreamRequest("section=alltickers", CATEGORY_PATH, {"section": "alltickers", **query}, all_tickers_page_cutoff)
    ]


def fetch_week(
    get: Get,
    week: Week,
    tickers: Sequence[str],
    *,
    source: str,
    fetch_mode: FetchMode,
    items_per_page: int,
    page_cutoff: int,
    all_tickers_page_cutoff: int,
    log: Any,
    usage: Callable[[], Usage] = Usage,
    max_dropped_share: float = 1.0,
    cache_note: str = "",
) -> NewsFetch:
    """The week's articles mentioning any of `tickers` (all articles when `tickers` is empty).

    'all_tickers': one stream from /category?section=alltickers, at most `all_tickers_page_cutoff` pages;
    'per_ticker': one stream per ticker, at most `page_cutoff` pages each. `usage()` tells what the
    requests cost so far (for progress lines and the result). Malformed items (articles.MalformedItem)
    are dropped, counted and warned about; TooManyDroppedItems when their share of the items received
    passes `max_dropped_share` (`cache_note`, if any, says where the answers are cached and how to re-ask).
    """
    started = time.monotonic()
    wanted = normalise_tickers(tickers)
    requests = stream_requests(
        week,
        wanted,
        fetch_mode=fetch_mode,
        items_per_page=items_per_page,
        page_cutoff=page_cutoff,
        all_tickers_page_cutoff=all_tickers_page_cutoff,
    )
    if fetch_mode == "per_ticker":
        streams = _per_ticker(get, requests, log, usage)
    else:
        streams = [
            read_stream(get, request.path, request.params, request.max_pages, request.name) for request in requests
        ]
    items = [item for stream in streams for item in stream.items]
    parsed, dropped, examples = _parse(items)
    spent = usage()
    result = NewsFetch(
        articles=articles.deduplicate(articles.mentioning(articles.keep_window(parsed, week), wanted)),
        source=source,
        fetch_mode=fetch_mode,
        api_calls=spent.api_calls,
        pages=sum(stream.pages for stream in streams),
        requests_by_status=dict(sorted(spent.requests_by_status.items())),
        streams=len(streams),
        truncated_streams=tuple(stream.name for stream in streams if not stream.complete),
        items_received=len(items),
        seconds=time.monotonic() - started,
        cache_hits=spent.cache_hits,
        dropped_items=dropped,
        miscounted_streams=tuple(stream.name for stream in streams if stream.api_total_pages is not None),
    )
    cutoff = (
        ("page_cutoff", page_cutoff)
        if fetch_mode == "per_ticker"
        else ("all_tickers_page_cutoff", all_tickers_page_cutoff)
    )
    _log_result(log, week, result, *cutoff)
    _warn_miscounted(log, [stream for stream in streams if stream.api_total_pages is not None], items_per_page)
    _check_dropped(log, week, result, examples, max_dropped_share, cache_note)
    return result


def normalise_tickers(tickers: Sequence[str]) -> list[str]:
    """Upper-case, unique, sorted: the order of per_ticker streams does not depend on the caller."""
    return sorted({str(ticker).strip().upper() for ticker in tickers if str(ticker).strip()})


def _per_ticker(get: Get, requests: list[StreamRequest], log: Any, usage: Callable[[], Usage]) -> list[Stream]:
    streams: list[Stream] = []
    items = 0
    last_report = time.monotonic()
    for done, request in enumerate(requests, start=1):
        stream = read_stream(get, request.path, request.params, request.max_pages, request.name)
        streams.append(stream)
        items += len(stream.items)
        if time.monotonic() - last_report >= PROGRESS_EVERY_S or done == len(requests):
            log.info(
                f"per_ticker: {done:,}/{len(requests):,} tickers, {usage().api_calls:,} API calls, "
                f"{items:,} items so far."
            )
            last_report = time.monotonic()
    return streams


def _log_result(log: Any, week: Week, result: NewsFetch, cutoff_name: str, cutoff: int) -> None:
    by_status = result.requests_by_status
    statuses = f" ({', '.join(f'{key}: {count}' for key, count in by_status.items())})" if by_status else ""
    log.info(
        f"Week {week.key} from {result.source} ({result.fetch_mode}): {len(result.articles):,} articles from "
        f"{result.items_received:,} items in {result.pages:,} pages, {result.api_calls:,} API calls{statuses}, "
        f"{result.cache_hits:,} pages from the cache, {result.seconds:.1f} s."
    )
    if result.truncated_streams:
        shown = ", ".join(result.truncated_streams[:10])
        log.warning(
            f"{len(result.truncated_streams)} request stream(s) stopped at {cutoff_name}={cutoff} with more pages "
            f"left ({shown}): some articles are missing. Raise {cutoff_name} to read them."
        )


def _parse(items: Iterable[Any]) -> tuple[pd.DataFrame, dict[str, int], dict[str, str]]:
    """Items -> (article frame, malformed items dropped by reason, the first such item per reason described)."""
    rows: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for item in items:
        try:
            rows.append(articles.parse_article(item))
        except articles.MalformedItem as exc:
            dropped[exc.reason] += 1
            examples.setdefault(exc.reason, str(exc))
    return articles.articles_frame(rows), dict(sorted(dropped.items())), examples


def _warn_miscounted(log: Any, streams: list[Stream], items_per_page: int) -> None:
    if streams:
        shown = ", ".join(f"{s.name} said total_pages={s.api_total_pages}, read {s.pages} pages" for s in streams[:10])
        log.warning(
            f"The API's total_pages was wrong (too low) for {len(streams)} request stream(s) ({shown}): their pages "
            f"kept coming back full ({items_per_page} items), so paging went on past it until a page that was "
            "not full, an empty page or the page cutoff."
        )


def _check_dropped(
    log: Any, week: Week, result: NewsFetch, examples: Mapping[str, str], max_share: float, cache_note: str
) -> None:
    dropped = sum(result.dropped_items.values())
    if not dropped:
        return
    share = dropped / result.items_received
    reasons = "; ".join(
        f"{reason}: {count:,} (e.g. {examples[reason]})" for reason, count in result.dropped_items.items()
    )
    what = (
        f"Week {week.key} from {result.source}: {dropped:,} of {result.items_received:,} items ({share:.1%}) were "
        f"malformed and dropped ({reasons})"
    )
    limit = f"max_dropped_share={max_share:g} ({max_share:.0%})"
    note = f"{cache_note.strip()} " if cache_note.strip() else ""
    if share > max_share:
        raise TooManyDroppedItems(
            f"{what}. That is more than {limit} allows, so the week fails rather than silently lose that much news. "
            f"{note}If the provider keeps sending such items, raise max_dropped_share (a setting of the news "
            "resource) to accept the loss."
        )
    log.warning(f"{what}; within {limit}, so the week goes on without them. {note}".rstrip())


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
