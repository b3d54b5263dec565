"""StockNewsAPI against the loopback fake (real requests client), and in sample mode."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pandas as pd
import pytest
from dagster import asset, materialize

from signals_assets.news import news, sample
from signals_assets.news.resources import (
    SAMPLE_FALLBACK_NOTICE,
    StockNewsAPI,
    StockNewsAPIError,
    _retry_after_seconds,
    redact,
)
from signals_assets.partitions import Week
from signals_assets_tests.stocknews_server import (
    DISCONNECT,
    FAKE_TOKEN,
    Fault,
    FakeStockNewsAPI,
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
        api_item(f"{ticker} story {n}", format_datetime((start + timedelta(minutes=10 * n)).astimezone(EDT)),
                 [ticker, *others])
        for n in range(count)
    ]


def client(api: FakeStockNewsAPI, **settings) -> StockNewsAPI:
    return StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, source="stocknewsapi", **{**FAST, **settings})


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


def test_per_ticker_pages_until_total_pages_with_the_documented_query():
    with FakeStockNewsAPI(many("AAA", 120)) as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["aaa"], log=logging.getLogger("t"))
    assert len(fetched.articles) == 120
    assert (fetched.api_calls, fetched.pages, fetched.truncated_streams) == (3, 3, ())
    assert fetched.requests_by_status == {"200": 3}
    assert api.requests_to("/api/v1") == [
        {"tickers": "AAA", "items": "50", "type": "article", "date": "10232026-10312026", "page": str(page),
         "token": FAKE_TOKEN}
        for page in (1, 2, 3)
    ]
    assert api.connections == 1  # one session, connection kept alive


def test_pages_until_an_empty_page_when_total_pages_is_absent():
    with FakeStockNewsAPI(many("AAA", 100), paging="empty_page") as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], log=logging.getLogger("t"))
    assert len(fetched.articles) == 100
    assert (fetched.api_calls, fetched.pages) == (3, 3)  # 50 + 50 + the empty page that ends the stream


def test_all_tickers_uses_the_category_endpoint():
    with FakeStockNewsAPI(many("AAA", 60) + many("BBB", 10)) as api:
        fetched = client(api).fetch_week(WEEK, ["AAA", "BBB"], log=logging.getLogger("t"))
    assert len(fetched.articles) == 70 and fetched.api_calls == 2
    assert [params["page"] for params in api.requests_to("/api/v1/category")] == ["1", "2"]
    assert api.requests_to("/api/v1/category")[0]["section"] == "alltickers"


def test_page_cutoff_stops_a_stream_and_says_so(log, caplog):
    with FakeStockNewsAPI(many("AAA", 200)) as api:
        fetched = client(api, fetch_mode="per_ticker", page_cutoff=2).fetch_week(WEEK, ["AAA"], log=log)
    assert (fetched.api_calls, len(fetched.articles)) == (2, 100)
    assert fetched.truncated_streams == ("tickers=AAA",)
    assert "page_cutoff=2" in caplog.text and "Raise page_cutoff" in caplog.text


def test_all_tickers_stream_has_its_own_cutoff(log, caplog):
    with FakeStockNewsAPI(many("AAA", 200)) as api:
        fetched = client(api, page_cutoff=1, all_tickers_page_cutoff=2).fetch_week(WEEK, ["AAA"], log=log)
    assert (fetched.api_calls, len(fetched.articles), fetched.truncated_streams) == (2, 100, ("section=alltickers",))
    assert "all_tickers_page_cutoff=2" in caplog.text


# ----- window, dates, duplicates, modes -----


def test_offsets_and_window_edges_through_the_client():
    items = [
        api_item("Winter offset", "Thu, 29 Oct 2026 07:00:00 -0500", ["AAA"]),  # odd for October, still exact
        api_item("Summer offset", "Thu, 29 Oct 2026 07:00:00 -0400", ["AAA"]),
        api_item("Last second", "Fri, 30 Oct 2026 19:59:59 -0400", ["AAA"]),
        api_item("At the end", "Fri, 30 Oct 2026 20:00:00 -0400", ["AAA"]),
        api_item("Before the start", "Fri, 23 Oct 2026 19:59:59 -0400", ["AAA"]),
    ]
    with FakeStockNewsAPI(items) as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], log=logging.getLogger("t"))
    published = dict(zip(fetched.articles["title"], fetched.articles["published_at"]))
    assert published == {
        "Summer offset": pd.Timestamp("2026-10-29 11:00:00", tz="UTC"),
        "Winter offset": pd.Timestamp("2026-10-29 12:00:00", tz="UTC"),
        "Last second": pd.Timestamp("2026-10-30 23:59:59", tz="UTC"),
    }
    assert fetched.items_received == 5  # the widened date range returned the edge articles too


def test_multi_ticker_article_fetched_per_ticker_is_stored_once():
    shared = api_item("Three names", eastern("2026-10-27T15:00:00"), ["AAA", "BBB", "CCC"])
    with FakeStockNewsAPI([shared]) as api:
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA", "BBB", "CCC"], log=logging.getLogger("t"))
    assert fetched.items_received == 3 and fetched.streams == 3
    assert len(fetched.articles) == 1 and fetched.articles.iloc[0]["tickers"] == ["AAA", "BBB", "CCC"]


def test_per_ticker_and_all_tickers_agree_against_the_fake():
    items = (many("AAA", 70, others=("BBB",)) + many("CCC", 30) + many("ZZZ", 20)
             + [api_item("Next week", eastern("2026-10-31T02:00:00"), ["AAA"]),
                api_item("A video", eastern("2026-10-27T12:00:00"), ["CCC"], type="Video")])
    with FakeStockNewsAPI(items) as api:
        per_ticker = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA", "BBB", "CCC"], log=logging.getLogger("t"))
        all_tickers = client(api).fetch_week(WEEK, ["AAA", "BBB", "CCC"], log=logging.getLogger("t"))
    assert len(per_ticker.articles) == 100
    pd.testing.assert_frame_equal(per_ticker.articles, all_tickers.articles)


@pytest.mark.parametrize("key", sample.SAMPLE_WEEK_KEYS)
def test_per_ticker_and_all_tickers_agree_in_sample_mode(key):
    api = StockNewsAPI(source="sample")
    tickers = sorted({item["ticker"] for item in sample.sample_tickers()})
    by_ticker = api.model_copy(update={"fetch_mode": "per_ticker"}).fetch_week(Week.from_key(key), tickers, log=logging.getLogger("t"))
    at_once = api.fetch_week(Week.from_key(key), tickers, log=logging.getLogger("t"))
    assert at_once.api_calls == by_ticker.api_calls == 0 and at_once.pages > 10
    assert 1500 <= len(at_once.articles) and set(at_once.articles["type"]) == {"Article"}
    pd.testing.assert_frame_equal(by_ticker.articles, at_once.articles)


# ----- sources and settings -----


def test_auto_without_key_uses_the_sample_and_says_so_once(log, caplog):
    api = StockNewsAPI()
    assert api.effective_source == "sample"
    fetched = api.fetch_week(Week.from_key("2026-10-10"), ["NORP"], log=log)
    assert fetched.source == "sample" and fetched.api_calls == 0 and len(fetched.articles) > 0
    assert caplog.text.count(SAMPLE_FALLBACK_NOTICE) == 1


def test_auto_with_key_uses_the_api():
    assert StockNewsAPI(api_key=FAKE_TOKEN).effective_source == "stocknewsapi"
    assert StockNewsAPI(api_key="  ").effective_source == "sample"


def test_stocknewsapi_source_without_key_names_the_env_var():
    with pytest.raises(StockNewsAPIError, match="STOCKNEWS_API_KEY"):
        StockNewsAPI(source="stocknewsapi").fetch_week(WEEK, ["AAA"], log=logging.getLogger("t"))


def test_sample_week_outside_the_sample_warns(log, caplog):
    fetched = StockNewsAPI(source="sample").fetch_week(Week.from_key("2026-11-21"), ["NORP"], log=log)
    assert fetched.articles.empty and list(fetched.articles.columns) == news.ARTICLE_COLUMNS
    assert "outside the packaged sample" in caplog.text


def test_out_of_range_settings_are_named():
    # pydantic validates the resource's fields; its message names the field and the bound.
    with pytest.raises(ValueError, match=r"items_per_page[\s\S]*greater than or equal to 1"):
        StockNewsAPI(source="sample", items_per_page=0)


def test_supported_tickers_from_the_api_and_from_the_sample():
    listed = [{"ticker": "AAA", "name": "Aaa Corp", "exchange": "NYSE"}, {"ticker": "bbb", "name": "Bbb Inc"}]
    with FakeStockNewsAPI([], listed) as api:
        tickers, calls = client(api).supported_tickers(log=logging.getLogger("t"))
    assert calls == 1 and tickers["ticker"].tolist() == ["AAA", "BBB"]
    assert list(tickers.columns) == news.TICKER_COLUMNS
    sample_tickers, sample_calls = StockNewsAPI().supported_tickers(log=logging.getLogger("t"))
    assert sample_calls == 0 and len(sample_tickers) == len(sample.sample_tickers())
    universe = StockNewsAPI().sample_universe()
    assert len(universe) >= 300 and list(universe.columns) == ["numerai_ticker", "bloomberg_ticker"]


def test_resource_works_inside_dagster_with_context_log():
    @asset
    def week_news(context, news_api: StockNewsAPI) -> int:
        return len(news_api.fetch_week(Week.from_key("2026-10-10"), ["NORP"], log=context.log).articles)

    result = materialize([week_news], resources={"news_api": StockNewsAPI(source="sample")})
    assert result.success and result.output_for_node("week_news") > 0


# ----- retries -----


def test_429_with_retry_after_is_honoured_then_succeeds(log, caplog):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        api.script_failures([(429, {"Retry-After": "1"}, '{"message": "Too many requests"}')])
        started = time.monotonic()
        fetched = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], log=log)
        waited = time.monotonic() - started
    assert waited >= 1.0 and len(fetched.articles) == 5
    assert fetched.api_calls == 2 and fetched.requests_by_status == {"200": 1, "429": 1}
    assert "429" in caplog.text and "retry 1 of 5 in 1.0 s" in caplog.text
    assert_no_token(caplog)


def test_503_then_success(log, caplog):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        api.script_failures([(503, {}, "<html>Service Unavailable</html>"), Fault(DISCONNECT)])
        fetched = client(api).fetch_week(WEEK, ["AAA"], log=log)
    assert len(fetched.articles) == 5
    assert fetched.requests_by_status == {"200": 1, "503": 1, "connection_error": 1}
    assert_no_token(caplog)


def test_read_timeout_is_retried(log, caplog):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        slow = Fault(200, {}, '{"data": []}', delay_s=1.0)
        api.script_failures([slow])
        fetched = client(api, read_timeout_s=0.2).fetch_week(WEEK, ["AAA"], log=log)
    assert len(fetched.articles) == 5 and fetched.requests_by_status == {"200": 1, "timeout": 1}
    assert "timed out" in caplog.text
    assert_no_token(caplog)


def test_persistent_5xx_gives_up_after_max_retries(log, caplog):
    with FakeStockNewsAPI(many("AAA", 5)) as api:
        api.hook = lambda path, params: (502, {}, "bad gateway")
        with pytest.raises(StockNewsAPIError) as caught:
            client(api, max_retries=2).fetch_week(WEEK, ["AAA"], log=log)
        assert len(api.requests) == 3
    message = str(caught.value)
    assert "after 3 attempts" in message and "502" in message and "max_retries" in message
    assert caught.value.status == 502
    assert_no_token(caplog, message)


def test_retry_after_longer_than_backoff_max_fails_fast():
    with FakeStockNewsAPI([]) as api:
        api.script_failures([(429, {"Retry-After": "3600"}, "")])
        with pytest.raises(StockNewsAPIError, match="Retry-After.*backoff_max_s"):
            client(api).fetch_week(WEEK, ["AAA"], log=logging.getLogger("t"))


def test_retry_after_accepts_seconds_and_http_dates():
    assert _retry_after_seconds("2") == 2.0
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= _retry_after_seconds(soon) <= 30
    assert _retry_after_seconds("soon") is None and _retry_after_seconds(None) is None


def test_connection_refused_gives_a_clear_error_after_retries(log, caplog):
    api = StockNewsAPI(api_key=FAKE_TOKEN, base_url=unused_base_url(), source="stocknewsapi", max_retries=2, **FAST)
    with pytest.raises(StockNewsAPIError) as caught:
        api.fetch_week(WEEK, ["AAA"], log=log)
    error = caught.value
    assert "after 3 attempts" in str(error) and "connection failed" in str(error)
    assert "STOCKNEWS_BASE_URL" in str(error) and "token=***" in str(error)
    assert error.__cause__ is None and error.__context__ is None  # requests' message (full URL) is not chained
    assert caplog.text.count("connection failed") == 2  # one warning per retry
    assert_no_token(caplog, str(error))


# ----- errors that are not retried -----


def test_403_names_status_endpoint_and_cause_without_the_token(log, caplog):
    with FakeStockNewsAPI([], token="another-key") as api:
        with pytest.raises(StockNewsAPIError) as caught:
            client(api).fetch_week(WEEK, ["AAA"], log=log)
        assert len(api.requests) == 1
    message = str(caught.value)
    assert "403" in message and "/api/v1/category" in message
    assert "STOCKNEWS_API_KEY" in message and "fetch_mode='per_ticker'" in message
    assert caught.value.status == 403
    assert_no_token(caplog, message)


def test_422_names_the_rejected_query_without_the_token(log, caplog):
    with FakeStockNewsAPI([]) as api:
        api.script_failures([(422, {}, '{"message": "date out of range for token=%s"}' % FAKE_TOKEN)])
        with pytest.raises(StockNewsAPIError) as caught:
            client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA"], log=log)
    message = str(caught.value)
    assert "422" in message and "parameters were rejected" in message and "plan's history" in message
    assert "date=10232026-10312026" in message and "token=***" in message and "/api/v1" in message
    assert_no_token(caplog, message)


@pytest.mark.parametrize(
    "body, shown",
    [("<!DOCTYPE html><html><body>Scheduled maintenance</body></html>", "Scheduled maintenance"),
     ('{"data": [{"news_url": "https://news.invalid/cut", "title": "Cut o', '"title": "Cut o'),
     ('{"message": "no data here"}', "no data here")],
    ids=["html", "truncated-json", "no-data"],
)
def test_a_body_that_is_not_the_api_json_gives_a_clear_error(body, shown, log, caplog):
    with FakeStockNewsAPI([]) as api:
        api.script_failures([(200, {"Content-Type": "text/html"}, body)])
        with pytest.raises(StockNewsAPIError) as caught:
            client(api).fetch_week(WEEK, ["AAA"], log=log)
    message = str(caught.value)
    assert "not a JSON object with a 'data' list" in message and shown in message
    assert_no_token(caplog, message)


# ----- secret hygiene -----


def test_token_never_in_logs_errors_or_results(log, caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")  # urllib3 logs full URLs at DEBUG
    with FakeStockNewsAPI(many("AAA", 60, others=("BBB",))) as api:
        api.script_failures([(500, {}, "oops"), (429, {"Retry-After": "0"}, "")])
        per_ticker = client(api, fetch_mode="per_ticker").fetch_week(WEEK, ["AAA", "BBB"], log=log)
        tickers, _ = client(api).supported_tickers(log=log)
    assert "GET /api/v1" in caplog.text  # urllib3's request lines were captured, redacted
    for text in (repr(per_ticker), per_ticker.articles.to_csv(), str(per_ticker.summary()), tickers.to_csv()):
        assert FAKE_TOKEN not in text
    assert_no_token(caplog)


def test_redact_covers_plain_and_encoded_secrets():
    secret = "a b/c+d"
    text = f"url?token=a+b%2Fc%2Bd&x=1 and {secret} and token=other"
    assert redact(text, secret) == "url?token=***&x=1 and *** and token=***"
