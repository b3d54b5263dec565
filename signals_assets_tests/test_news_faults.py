"""Odd but plausible Stock News API answers, served by the loopback fake through the real client: malformed
items are dropped and counted (the week fails only past max_dropped_share, and never for good because
of the cache), titles that are empty never reach FinBERT, tickers in any separator, a `total_pages`
that is too low, and the sample's weeks outside the sample."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from signals_assets.defs.ingestion.assets import raw_articles
from signals_assets.defs.ingestion.resources import CACHE_DIR_NAME, SampleNews, StockNewsAPI
from signals_assets.defs.partitions import weekly_partitions
from signals_assets.defs.warehouse import Warehouse
from signals_assets.news import paging, sample
from signals_assets.news.headlines import aggregate_headlines, filter_headlines
from signals_assets.weeks import Week
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI, api_item, each_item

WEEK = Week.from_key("2026-10-24")  # closed: its request range 10232026-10312026 is cached for good
WEEK_FOLDER = "2026-10-23_2026-10-31"  # the response cache's folder for that range
EDT = timezone(timedelta(hours=-4))
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 5.0, "connect_timeout_s": 2.0, "read_timeout_s": 5.0}


def stories(count: int, tickers: tuple[str, ...] = ("AAA",), prefix: str = "story") -> list[dict]:
    """`count` articles, one every 10 minutes from Monday 2026-10-26 13:00 UTC, with Eastern offsets."""
    start = datetime(2026, 10, 26, 13, tzinfo=timezone.utc)
    return [
        api_item(f"{prefix} {n}", format_datetime((start + timedelta(minutes=10 * n)).astimezone(EDT)), list(tickers))
        for n in range(count)
    ]


def source(api: FakeStockNewsAPI, **settings) -> StockNewsAPI:
    return StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, **{**FAST, **settings})


def breaking(numbers: set[int], change):
    """A rewrite that serves items "story <n>" for n in `numbers` changed by `change`, the others as they are."""
    return each_item(lambda item: change(item) if int(item["title"].split()[-1]) in numbers else item)


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "data" / CACHE_DIR_NAME


@pytest.fixture
def log(caplog) -> logging.Logger:
    caplog.set_level(logging.INFO)
    return logging.getLogger("test.news_faults")


def without(field: str):
    return lambda item: {key: value for key, value in item.items() if key != field}


def setting(field: str, value):
    return lambda item: {**item, field: value}


MALFORMED = {
    "no date field": (without("date"), "missing_date"),
    "date null": (setting("date", None), "missing_date"),
    "date empty": (setting("date", " "), "missing_date"),
    "date without offset": (setting("date", "2026-10-27 10:00:00"), "unparseable_date"),
    "date in US format": (setting("date", "10/27/2026 10:00 AM"), "unparseable_date"),
    "date a number": (setting("date", 1793109600), "unparseable_date"),
    "no title field": (without("title"), "missing_title"),
    "title null": (setting("title", None), "missing_title"),
    "title blank": (setting("title", "   "), "missing_title"),
    "tickers empty": (setting("tickers", []), "no_tickers"),
    "tickers null": (setting("tickers", None), "no_tickers"),
    "not an object": (lambda item: "just a string", "not_an_object"),
}


# ----- 1. malformed items are dropped and counted; the week fails only past max_dropped_share -----


@pytest.mark.parametrize("change, reason", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("fetch_mode", ["all_tickers", "per_ticker"])
def test_a_malformed_item_is_dropped_and_counted_not_fatal(change, reason, fetch_mode, log, caplog, cache_dir):
    with FakeStockNewsAPI(stories(60)) as api:
        api.rewrite = breaking({7}, change)
        fetched = source(api, fetch_mode=fetch_mode).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert len(fetched.articles) == 59 and "story 7" not in set(fetched.articles["title"])
    assert fetched.dropped_items == {reason: 1} and fetched.items_received == 60
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("1 of 60 items" in text and reason in text for text in warnings), warnings


def test_too_many_malformed_items_fail_the_week_naming_the_cache_and_refresh(log, caplog, cache_dir):
    with FakeStockNewsAPI(stories(60)) as api:
        api.rewrite = breaking(set(range(0, 60, 6)), setting("date", None))  # 10 of 60: 17% > 5%
        with pytest.raises(paging.TooManyDroppedItems) as caught:
            source(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    message = str(caught.value)
    assert "10 of 60 items" in message and "missing_date: 10 (e.g. item 'story " in message
    assert "max_dropped_share=0.05" in message
    assert str(cache_dir / WEEK_FOLDER) in message and "refresh: true" in message
    assert FAKE_TOKEN not in message + caplog.text


def test_a_higher_max_dropped_share_accepts_the_loss_with_a_warning(log, caplog, cache_dir):
    with FakeStockNewsAPI(stories(60)) as api:
        api.rewrite = breaking(set(range(0, 60, 6)), setting("date", "yesterday"))
        fetched = source(api, max_dropped_share=0.2).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert len(fetched.articles) == 50 and fetched.dropped_items == {"unparseable_date": 10}
    assert "10 of 60 items" in caplog.text and "'yesterday'" in caplog.text
    assert str(cache_dir / WEEK_FOLDER) in caplog.text and "refresh: true" in caplog.text


def test_a_cached_week_that_failed_to_parse_is_not_a_dead_end(log, caplog, cache_dir):
    with FakeStockNewsAPI(stories(60)) as api:
        api.rewrite = breaking(set(range(0, 60, 6)), without("date"))
        with pytest.raises(paging.TooManyDroppedItems):
            source(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
        assert len(api.requests) == 2 and list(
            (cache_dir / WEEK_FOLDER).glob("*.json.gz")
        )  # the broken pages are cached

        api.rewrite = None  # the provider fixes its answers
        fixed = source(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)  # default settings: no refresh
        assert len(api.requests) == 4
        again = source(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
        assert len(api.requests) == 4  # the fixed answers replaced the broken ones in the cache
    assert len(fixed.articles) == 60 and fixed.dropped_items == {} and fixed.api_calls == 2
    assert "asking the API again" in caplog.text
    assert (again.api_calls, again.cache_hits, len(again.articles)) == (0, 2, 60)


# ----- 2. odd but plausible answers never give silently wrong results -----


def test_empty_titles_never_reach_finbert_and_are_counted_in_raw_articles(tmp_path):
    @dg.asset(partitions_def=weekly_partitions, name="ticker_map")
    def stub_ticker_map() -> pd.DataFrame:
        return pd.DataFrame(
            {"stocknews_ticker": ["AAA", "BBB"], "numerai_ticker": ["AAA US", "BBB US"]}, dtype="string"
        )

    warehouse = Warehouse(data_dir=str(tmp_path / "data"), database=str(tmp_path / "warehouse.duckdb"))
    with FakeStockNewsAPI(stories(100, ("AAA", "BBB"))) as api:
        api.rewrite = breaking({3, 50}, setting("title", None))
        result = dg.materialize(
            [stub_ticker_map, raw_articles],
            partition_key=WEEK.key,
            resources={"news": source(api), "warehouse": warehouse},
        )
    assert result.success
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw_articles")
    assert event.materialization.metadata["dropped_items"].value == {"missing_title": 2}
    fetched = result.output_for_node("raw_articles")
    assert len(fetched) == 98 and (fetched["title"].str.strip() != "").all()
    headlines = aggregate_headlines(filter_headlines(fetched, stub_ticker_map()))
    assert all(title.strip() for titles in headlines["headlines"] for title in titles)
    assert headlines["n_headlines"].tolist() == [98, 98]


@pytest.mark.parametrize(
    "tickers",
    [["AAA", "BBB"], "AAA,BBB", "AAA, BBB", "AAA BBB", "AAA;BBB", "AAA; BBB", ["AAA BBB"], " aaa  bbb "],
)
@pytest.mark.parametrize("fetch_mode", ["all_tickers", "per_ticker"])
def test_tickers_arrive_as_a_list_whatever_the_separator(tickers, fetch_mode, log, cache_dir):
    with FakeStockNewsAPI(stories(20, ("AAA", "BBB"))) as api:  # the fake routes by the real tickers ...
        api.rewrite = each_item(setting("tickers", tickers))  # ... and sends them in this shape
        fetched = source(api, fetch_mode=fetch_mode).fetch_week(WEEK, ["BBB"], cache_dir, log=log)
    assert len(fetched.articles) == 20 and fetched.dropped_items == {}
    assert {tuple(row) for row in fetched.articles["tickers"]} == {("AAA", "BBB")}


def test_paging_goes_past_a_total_pages_that_is_too_low_while_pages_are_full(log, caplog, cache_dir):
    with FakeStockNewsAPI(stories(120)) as api:
        api.rewrite = lambda path, params, payload: {**payload, "total_pages": 1}
        fetched = source(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert len(fetched.articles) == 120 and (fetched.api_calls, fetched.pages) == (3, 3)
    assert fetched.miscounted_streams == ("section=alltickers",)
    assert "total_pages=1" in caplog.text and "wrong" in caplog.text


def test_paging_past_total_pages_is_still_bounded_by_the_page_cutoffs(log, caplog, cache_dir):
    with FakeStockNewsAPI(stories(300)) as api:
        api.rewrite = lambda path, params, payload: {**payload, "total_pages": 1}
        all_tickers = source(api, all_tickers_page_cutoff=2).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
        per_ticker = source(api, fetch_mode="per_ticker", page_cutoff=3, cache_responses=False).fetch_week(
            WEEK, ["AAA"], cache_dir, log=log
        )
    assert (all_tickers.api_calls, len(all_tickers.articles)) == (2, 100)
    assert all_tickers.truncated_streams == ("section=alltickers",)
    assert (per_ticker.api_calls, len(per_ticker.articles)) == (3, 150)
    assert per_ticker.truncated_streams == ("tickers=AAA",)
    assert "all_tickers_page_cutoff=2" in caplog.text and "page_cutoff=3" in caplog.text


def test_a_right_total_pages_is_believed_once_a_page_is_short(log, caplog, cache_dir):
    with FakeStockNewsAPI(stories(120)) as api:
        fetched = source(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert (fetched.api_calls, len(fetched.articles), fetched.miscounted_streams) == (3, 120, ())
    with FakeStockNewsAPI(stories(100)) as api:  # the last page is full: one more (empty) page makes sure
        fetched = source(api, cache_responses=False).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert (fetched.api_calls, len(fetched.articles), fetched.miscounted_streams) == (3, 100, ())
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


# ----- 3. the sample's warning about weeks outside it is true -----


@pytest.mark.parametrize("key", ["2026-10-03", "2026-11-14", "2026-11-21"])
def test_a_week_outside_the_sample_says_how_many_articles_it_has(key, log, caplog, cache_dir):
    tickers = sorted({item["ticker"] for item in sample.sample_tickers()})
    fetched = SampleNews().fetch_week(Week.from_key(key), tickers, cache_dir, log=log)
    (warning,) = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert "outside the packaged sample news" in warning
    if fetched.articles.empty:
        assert "no articles" in warning
    else:
        assert f"only {len(fetched.articles)} articles" in warning and "no articles" not in warning
    assert key != "2026-11-21" or fetched.articles.empty
    assert key == "2026-11-21" or len(fetched.articles) > 0
