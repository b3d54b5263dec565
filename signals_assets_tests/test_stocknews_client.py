"""The news sources: StockNewsAPI against the loopback fake (real requests client), SampleNews, and the
choice between them."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from signals_assets.defs.ingestion.resources import (
    SAMPLE_NOTICE,
    NewsSource,
    SampleNews,
    StockNewsAPI,
    news_source,
)
from signals_assets.news import articles, sample
from signals_assets.news.client import StockNewsAPIError, StockNewsClient
from signals_assets.news.redaction import redact
from signals_assets.news.retry import NewsRetry
from signals_assets.weeks import Week
from signals_assets_tests.stocknews_server import (
    DISCONNECT,
    FAKE_TOKEN,
    FakeStockNewsAPI,
    Fault,
    api_item,
    unused_base_url,
)

WEEK = Week.from_key("2026-10-24")  # [Sat 2026-10-24 00:00 UTC, Sat 2026-10-31 00:00 UTC)
EDT = timezone(timedelta(hours=-4))
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 5.0, "connect_timeout_s": 2.0, "read_timeout_s": 5.0}


def eastern(utc_text: str) -> str:
    """An RFC 2822 date with a -0400 offset for a UTC instant in the test week."""
    return format_datetime(datetime.fromisoformat(utc_text).replace(tzinfo=timezone.utc).astimezone(EDT))


def many(ticker: str, count: int, *, others: tuple[str, ...] = ()) -> list[dict]:
    """`count` articles for `ticker`, one every 10 minutes from Monday 2026-10-26 13:00 UTC."""
    start = datetime(2026, 10, 26, 13, tzinfo=timezone.utc)
    return [
        api_item(
            f"{ticker} story {n}",
            format_datetime((start + timedelta(minutes=10 * n)).astimezone(EDT)),
            [ticker, *others],
        )
        for n in range(count)
    ]


def client(api: FakeStockNewsAPI, **settings) -> StockNewsAPI:
    return StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, **{**FAST, **settings})


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    """The response cache's folder (what the asset gets from warehouse.cache_dir), one per test."""
    return tmp_path / "stocknews_cache"


@pytest.fixture
def log(caplog) -> logging.Logger:
    """A standard logger whose lines land in caplog (DEBUG, urllib3 included, to catch any token leak)."""
    caplog.set_level(logging.DEBUG)
    return logging.getLogger("test.stocknews")


def assert_no_token(caplog, *texts: str) -> None:
    assert FAKE_TOKEN not in caplog.text
    for text in texts:
        assert FAKE_TOKEN not in text


# ----- request streams and paging -----


def test_per_ticker_pages_until_total_pages_with_the_documented_query(cache_dir):
    with FakeStockNewsAPI(many("AAA", 120)) as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["aaa"], cache_dir, log=logging.getLogger("t"))
    assert len(fetched.articles) == 120
    assert (fetched.api_calls, fetched.pages, fetched.truncated_streams) == (3, 3, ())
    assert fetched.requests_by_status == {"200": 3}
    assert api.requests_to("/api/v1") == [
        {
            "tickers": "AAA",
            "items": "50",
            "type": "article",
            "date": "10232026-10312026",
            "page": str(page),
            "token": FAKE_TOKEN,
        }
        for page in (1, 2, 3)
    ]
    assert api.connections == 1  # one session, connection kept alive


def test_pages_until_an_empty_page_when_total_pages_is_absent(cache_dir):
    with FakeStockNewsAPI(many("AAA", 100), paging="empty_page") as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], cache_dir, log=logging.getLogger("t"))
    assert len(fetched.articles) == 100
    assert (fetched.api_calls, fetched.pages) == (3, 3)  # 50 + 50 + the empty page that ends the stream


def test_all_tickers_uses_the_category_endpoint(cache_dir):
    with FakeStockNewsAPI(many("AAA", 60) + many("BBB", 10)) as api:
        fetched = client(api).fetch_week(WEEK, ["AAA", "BBB"], cache_dir, log=logging.getLogger("t"))
    assert len(fetched.articles) == 70 and fetched.api_calls == 2
    assert [params["page"] for params in api.requests_to("/api/v1/category")] == ["1", "2"]
    assert api.requests_to("/api/v1/category")[0]["section"] == "alltickers"


def test_page_cutoff_stops_a_stream_and_says_so(log, caplog, cache_dir):
    with FakeStockNewsAPI(many("AAA", 200)) as api:
        fetched = client(api, fetch_mode="per_ticker", page_cutoff=2).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert (fetched.api_calls, len(fetched.articles)) == (2, 100)
    assert fetched.truncated_streams == ("tickers=AAA",)
    assert "page_cutoff=2" in caplog.text and "Raise page_cutoff" in caplog.text


def test_all_tickers_stream_has_its_own_cutoff(log, caplog, cache_dir):
    with FakeStockNewsAPI(many("AAA", 200)) as api:
        fetched = client(api, page_cutoff=1, all_tickers_page_cutoff=2).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert (fetched.api_calls, len(fetched.articles), fetched.truncated_streams) == (2, 100, ("section=alltickers",))
    assert "all_tickers_page_cutoff=2" in caplog.text


# ----- window, dates, duplicates, modes -----


def test_offsets_and_window_edges_through_the_client(cache_dir):
    items = [
        api_item("Winter offset", "Thu, 29 Oct 2026 07:00:00 -0500", ["AAA"]),  # odd for October, still exact
        api_item("Summer offset", "Thu, 29 Oct 2026 07:00:00 -0400", ["AAA"]),
        api_item("Last second", "Fri, 30 Oct 2026 19:59:59 -0400", ["AAA"]),
        api_item("At the end", "Fri, 30 Oct 2026 20:00:00 -0400", ["AAA"]),
        api_item("Before the start", "Fri, 23 Oct 2026 19:59:59 -0400", ["AAA"]),
    ]
    with FakeStockNewsAPI(items) as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], cache_dir, log=logging.getLogger("t"))
    published = dict(zip(fetched.articles["title"], fetched.articles["published_at"], strict=True))
    assert published == {
        "Summer offset": pd.Timestamp("2026-10-29 11:00:00", tz="UTC"),
        "Winter offset": pd.Timestamp("2026-10-29 12:00:00", tz="UTC"),
        "Last second": pd.Timestamp("2026-10-30 23:59:59", tz="UTC"),
    }
    assert fetched.items_received == 5  # the widened date range returned the edge articles too


def test_multi_ticker_article_fetched_per_ticker_is_stored_once(cache_dir):
    shared = api_item("Three names", eastern("2026-10-27T15:00:00"), ["AAA", "BBB", "CCC"])
    with FakeStockNewsAPI([shared]) as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(
            WEEK, ["AAA", "BBB", "CCC"], cache_dir, log=logging.getLogger("t")
        )
    assert fetched.items_received == 3 and fetched.streams == 3
    assert len(fetched.articles) == 1 and fetched.articles.iloc[0]["tickers"] == ["AAA", "BBB", "CCC"]


def test_per_ticker_and_all_tickers_agree_against_the_fake(cache_dir):
    items = (
        many("AAA", 70, others=("BBB",))
        + many("CCC", 30)
        + many("ZZZ", 20)
        + [
            api_item("Next week", eastern("2026-10-31T02:00:00"), ["AAA"]),
            api_item("A video", eastern("2026-10-27T12:00:00"), ["CCC"], type="Video"),
        ]
    )
    with FakeStockNewsAPI(items) as api:
        per_ticker = client(api, fetch_mode="per_ticker").fetch_week(
            WEEK, ["AAA", "BBB", "CCC"], cache_dir, log=logging.getLogger("t")
        )
        all_tickers = client(api).fetch_week(WEEK, ["AAA", "BBB", "CCC"], cache_dir, log=logging.getLogger("t"))
    assert len(per_ticker.articles) == 100
    pd.testing.assert_frame_equal(per_ticker.articles, all_tickers.articles)


@pytest.mark.parametrize("key", sample.SAMPLE_WEEK_KEYS)
def test_per_ticker_and_all_tickers_agree_in_sample_mode(key, cache_dir):
    source = SampleNews()
    tickers = sorted({item["ticker"] for item in sample.sample_tickers()})
    by_ticker = source.model_copy(update={"fetch_mode": "per_ticker"}).fetch_week(
        Week.from_key(key), tickers, cache_dir, log=logging.getLogger("t")
    )
    at_once = source.fetch_week(Week.from_key(key), tickers, cache_dir, log=logging.getLogger("t"))
    assert at_once.api_calls == by_ticker.api_calls == 0 and at_once.pages > 10
    assert 1500 <= len(at_once.articles) and set(at_once.articles["type"]) == {"Article"}
    pd.testing.assert_frame_equal(by_ticker.articles, at_once.articles)
    assert not cache_dir.exists()  # the sample is in the package: nothing cached


# ----- sources and settings -----


def test_without_key_the_sample_is_built_and_says_so_once(monkeypatch, log, caplog, cache_dir):
    monkeypatch.delenv("STOCKNEWS_API_KEY", raising=False)
    source = news_source()
    assert isinstance(source, SampleNews) and source.source_name == "sample"
    fetched = source.fetch_week(Week.from_key("2026-10-10"), ["NORP"], cache_dir, log=log)
    assert fetched.source == "sample" and fetched.api_calls == 0 and len(fetched.articles) > 0
    assert caplog.text.count(SAMPLE_NOTICE) == 1 and "STOCKNEWS_API_KEY" in SAMPLE_NOTICE


def test_with_key_the_api_is_built(monkeypatch):
    monkeypatch.setenv("STOCKNEWS_API_KEY", FAKE_TOKEN)
    assert isinstance(news_source(), StockNewsAPI) and StockNewsAPI.source_name == "stocknewsapi"
    monkeypatch.setenv("STOCKNEWS_API_KEY", "  ")
    assert isinstance(news_source(), SampleNews)


def test_api_key_from_an_env_var_is_resolved_when_the_run_starts(monkeypatch):
    # The field's default is EnvVar("STOCKNEWS_API_KEY") when the variable is set as the code loads
    # (defs/environment.from_env, evaluated once, at import); given explicitly here, it behaves the same.
    monkeypatch.setenv("STOCKNEWS_API_KEY", FAKE_TOKEN)

    @dg.asset
    def week_news(context, news: NewsSource) -> dg.MaterializeResult:
        fetched = news.fetch_week(WEEK, ["AAA"], Path(context.instance.storage_directory()), context.log)
        return dg.MaterializeResult(metadata={"rows": len(fetched.articles), "api_calls": fetched.api_calls})

    with FakeStockNewsAPI(many("AAA", 5)) as api:
        source = StockNewsAPI(
            api_key=dg.EnvVar("STOCKNEWS_API_KEY"), base_url=api.base_url, cache_responses=False, **FAST
        )
        assert FAKE_TOKEN not in repr(source)
        result = dg.materialize([week_news], resources={"news": source})
        assert [params["token"] for _, params in api.requests] == [FAKE_TOKEN]
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["rows"].value == 5 and metadata["api_calls"].value == 1
    assert FAKE_TOKEN not in str(metadata)


def test_api_without_key_names_the_env_var(cache_dir):
    with pytest.raises(StockNewsAPIError, match="STOCKNEWS_API_KEY"):
        StockNewsAPI(api_key=None).fetch_week(WEEK, ["AAA"], cache_dir, log=logging.getLogger("t"))
    with pytest.raises(StockNewsAPIError, match="STOCKNEWS_API_KEY"):
        StockNewsAPI(api_key="  ").supported_tickers(cache_dir, log=logging.getLogger("t"))


def test_sample_week_outside_the_sample_warns(log, caplog, cache_dir):
    fetched = SampleNews().fetch_week(Week.from_key("2026-11-21"), ["NORP"], cache_dir, log=log)
    assert fetched.articles.empty and list(fetched.articles.columns) == articles.ARTICLE_COLUMNS
    assert "outside the packaged sample" in caplog.text


def test_out_of_range_settings_are_named():
    # pydantic validates the resource's fields; its message names the field and the bound.
    with pytest.raises(ValueError, match=r"items_per_page[\s\S]*greater than or equal to 1"):
        SampleNews(items_per_page=0)
    with pytest.raises(ValueError, match=r"max_retries[\s\S]*greater than or equal to 0"):
        StockNewsAPI(api_key=FAKE_TOKEN, max_retries=-1)


def test_supported_tickers_from_the_api_and_from_the_sample(cache_dir):
    listed = [{"ticker": "AAA", "name": "Aaa Corp", "exchange": "NYSE"}, {"ticker": "bbb", "name": "Bbb Inc"}]
    with FakeStockNewsAPI([], listed) as api:
        tickers, calls = client(api).supported_tickers(cache_dir, log=logging.getLogger("t"))
    assert calls == 1 and tickers["ticker"].tolist() == ["AAA", "BBB"]
    assert list(tickers.columns) == articles.TICKER_COLUMNS
    sample_tickers, sample_calls = SampleNews().supported_tickers(cache_dir, log=logging.getLogger("t"))
    assert sample_calls == 0 and len(sample_tickers) == len(sample.sample_tickers())
    assert list(sample_tickers.columns) == articles.TICKER_COLUMNS
    universe = sample.sample_universe()
    assert len(universe) >= 300 and list(universe.columns) == ["numerai_ticker", "bloomberg_ticker"]


def test_resource_works_inside_dagster_with_context_log(cache_dir):
    @dg.asset
    def week_news(context, news_api: NewsSource) -> int:
        return len(news_api.fetch_week(Week.from_key("2026-10-10"), ["NORP"], cache_dir, log=context.log).articles)

    result = dg.materialize([week_news], resources={"news_api": SampleNews()})
    assert result.success and result.output_for_node("week_news") > 0


# ----- retries -----


def test_429_with_retry_after_is_honoured_then_succeeds(log, caplog, cache_dir):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        api.script_failures([(429, {"Retry-After": "1"}, '{"message": "Too many requests"}')])
        started = time.monotonic()
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], cache_dir, log=log)
        waited = time.monotonic() - started
    assert waited >= 1.0 and len(fetched.articles) == 5
    assert fetched.api_calls == 2 and fetched.requests_by_status == {"200": 1, "429": 1}
    assert "429" in caplog.text and "retry 1 of 5 in 1.0 s" in caplog.text
    assert_no_token(caplog)


def test_503_then_success(log, caplog, cache_dir):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        api.script_failures([(503, {}, "<html>Service Unavailable</html>"), Fault(DISCONNECT)])
        fetched = client(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert len(fetched.articles) == 5
    assert fetched.requests_by_status == {"200": 1, "503": 1, "connection_error": 1}
    assert_no_token(caplog)


def test_read_timeout_is_retried(log, caplog, cache_dir):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        slow = Fault(200, {}, '{"data": []}', delay_s=1.0)
        api.script_failures([slow])
        fetched = client(api, read_timeout_s=0.2).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    assert len(fetched.articles) == 5 and fetched.requests_by_status == {"200": 1, "timeout": 1}
    assert "timed out" in caplog.text
    assert_no_token(caplog)


def test_persistent_5xx_gives_up_after_max_retries(log, caplog, cache_dir):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        api.hook = lambda path, params: (502, {}, "bad gateway")
        with pytest.raises(StockNewsAPIError) as caught:
            client(api, max_retries=2).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
        assert len(api.requests) == 3
    message = str(caught.value)
    assert "after 3 attempts" in message and "502" in message and "max_retries" in message
    assert caught.value.status == 502
    assert caplog.text.count("retry ") == 2  # one warning per retry
    assert_no_token(caplog, message)


def test_retry_after_longer_than_backoff_max_fails_fast(cache_dir):
    with FakeStockNewsAPI([]) as api:
        api.script_failures([(429, {"Retry-After": "3600"}, "")])
        started = time.monotonic()
        with pytest.raises(StockNewsAPIError, match="Retry-After.*backoff_max_s") as caught:
            client(api).fetch_week(WEEK, ["AAA"], cache_dir, log=logging.getLogger("t"))
        assert time.monotonic() - started < 2 and len(api.requests) == 1
    assert caught.value.status == 429 and "quota is probably used up" in str(caught.value)


def test_retry_after_accepts_seconds_and_http_dates():
    retry = NewsRetry.policy(max_retries=1, backoff_base_s=0.01, backoff_max_s=60)
    assert retry.retry_after_s("2") == 2.0
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry.retry_after_s(soon) <= 30
    assert retry.retry_after_s("soon") is None and retry.retry_after_s(None) is None


def test_connection_refused_gives_a_clear_error_after_retries(log, caplog, cache_dir):
    api = StockNewsAPI(api_key=FAKE_TOKEN, base_url=unused_base_url(), max_retries=2, **FAST)
    with pytest.raises(StockNewsAPIError) as caught:
        api.fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    error = caught.value
    assert "after 3 attempts" in str(error) and "connection failed" in str(error)
    assert "STOCKNEWS_BASE_URL" in str(error) and "token=***" in str(error)
    assert error.__cause__ is None and error.__context__ is None  # requests' message (full URL) is not chained
    assert caplog.text.count("connection failed") == 2  # one warning per retry
    assert_no_token(caplog, str(error))


def test_requests_that_fail_are_counted_by_status_retries_included(log):
    with FakeStockNewsAPI([]) as api:
        api.hook = lambda path, params: (502, {}, "bad gateway")
        with StockNewsClient(
            api_key=FAKE_TOKEN, base_url=api.base_url, max_retries=2, backoff_base_s=0.01, log=log
        ) as http:
            with pytest.raises(StockNewsAPIError):
                http.get("/category", {"section": "alltickers"})
            api.hook = None
            api.script_failures([(429, {"Retry-After": "0"}, ""), Fault(DISCONNECT)])
            assert http.get("/category", {"section": "alltickers"}) == {"data": [], "total_pages": 0}
        assert len(api.requests) == 6
    assert (http.api_calls, dict(http.by_status)) == (6, {"502": 3, "429": 1, "connection_error": 1, "200": 1})
    with StockNewsClient(
        api_key=FAKE_TOKEN, base_url=unused_base_url(), max_retries=1, backoff_base_s=0.01, log=log
    ) as refused:
        with pytest.raises(StockNewsAPIError, match="after 2 attempts"):
            refused.get("", {"tickers": "AAA"})
    assert dict(refused.by_status) == {"connection_error": 2}


# ----- errors that are not retried -----


def test_403_names_status_endpoint_and_cause_without_the_token(log, caplog, cache_dir):
    with FakeStockNewsAPI([], token="another-key") as api:
        with pytest.raises(StockNewsAPIError) as caught:
            client(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
        assert len(api.requests) == 1
    message = str(caught.value)
    assert "403" in message and "/api/v1/category" in message
    assert "STOCKNEWS_API_KEY" in message and "fetch_mode='per_ticker'" in message
    assert caught.value.status == 403
    assert_no_token(caplog, message)


def test_422_names_the_rejected_query_without_the_token(log, caplog, cache_dir):
    with FakeStockNewsAPI([]) as api:
        api.script_failures([(422, {}, json.dumps({"message": f"date out of range for token={FAKE_TOKEN}"}))])
        with pytest.raises(StockNewsAPIError) as caught:
            client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    message = str(caught.value)
    assert "422" in message and "parameters were rejected" in message and "plan's history" in message
    assert "date=10232026-10312026" in message and "token=***" in message and "/api/v1" in message
    assert_no_token(caplog, message)


@pytest.mark.parametrize(
    "body, shown",
    [
        ("<!DOCTYPE html><html><body>Scheduled maintenance</body></html>", "Scheduled maintenance"),
        ('{"data": [{"news_url": "https://news.invalid/cut", "title": "Cut o', '"title": "Cut o'),
        ('{"message": "no data here"}', "no data here"),
    ],
    ids=["html", "truncated-json", "no-data"],
)
def test_a_body_that_is_not_the_api_json_gives_a_clear_error(body, shown, log, caplog, cache_dir):
    with FakeStockNewsAPI([]) as api:
        api.script_failures([(200, {"Content-Type": "text/html"}, body)])
        with pytest.raises(StockNewsAPIError) as caught:
            client(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
    message = str(caught.value)
    assert "not a JSON object with a 'data' list" in message and shown in message
    assert_no_token(caplog, message)


@pytest.mark.parametrize("status", [403, 429])
def test_an_html_error_page_is_not_taken_for_the_quota_whatever_its_words(status, log, caplog, cache_dir):
    page = "<html><body><h1>Access denied</h1>Your monthly proxy allowance: see the portal.</body></html>"
    with FakeStockNewsAPI([]) as api:
        api.script_failures([(status, {"Content-Type": "text/html"}, page)])
        with pytest.raises(StockNewsAPIError) as caught:
            client(api).fetch_week(WEEK, ["AAA"], cache_dir, log=log)
        assert len(api.requests) == 1
    message = str(caught.value)
    assert type(caught.value) is StockNewsAPIError and caught.value.status == status  # not QuotaExhausted
    assert f"answered {status}" in message and "not with the API's JSON" in message and "Access denied" in message
    assert "STOCKNEWS_BASE_URL" in message and "proxy" in message and "quota" not in message
    assert_no_token(caplog, message)


# ----- secret hygiene -----


def test_token_never_in_logs_errors_or_results(log, caplog, cache_dir):
    caplog.set_level(logging.DEBUG, logger="urllib3")  # urllib3 logs full URLs at DEBUG
    with FakeStockNewsAPI(many("AAA", 60, others=("BBB",))) as api:
        api.script_failures([(500, {}, "oops"), (429, {"Retry-After": "0"}, "")])
        per_ticker = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA", "BBB"], cache_dir, log=log)
        tickers, _ = client(api).supported_tickers(cache_dir, log=log)
    assert "GET /api/v1" in caplog.text  # urllib3's request lines were captured, redacted
    for text in (repr(per_ticker), per_ticker.articles.to_csv(), tickers.to_csv()):
        assert FAKE_TOKEN not in text
    assert_no_token(caplog)


def test_api_key_is_in_no_repr():
    source = StockNewsAPI(api_key=FAKE_TOKEN, base_url="http://127.0.0.1:9/api/v1")
    assert FAKE_TOKEN not in repr(source) and FAKE_TOKEN not in str(source)


def test_redact_covers_plain_and_encoded_secrets():
    secret = "a b/c+d"
    text = f"url?token=a+b%2Fc%2Bd&x=1 and {secret} and token=other"
    assert redact(text, secret) == "url?token=***&x=1 and *** and token=***"
