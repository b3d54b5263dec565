"""The plan's monthly call budget (issue 12): the ledger of calls per month, the estimate of a week's and a
backfill's calls from the response cache and the fetch mode, the check before a week fetches, and the API's
"quota used up" answer, through the loopback fake and the real client, and through real materializations."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, materialize
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.tags import BACKFILL_ID_TAG

from signals_assets.definitions import build_definitions
from signals_assets.defs.ingestion.resources import CACHE_DIR_NAME, SampleNews, StockNewsAPI
from signals_assets.news import budget, quota
from signals_assets.news.budget import (
    DEFAULT_ALL_TICKERS_PAGES,
    DEFAULT_PAGES_PER_TICKER,
    FetchSettings,
    estimate_backfill,
    estimate_week,
)
from signals_assets.news.client import QuotaExhausted, StockNewsClient
from signals_assets.news.quota import CallBudgetExceeded, CallLedger, MeteredGet
from signals_assets.news.response_cache import ResponseCache
from signals_assets.news.retry import says_quota_used_up
from signals_assets.news.sample import sample_articles, sample_tickers
from signals_assets.weeks import Week, latest_complete_week
from signals_assets_tests.stocknews_server import FAKE_TOKEN, QUOTA_MESSAGE, FakeStockNewsAPI, Fault, api_item
from signals_assets_tests.test_pipeline import resources_for

CLOSED = Week.from_key("2026-10-24")  # closed: its pages are cached for good
NEXT = Week.from_key("2026-10-31")
EDT = timezone(timedelta(hours=-4))
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 5.0, "connect_timeout_s": 2.0, "read_timeout_s": 5.0}
LOG = logging.getLogger("test.quota")
INGESTION = ["numerai_universe", "ticker_map", "raw_articles"]
DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]
SAMPLE_TICKERS = sorted({item["ticker"] for item in sample_tickers()})


def items_in(week: Week, count: int, tickers: tuple[str, ...] = ("AAA",), prefix: str = "story") -> list[dict]:
    """`count` articles, one every 10 minutes from the week's Monday 13:00 UTC, with Eastern offsets."""
    monday = week.start + timedelta(days=2, hours=13)
    return [
        api_item(
            f"{prefix} {week.key} {n}",
            format_datetime((monday + timedelta(minutes=10 * n)).astimezone(EDT)),
            list(tickers),
        )
        for n in range(count)
    ]


def source(api: FakeStockNewsAPI, **settings) -> StockNewsAPI:
    return StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, **{**FAST, **settings})


def reader(cache_dir: Path, base_url: str = "http://127.0.0.1:9/api/v1") -> ResponseCache:
    """The cache of answers from `base_url` (part of a cached request's key), as the estimate reads it."""
    return ResponseCache(cache_dir, base_url, FAKE_TOKEN, LOG)


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "data" / CACHE_DIR_NAME


def this_month() -> str:
    return quota.month_of(datetime.now(timezone.utc))


# ----- 1. the API's "quota used up" answer, the month, the ledger -----


@pytest.mark.parametrize(
    "status, body, used_up",
    [
        (429, json.dumps({"message": QUOTA_MESSAGE}), True),
        (403, json.dumps({"message": "You have reached your monthly API limit"}), True),
        (403, "API limit reached for your plan.", True),
        (429, "Your quota is exhausted", True),
        (403, json.dumps({"message": "Invalid or missing API token."}), False),
        (403, "Your plan does not include this endpoint", False),
        (429, "Rate limit exceeded: at most 10 requests per second", False),
        (429, "", False),
        (503, "monthly limit", False),
    ],
)
def test_quota_answers_are_told_from_bad_keys_and_passing_rate_limits(status, body, used_up):
    assert says_quota_used_up(status, body) is used_up


def test_the_ledger_month_is_the_utc_calendar_month_and_resets_on_the_first():
    assert quota.month_of(datetime(2026, 11, 30, 20, tzinfo=EDT)) == "2026-12"  # 2026-12-01 00:00 UTC
    assert quota.month_resets_at("2026-11") == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert quota.month_resets_at("2026-12") == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert quota.ledger_path(Path("data") / CACHE_DIR_NAME) == Path("data") / quota.LEDGER_FILE_NAME


def test_the_ledger_keeps_calls_per_month_in_a_small_json_file(tmp_path):
    path = tmp_path / quota.LEDGER_FILE_NAME
    first, second = CallLedger(path, LOG), CallLedger(path, LOG)  # two runs, one file
    assert first.calls_in("2026-11") == 0
    assert first.add(3, "2026-11") == 3 and second.add(4, "2026-11") == 7 and second.add(2, "2026-12") == 2
    assert first.calls_in("2026-11") == 7 and first.calls_in("2026-12") == 2
    entry = json.loads(path.read_text())
    assert entry["format"] == 1 and entry["calls_by_month"] == {"2026-11": 7, "2026-12": 2}
    assert {file.name for file in tmp_path.iterdir()} == {path.name, path.name + ".lock"}  # no temporary left


def _add_calls(path: str, times: int) -> None:
    ledger = CallLedger(Path(path), LOG)
    for _ in range(times):
        ledger.add(1, "2026-11")


def test_two_runs_updating_the_ledger_at_once_lose_no_call(tmp_path):
    path = tmp_path / quota.LEDGER_FILE_NAME
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_add_calls, args=(str(path), 150)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert CallLedger(path, LOG).calls_in("2026-11") == 450


def test_an_unreadable_ledger_is_named_and_left_as_it_is(tmp_path):
    path = tmp_path / quota.LEDGER_FILE_NAME
    path.write_text('{"format": 1, "calls_by')
    ledger = CallLedger(path, LOG)
    for use in (lambda: ledger.calls_in("2026-11"), lambda: ledger.add(2, "2026-11")):
        with pytest.raises(quota.CallLedgerError, match=re.escape(f"fix or delete {path}")):  # never a count from 0
            use()
    assert path.read_text() == '{"format": 1, "calls_by'  # (test_ledger_faults.py: the run stops before any call)


def test_every_request_is_recorded_retries_included_and_none_is_sent_past_the_budget(tmp_path):
    ledger = CallLedger(tmp_path / quota.LEDGER_FILE_NAME, LOG)
    with FakeStockNewsAPI([], [{"ticker": "AAA"}]) as api:
        api.script_failures([Fault(503)])
        with StockNewsClient(api_key=FAKE_TOKEN, base_url=api.base_url, **FAST) as client:
            metered = MeteredGet(client.get, lambda: client.api_calls, ledger, budget=3)
            metered.get("/account/tickersdbv2", {})  # a 503, then the answer: 2 calls
            assert ledger.calls_in(this_month()) == 2
            metered.get("/account/tickersdbv2", {})
            with pytest.raises(CallBudgetExceeded) as caught:
                metered.get("/account/tickersdbv2", {})
        assert len(api.requests) == 3  # the third get was never sent
    message = str(caught.value)
    assert "3 Stock News API calls made" in message and "budget of 3 (STOCKNEWS_MONTHLY_CALLS)" in message
    assert "nothing sent" in message and FAKE_TOKEN not in message
    assert FAKE_TOKEN not in ledger.path.read_text()


def test_a_quota_answer_is_not_retried():
    with FakeStockNewsAPI([], [{"ticker": "AAA"}]) as api:
        api.limit_calls(0)
        with StockNewsClient(api_key=FAKE_TOKEN, base_url=api.base_url, **FAST) as client:
            with pytest.raises(QuotaExhausted) as caught:
                client.get("/account/tickersdbv2", {})
            assert client.by_status == {"429": 1}
        assert len(api.requests) == 1  # max_retries=5 would have sent 6 for a passing 429
    assert caught.value.status == 429 and "quota is used up" in str(caught.value)
    assert "monthly API limit" in str(caught.value) and FAKE_TOKEN not in str(caught.value)


# ----- 2. the estimate: a week's and a backfill's calls from the cache and the fetch mode -----


def test_a_cached_week_costs_nothing_and_a_week_beside_it_as_many_pages_as_it_took(cache_dir):
    with FakeStockNewsAPI(items_in(CLOSED, 230) + items_in(NEXT, 100)) as api:
        fetched, base = source(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG), api.base_url
    assert fetched.api_calls == 5 and fetched.expected_api_calls == DEFAULT_ALL_TICKERS_PAGES  # nothing cached yet
    settings = FetchSettings("all_tickers")
    cached = estimate_week(CLOSED, ["AAA"], settings, reader(cache_dir, base))
    assert (cached.calls, cached.cached_pages, cached.complete_streams) == (0, 5, 1)
    assert "0 API calls expected" in cached.describe()
    for neighbour in (NEXT, Week.from_key("2026-10-17")):  # a week after it, a week before it
        near = estimate_week(neighbour, ["AAA"], settings, reader(cache_dir, base))
        assert (near.calls, near.cached_pages) == (5, 0) and "as week 2026-10-24 took" in near.describe()
    far = estimate_week(Week.from_key("2026-12-05"), ["AAA"], settings, reader(cache_dir, base))
    assert far.calls == DEFAULT_ALL_TICKERS_PAGES and "the default of 500 a week" in far.describe()
    refreshing = estimate_week(CLOSED, ["AAA"], settings, reader(cache_dir, base), refresh=True)
    assert refreshing.calls == DEFAULT_ALL_TICKERS_PAGES  # refresh asks again; no other week is cached
    assert estimate_week(NEXT, ["AAA"], settings, None).calls == DEFAULT_ALL_TICKERS_PAGES


def test_per_ticker_costs_a_call_a_ticker_plus_extra_pages(cache_dir):
    articles = items_in(CLOSED, 120, ("AAA",), "a") + items_in(CLOSED, 10, ("BBB",), "b")
    tickers = ["AAA", "BBB", "CCC"]  # 3 pages, 1 page, 1 empty page
    with FakeStockNewsAPI(articles) as api:
        fetched = source(api, fetch_mode="per_ticker").fetch_week(CLOSED, tickers, cache_dir, log=LOG)
        base = api.base_url
    assert fetched.api_calls == 5
    assert fetched.expected_api_calls == 4  # ceil(3 x 1.15), the default with nothing cached
    settings = FetchSettings("per_ticker")
    assert estimate_week(CLOSED, tickers, settings, reader(cache_dir, base)).calls == 0
    assert estimate_week(NEXT, tickers, settings, reader(cache_dir, base)).calls == 5  # 5/3 pages a ticker x 3
    more = estimate_week(NEXT, [*tickers, "DDD"], settings, reader(cache_dir, base))
    assert more.calls == 7 and more.streams == 4  # ceil(4 x 5/3)
    one_page_each = FetchSettings("per_ticker", page_cutoff=1)
    assert estimate_week(NEXT, tickers, one_page_each, reader(cache_dir, base)).calls == 3  # at most the cutoff


def test_a_week_stopped_by_the_quota_then_costs_only_its_pages_not_cached(cache_dir):
    with FakeStockNewsAPI(items_in(CLOSED, 230) + items_in(NEXT, 230)) as api:
        source(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)  # 5 pages, cached
        base = api.base_url
        api.limit_calls(2)
        with pytest.raises(QuotaExhausted):
            source(api).fetch_week(NEXT, ["AAA"], cache_dir, log=LOG)
        stopped = estimate_week(NEXT, ["AAA"], FetchSettings("all_tickers"), reader(cache_dir, base))
        assert (stopped.calls, stopped.cached_pages, stopped.complete_streams) == (3, 2, 0)
        api.limit_calls(None)
        sent = len(api.requests)
        resumed = source(api).fetch_week(NEXT, ["AAA"], cache_dir, log=LOG)
        assert [int(params["page"]) for _, params in api.requests[sent:]] == [3, 4, 5]
    assert (resumed.api_calls, resumed.cache_hits, resumed.expected_api_calls) == (3, 2, 3)
    assert len(resumed.articles) == 230


def test_an_open_week_is_expected_to_cost_its_pages_every_time(cache_dir):
    current = Week.from_key((latest_complete_week().start + timedelta(days=7)).strftime("%Y-%m-%d"))
    estimate = estimate_week(current, ["AAA"], FetchSettings("all_tickers"), reader(cache_dir))
    assert not estimate.closed and "nothing cached (the week is open)" in estimate.describe()


def test_a_backfill_estimate_counts_cached_weeks_as_free(cache_dir):
    weeks = [Week.from_key(key) for key in ("2026-10-17", "2026-10-24", "2026-10-31")]
    with FakeStockNewsAPI(items_in(CLOSED, 230)) as api:
        source(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)
        base = api.base_url
    estimate = estimate_backfill(weeks, ["AAA"], FetchSettings("all_tickers"), reader(cache_dir, base))
    assert (estimate.calls, estimate.cached_weeks, estimate.calls_per_uncached_week) == (10, 1, 5)
    assert estimate.describe().startswith(
        "This backfill of 3 week(s) (2026-10-17 to 2026-10-31, all_tickers) needs about 10 more Stock News API "
        "calls: 1 of its weeks are in the response cache (0 calls)"
    )


def test_a_400_week_backfill_in_each_fetch_mode(cache_dir):
    """The README's figures: 400 weeks from 2019-03-02, nothing cached, the defaults, 2,000 tickers a week."""
    weeks = [Week.from_key("2019-03-02")]
    while len(weeks) < 400:
        weeks.append(Week(weeks[-1].end, weeks[-1].end + timedelta(days=7)))
    tickers = [f"T{n:04d}" for n in range(2000)]
    all_tickers = estimate_backfill(weeks, tickers, FetchSettings("all_tickers"), reader(cache_dir))
    per_ticker = estimate_backfill(weeks, tickers, FetchSettings("per_ticker"), reader(cache_dir))
    assert all_tickers.calls == 400 * DEFAULT_ALL_TICKERS_PAGES == 200_000
    assert per_ticker.calls == round(400 * 2000 * DEFAULT_PAGES_PER_TICKER) == 920_000
    status = quota.BudgetStatus("2026-11", 0, 50_000, cache_dir.parent / quota.LEDGER_FILE_NAME)
    note = budget.backfill_budget_note(all_tickers.calls, all_tickers.calls_per_uncached_week, status)
    assert "about 100 more uncached week(s) fit" in note and "2026-12-01 00:00 UTC" in note


# ----- 3. through Dagster: the check before a week, the quota answer, re-runs, backfills -----


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def news_resources(warehouse, sample_universe_csv, tiny_finbert_dir):
    def make(api: FakeStockNewsAPI, **settings) -> dict:
        news = StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url, **{**FAST, **settings})
        return resources_for(warehouse, news, tiny_finbert_dir, universe=str(sample_universe_csv))

    return make


def run(instance, key: str, resources: dict, **kwargs):
    return materialize(
        GRAPH,
        partition_key=key,
        resources=resources,
        instance=instance,
        selection=INGESTION,
        raise_on_error=False,
        **kwargs,
    )


def failure_text(result) -> str:
    return "\n".join(
        event.event_specific_data.error.to_string() for event in result.all_events if event.is_step_failure
    )


def logged(instance, result) -> str:
    return "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))


def week_rows(db: str, table: str, key: str) -> int:
    with duckdb.connect(db, read_only=True) as connection:
        exists = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'signals' AND table_name = ?", [table]
        ).fetchone()[0]
        if not exists:
            return 0
        return connection.execute(f"SELECT count(*) FROM signals.{table} WHERE week_start = ?", [key]).fetchone()[0]


def sample_week(key: str, tickers: list[str] = SAMPLE_TICKERS):
    """The sample week as one uninterrupted fetch sees it (the emulator pages it as the fake does)."""
    return SampleNews().fetch_week(Week.from_key(key), tickers, Path("unused"), LOG)


@pytest.mark.parametrize("status", [429, 403])
def test_a_quota_answer_fails_the_week_at_once_writes_nothing_and_a_rerun_goes_on_from_the_cache(
    status, instance, news_resources, warehouse
):
    key, served = "2026-10-31", 29
    whole = sample_week(key)
    assert whole.pages - served < 1 + served  # the re-run fits in a month's quota
    ledger = CallLedger(quota.ledger_path(warehouse.cache_dir(CACHE_DIR_NAME)), LOG)
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as api:
        resources = news_resources(api)
        api.limit_calls(1 + served, status=status)  # the ticker list, 29 pages, then "limit reached"
        failed = run(instance, key, resources)
        assert not failed.success and len(api.requests) == 1 + served + 1  # the quota answer was not retried
        message = failure_text(failed)
        assert week_rows(warehouse.database, "raw_articles", key) == 0  # no partial week

        api.reset_quota()  # the month turns
        sent = len(api.requests)
        resumed = run(instance, key, resources)
        assert resumed.success, failure_text(resumed)
        asked = [int(params["page"]) for _, params in api.requests[sent:]]
    assert "the plan's call quota is used up" in message and "not retried" in message
    assert f"{1 + served + 1} Stock News API calls made in {this_month()} (UTC) per the ledger {ledger.path}" in message
    assert "no monthly budget set (STOCKNEWS_MONTHLY_CALLS is unset)" in message
    assert f"Nothing of week {key} was written" in message and "cached in" in message
    assert "asks only for the pages not cached yet" in message and FAKE_TOKEN not in message
    assert asked == list(range(served + 1, whole.pages + 1))  # only the pages not cached: no ticker list, no page 1
    with duckdb.connect(warehouse.database, read_only=True) as connection:
        mapped = connection.execute("SELECT stocknews_ticker FROM signals.ticker_map WHERE week_start = ?", [key])
        same = sample_week(key, [ticker for (ticker,) in mapped.fetchall()])  # one uninterrupted fetch, same tickers
    assert week_rows(warehouse.database, "raw_articles", key) == len(same.articles) > 0
    assert ledger.calls_in(this_month()) == 1 + served + 1 + len(asked)
    assert FAKE_TOKEN not in ledger.path.read_text() + logged(instance, failed) + logged(instance, resumed)


def test_a_week_expected_to_need_more_than_the_budget_left_fails_before_any_news_call(
    instance, news_resources, warehouse
):
    key = "2026-10-31"
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as api:
        refused = run(instance, key, news_resources(api, monthly_call_budget=5))
        assert not refused.success
        assert [path for path, _ in api.requests] == ["/api/v1/account/tickersdbv2"]  # ticker_map's call only
        resets = quota.month_resets_at(this_month())
        message = failure_text(refused)
        assert "CallBudgetExceeded" in message
        assert f"Week {key} is expected to need about {DEFAULT_ALL_TICKERS_PAGES} Stock News API calls" in message
        assert "only 4 of this month's budget are left" in message and "Nothing was asked" in message
        assert f"Re-run after {resets:%Y-%m-%d} 00:00 UTC" in message and "STOCKNEWS_MONTHLY_CALLS" in message
        assert week_rows(warehouse.database, "raw_articles", key) == 0

        done = run(instance, key, news_resources(api, monthly_call_budget=20_000))
        assert done.success, failure_text(done)
    (event,) = [e for e in done.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw_articles"]
    metadata = {name: value.value for name, value in event.materialization.metadata.items()}
    pages = sample_week(key).pages
    assert metadata["expected_api_calls"] == DEFAULT_ALL_TICKERS_PAGES
    assert metadata["api_calls_this_month"] == 1 + pages  # the ticker list once (cached for a day), the pages
    text = logged(instance, done)
    assert f"Week {key} (all_tickers): about {DEFAULT_ALL_TICKERS_PAGES} API calls expected" in text
    assert f"1 Stock News API calls made in {this_month()} (UTC)" in text and "budget of 20,000" in text


def test_the_budget_stops_a_week_the_estimate_got_wrong_and_a_rerun_goes_on(cache_dir):
    with FakeStockNewsAPI(items_in(CLOSED, 60) + items_in(NEXT, 230)) as api:
        source(api).fetch_week(CLOSED, ["AAA"], cache_dir, log=LOG)  # 2 pages: NEXT is expected to take 2
        with pytest.raises(CallBudgetExceeded) as caught:
            source(api, monthly_call_budget=2 + 3).fetch_week(NEXT, ["AAA"], cache_dir, log=LOG)
        assert len(api.requests) == 2 + 3
        resumed = source(api, monthly_call_budget=2 + 5).fetch_week(NEXT, ["AAA"], cache_dir, log=LOG)
    message = str(caught.value)
    assert "The monthly Stock News API call budget is spent: 5 Stock News API calls made" in message
    assert "Nothing of week 2026-10-31 was written" in message and str(cache_dir / "2026-10-30_2026-11-07") in message
    assert (resumed.api_calls, resumed.cache_hits, len(resumed.articles)) == (2, 3, 230)


def _backfill(instance, keys: list[str]) -> str:
    backfill_id = uuid.uuid4().hex[:8]
    instance.add_backfill(
        PartitionBackfill(
            backfill_id=backfill_id,
            status=BulkActionStatus.REQUESTED,
            from_failure=False,
            tags={},
            backfill_timestamp=time.time(),
            partition_names=keys,
        )
    )
    return backfill_id


def _asset_backfill(instance, keys: list[str]) -> str:
    backfill_id = uuid.uuid4().hex[:8]
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=DEFINITIONS.resolve_asset_graph(),
            partition_names=keys,
            asset_selection=[
                spec.key for spec in DEFINITIONS.resolve_all_asset_specs() if spec.key.path[-1] in INGESTION
            ],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
    )
    return backfill_id


@pytest.mark.parametrize("kind", [_backfill, _asset_backfill], ids=["job_backfill", "asset_backfill"])
def test_a_backfill_run_logs_what_the_backfill_needs(kind, instance, news_resources):
    keys = ["2026-10-17", "2026-10-24", "2026-10-31"]
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as api:
        resources = news_resources(api)
        assert run(instance, "2026-10-24", resources).success  # one of its weeks is cached already
        cached_pages = sample_week("2026-10-24").pages
        backfill_id = kind(instance, keys)
        result = run(instance, "2026-10-31", resources, tags={BACKFILL_ID_TAG: backfill_id})
        assert result.success, failure_text(result)
    text = logged(instance, result)
    assert (
        f"This backfill of 3 week(s) (2026-10-17 to 2026-10-31, all_tickers) needs about {2 * cached_pages} more "
        "Stock News API calls: 1 of its weeks are in the response cache (0 calls)"
    ) in text
    assert "Nothing stops the backfill before the API's own quota" in text


def test_the_budget_comes_from_stocknews_monthly_calls(tmp_path):
    script = (
        "import dagster as dg\n"
        "from signals_assets.defs.ingestion.resources import StockNewsAPI\n"
        "@dg.asset\n"
        "def budget(context, news: StockNewsAPI):\n"
        "    print('budget', repr(news.monthly_call_budget))\n"
        "dg.materialize([budget], resources={'news': StockNewsAPI(api_key='unused')})\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("STOCKNEWS_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", script], env={**env, "STOCKNEWS_MONTHLY_CALLS": "20000"}, capture_output=True, text=True
    )
    assert "budget 20000" in done.stdout, done.stderr[-3000:]
    unset = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert "budget None" in unset.stdout, unset.stderr[-3000:]
