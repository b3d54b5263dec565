"""The Stock News API response cache: closed weeks cost no API calls the second time, open weeks are
always asked for, the token is never written, broken files are re-fetched."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from signals_assets.defs.ingestion.resources import CACHE_DIR_NAME, NewsSource, StockNewsAPI
from signals_assets.defs.partitions import week_of, weekly_partitions
from signals_assets.defs.warehouse import Warehouse
from signals_assets.news import articles, response_cache
from signals_assets.news.emulator import NewsAPIEmulator
from signals_assets.news.response_cache import CLOSED_GRACE, ResponseCache
from signals_assets.news.sample import sample_articles, sample_tickers
from signals_assets.weeks import Week, latest_complete_week
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI, api_item

CLOSED = Week.from_key("2026-10-24")  # request range 10232026-10312026, passed on 2026-11-01 04:00 UTC
EDT = timezone(timedelta(hours=-4))
LOG = logging.getLogger("test.news_cache")


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    """Every test gets its own cache folder (where warehouse.cache_dir(CACHE_DIR_NAME) would be), so no
    cache outlives it."""
    return tmp_path / "data" / CACHE_DIR_NAME


def items_in(week: Week, tickers: dict[str, int]) -> list[dict]:
    """`count` articles per ticker, hourly from the week's Monday 13:00 UTC, with Eastern offsets."""
    monday = week.start + timedelta(days=2, hours=13)
    return [
        api_item(f"{ticker} story {n}", format_datetime((monday + timedelta(hours=n)).astimezone(EDT)), [ticker])
        for ticker, count in tickers.items()
        for n in range(count)
    ]


def client(api: FakeStockNewsAPI, **settings) -> StockNewsAPI:
    return StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, backoff_base_s=0.01, **settings)


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted(path for path in cache_dir.rglob("*") if path.is_file())


@pytest.mark.parametrize("fetch_mode", ["all_tickers", "per_ticker"])
def test_a_closed_week_is_fetched_once_then_read_from_the_cache(fetch_mode, cache_dir):
    with FakeStockNewsAPI(items_in(CLOSED, {"AAA": 70, "BBB": 20})) as api:
        first = client(api, fetch_mode=fetch_mode).fetch_week(CLOSED, ["AAA", "BBB"], cache_dir, log=LOG)
        sent = len(api.requests)
        second = client(api, fetch_mode=fetch_mode).fetch_week(CLOSED, ["AAA", "BBB"], cache_dir, log=LOG)
        assert len(api.requests) == sent  # not one request more
    assert first.api_calls == sent == 2 + (fetch_mode == "per_ticker") and first.cache_hits == 0
    assert (second.api_calls, second.cache_hits, second.pages) == (0, sent, first.pages)
    assert second.requests_by_status == {}
    pd.testing.assert_frame_equal(first.articles, second.articles)
    assert len(second.articles) == 90
    # One file a request, all in the week's request range's folder.
    assert {path.parent.name for path in cache_files(cache_dir)} == {"2026-10-23_2026-10-31"}
    assert len(cache_files(cache_dir)) == sent


def test_refresh_asks_the_api_again_and_rewrites_the_cache(cache_dir):
    with FakeStockNewsAPI(items_in(CLOSED, {"AAA": 3})) as api:
        client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        api.emulator = NewsAPIEmulator(items_in(CLOSED, {"AAA": 5}))  # the provider corrects the week
        cached = client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        refreshed = client(api, refresh=True).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        after = client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)  # the rewritten cache answers
        assert len(api.requests) == 2
    assert (len(cached.articles), cached.api_calls, cached.cache_hits) == (3, 0, 1)
    assert (len(refreshed.articles), refreshed.api_calls, refreshed.cache_hits) == (5, 1, 0)
    assert (len(after.articles), after.api_calls, after.cache_hits) == (5, 0, 1)


def test_an_open_week_is_never_cached(cache_dir):
    current = Week.from_key((latest_complete_week().start + timedelta(days=7)).strftime("%Y-%m-%d"))
    with FakeStockNewsAPI(items_in(current, {"AAA": 2})) as api:
        first = client(api).fetch_week(current, ["AAA"], cache_dir, log=LOG)
        second = client(api).fetch_week(current, ["AAA"], cache_dir, log=LOG)
        assert len(api.requests) == 2
    assert first.api_calls == second.api_calls == 1 and second.cache_hits == 0
    assert not list(cache_dir.rglob("*.json.gz"))


def test_a_week_closes_once_its_eastern_request_range_and_the_grace_have_passed(monkeypatch):
    # CLOSED's window ends Sat 2026-10-31 00:00 UTC; its request range ends with Sat 2026-10-31 US Eastern,
    # i.e. at Sun 2026-11-01 00:00 EDT = 04:00 UTC (the clocks go back only at 02:00 that night).
    ends_at = response_cache.request_range_ends_at(articles.request_date_range(CLOSED))
    assert ends_at == datetime(2026, 11, 1, 4, tzinfo=timezone.utc)
    cache = ResponseCache(Path("unused"), "http://x", FAKE_TOKEN, LOG)
    params = {"date": articles.request_date_range(CLOSED), "page": 1}
    for now, closed in [
        (ends_at + CLOSED_GRACE - timedelta(seconds=1), False),
        (ends_at + CLOSED_GRACE, True),
        (CLOSED.end, False),
    ]:
        monkeypatch.setattr(response_cache, "_now", lambda now=now: now)
        assert (cache.rule("/category", params) is not None) is closed
    assert cache.rule("/category", {"date": "last7days"}) is None
    assert cache.rule("/category", {}) is None


def test_the_token_is_in_no_cache_file_name_or_content(cache_dir):
    with FakeStockNewsAPI(items_in(CLOSED, {"AAA": 60}), [{"ticker": "AAA"}]) as api:
        client(api, fetch_mode="per_ticker").fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        client(api).supported_tickers(cache_dir, log=LOG)
        assert all(params["token"] == FAKE_TOKEN for _, params in api.requests)  # it was sent, though
    files = cache_files(cache_dir)
    assert len(files) == 5  # 2 per_ticker pages, 2 all_tickers pages, the ticker list
    for path in files:
        assert FAKE_TOKEN not in str(path)
        raw = path.read_bytes()
        assert FAKE_TOKEN.encode() not in raw
        text = gzip.decompress(raw).decode("utf-8")
        assert FAKE_TOKEN not in text and "token" not in json.loads(text)["request"]["params"]


def test_an_answer_that_contains_the_token_is_not_cached(cache_dir, caplog):
    leaky = items_in(CLOSED, {"AAA": 1})
    leaky[0]["text"] = f"echo of the request: ?token={FAKE_TOKEN}"
    with FakeStockNewsAPI(leaky) as api:
        fetched = client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
    assert len(fetched.articles) == 1 and not cache_files(cache_dir)
    assert "contains the API token" in caplog.text and FAKE_TOKEN not in caplog.text


@pytest.mark.parametrize(
    "damage",
    [b"not gzip at all", gzip.compress(b'{"format": 1, "payload"'), gzip.compress(json.dumps({"format": 1}).encode())],
    ids=["not_gzip", "truncated_json", "no_payload"],  # gzip bytes hold a timestamp: ids must not come from them
)
def test_a_corrupt_cache_file_is_ignored_with_a_warning_and_fetched_again(damage, cache_dir, caplog):
    with FakeStockNewsAPI(items_in(CLOSED, {"AAA": 70})) as api:
        first = client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        broken = cache_files(cache_dir)[0]
        broken.write_bytes(damage)
        with caplog.at_level(logging.WARNING):
            second = client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        assert (second.api_calls, second.cache_hits) == (1, 1)  # only the broken page was asked again
        third = client(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)  # ... and rewritten
        assert len(api.requests) == 3
    assert "Ignoring unreadable Stock News API cache file" in caplog.text and str(broken) in caplog.text
    assert third.api_calls == 0
    pd.testing.assert_frame_equal(first.articles, second.articles)
    pd.testing.assert_frame_equal(first.articles, third.articles)


def test_the_ticker_list_is_asked_for_at_most_once_a_day(monkeypatch, cache_dir):
    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    monkeypatch.setattr(response_cache, "_now", lambda: now)
    with FakeStockNewsAPI([], [{"ticker": "AAA"}, {"ticker": "BBB"}]) as api:
        calls = [client(api).supported_tickers(cache_dir, log=LOG)[1]]
        now += timedelta(hours=23)
        calls.append(client(api).supported_tickers(cache_dir, log=LOG)[1])
        calls.append(client(api, refresh=True).supported_tickers(cache_dir, log=LOG)[1])
        now += timedelta(days=1, seconds=1)
        tickers, later = client(api).supported_tickers(cache_dir, log=LOG)
    assert calls + [later] == [1, 0, 1, 1] and len(api.requests) == 3
    assert tickers["ticker"].tolist() == ["AAA", "BBB"]


def test_cache_responses_false_writes_nothing(cache_dir):
    with FakeStockNewsAPI(items_in(CLOSED, {"AAA": 2})) as api:
        for _ in range(2):
            assert client(api, cache_responses=False).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG).api_calls == 1
    assert not cache_dir.exists() or not cache_files(cache_dir)


def test_rematerializing_a_closed_week_makes_no_api_calls(tmp_path):
    """Through Dagster, as the assets use it: the cache folder comes from the warehouse resource."""

    @dg.asset(partitions_def=weekly_partitions)
    def ticker_list(context, news: NewsSource, warehouse: Warehouse) -> dg.MaterializeResult:
        tickers, calls = news.supported_tickers(warehouse.cache_dir(CACHE_DIR_NAME), context.log)
        return dg.MaterializeResult(metadata={"api_calls": calls, "rows": len(tickers)})

    @dg.asset(partitions_def=weekly_partitions, deps=[ticker_list])
    def week_articles(context, news: NewsSource, warehouse: Warehouse) -> dg.MaterializeResult:
        tickers = sorted({item["ticker"] for item in sample_tickers()})
        fetched = news.fetch_week(week_of(context), tickers, warehouse.cache_dir(CACHE_DIR_NAME), context.log)
        return dg.MaterializeResult(metadata={"api_calls": fetched.api_calls, "rows": len(fetched.articles)})

    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as api:
        resources_ = {
            "news": StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, fetch_mode="per_ticker"),
            "warehouse": Warehouse(data_dir=str(tmp_path / "data"), database=str(tmp_path / "warehouse.duckdb")),
        }
        runs = []
        for _ in range(2):
            result = dg.materialize([ticker_list, week_articles], partition_key="2026-10-31", resources=resources_)
            assert result.success
            runs.append(
                {
                    e.asset_key.to_user_string(): e.materialization.metadata["api_calls"].value
                    for e in result.get_asset_materialization_events()
                }
            )
            runs[-1]["server"] = len(api.requests)
    first, second = runs
    assert first["week_articles"] > 250 and first["ticker_list"] == 1
    assert second == {"ticker_list": 0, "week_articles": 0, "server": first["server"]}
    assert {path.parent.name for path in (tmp_path / "data" / CACHE_DIR_NAME).rglob("*.json.gz")} == {
        "undated",
        "2026-10-30_2026-11-07",
    }
