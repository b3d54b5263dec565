"""Stock News API items -> typed article frames: parsing, window filtering, deduplication.

Pure module (no I/O, no Dagster) so the rules that decide which articles belong to a week can be
tested on their own and reused by the API client, the sample source and the test server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from signals_assets.weeks import Week

# Typed columns even when a frame is empty: DuckDB types an empty object column as NULL, which
# breaks the next week's insert. "string" maps to VARCHAR, a pyarrow list of strings to VARCHAR[].
STRING = pd.StringDtype()
STRING_LIST = pd.ArrowDtype(pa.list_(pa.string()))
# Microseconds: DuckDB stores them as TIMESTAMPTZ, which reads back tz-aware (TIMESTAMPTZ_NS reads back naive).
UTC_TIMESTAMP = "datetime64[us, UTC]"

ARTICLE_DTYPES: dict[str, Any] = {
    "article_id": STRING,
    "news_url": STRING,
    "title": STRING,
    "text": STRING,
    "source_name": STRING,
    "published_at": UTC_TIMESTAMP,
    "topics": STRING_LIST,
    "sentiment": STRING,
    "type": STRING,
    "tickers": STRING_LIST,
}
ARTICLE_COLUMNS = list(ARTICLE_DTYPES)

# The provider's own sentiment labels.
SENTIMENT_LABELS = ("Positive", "Negative", "Neutral")

# Shape of /account/tickersdbv2 rows; columns the payload lacks are filled with <NA>.
TICKER_DTYPES: dict[str, Any] = {
    "ticker": STRING,
    "name": STRING,
    "country": STRING,
    "industry": STRING,
    "sector": STRING,
    "exchange": STRING,
    "has_news": pd.BooleanDtype(),
    "ipo_date": STRING,
}
TICKER_COLUMNS = list(TICKER_DTYPES)

ARTICLE_ID_LENGTH = 16
REQUEST_DATE_FORMAT = "%m%d%Y"

# Why an item cannot be an article (the keys of the dropped-item counts). A missing title is one:
# an empty headline would be scored and averaged into every ticker the item names.
DROP_REASONS = ("not_an_object", "missing_date", "unparseable_date", "missing_title", "no_tickers")
_TICKER_SEPARATORS = re.compile(r"[\s,;]+")  # "AAPL,MSFT", "AAPL MSFT", "AAPL; MSFT"


class MalformedItem(ValueError):
    """An API item that cannot be an article; `reason` is one of DROP_REASONS, the message shows the item."""

    def __init__(self, reason: str, item: Any, field: str = ""):
        if isinstance(item, Mapping):
            where = f"{_short(item.get('title'))} ({item.get('news_url') or 'no news_url'})"
            super().__init__(f"item {where} has {field} {_short(item.get(field))}")
        else:
            super().__init__(f"item {_short(item)} is not a JSON object")
        self.reason = reason


def empty_articles() -> pd.DataFrame:
    """An article frame with no rows but every column typed."""
    return articles_frame([])


def parse_articles(items: Iterable[Any]) -> pd.DataFrame:
    """API `data` items -> one typed row per item (duplicates kept; see `deduplicate`). A malformed item
    raises MalformedItem: `paging.fetch_week` parses item by item, and drops and counts those."""
    return articles_frame([parse_article(item) for item in items])


def articles_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows from `parse_article` -> a typed article frame."""
    return _typed_frame({column: [row[column] for row in rows] for column in ARTICLE_COLUMNS}, ARTICLE_DTYPES)


def parse_article(item: Any) -> dict[str, Any]:
    """One API item -> plain values for one row; MalformedItem when it has no usable date, title or
    tickers. Optional fields (image_url, topics, text, sentiment) may be absent."""
    if not isinstance(item, Mapping):
        raise MalformedItem("not_an_object", item)
    news_url = _optional_text(item.get("news_url"))
    raw_date = item.get("date")
    published_at = parse_published_at(raw_date, item)
    title = _optional_text(item.get("title"))
    if title is None:
        raise MalformedItem("missing_title", item, "title")
    tickers = parse_ticker_list(item.get("tickers"))
    if not tickers:
        raise MalformedItem("no_tickers", item, "tickers")
    return {
        "article_id": article_id(news_url, title, raw_date),
        "news_url": news_url,
        "title": title,
        "text": _optional_text(item.get("text")) or "",
        "source_name": _optional_text(item.get("source_name")) or "",
        "published_at": published_at,
        "topics": _string_list(item.get("topics")),
        # A missing label claims no polarity, which is what Neutral means downstream.
        "sentiment": (_optional_text(item.get("sentiment")) or "Neutral").capitalize(),
        "type": _optional_text(item.get("type")) or "",
        "tickers": tickers,
    }


def parse_ticker_list(value: Any) -> list[str]:
    """Upper-case tickers, each once, from a list or a string separated by commas, spaces or semicolons."""
    entries = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    parts = (
        part.strip("\"'[]").upper()
        for entry in entries
        if entry is not None
        for part in _TICKER_SEPARATORS.split(str(entry))
    )
    return list(dict.fromkeys(part for part in parts if part))


def article_id(news_url: str | None, title: str, raw_date: Any) -> str:
    """Stable id: sha1 of the URL, else of title + "|" + the raw date string (first 16 hex chars)."""
    key = news_url if news_url else f"{title}|{raw_date}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:ARTICLE_ID_LENGTH]


def parse_published_at(raw_date: Any, item: Mapping[str, Any] | None = None) -> pd.Timestamp:
    """RFC 2822 date with its US Eastern offset ("Sun, 14 Feb 2021 07:00:00 -0500") -> UTC Timestamp.

    ISO 8601 with an offset is accepted too. A date without an offset is rejected (MalformedItem):
    guessing the zone could move an article into the wrong week.
    """
    if _optional_text(raw_date) is None:
        raise MalformedItem("missing_date", item or {"date": raw_date}, "date")
    parsed = _parse_date(raw_date) if isinstance(raw_date, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise MalformedItem("unparseable_date", item or {"date": raw_date}, "date")
    return pd.Timestamp(parsed).tz_convert("UTC")


def keep_window(articles: pd.DataFrame, week: Week) -> pd.DataFrame:
    """Rows published inside the week's window [start, end) in UTC."""
    return articles.loc[week.contains(articles["published_at"])].reset_index(drop=True)


def mentioning(articles: pd.DataFrame, tickers: Sequence[str]) -> pd.DataFrame:
    """Rows whose tickers include at least one of `tickers` (all rows when `tickers` is empty)."""
    wanted = {ticker.upper() for ticker in tickers}
    if not wanted:
        return articles.reset_index(drop=True)
    mask = [bool(row) and not wanted.isdisjoint(row) for row in _lists(articles["tickers"])]
    return articles.loc[mask].reset_index(drop=True)


def deduplicate(articles: pd.DataFrame) -> pd.DataFrame:
    """One row per article_id, in a stable order (published_at, article_id).

    Per-ticker fetches return a multi-ticker article once per ticker; every copy carries the
    article's full ticker list, so keeping the first copy loses nothing.
    """
    unique = articles.drop_duplicates("article_id", keep="first")
    return unique.sort_values(["published_at", "article_id"], kind="stable").reset_index(drop=True)


def request_date_range(week: Week) -> str:
    """The API's `date=MMDDYYYY-MMDDYYYY` (inclusive) for a week, widened by one day on each side.

    The provider's calendar dates are US Eastern: the UTC window [Sat 00:00, next Sat 00:00) is
    Friday evening to Friday evening there. Asking one extra day each side covers it whichever
    zone the provider filters in; `keep_window` then trims to the exact UTC window.
    """
    first = (week.start - timedelta(days=1)).date()
    last = week.end.date()
    return f"{first.strftime(REQUEST_DATE_FORMAT)}-{last.strftime(REQUEST_DATE_FORMAT)}"


def parse_tickers(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """/account/tickersdbv2 items -> one typed row per ticker, sorted by ticker."""
    rows = [_ticker_row(item) for item in items if _optional_text(item.get("ticker"))]
    columns = {column: [row[column] for row in rows] for column in TICKER_COLUMNS}
    frame = _typed_frame(columns, TICKER_DTYPES)
    return frame.drop_duplicates("ticker").sort_values("ticker").reset_index(drop=True)


def _ticker_row(item: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {column: _optional_text(item.get(column)) for column in TICKER_COLUMNS}
    row["ticker"] = row["ticker"].upper()
    has_news = item.get("has_news")
    row["has_news"] = None if has_news is None else _as_bool(has_news)
    return row


def _lists(column: pd.Series) -> list[list[str]]:
    """A list column's values as Python lists (<NA> -> [])."""
    return [list(value) if isinstance(value, (list, tuple, np.ndarray)) else [] for value in column]


def _typed_frame(columns: Mapping[str, list], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(values, dtype=dtypes[name]) for name, values in columns.items()})


def _parse_date(raw_date: str) -> datetime | None:
    """RFC 2822, else ISO 8601; None when neither parses."""
    try:
        return parsedate_to_datetime(raw_date)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return pd.Timestamp(raw_date).to_pydatetime()
    except (TypeError, ValueError):
        return None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _string_list(value: Any) -> list[str]:
    """A list of non-empty strings; tolerates None, a comma-separated string and other odd values."""
    entries = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    return [text for text in (_optional_text(entry) for entry in entries) if text]


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "y"}
    return bool(value)
