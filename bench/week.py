"""A whole week, measured: the asset graph over one realistic synthetic week on this machine.

Serves a synthetic week in the Stock News API's shape from a loopback server (FakeStockNewsAPI, in a
process of its own so its CPU and memory are not counted as the pipeline's): by default 20,000
articles inside the week's UTC window over 2,000 tickers, plus the edge days that the client's
widened date range also returns; about 1.6 tickers an article with skewed popularity (the busiest
tickers need several pages), ~35% provider-Neutral labels, headlines of 6-22 words of real English
and finance vocabulary, RFC 2822 dates with US Eastern offsets (-0400 and -0500: the default week
spans the end of daylight saving). It then materializes every asset and check of that week, as the
`weekly_signal` job does, with a FinBERT-shaped model (bench/scoring.py: bert-base, 3 labels in
ProsusAI order, random weights, the real bert-base-uncased WordPiece tokenizer) and a Numerai
universe csv (NUMERAI_UNIVERSE) covering the tickers, into a fresh DuckDB file under
bench/results/week/ (git-ignored).

Printed: per step, wall time (Dagster's step start to step end) and the peak RSS of this process: the kernel's
exact high-water mark (VmHWM), read and reset every 0.5 s, so each 0.5 s window has its exact peak and a step
gets the largest peak of the windows it overlaps (a step shorter than 0.5 s may show a neighbour's peak). With
child processes (the scorer's tokenizer workers on CUDA; none on CPU) also that plus the children's PSS, read
in the same 0.5 s tick. For the week: the API calls the server received in each fetch mode against their bounds,
headlines scored, total wall time and the run's exact peak RSS (VmHWM); then the re-materialization of the same
week, whose API calls and headlines scored must both be 0. Memory is read at most every 0.5 s and never by a
page-table walk of this process: the earlier 20 ms PSS sampler (smaps_rollup) cost the scorer up to two thirds
of its speed on 2 cores (see `# ----- memory -----`).

    .venv/bin/python bench/week.py                                  # the full week (a few minutes)
    .venv/bin/python bench/week.py --articles 2000 --tickers 300    # a quick check
    .venv/bin/python bench/week.py --profile                        # + cProfile of the first run
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `python bench/week.py` without an installed package

RESULTS = REPO / "bench" / "results"  # git-ignored
TOKEN = "bench-week-token"
EASTERN = ZoneInfo("America/New_York")  # the provider's dates and offsets
DEFAULT_WEEK = "2026-10-31"  # closed; its window spans the US end of daylight saving (Sun 1 Nov 2026)
PER_PAGE = 50  # StockNewsAPI.items_per_page default, the API's maximum
PAGE_CUTOFF = 10  # StockNewsAPI.page_cutoff default: a per_ticker stream reads at most 500 articles
MEMORY_EVERY_S = 0.5  # the memory reading's period: see `# ----- memory -----`
TARGET_SECONDS = 300.0
TARGET_PEAK_BYTES = 4 * 2**30
EXTRA_UNIVERSE_TICKERS = 3_000  # Numerai's universe (~5,000) holds many tickers without news this week

TICKERS_PER_ARTICLE = {1: 0.60, 2: 0.25, 3: 0.10, 4: 0.03, 5: 0.02}  # mean ~1.6
LABELS = {"Positive": 0.40, "Negative": 0.25, "Neutral": 0.35}
FINANCE_WORDS = (
    "shares stock earnings revenue profit loss guidance outlook forecast quarter quarterly annual dividend "
    "buyback merger acquisition deal bid offer analyst analysts upgrade downgrade rating target price "
    "valuation margin margins growth sales demand supply beats misses estimates expectations rally slump "
    "surge plunge jumps falls rises drops soars tumbles climbs slides investors traders market markets "
    "billion million percent record high low debt bond yields rates inflation fed sec lawsuit probe "
    "settlement ceo cfo board layoffs hiring expansion launch approval fda contract orders backlog "
    "shipments tariffs sector index futures options premarket volatility bullish bearish buy sell hold "
    "overweight underweight cash flow ipo spinoff restructuring bankruptcy recall partnership stake"
).split()
NAME_WORDS = (
    "Apex Atlas Beacon Cedar Summit Harbor Pioneer Vertex Meridian Granite Silver Liberty Sterling Crescent "
    "Falcon Orion Pacific Atlantic Northern Southern Western Eastern Global United First National Union "
    "Evergreen Horizon Keystone Lakeside Redwood Riverstone Sentinel Titan Vanguard Zenith Aurora Bluewater"
).split()
NAME_KINDS = "Holdings Group Technologies Therapeutics Energy Bancorp Industries Systems Pharmaceuticals Brands".split()
SECTORS = (
    "Technology",
    "Healthcare",
    "Financial",
    "Energy",
    "Industrials",
    "Consumer Cyclical",
    "Consumer Defensive",
    "Utilities",
    "Real Estate",
    "Basic Materials",
    "Communication Services",
)
SOURCES = (
    "Reuters",
    "Bloomberg",
    "Benzinga",
    "Zacks Investment Research",
    "Seeking Alpha",
    "The Motley Fool",
    "CNBC",
    "MarketWatch",
    "Barrons",
    "Business Wire",
    "PRNewsWire",
    "GlobeNewsWire",
)
TOPICS = ("earnings", "paywall", "upgrade", "downgrade", "M&A", "dividend", "guidance")


# ----- the synthetic week -----


def _reprinted(rng: random.Random, title: str, source: str) -> str:
    """A syndicated copy's title as outlets rewrite it: a source suffix, Title Case, or one word swapped."""
    kind = rng.random()
    if kind < 0.35:
        return f"{title} - {source}"
    if kind < 0.55:
        return title.title()
    if kind < 0.8:
        words = title.split()
        words[rng.randrange(1, len(words))] = rng.choice(FINANCE_WORDS)
        return " ".join(words)
    return title


def synthetic_week(week_key: str, n_articles: int, n_tickers: int, seed: int = 0, reprints: float = 0.0) -> dict:
    """API items for the week's request range, the API's ticker list, and the universe's tickers. A `reprints`
    share of the articles are syndicated copies of an earlier one (same tickers and label, another outlet, a
    reworded title), as story collapse meets them in real news."""
    import numpy as np
    import pandas as pd

    from signals_assets.news.articles import request_date_range
    from signals_assets.news.ticker_map import numerai_ticker_for
    from signals_assets.weeks import Week

    week = Week.from_key(week_key)
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    symbols = _symbols(rng, n_tickers + EXTRA_UNIVERSE_TICKERS)
    tickers = symbols[:n_tickers]
    listed = [_ticker_item(symbol, rng) for symbol in tickers]
    short_names = {item["ticker"]: " ".join(item["name"].split()[: rng.choice((1, 2))]) for item in listed}

    instants = _publication_instants(week, n_articles, np_rng)
    # Popularity falls off like 1 / (rank + 20): a few hundred articles a week for the busiest tickers.
    weights = 1.0 / (np.arange(n_tickers) + 20.0)
    weights /= weights.sum()
    sizes = np_rng.choice(list(TICKERS_PER_ARTICLE), size=len(instants), p=list(TICKERS_PER_ARTICLE.values()))
    picks = np_rng.choice(n_tickers, size=(len(instants), max(TICKERS_PER_ARTICLE)), p=weights)
    picks[np_rng.permutation(len(instants))[:n_tickers], 0] = np.arange(n_tickers)  # every ticker has news
    labels = np_rng.choice(list(LABELS), size=len(instants), p=list(LABELS.values()))
    words = _vocabulary()

    items, titles = [], set()
    for n, instant in enumerate(instants):
        article_tickers = [tickers[index] for index in dict.fromkeys(picks[n, : sizes[n]].tolist())]
        title = _headline(rng, words, short_names[article_tickers[0]], titles)
        label = str(labels[n])
        if items and rng.random() < reprints:
            original = items[rng.randrange(max(0, len(items) - 400), len(items))]
            article_tickers, label = original["tickers"], original["sentiment"]
            title = _reprinted(rng, original["title"], rng.choice(SOURCES))
        items.append(
            {
                "news_url": f"https://news.invalid/{week_key}/{n:06d}",
                "image_url": f"https://news.invalid/images/{n:06d}.jpg",
                "title": title,
                "text": f"{title}. " + " ".join(rng.choice(words) for _ in range(rng.randint(15, 40))) + ".",
                "source_name": rng.choice(SOURCES),
                "date": news_date(instant),
                "topics": rng.sample(TOPICS, rng.choice((0, 0, 1, 2))),
                "sentiment": label,
                "type": "Article",
                "tickers": article_tickers,
            }
        )
    universe = pd.Series(symbols, dtype="string")
    numerai = numerai_ticker_for(universe)
    mentions = Counter(ticker for item in items for ticker in item["tickers"])
    return {
        "week": week,
        "date_range": request_date_range(week),
        "items": items,
        "listed": listed,
        "universe": pd.DataFrame({"numerai_ticker": numerai, "bloomberg_ticker": numerai}),
        "mentions": mentions,
        "in_window": int(sum(week.start <= instant < week.end for instant in instants)),
    }


def news_date(instant) -> str:
    """RFC 2822 in US Eastern time with its offset, as the provider writes dates."""
    from email.utils import format_datetime

    return format_datetime(instant.astimezone(EASTERN))


def _publication_instants(week, n_window: int, np_rng) -> list:
    """Minutes over the request range (its US Eastern dates), weighted towards weekday business hours;
    exactly `n_window` inside the UTC window, the edge days as many as their hours weigh."""
    import numpy as np
    import pandas as pd

    from signals_assets.news.articles import request_date_range

    # The client's request range, MMDDYYYY-MMDDYYYY inclusive, in the provider's (US Eastern) dates.
    first, last = (datetime.strptime(part, "%m%d%Y").date() for part in request_date_range(week).split("-"))
    starts = pd.Timestamp(datetime.combine(first, clock_time(), EASTERN))
    ends = pd.Timestamp(datetime.combine(last + timedelta(days=1), clock_time(), EASTERN))
    minutes = pd.date_range(starts.tz_convert("UTC"), ends.tz_convert("UTC"), freq="min", inclusive="left")
    local = minutes.tz_convert(EASTERN)
    weekday, hour = np.asarray(local.weekday), np.asarray(local.hour)
    weight = np.where(weekday < 5, np.where((hour >= 6) & (hour < 20), 1.0, 0.25), 0.15)
    inside = np.asarray((minutes >= pd.Timestamp(week.start)) & (minutes < pd.Timestamp(week.end)))
    n_edge = round(n_window * weight[~inside].sum() / weight[inside].sum())
    chosen = [
        np_rng.choice(np.flatnonzero(mask), size=count, p=weight[mask] / weight[mask].sum())
        for mask, count in ((inside, n_window), (~inside, n_edge))
    ]
    seconds = pd.to_timedelta(np_rng.integers(0, 60, size=n_window + n_edge), unit="s")
    instants = minutes[np.concatenate(chosen)] + seconds
    return sorted(instant.to_pydatetime() for instant in instants)


def _symbols(rng: random.Random, count: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    found: dict[str, None] = {}
    while len(found) < count:
        symbol = "".join(rng.choice(letters) for _ in range(rng.choices((1, 2, 3, 4, 5), (1, 6, 35, 48, 10))[0]))
        if rng.random() < 0.01:
            symbol += ".B"  # a share class: Numerai writes it BRK/B
        found.setdefault(symbol)
    return list(found)


def _ticker_item(symbol: str, rng: random.Random) -> dict:
    kind = rng.choice(NAME_KINDS)
    name = f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_WORDS)} {kind} {rng.choice(('Inc.', 'Corp.', 'Ltd.', 'plc'))}"
    return {
        "ticker": symbol,
        "name": name,
        "country": "USA",
        "industry": kind,
        "sector": rng.choice(SECTORS),
        "exchange": rng.choice(("NYSE", "NASDAQ")),
        "has_news": True,
        "ipo_date": "",
    }


def _vocabulary() -> list[str]:
    """Common whole words of bert-base-uncased's vocabulary (as bench/scoring.py draws them)."""
    from scoring import bert_uncased_dir  # bench/scoring.py

    vocabulary = (bert_uncased_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return [token for token in vocabulary[2_000:12_000] if token.isalpha()]


def _headline(rng: random.Random, words: list[str], company: str, taken: set[str]) -> str:
    """The company's short name, then finance and everyday words: 6 to 22 words in all, never a repeat."""
    while True:
        count = rng.randint(6, 22) - len(company.split())
        body = [rng.choice(FINANCE_WORDS) if rng.random() < 0.5 else rng.choice(words) for _ in range(count)]
        if rng.random() < 0.2:
            body[rng.randrange(count)] = rng.choice(
                (f"{rng.randint(2, 40)}%", f"${rng.randint(1, 99)}.{rng.randint(1, 9)}bn")
            )
        title = f"{company} {' '.join(body)}"
        title = title[0].upper() + title[1:]
        if title not in taken:
            taken.add(title)
            return title


# ----- the loopback API, in its own process -----


def _serve(items: list, listed: list, latency_s: float, connection) -> None:
    from signals_assets_tests import stocknews_server
    from signals_assets_tests.stocknews_server import FakeStockNewsAPI

    # The fake writes headers and body separately: with Nagle's algorithm on, every answer would wait
    # ~40 ms for the client's delayed ACK, a cost of this test server, not of the client or the API.
    stocknews_server._Handler.disable_nagle_algorithm = True
    with FakeStockNewsAPI(items, listed, token=TOKEN, latency_s=latency_s) as api:
        connection.send(api.base_url)
        while (command := connection.recv()) != "stop":
            if command == "count":
                connection.send(dict(Counter(path for path, _ in api.requests)))
            elif command == "peak_rss":
                connection.send(_peak_rss())


class LoopbackAPI:
    def __init__(self, week: dict, latency_s: float):
        context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
        self._connection, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(week["items"], week["listed"], latency_s, child), daemon=True
        )
        self.process.start()
        self.base_url = self._connection.recv()

    def requests(self) -> Counter:
        self._connection.send("count")
        return Counter(self._connection.recv())

    def peak_rss(self) -> int | None:
        self._connection.send("peak_rss")
        return self._connection.recv()

    def stop(self) -> None:
        self._connection.send("stop")
        self.process.join(timeout=10)


# ----- memory -----
#
# The measurement must not slow what it measures. The kernel already keeps the exact peak RSS of a process,
# VmHWM (updated before pages are unmapped, so a peak between two readings is not lost), and reading it from
# /proc/<pid>/status costs microseconds. Sampling PSS instead, as this script did before (every 20 ms from
# smaps_rollup, which walks every page table of the process under its mmap lock, the lock the scorer's page faults
# need too), cost the finbert_scores step 16-65% of its speed on 2 cores (BENCHMARKS.md, 2026-12-06).
# So: every MEMORY_EVERY_S (never more often), read this process's VmHWM and reset
# it (clear_refs 5), which gives each 0.5 s window its exact peak, hence per step the largest peak of the windows
# the step overlaps, and for the run the largest window, which is the run's exact VmHWM. Child processes (the
# tokenizer workers the scorer forks on CUDA; none on CPU) add their PSS, read in the same tick, and only theirs:
# their smaps walk takes their own mmap locks, not this process's. PSS, because a worker shares most of its pages
# with this process and a sum of RSS would count those once per worker. At the end,
# getrusage(RUSAGE_CHILDREN).ru_maxrss gives the exact peak RSS of the largest child that finished in the run.


def _rss(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _pss(pid: int | str = "self") -> int:
    """Proportional set size: RSS with each shared page split among the processes that map it. Walks the
    process's page tables: read it at most every MEMORY_EVERY_S, and never of the process being measured."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _rss(pid)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found.update(int(child) for child in children.read().split())
    except OSError:
        return found
    for child in list(found):
        found |= _children(child)
    return found


def _peak_rss() -> int | None:
    """This process's peak RSS since the last reset (VmHWM), or since it started."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _children_max_rss() -> int:
    """The largest peak RSS of any child process that has ended and been waited for (ru_maxrss, kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


class MemoryWindows:
    """Every MEMORY_EVERY_S: this process's exact peak RSS over the window just ended (VmHWM, then reset), and the
    PSS of the children started while measuring, read at the window's end; windows with their end time stamps."""

    def __init__(self):
        self.windows: list[tuple[float, float, int, int]] = []  # (start, end, peak RSS, children's PSS)
        self.exact = False
        self._ignore = _children(os.getpid())  # the fake API server and multiprocessing's helpers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._children_before = 0
        self.children_max_rss: int | None = None

    def __enter__(self) -> MemoryWindows:
        self._children_before = _children_max_rss()
        self.exact = _reset_peak_rss()
        self._opened = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._tick()  # the last, partial window
        after = _children_max_rss()
        self.children_max_rss = after if after > self._children_before else None

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_EVERY_S):
            self._tick()

    def _tick(self) -> None:
        now = time.time()
        if self.exact:
            peak = _peak_rss() or 0
            _reset_peak_rss()
        else:
            peak = _rss()  # no clear_refs: a sample, not the peak
        children = _children(os.getpid()) - self._ignore
        started = self.windows[-1][1] if self.windows else self._opened
        self.windows.append((started, now, peak, sum(_pss(child) for child in children)))

    def peak_between(self, start: float, end: float) -> tuple[int, int]:
        """The largest peak RSS of the windows that overlap [start, end], and that plus the children's PSS."""
        inside = [(rss, rss + pss) for opened, closed, rss, pss in self.windows if closed >= start and opened <= end]
        return max((rss for rss, _ in inside), default=0), max((group for _, group in inside), default=0)

    def peak(self) -> tuple[int, int]:
        return self.peak_between(-math.inf, math.inf)


# ----- runs -----


def materialize_week(week_key: str, resources: dict, profile_to: Path | None = None) -> dict:
    """Every asset and check of the week in one in-process run, measured step by step."""
    from dagster import DagsterInstance, materialize

    from signals_assets.definitions import build_definitions

    definitions = build_definitions()
    # A week's assets: numerai_diagnostics runs on its own, over many weeks (and needs Numerai's keys).
    graph = [
        *(asset for asset in definitions.assets if asset.key.to_user_string() != "numerai_diagnostics"),
        *definitions.asset_checks,
    ]
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    profiler = None
    if profile_to is not None:
        import cProfile

        profiler = cProfile.Profile()
    with DagsterInstance.ephemeral() as instance:
        cpu_before, load_before = os.times(), os.getloadavg()
        with MemoryWindows() as memory:
            started = time.time()
            if profiler is not None:
                profiler.enable()
            result = materialize(
                graph,
                partition_key=week_key,
                resources=resources,
                instance=instance,
                run_config=quiet,
                raise_on_error=False,
            )
            if profiler is not None:
                profiler.disable()
            ended = time.time()
        cpu = os.times()
        steps: dict[str, dict] = {}
        for entry in instance.all_logs(result.run_id):
            kind = entry.dagster_event_type.value if entry.dagster_event_type else None
            if entry.step_key and kind in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
                step = steps.setdefault(entry.step_key, {})
                step["start" if kind == "STEP_START" else "end"] = entry.timestamp
                if kind != "STEP_START":
                    step["status"] = "ok" if kind == "STEP_SUCCESS" else "FAILED"
    for step in steps.values():
        step["seconds"] = step.get("end", step.get("start", 0)) - step.get("start", 0)
        step["peak_rss"], step["peak_group"] = memory.peak_between(step.get("start", 0), step.get("end", ended))
    if profiler is not None:
        profiler.dump_stats(profile_to)
    metadata = {  # plain values only (no previews, tables or schemas)
        event.asset_key.to_user_string(): {
            key: value.value
            for key, value in event.materialization.metadata.items()
            if isinstance(value.value, (int, float, str, bool)) and key != "preview"
        }
        for event in result.get_asset_materialization_events()
    }
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    return {
        "success": result.success,
        "seconds": ended - started,
        "steps": steps,
        "metadata": metadata,
        "checks": checks,
        # CPU seconds of this process (all its threads) and its children: with 2 cores, at most 2 x seconds.
        # Well under that while the scorer runs means other processes took the cores (see the load averages).
        "cpu_seconds": sum(cpu[:4]) - sum(cpu_before[:4]),
        "load_average": [load_before[0], os.getloadavg()[0]],
        # VmHWM of this process over the run (the largest of its 0.5 s windows); `sampled` RSS without clear_refs.
        "peak_rss": memory.peak()[0],
        "peak_rss_exact": memory.exact,
        # With tokenizer worker processes (CUDA): that plus the children's PSS, read every 0.5 s; equal to peak_rss
        # when no child ran (CPU).
        "peak_group": memory.peak()[1],
        "children_seen": any(pss for *_, pss in memory.windows),
        # The largest peak RSS of a child that ended during the run (exact, kernel), None when none did.
        "children_max_rss": memory.children_max_rss,
        "memory_every_s": MEMORY_EVERY_S,
        "memory_windows": len(memory.windows),
    }


def fetch_in_both_modes(week: dict, api: LoopbackAPI, tickers: list[str], directory: Path) -> dict:
    """raw_articles' fetch in each mode against the server, twice (the second from the response cache),
    each mode with an empty cache of its own."""
    from signals_assets.defs.ingestion.resources import StockNewsAPI

    modes = {}
    for mode in ("all_tickers", "per_ticker"):
        cache_dir = directory / f"fetch-{mode}"
        client = StockNewsAPI(api_key=TOKEN, base_url=api.base_url, fetch_mode=mode)
        runs = []
        for _ in range(2):
            before = sum(api.requests().values())
            started = time.perf_counter()
            fetched = client.fetch_week(week["week"], tickers, cache_dir, _QuietLog())
            runs.append(
                {
                    "server_requests": sum(api.requests().values()) - before,
                    "api_calls": fetched.api_calls,
                    "cache_hits": getattr(fetched, "cache_hits", 0),
                    "articles": len(fetched.articles),
                    "truncated_streams": len(fetched.truncated_streams),
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
        modes[mode] = {"first": runs[0], "again": runs[1]}
    return modes


class _QuietLog:
    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        print(f"  warning: {message}", flush=True)


def call_bounds(week: dict, tickers: list[str]) -> dict[str, int]:
    """all_tickers: ceil(articles returned for the requested dates / 50) + 2. per_ticker: one call per
    ticker plus the extra pages of tickers with more than 50 articles, plus one confirming call for each
    ticker whose count is an exact multiple of 50: the client does not trust `total_pages` while pages
    come back full (signals_assets.news.paging), so a full last page costs one more, empty, call."""
    returned = len(week["items"])
    counts = [week["mentions"].get(ticker, 0) for ticker in tickers]
    extra_pages = sum(max(0, math.ceil(count / PER_PAGE) - 1) for count in counts)
    full_last_pages = sum(1 for count in counts if count and count % PER_PAGE == 0)
    return {
        "all_tickers": math.ceil(returned / PER_PAGE) + 2,
        "per_ticker": len(tickers) + extra_pages + full_last_pages,
        "articles_returned": returned,
        "extra_pages": extra_pages,
        "full_last_pages": full_last_pages,
    }


# ----- report -----


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        for name in ("Model name", "CPU(s)", "Thread(s) per core", "Flags"):
            if name in fields:
                value = fields[name].strip()
                info[name] = (
                    " ".join(
                        flag for flag in value.split() if flag.startswith(("avx512_bf16", "avx512_vnni", "amx", "avx2"))
                    )
                    if name == "Flags"
                    else value
                )
    except (OSError, subprocess.CalledProcessError):
        info["Model name"] = platform.processor()
    try:
        import torch

        info["torch"], info["torch_threads"] = torch.__version__, torch.get_num_threads()
    except ImportError:
        pass
    return info


def story_collapse(database: Path, week_key: str, run: dict) -> dict:
    """The share of the week's (ticker, headline) rows that story collapse removes, and what it costs: the story
    ids of the stored filtered headlines computed again on their own (median of 3), beside the whole
    aggregated_headlines step."""
    import statistics

    import duckdb

    from signals_assets.news.stories import story_ids

    with duckdb.connect(str(database), read_only=True) as connection:
        filtered = connection.execute(
            "SELECT numerai_ticker, title, published_at FROM signals.filtered_headlines WHERE week_start = ? "
            "ORDER BY numerai_ticker, published_at",
            [week_key],
        ).fetchdf()
        variants = connection.execute(
            "SELECT count(DISTINCT variant) FROM signals.finbert_scores WHERE week_start = ?", [week_key]
        ).fetchone()[0]
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        ids = story_ids(filtered["numerai_ticker"].astype(str), filtered["title"])
        timings.append(time.perf_counter() - started)
    stories = int(ids.groupby(filtered["numerai_ticker"].astype(str).to_numpy()).nunique().sum()) if len(ids) else 0
    return {
        "headlines": len(filtered),
        "stories": stories,
        "collapse_share": 1 - stories / len(filtered) if len(filtered) else 0.0,
        "story_ids_s": statistics.median(timings),
        "step_s": run["steps"].get("aggregated_headlines", {}).get("seconds", 0.0),
        "variants": variants,
    }


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f} MiB"


def print_run(title: str, run: dict, server_requests: Counter) -> None:
    print(
        f"\n{title}: {'ok' if run['success'] else 'FAILED'} in {run['seconds']:.1f} s ({run['cpu_seconds']:.0f} CPU s; "
        f"1-min load average {run['load_average'][0]:.1f} before, {run['load_average'][1]:.1f} after), peak RSS "
        f"{mib(run['peak_rss'])} ({'VmHWM' if run['peak_rss_exact'] else 'sampled RSS'}, read every "
        f"{run['memory_every_s']} s), "
        + (
            f"with child processes {mib(run['peak_group'])} (+ their PSS, read every {run['memory_every_s']} s; "
            f"largest child that ended: {mib(run['children_max_rss'])} VmHWM)"
            if run["children_seen"] or run["children_max_rss"]
            else "no child processes"
        )
        + f"; server requests: {sum(server_requests.values())} {dict(server_requests)}"
    )
    group = run["children_seen"]
    print(
        f"  {'step':58s} {'seconds':>8s} {'share':>6s} {'peak RSS':>10s}" + (f" {'+ children':>11s}" if group else "")
    )
    for key, step in sorted(run["steps"].items(), key=lambda item: item[1].get("start", 0)):
        print(
            f"  {key:58s} {step['seconds']:8.2f} {step['seconds'] / run['seconds']:6.1%} {mib(step['peak_rss']):>10s}"
            + (f" {mib(step['peak_group']):>11s}" if group else "")
            + ("" if step.get("status") == "ok" else "  " + step.get("status", "?"))
        )
    failed = [name for name, passed in run["checks"].items() if not passed]
    if failed:
        print(f"  checks failed: {', '.join(failed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000, help="articles inside the week's window (20,000)")
    parser.add_argument("--tickers", type=int, default=2_000, help="tickers with news this week (2,000)")
    parser.add_argument("--week", default=DEFAULT_WEEK, help=f"partition key, a closed week (default {DEFAULT_WEEK})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reprints", type=float, default=0.3, help="share of articles that are syndicated copies (0.3)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="server delay per answer (default 0: loopback)")
    parser.add_argument("--model-dir", type=Path, default=RESULTS / "finbert-shaped")
    parser.add_argument("--profile", action="store_true", help="cProfile the first run into bench/results/week.prof")
    args = parser.parse_args()

    work = RESULTS / "week"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ["HF_HUB_OFFLINE"] = "1"

    from scoring import build_finbert_shaped  # bench/scoring.py

    info = machine()
    print("machine: " + "; ".join(f"{key} {value}" for key, value in info.items()), flush=True)
    started = time.perf_counter()
    week = synthetic_week(args.week, args.articles, args.tickers, args.seed, args.reprints)
    week["universe"].to_csv(work / "universe.csv", index=False)
    items = week["items"]
    labels = Counter(item["sentiment"] for item in items)
    words = [len(item["title"].split()) for item in items]
    offsets = Counter(item["date"][-5:] for item in items)
    print(
        f"week {args.week} (request range {week['date_range']}): {len(items):,} articles for the requested dates "
        f"({week['in_window']:,} inside the UTC window), {len(week['listed']):,} tickers, "
        f"{sum(len(item['tickers']) for item in items) / len(items):.2f} tickers an article, busiest "
        f"{max(week['mentions'].values())} articles; labels {dict(labels)} ({labels['Neutral'] / len(items):.0%} Neutral); "
        f"headlines {min(words)}-{max(words)} words (mean {sum(words) / len(words):.1f}); offsets {dict(offsets)}; "
        f"universe {len(week['universe']):,}; built in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    model_dir = build_finbert_shaped(args.model_dir)

    api = LoopbackAPI(week, args.latency_ms / 1000)
    try:
        from signals_assets.defs.ingestion.resources import StockNewsAPI
        from signals_assets.defs.numerai.data import NumeraiData
        from signals_assets.defs.numerai.resources import NumeraiSignals
        from signals_assets.defs.sentiment.resources import FinBERT
        from signals_assets.defs.signal.resources import SignalSettings
        from signals_assets.defs.warehouse import Warehouse, warehouse_io_manager

        resources = {
            "warehouse": Warehouse(
                database=str(work / "warehouse.duckdb"),
                data_dir=str(work / "data"),
                output_dir=str(work / "submissions"),
            ),
            "io_manager": warehouse_io_manager,
            "news": StockNewsAPI(api_key=TOKEN, base_url=api.base_url),
            "finbert": FinBERT(model=str(model_dir)),
            "numerai": NumeraiSignals(universe=str(work / "universe.csv"), upload=False),
            "numerai_data": NumeraiData(),
            "signal_settings": SignalSettings(),
        }
        before = api.requests()
        first = materialize_week(args.week, resources, RESULTS / "week.prof" if args.profile else None)
        first_requests = api.requests() - before
        print_run("first materialization", first, first_requests)
        before = api.requests()
        again = materialize_week(args.week, resources)
        again_requests = api.requests() - before
        print_run("re-materialization of the same week", again, again_requests)

        import duckdb

        with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as connection:
            tickers = [
                row[0]
                for row in connection.execute(
                    "SELECT stocknews_ticker FROM signals.ticker_map WHERE week_start = ?", [args.week]
                ).fetchall()
            ]
        modes = fetch_in_both_modes(week, api, tickers, work)
        server_peak = api.peak_rss()
    finally:
        api.stop()

    bounds = call_bounds(week, tickers)
    scores, again_scores = first["metadata"].get("finbert_scores", {}), again["metadata"].get("finbert_scores", {})
    scoring_step = first["steps"].get("finbert_scores", {}).get("seconds", 0.0)
    print(
        f"\nfetch modes ({len(tickers):,} tickers in ticker_map; {bounds['articles_returned']:,} articles returned for "
        f"the requested dates; tickers over {PER_PAGE} articles need {bounds['extra_pages']} extra pages, "
        f"{bounds['full_last_pages']} tickers end on a full page and need one confirming call):"
    )
    for mode, runs in modes.items():
        print(
            f"  {mode:11s}: {runs['first']['server_requests']:,} API calls (bound {bounds[mode]:,}) in "
            f"{runs['first']['seconds']:.1f} s, {runs['first']['articles']:,} articles, "
            f"{runs['first']['truncated_streams']} streams cut off; again: {runs['again']['server_requests']} API calls, "
            f"{runs['again']['cache_hits']:,} cache hits"
        )
    print(
        f"week: {sum(first_requests.values()):,} API calls (ticker list + all_tickers pages, bound "
        f"{bounds['all_tickers']:,}); {scores.get('headlines_scored', 0):,} headlines scored "
        f"({scores.get('headlines_per_s', 0)} headlines/s, {scores.get('precision')}; the finbert_scores step "
        f"{scoring_step:.1f} s = {scoring_step / first['seconds']:.0%} of the run); total {first['seconds']:.1f} s; "
        f"peak RSS {mib(first['peak_rss'])} (fake API server, another process: {mib(server_peak)})"
    )
    collapse = story_collapse(work / "warehouse.duckdb", args.week, first)
    print(
        f"stories: {collapse['headlines']:,} (ticker, headline) rows are {collapse['stories']:,} stories, "
        f"{collapse['collapse_share']:.1%} collapsed ({args.reprints:.0%} of articles are reprints); story ids "
        f"{collapse['story_ids_s']:.2f} s (median of 3) of aggregated_headlines' {collapse['step_s']:.2f} s step; "
        f"finbert_scores over {collapse['variants']} variants"
    )
    print(
        f"re-materialization: {sum(again_requests.values())} API calls, {again_scores.get('headlines_scored', 'n/a')} "
        f"headlines scored, {again['seconds']:.1f} s"
    )
    targets = {
        "all_tickers calls": modes["all_tickers"]["first"]["server_requests"] <= bounds["all_tickers"],
        "whole-week calls (all_tickers)": sum(first_requests.values()) <= bounds["all_tickers"],
        "per_ticker calls": modes["per_ticker"]["first"]["server_requests"] <= bounds["per_ticker"],
        "re-materialization: 0 API calls": sum(again_requests.values()) == 0
        and all(runs["again"]["server_requests"] == 0 for runs in modes.values()),
        "re-materialization: 0 inference": again_scores.get("headlines_scored") == 0,
        f"first run <= {TARGET_SECONDS:.0f} s": first["seconds"] <= TARGET_SECONDS,
        "peak memory < 4 GiB": max(first["peak_rss"], again["peak_rss"], first["peak_group"], again["peak_group"])
        < TARGET_PEAK_BYTES,
        "both runs succeeded": first["success"] and again["success"],
    }
    print("targets: " + "; ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in targets.items()))

    summary = {
        "machine": info,
        "args": {key: str(value) for key, value in vars(args).items()},
        "week": {
            "articles_returned": len(items),
            "in_window": week["in_window"],
            "tickers": len(week["listed"]),
            "labels": dict(labels),
        },
        "bounds": bounds,
        "fetch_modes": modes,
        "targets": targets,
        "first": {**first, "server_requests": dict(first_requests)},
        "again": {**again, "server_requests": dict(again_requests)},
        "server_peak_rss": server_peak,
        "story_collapse": collapse,
    }
    (RESULTS / "week.json").write_text(json.dumps(summary, indent=2, default=str))
    if args.profile:
        import pstats

        print(f"\nprofile of the first run ({RESULTS / 'week.prof'}), project functions by cumulative time:")
        pstats.Stats(str(RESULTS / "week.prof")).sort_stats("cumulative").print_stats(r"signals_assets", 25)
    sys.exit(0 if all(targets.values()) else 1)


if __name__ == "__main__":
    main()
