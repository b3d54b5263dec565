"""Pure article rules (parsing, window, dedup, date range) and the packaged sample's contract."""

from __future__ import annotations

import gzip
import hashlib
import json
import runpy
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from signals_assets.news import articles, sample
from signals_assets.weeks import Week
from signals_assets_tests.stocknews_server import api_item

REPO = Path(__file__).resolve().parents[1]
WEEK = Week.from_key("2026-10-24")  # [Sat 2026-10-24 00:00 UTC, Sat 2026-10-31 00:00 UTC), summer time (-0400)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# ----- parsing -----


def test_parse_converts_eastern_offsets_to_utc():
    frame = articles.parse_articles(
        [
            api_item("Winter", "Sun, 14 Feb 2021 07:00:00 -0500", ["AAPL"]),
            api_item("Summer", "Fri, 30 Oct 2026 19:59:59 -0400", ["MSFT"]),
        ]
    )
    assert frame["published_at"].tolist() == [utc("2021-02-14 12:00:00"), utc("2026-10-30 23:59:59")]
    assert str(frame["published_at"].dtype) == "datetime64[us, UTC]"


def test_parse_types_every_column():
    frame = articles.parse_articles([api_item("Typed", "Mon, 26 Oct 2026 09:30:00 -0400", ["aapl", "MSFT"])])
    assert list(frame.columns) == articles.ARTICLE_COLUMNS
    assert frame.dtypes.to_dict() == {name: pd.api.types.pandas_dtype(d) for name, d in articles.ARTICLE_DTYPES.items()}
    row = frame.iloc[0]
    assert row["tickers"] == ["AAPL", "MSFT"]
    assert row["topics"] == []
    assert row["sentiment"] == "Positive"
    assert row["type"] == "Article"
    assert row["article_id"] == hashlib.sha1(row["news_url"].encode()).hexdigest()[:16]


def test_parse_tolerates_missing_optional_fields():
    item = {
        "news_url": "https://news.invalid/bare",
        "title": "Bare",
        "date": "Tue, 27 Oct 2026 08:00:00 -0400",
        "sentiment": "negative",
        "type": "Article",
        "tickers": ["XYZ"],
    }
    row = articles.parse_articles([item]).iloc[0]
    assert (row["text"], row["topics"], row["source_name"], row["sentiment"]) == ("", [], "", "Negative")


def test_article_id_without_url_hashes_title_and_raw_date():
    date = "Tue, 27 Oct 2026 08:00:00 -0400"
    row = articles.parse_articles([api_item("No link", date, ["XYZ"], news_url=None)]).iloc[0]
    assert pd.isna(row["news_url"])
    assert row["article_id"] == hashlib.sha1(f"No link|{date}".encode()).hexdigest()[:16]


@pytest.mark.parametrize("bad_date", ["yesterday", "", None, "Tue, 27 Oct 2026 08:00:00 -0000"])
def test_unparseable_date_names_the_article_and_the_value(bad_date):
    item = {**api_item("Broken date", "x", ["XYZ"]), "date": bad_date}
    with pytest.raises(ValueError) as caught:
        articles.parse_articles([item])
    message = str(caught.value)
    assert "Broken date" in message and "https://news.invalid/broken-date" in message
    assert repr(bad_date) in message


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"date": None}, "missing_date"),
        ({"date": "27/10/2026"}, "unparseable_date"),
        ({"title": None}, "missing_title"),
        ({"title": " "}, "missing_title"),
        ({"tickers": []}, "no_tickers"),
        ({"tickers": ", ;"}, "no_tickers"),
    ],
)
def test_a_malformed_item_raises_with_its_reason(change, reason):
    with pytest.raises(articles.MalformedItem) as caught:
        articles.parse_articles([{**api_item("Odd", "Tue, 27 Oct 2026 08:00:00 -0400", ["XYZ"]), **change}])
    assert caught.value.reason == reason and reason in articles.DROP_REASONS
    ((field, value),) = change.items()
    assert str(caught.value).endswith(f"(https://news.invalid/odd) has {field} {value!r}")
    with pytest.raises(articles.MalformedItem, match="is not a JSON object") as caught:
        articles.parse_articles(["just text"])
    assert caught.value.reason == "not_an_object"


@pytest.mark.parametrize(
    "raw",
    [
        ["aapl", "MSFT"],
        "AAPL,MSFT",
        "AAPL, MSFT",
        "AAPL MSFT",
        "AAPL;MSFT",
        " AAPL ;  msft ",
        ["AAPL MSFT"],
        '["AAPL", "MSFT"]',
        ["AAPL", None, "MSFT", "AAPL"],
    ],
)
def test_tickers_become_a_list_whatever_the_separator(raw):
    assert articles.parse_ticker_list(raw) == ["AAPL", "MSFT"]
    assert articles.parse_ticker_list(None) == articles.parse_ticker_list(7) == []
    assert articles.parse_ticker_list(["BRK.B", "BF-B"]) == ["BRK.B", "BF-B"]


def test_empty_frame_has_typed_columns_duckdb_can_store():
    empty = articles.parse_articles([])
    assert list(empty.columns) == articles.ARTICLE_COLUMNS and empty.empty
    assert empty.dtypes.equals(articles.empty_articles().dtypes)
    with duckdb.connect() as con:
        con.execute("CREATE TABLE articles AS SELECT * FROM empty")
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns").fetchall())
    assert types["article_id"] == "VARCHAR"
    assert types["tickers"] == "VARCHAR[]"
    assert types["published_at"] in {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS"}


# ----- window, dedup, tickers -----


def test_keep_window_is_start_inclusive_end_exclusive():
    frame = articles.parse_articles(
        [
            api_item("Before start", "Fri, 23 Oct 2026 19:59:59 -0400", ["A"]),
            api_item("At start", "Fri, 23 Oct 2026 20:00:00 -0400", ["A"]),
            api_item("Last second", "Fri, 30 Oct 2026 19:59:59 -0400", ["A"]),
            api_item("At end", "Fri, 30 Oct 2026 20:00:00 -0400", ["A"]),
        ]
    )
    assert articles.keep_window(frame, WEEK)["title"].tolist() == ["At start", "Last second"]


def test_deduplicate_keeps_one_row_per_article_with_its_full_ticker_list():
    shared = api_item("Three names", "Mon, 26 Oct 2026 10:00:00 -0400", ["AAA", "BBB", "CCC"])
    no_url = api_item("No link", "Mon, 26 Oct 2026 11:00:00 -0400", ["AAA"], news_url=None)
    frame = articles.deduplicate(articles.parse_articles([shared, shared, no_url, shared, no_url]))
    assert frame["title"].tolist() == ["Three names", "No link"]
    assert frame.iloc[0]["tickers"] == ["AAA", "BBB", "CCC"]


def test_mentioning_keeps_articles_with_any_wanted_ticker():
    frame = articles.parse_articles(
        [
            api_item("One", "Mon, 26 Oct 2026 10:00:00 -0400", ["AAA", "ZZZ"]),
            api_item("Two", "Mon, 26 Oct 2026 10:00:00 -0400", ["QQQ"]),
        ]
    )
    assert articles.mentioning(frame, ["zzz"])["title"].tolist() == ["One"]
    assert len(articles.mentioning(frame, [])) == 2


@pytest.mark.parametrize(
    "key, expected",
    [("2026-11-14", "11132026-11212026"), ("2026-12-26", "12252026-01022027"), ("2019-03-02", "03012019-03092019")],
)
def test_request_date_range_widens_the_window_by_a_day_each_side(key, expected):
    assert articles.request_date_range(Week.from_key(key)) == expected


def test_parse_tickers_fills_missing_columns():
    frame = articles.parse_tickers(
        [{"ticker": "msft", "name": "Microsoft"}, {"ticker": ""}, {"ticker": "AAPL", "has_news": True}]
    )
    assert list(frame.columns) == articles.TICKER_COLUMNS
    assert frame["ticker"].tolist() == ["AAPL", "MSFT"]
    assert frame["has_news"].tolist() == [True, pd.NA]
    assert frame.loc[1, "sector"] is pd.NA


# ----- the packaged sample -----


@pytest.fixture(scope="module")
def sample_frame() -> pd.DataFrame:
    return articles.parse_articles(sample.sample_articles())


def test_sample_covers_five_weeks_with_enough_polar_universe_tickers(sample_frame):
    universe = set(sample.sample_universe()["numerai_ticker"].str.removesuffix(" US"))
    article_rows = sample_frame[sample_frame["type"] == "Article"]
    for key in sample.SAMPLE_WEEK_KEYS:
        week = articles.keep_window(article_rows, Week.from_key(key))
        assert 1500 <= len(week) <= 3000, key
        polar = week[week["sentiment"] != "Neutral"]
        polar_tickers = {t for tickers in polar["tickers"] for t in tickers} & universe
        any_tickers = {t for tickers in week["tickers"] for t in tickers} & universe
        assert len(polar_tickers) > 250 and len(any_tickers) >= 300, key
        assert set(week["sentiment"]) == set(articles.SENTIMENT_LABELS), key


def test_sample_shape_labels_offsets_and_multi_ticker_articles(sample_frame):
    raw = sample.sample_articles()
    assert {tuple(item) for item in raw} == {tuple(api_item("x", "y", []))}  # the API's exact key order
    assert {item["date"][-5:] for item in raw} == {"-0400", "-0500"}
    labels = Counter(sample_frame["sentiment"])
    assert 0.30 <= labels["Neutral"] / len(sample_frame) <= 0.40
    tickers_per_article = sample_frame["tickers"].map(len)
    assert 1.4 <= tickers_per_article.mean() <= 1.9 and tickers_per_article.max() >= 3
    assert sample_frame["news_url"].is_unique


def test_sample_has_articles_at_every_window_edge_and_outside_the_weeks(sample_frame):
    instants = set(sample_frame["published_at"])
    first = Week.from_key(sample.SAMPLE_WEEK_KEYS[0])
    last = Week.from_key(sample.SAMPLE_WEEK_KEYS[-1])
    edges = [first.start + timedelta(days=7 * n) for n in range(len(sample.SAMPLE_WEEK_KEYS) + 1)]
    for edge in edges:
        assert pd.Timestamp(edge) in instants and pd.Timestamp(edge - timedelta(seconds=1)) in instants
    outside = ~first.contains(sample_frame["published_at"]) & (sample_frame["published_at"] < pd.Timestamp(first.start))
    assert outside.sum() >= 10
    assert (sample_frame["published_at"] >= pd.Timestamp(last.end)).sum() >= 10


def test_sample_universe_covers_most_but_not_all_news_tickers(sample_frame):
    universe = sample.sample_universe()
    assert list(universe.columns) == ["numerai_ticker", "bloomberg_ticker"]
    assert universe["numerai_ticker"].str.endswith(" US").all()
    news_tickers = {t for tickers in sample_frame["tickers"] for t in tickers}
    in_universe = news_tickers & set(universe["numerai_ticker"].str.removesuffix(" US"))
    assert 0.7 * len(news_tickers) <= len(in_universe) < len(news_tickers)
    listed = {item["ticker"] for item in sample.sample_tickers()}
    assert news_tickers <= listed and listed - news_tickers


def test_generator_is_deterministic_and_matches_the_packaged_files(tmp_path):
    generator = runpy.run_path(str(REPO / "scripts" / "make_sample_data.py"), run_name="make_sample_data")
    written = generator["main"](["--out", str(tmp_path), "--quiet"])
    packaged = REPO / "signals_assets" / "news" / "sample_data"
    assert sorted(path.name for path in written) == sorted(path.name for path in packaged.iterdir() if path.is_file())
    for path in written:
        assert path.read_bytes() == (packaged / path.name).read_bytes(), (
            f"{path.name}: rerun scripts/make_sample_data.py"
        )
    assert json.loads(gzip.decompress((tmp_path / sample.ARTICLES_FILE).read_bytes()))[0]["type"] in {
        "Article",
        "Video",
    }
    assert sum(path.stat().st_size for path in written) < 3_000_000
