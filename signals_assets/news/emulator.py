"""An in-process emulation of the Stock News API: answers its requests (date range, tickers, type,
paging) from a list of items.

The packaged sample source runs the client's ordinary paging code over it without network or key, and
the loopback test server serves it, so tests and sample mode agree on what the API answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from signals_assets.news.endpoints import CATEGORY_PATH, MAX_ITEMS_PER_PAGE, NEWS_PATH, TICKERS_DB_PATH


class EmulatedAPIError(Exception):
    """What the emulated API answers with an HTTP error status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _IndexedItem:
    item: Mapping[str, Any]
    instant: datetime | None  # None when the item's date does not parse: served for every range
    eastern_date: date | None
    tickers: frozenset[str]
    kind: str


class NewsAPIEmulator:
    """Answers Stock News API requests from items held in memory.

    `path` is relative to the API base ("" for news by ticker, "/category", "/account/tickersdbv2");
    `params` are the query parameters without the token. Answers are the API's JSON payloads.
    `total_pages=False` leaves `total_pages` out, so a client must page until an empty page.
    """

    def __init__(
        self,
        articles: Iterable[Mapping[str, Any]],
        tickers: Iterable[Mapping[str, Any]] = (),
        *,
        total_pages: bool = True,
        max_items: int = MAX_ITEMS_PER_PAGE,
    ):
        self._items = sorted((_index(item) for item in articles), key=_newest_first)
        self._by_ticker: dict[str, list[_IndexedItem]] = {}
        for indexed in self._items:
            for ticker in indexed.tickers:
                self._by_ticker.setdefault(ticker, []).append(indexed)
        self._tickers = list(tickers)
        self._total_pages = total_pages
        self._max_items = max_items

    def answer(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        route = "/" + path.strip("/") if path.strip("/") else NEWS_PATH
        if route == TICKERS_DB_PATH:
            return {"data": list(self._tickers)}
        if route == CATEGORY_PATH:
            if params.get("section") != "alltickers":
                raise EmulatedAPIError(422, f"Unsupported section {params.get('section')!r}; use section=alltickers.")
            return self._page(self._select(self._items, params), params)
        if route == NEWS_PATH:
            wanted = _split(params.get("tickers"))
            if not wanted:
                raise EmulatedAPIError(422, "The tickers parameter is required.")
            candidates = {id(item): item for ticker in wanted for item in self._by_ticker.get(ticker, [])}
            return self._page(self._select(sorted(candidates.values(), key=_newest_first), params), params)
        raise EmulatedAPIError(404, f"No endpoint {path!r}.")

    def _select(self, items: list[_IndexedItem], params: Mapping[str, Any]) -> list[_IndexedItem]:
        first, last = _date_range(params.get("date"))
        kind = str(params.get("type") or "").lower()
        return [
            indexed
            for indexed in items
            if indexed.tickers
            and (not kind or indexed.kind == kind)
            and (indexed.eastern_date is None or first <= indexed.eastern_date <= last)
        ]

    def _page(self, items: list[_IndexedItem], params: Mapping[str, Any]) -> dict[str, Any]:
        per_page = min(_positive_int(params, "items", MAX_ITEMS_PER_PAGE), self._max_items)
        page = _positive_int(params, "page", 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        payload: dict[str, Any] = {"data": [dict(indexed.item) for indexed in chunk]}
        if self._total_pages:
            payload["total_pages"] = math.ceil(len(items) / per_page)
        return payload


def _index(item: Mapping[str, Any]) -> _IndexedItem:
    try:
        published = parsedate_to_datetime(str(item.get("date")))
    except (TypeError, ValueError, IndexError):
        published = None
    if published is not None and published.tzinfo is None:
        published = None
    return _IndexedItem(
        item=item,
        instant=published.astimezone(timezone.utc) if published else None,
        # The provider's calendar is US Eastern, the zone each item's own offset is in.
        eastern_date=published.date() if published else None,
        tickers=frozenset(ticker.upper() for ticker in item.get("tickers") or ()),
        kind=str(item.get("type") or "").lower(),
    )


def _newest_first(indexed: _IndexedItem) -> tuple:
    # The API lists newest first; the URL breaks ties so pages are stable between requests.
    timestamp = indexed.instant.timestamp() if indexed.instant else math.inf
    return (-timestamp, str(indexed.item.get("news_url") or indexed.item.get("title") or ""))


def _date_range(raw: Any) -> tuple[date, date]:
    if not raw:
        return date.min, date.max
    try:
        first, last = (datetime.strptime(part, "%m%d%Y").date() for part in str(raw).split("-"))
    except ValueError:
        raise EmulatedAPIError(422, f"Invalid date {raw!r}; expected MMDDYYYY-MMDDYYYY.") from None
    if first > last:
        raise EmulatedAPIError(422, f"Invalid date {raw!r}: the range ends before it starts.")
    return first, last


def _positive_int(params: Mapping[str, Any], name: str, default: int) -> int:
    try:
        value = int(params.get(name, default))
    except (TypeError, ValueError):
        raise EmulatedAPIError(422, f"Invalid {name} {params.get(name)!r}; expected a whole number.") from None
    if value < 1:
        raise EmulatedAPIError(422, f"Invalid {name} {value}; expected 1 or more.")
    return value


def _split(raw: Any) -> list[str]:
    return [part.strip().upper() for part in str(raw or "").split(",") if part.strip()]
