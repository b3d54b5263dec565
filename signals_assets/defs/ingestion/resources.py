"""Where news comes from, as Dagster resources: `NewsSource`, implemented by `StockNewsAPI` (the real
API, needs STOCKNEWS_API_KEY) and `SampleNews` (the packaged sample, no key, no network).

Which one a deployment gets is decided once, by `news_source()` where the resources are built; the
assets take a `NewsSource` and never ask which it is (`source_name` only labels metadata).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import dagster as dg
import pandas as pd
from pydantic import Field

from signals_assets.defs.environment import from_env, is_set, uses_sample_news
from signals_assets.news import articles, budget, paging, quota, sample
from signals_assets.news.budget import FetchSettings, estimate_backfill, estimate_week
from signals_assets.news.client import API_KEY_ENV, BASE_URL_ENV, QuotaExhausted, StockNewsAPIError, StockNewsClient
from signals_assets.news.emulator import EmulatedAPIError
from signals_assets.news.endpoints import DEFAULT_BASE_URL, TICKERS_DB_PATH
from signals_assets.news.paging import NewsFetch, Usage
from signals_assets.news.quota import QUOTA_ENV, CallBudgetExceeded, CallLedger, MeteredGet
from signals_assets.news.response_cache import CachedGet, ResponseCache
from signals_assets.weeks import Week

CACHE_DIR_NAME = "stocknews_cache"  # the asset passes warehouse.cache_dir(CACHE_DIR_NAME)
SAMPLE_NOTICE = f"No {API_KEY_ENV} set: using the packaged sample news (set {API_KEY_ENV} to fetch real news)."


class NewsSource(dg.ConfigurableResource):
    """A week of stock news and the tickers it covers; the fetching settings both sources share."""

    source_name: ClassVar[str] = ""  # "stocknewsapi" or "sample": for metadata and log lines

    fetch_mode: Literal["all_tickers", "per_ticker"] = Field(
        default="all_tickers",
        description="'all_tickers': one paged stream from /category?section=alltickers (paid plans; fewest "
        "calls). 'per_ticker': one paged stream per ticker (works on every plan; one call per ticker at least).",
    )
    items_per_page: int = Field(
        default=50, ge=1, le=100, description="Articles per page (the API allows 1 to 50, 100 on some plans)."
    )
    page_cutoff: int = Field(
        default=10,
        ge=1,
        description="Most pages read from one ticker's stream in per_ticker mode, to bound API calls (the blog post's "
        "page_cutoff_point). A stream cut off with pages left is reported as a warning.",
    )
    all_tickers_page_cutoff: int = Field(
        default=1000,
        ge=1,
        description="Most pages read from the single all_tickers stream (a week of every ticker's news runs to "
        "hundreds of pages). A stream cut off with pages left is reported as a warning.",
    )
    max_dropped_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest share of a week's items that may be malformed (no date, a date that does not parse, "
        "no title, no tickers) and dropped with a warning (counted in raw_articles' dropped_items); past it the "
        "week fails.",
    )

    @abstractmethod
    def fetch_week(self, week: Week, tickers: Sequence[str], cache_dir: Path, log: Any) -> NewsFetch:
        """The week's articles mentioning any of `tickers` (all articles when `tickers` is empty).

        `cache_dir`: where the source may keep answers (the asset passes warehouse.cache_dir(CACHE_DIR_NAME));
        `log`: the step's `context.log`, or any logger.
        """

    @abstractmethod
    def supported_tickers(self, cache_dir: Path, log: Any) -> tuple[pd.DataFrame, int]:
        """Tickers the provider covers (articles.TICKER_COLUMNS), and the API calls it took."""

    def backfill_estimate(self, weeks: Sequence[Week], tickers: Sequence[str], cache_dir: Path, log: Any) -> str | None:
        """A line that says what a backfill of `weeks` costs in API calls from here on; None when it costs none."""
        return None

    def _settings(self) -> FetchSettings:
        return FetchSettings(self.fetch_mode, self.items_per_page, self.page_cutoff, self.all_tickers_page_cutoff)

    def _read_week(
        self,
        get: paging.Get,
        week: Week,
        tickers: Sequence[str],
        log: Any,
        usage: Callable[[], Usage] = Usage,
        cache_note: str = "",
    ) -> NewsFetch:
        return paging.fetch_week(
            get,
            week,
            tickers,
            source=self.source_name,
            fetch_mode=self.fetch_mode,
            items_per_page=self.items_per_page,
            page_cutoff=self.page_cutoff,
            all_tickers_page_cutoff=self.all_tickers_page_cutoff,
            log=log,
            usage=usage,
            max_dropped_share=self.max_dropped_share,
            cache_note=cache_note,
        )


class StockNewsAPI(NewsSource):
    """The Stock News API (https://stocknewsapi.com): retried, token-safe, closed weeks cached on disk."""

    source_name: ClassVar[str] = "stocknewsapi"

    api_key: str | None = Field(
        default=from_env(API_KEY_ENV),
        repr=False,
        description=f"Stock News API token, from the environment variable {API_KEY_ENV}. Never logged.",
    )
    base_url: str = Field(
        default=from_env(BASE_URL_ENV, DEFAULT_BASE_URL),
        description=f"API base URL ({BASE_URL_ENV}); point it at a test server to run without the real API.",
    )
    connect_timeout_s: float = Field(default=10, gt=0, description="Seconds to wait for a connection.")
    read_timeout_s: float = Field(default=60, gt=0, description="Seconds to wait for an answer once connected.")
    max_retries: int = Field(
        default=5, ge=0, description="Retries of a request answered 429 or 5xx, or failed to connect or time out."
    )
    backoff_base_s: float = Field(
        default=1.0,
        ge=0,
        description="urllib3's backoff factor: the first retry goes at once, retry n >= 2 waits "
        "backoff_base_s * 2^(n-1) seconds plus up to backoff_base_s of jitter (at most backoff_max_s).",
    )
    backoff_max_s: float = Field(
        default=60,
        ge=0,
        description="Longest wait between retries. A Retry-After longer than this fails the request instead.",
    )
    cache_responses: bool = Field(
        default=True,
        description=f"Keep API answers on disk, in the warehouse's data_dir/{CACHE_DIR_NAME} (SIGNALS_DATA_DIR): a "
        "closed week's pages for good (re-materializing it makes no API calls), the supported-ticker list for a "
        "day. Open weeks are never cached. The token is in no cache file.",
    )
    refresh: bool = Field(
        default=False,
        description="Ask the API even where the cache has the answer, and rewrite the cache with what it says "
        "(a week whose cached answers have too many malformed items is asked again anyway).",
    )
    monthly_call_budget: int | None = Field(
        default=dg.EnvVar.int(QUOTA_ENV) if is_set(QUOTA_ENV) else None,
        ge=1,
        description=f"The plan's monthly call budget ({QUOTA_ENV}; Basic about 20,000, Premium about 50,000). Calls "
        f"are counted per calendar month (UTC) in data_dir/{quota.LEDGER_FILE_NAME}. A week expected to need more "
        "calls than are left fails before calling the API, and no call is made past the budget. Unset: counted and "
        "logged, not checked.",
    )

    def fetch_week(self, week: Week, tickers: Sequence[str], cache_dir: Path, log: Any) -> NewsFetch:
        """Logs the calls the week is expected to make and this month's calls first (CallBudgetExceeded when they
        would go past the budget). Cached answers that fail to parse (paging.TooManyDroppedItems) are asked of the
        API again: never a dead end. When the calls run out midway, the error says how a re-run continues."""
        date_range = articles.request_date_range(week)
        with self._client(log) as client:
            metered = self._metered(client, cache_dir, log)
            cached = self._cached(metered, cache_dir, log)
            if cached is not None:
                cached.describe_week(week.key, date_range)
            expected = estimate_week(
                week, tickers, self._settings(), cached.cache if cached else None, refresh=self.refresh
            )
            log.info(budget.check_week(week.key, expected.calls, expected.describe(), metered.status()))
            note, usage = _cache_note(cached, date_range), lambda: _usage(client, cached)
            ran_out: StockNewsAPIError | None = None
            try:
                try:
                    fetched = self._read_week(cached.get if cached else metered.get, week, tickers, log, usage, note)
                except paging.TooManyDroppedItems:
                    if cached is None or not cached.hits or self.refresh:
                        raise
                    log.warning(
                        f"Week {week.key}: too many malformed items in the answers read from the cache ({cached.hits} "
                        f"pages, in {cached.cache.folder_for(date_range)}); asking the API again (as refresh: true "
                        "does) in case the provider has fixed them."
                    )
                    cached = self._cached(metered, cache_dir, log, refresh=True)
                    fetched = self._read_week(cached.get, week, tickers, log, usage, note)
            except (QuotaExhausted, CallBudgetExceeded) as exc:
                folder = cached.cache.folder_for(date_range) if cached is not None else None
                why = "cache_responses is off" if cached is None else "the week is still open"
                resume = budget.resume_note(week.key, folder, why, client.api_calls, cached.hits if cached else 0)
                ran_out = budget.calls_ran_out(exc, metered.status(), resume)
            if ran_out is not None:
                raise ran_out
        spent = metered.status()
        log.info(f"Week {week.key}: {spent.describe()}.")
        return replace(fetched, expected_api_calls=expected.calls, api_calls_this_month=spent.used)

    def backfill_estimate(self, weeks: Sequence[Week], tickers: Sequence[str], cache_dir: Path, log: Any) -> str | None:
        cache = ResponseCache(Path(cache_dir), self.base_url, self.api_key, log) if self.cache_responses else None
        estimate = estimate_backfill(weeks, tickers, self._settings(), cache)
        status = self._ledger(cache_dir, log).status(self.monthly_call_budget)
        fits = budget.backfill_budget_note(estimate.calls, estimate.calls_per_uncached_week, status)
        return f"{estimate.describe()} {status.describe()}. {fits}"

    def supported_tickers(self, cache_dir: Path, log: Any) -> tuple[pd.DataFrame, int]:
        with self._client(log) as client:
            metered = self._metered(client, cache_dir, log)
            cached = self._cached(metered, cache_dir, log)
            payload = (cached.get if cached else metered.get)(TICKERS_DB_PATH, {})
        tickers = articles.parse_tickers(payload["data"])
        from_cache = ", from the cache" if cached is not None and cached.hits else ""
        log.info(
            f"{len(tickers):,} supported tickers from {self.source_name} ({client.api_calls} API calls{from_cache})."
        )
        return tickers, client.api_calls

    def _client(self, log: Any) -> StockNewsClient:
        """A client with its own session (connections kept alive for the call); close it when done."""
        return StockNewsClient(
            api_key=self.api_key,
            base_url=self.base_url,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            max_retries=self.max_retries,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
            log=log,
        )

    def _ledger(self, cache_dir: Path, log: Any) -> CallLedger:
        return CallLedger(quota.ledger_path(cache_dir), log)

    def _metered(self, client: StockNewsClient, cache_dir: Path, log: Any) -> MeteredGet:
        """The client's get, each request (retries included) counted in the month's ledger before it is sent and
        held to monthly_call_budget."""
        return MeteredGet.of_client(client, self._ledger(cache_dir, log), self.monthly_call_budget)

    def _cached(self, metered: MeteredGet, cache_dir: Path, log: Any, refresh: bool = False) -> CachedGet | None:
        if not self.cache_responses:
            return None
        cache = ResponseCache(Path(cache_dir), self.base_url, self.api_key, log)
        return CachedGet(metered.get, cache, refresh=self.refresh or refresh, log=log)


class SampleNews(NewsSource):
    """The packaged sample news (five invented weeks from 2026-10-10), served through the API emulator
    with the same paging code as the real API: no key, no network, no API calls."""

    source_name: ClassVar[str] = "sample"

    def fetch_week(self, week: Week, tickers: Sequence[str], cache_dir: Path, log: Any) -> NewsFetch:
        """`cache_dir` is not used: the sample is in the package."""
        log.info(SAMPLE_NOTICE)
        fetched = self._read_week(_sample_get, week, tickers, log)
        if week.key not in sample.SAMPLE_WEEK_KEYS:
            count = len(fetched.articles)
            has = (
                f"only {count:,} article{'s' * (count != 1)}, from the edges of those weeks" if count else "no articles"
            )
            log.warning(
                f"Week {week.key} is outside the packaged sample news (weeks {', '.join(sample.SAMPLE_WEEK_KEYS)}): "
                f"it has {has}. Pick one of those weeks, or set {API_KEY_ENV} for real news."
            )
        return fetched

    def supported_tickers(self, cache_dir: Path, log: Any) -> tuple[pd.DataFrame, int]:
        log.info(SAMPLE_NOTICE)
        tickers = articles.parse_tickers(_sample_get(TICKERS_DB_PATH, {})["data"])
        log.info(f"{len(tickers):,} supported tickers from {self.source_name} (0 API calls).")
        return tickers, 0


def news_source() -> NewsSource:
    """The news source of this deployment: the API when STOCKNEWS_API_KEY is set, else the packaged sample."""
    return SampleNews() if uses_sample_news() else StockNewsAPI()


def _cache_note(cached: CachedGet | None, date_range: str) -> str:
    """Where a week's answers are cached and how to ask the API again: for messages about its items."""
    folder = cached.cache.folder_for(date_range) if cached is not None else None
    if folder is None:
        why = "cache_responses is off" if cached is None else "the week is still open"
        return f"Nothing of this week is cached ({why}): a re-run asks the API again."
    return (
        f"This closed week's API answers are cached in {folder} and re-runs read them from there (one whose cached "
        "answers fail this check asks the API again by itself); StockNewsAPI's `refresh: true` at launch "
        "(resources: news: config: refresh: true) asks the API again and rewrites them."
    )


def _usage(client: StockNewsClient, cached: CachedGet | None) -> Usage:
    return Usage(client.api_calls, dict(client.by_status), cached.hits if cached is not None else 0)


def _sample_get(path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    problem = None
    try:
        return sample.sample_api().answer(path, params)
    except EmulatedAPIError as exc:
        problem = f"{exc.status}: {exc.message}"
    raise StockNewsAPIError(f"The packaged sample news rejected request {path or '/'}?{urlencode(params)}: {problem}")
