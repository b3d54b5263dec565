"""The plan's monthly call budget: a ledger of the Stock News API calls made per calendar month (UTC), the
check before a week fetches, the budget enforced call by call, and the messages when the calls run out.

The ledger is a small JSON file beside the response cache (`<data_dir>/stocknews_calls.json`):
{"format": 1, "calls_by_month": {"2026-11": 1234, ...}, "updated_at": "..."}. It counts the HTTP requests
this data dir's runs sent (retries included; cache hits are no requests), never the token or a URL. Two runs
may update it at once: each update takes an exclusive `fcntl.flock` on `stocknews_calls.json.lock` around
read, add and write, and the write goes to a temporary file renamed over the ledger (`os.replace`), so a
reader never sees half a file and no count is lost. (Without fcntl, on Windows, only the atomic rename
holds: two runs writing at the same instant could lose one's increment.)

The provider's own count may differ: calls made with the same key from elsewhere are not in the ledger, and
a plan may reset on its billing day rather than on the 1st (UTC) as the ledger does.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from signals_assets.news.client import QuotaExhausted, StockNewsAPIError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None  # type: ignore[assignment]

QUOTA_ENV = "STOCKNEWS_MONTHLY_CALLS"
LEDGER_FILE_NAME = "stocknews_calls.json"
LEDGER_FORMAT = 1
BUDGET_FIX = (
    f"raise the budget (the environment variable {QUOTA_ENV}, or the news resource's monthly_call_budget at launch) "
    "if your plan has calls left, or unset it to stop checking"
)

Get = Callable[[str, Mapping[str, Any]], dict[str, Any]]


class CallBudgetExceeded(StockNewsAPIError):
    """The calls a week needs, or the next call, would go past the monthly call budget (nothing was sent)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def month_of(now: datetime) -> str:
    """The ledger's month of an instant: `YYYY-MM` in UTC."""
    return now.astimezone(timezone.utc).strftime("%Y-%m")


def month_resets_at(month: str) -> datetime:
    """When the ledger's count for `month` (`YYYY-MM`) starts again from 0: the 1st of the next month, 00:00 UTC."""
    year, number = (int(part) for part in month.split("-"))
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=timezone.utc)


def ledger_path(cache_dir: Path) -> Path:
    """The ledger beside the response cache folder (`<data_dir>/stocknews_cache` -> `<data_dir>/stocknews_calls.json`)."""
    return Path(cache_dir).parent / LEDGER_FILE_NAME


class CallLedger:
    """API calls per calendar month (UTC), kept in a JSON file; safe when several runs update it."""

    def __init__(self, path: Path, log: Any):
        self.path = Path(path)
        self._log = log

    def calls_in(self, month: str) -> int:
        return self._read().get(month, 0)

    def status(self, budget: int | None, now: datetime | None = None) -> BudgetStatus:
        """This month's calls (`now`'s month, UTC) against `budget`."""
        month = month_of(now or utc_now())
        return BudgetStatus(month, self.calls_in(month), budget, self.path)

    def add(self, calls: int, month: str) -> int:
        """Add `calls` to `month`; the month's total afterwards (other runs' calls included)."""
        with self._locked():
            months = self._read()
            months[month] = months.get(month, 0) + calls
            self._write(months)
        return months[month]

    def _read(self) -> dict[str, int]:
        try:
            entry = json.loads(self.path.read_text(encoding="utf-8"))
            months = entry["calls_by_month"]
            if entry.get("format") != LEDGER_FORMAT or not isinstance(months, dict):
                raise ValueError(f"format {entry.get('format')!r}, not {LEDGER_FORMAT}")
            return {str(month): int(calls) for month, calls in months.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            self._log.warning(
                f"Ignoring the unreadable Stock News API call ledger {self.path} ({type(exc).__name__}: {exc}); "
                "counting this month's calls from 0; the next call rewrites it."
            )
            return {}

    def _write(self, months: Mapping[str, int]) -> None:
        entry = {"format": LEDGER_FORMAT, "calls_by_month": dict(sorted(months.items())), "updated_at": _stamp()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, suffix=".tmp", delete=False) as handle:
            json.dump(entry, handle, indent=1)
        os.replace(handle.name, self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover (Windows: the atomic rename only)
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class BudgetStatus:
    """Where this month stands: calls made per the ledger, the budget (None: not set)."""

    month: str
    used: int
    budget: int | None
    ledger: Path

    @property
    def left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.used)

    @property
    def resets_at(self) -> datetime:
        return month_resets_at(self.month)

    def describe(self) -> str:
        made = f"{self.used:,} Stock News API calls made in {self.month} (UTC) per the ledger {self.ledger}"
        if self.budget is None:
            return f"{made}; no monthly budget set ({QUOTA_ENV} is unset), so none is checked"
        return (
            f"{made}, of a monthly budget of {self.budget:,} ({QUOTA_ENV}): {self.left:,} left until the month "
            f"resets on {self.resets_at:%Y-%m-%d %H:%M} UTC"
        )


class MeteredGet:
    """The client's `get`, each request it sends (retries included) added to the ledger as it is made; with a
    budget, a request is not sent once the month's calls have reached it (CallBudgetExceeded)."""

    def __init__(
        self,
        get: Get,
        calls_sent: Callable[[], int],
        ledger: CallLedger,
        budget: int | None,
        now: Callable[[], datetime] = utc_now,
    ):
        self._get = get
        self._calls_sent = calls_sent
        self.ledger = ledger
        self.budget = budget
        self._now = now
        self._month = month_of(now())
        self._used = ledger.calls_in(self._month)

    def status(self) -> BudgetStatus:
        """This month's calls as of this get's last request (other runs' calls included at that point)."""
        month = month_of(self._now())
        if month != self._month:  # the month turned during the run
            self._month, self._used = month, self.ledger.calls_in(month)
        return BudgetStatus(self._month, self._used, self.budget, self.ledger.path)

    def get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        status = self.status()
        if status.left == 0:
            raise CallBudgetExceeded(
                f"The monthly Stock News API call budget is spent: {status.describe()}. Stopped before asking "
                f"{path or '/'} (nothing sent). Wait for the reset, or {BUDGET_FIX}."
            )
        before = self._calls_sent()
        try:
            return self._get(path, params)
        finally:
            made = self._calls_sent() - before
            if made:
                self._used = self.ledger.add(made, status.month)


def check_week(week_key: str, expected_calls: int, estimate: str, status: BudgetStatus) -> str:
    """The line to log before a week fetches; CallBudgetExceeded (before any call) when the calls the week is
    expected to need are more than what is left of the month's budget."""
    if status.left is not None and expected_calls > status.left:
        raise CallBudgetExceeded(
            f"Week {week_key} is expected to need about {expected_calls:,} Stock News API calls ({estimate}), but "
            f"only {status.left:,} of this month's budget are left: {status.describe()}. Nothing was asked. Re-run "
            f"after {status.resets_at:%Y-%m-%d %H:%M} UTC, or {BUDGET_FIX}. Weeks already in the response cache "
            "cost no calls."
        )
    return f"{estimate}. {status.describe()}."


def calls_ran_out(error: StockNewsAPIError, status: BudgetStatus, resume: str) -> StockNewsAPIError:
    """The error a week fails with when the API says the quota is used up, or the budget is reached mid-week:
    the cause, this month's calls and budget, and how a re-run continues."""
    if isinstance(error, QuotaExhausted):
        cause = (
            f"{error} {status.describe()}. If that is fewer calls than your plan allows, the same key is also used "
            f"elsewhere, or the plan resets on another day than the 1st: set {QUOTA_ENV} to the calls your plan "
            "allows a month, so weeks that would not fit stop before calling."
        )
    else:
        cause = str(error)
    return type(error)(f"{cause} {resume}", status=error.status, endpoint=error.endpoint)


def resume_note(week_key: str, folder: Path | None, why_not_cached: str, api_calls: int, cache_hits: int) -> str:
    """How re-running a week that stopped for want of calls goes on: from its cached pages, or from the start."""
    nothing = f"Nothing of week {week_key} was written to the warehouse."
    if folder is None:
        return f"{nothing} Its pages are not cached ({why_not_cached}): a re-run asks the API for all of them again."
    return (
        f"{nothing} The pages this run read ({api_calls:,} API calls, {cache_hits:,} from the cache) are cached in "
        f"{folder}: re-running the week once calls are available again asks only for the pages not cached yet, and "
        "a backfill's weeks that are cached cost nothing."
    )


def backfill_budget_note(calls: int, uncached_week_calls: float, status: BudgetStatus) -> str:
    """Whether a backfill's remaining calls fit what is left of this month's budget, and if not, what happens.
    (Read after `status.describe()`, which gives the numbers.)"""
    if status.budget is None:
        return "Nothing stops the backfill before the API's own quota."
    if calls <= status.left:
        return "That fits what is left of the budget."
    weeks = int(status.left // uncached_week_calls) if uncached_week_calls > 0 else 0
    return (
        f"That is more than is left: about {weeks:,} more uncached week(s) fit this month. Later weeks fail before "
        f"calling the API; re-running the backfill after {status.resets_at:%Y-%m-%d %H:%M} UTC continues where it "
        f"stopped (cached weeks cost nothing), or {BUDGET_FIX}."
    )


def _stamp() -> str:
    return utc_now().isoformat(timespec="seconds")
