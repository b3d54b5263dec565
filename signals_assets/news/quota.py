"""The plan's monthly call budget: a ledger of the Stock News API calls made per calendar month (UTC) and the
budget enforced call by call (the calls a week or backfill is expected to make, the check before a week fetches
and the messages when the calls run out are in budget.py).

The ledger is a small JSON file beside the response cache (`<data_dir>/stocknews_calls.json`):
{"format": 1, "calls_by_month": {"2026-11": 1234, ...}, "updated_at": "..."}. It counts the HTTP requests
this data dir's runs sent (retries included; cache hits are no requests), never the token or a URL.

Every request is counted BEFORE it is sent: under an exclusive `fcntl.flock` on `stocknews_calls.json.lock`
the ledger is read, the budget checked, the request added and the file written; only then is it sent. So
runs side by side never pass the budget together, and a request not sent after all is given back. Writes go
to a temporary file (flushed, renamed over the ledger with `os.replace`, removed if the write fails). On
Windows (no fcntl) only the atomic rename holds: two runs at the same instant could lose one's increment.
A ledger that exists but cannot be read (not JSON, another format, permission denied) or written stops the
run before its next request, naming the file and the fix: never a count from 0 that leaves the budget
unchecked. Only a missing ledger starts at 0.

The provider's own count may differ: calls made with the same key from elsewhere are not in the ledger, and
a plan may reset on its billing day rather than on the 1st (UTC) as the ledger does.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from signals_assets.news.client import StockNewsAPIError, StockNewsClient

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
# Errors that file permissions (or a read-only file system) cause, rather than the ledger's content.
_ACCESS_ERRORS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

Get = Callable[[str, Mapping[str, Any]], dict[str, Any]]


class CallBudgetExceeded(StockNewsAPIError):
    """The calls a week needs, or the next call, would go past the monthly call budget (nothing was sent)."""


class CallLedgerError(StockNewsAPIError):
    """The call ledger cannot be read or written, so calls cannot be counted or held to the budget: no request
    is sent. `cause` is the file error, `fix` what to do."""

    cause: str = ""
    fix: str = ""


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
    """API calls per calendar month (UTC), kept in a JSON file; safe when several runs update it. Every read and
    update holds the lock; a ledger that cannot be read or written raises CallLedgerError (never counts from 0)."""

    def __init__(self, path: Path, log: Any):
        self.path = Path(path)
        self.log = log

    def calls_in(self, month: str) -> int:
        with self._locked():
            return self._read().get(month, 0)

    def status(self, budget: int | None, now: datetime | None = None) -> BudgetStatus:
        """This month's calls (`now`'s month, UTC) against `budget`, read now under the lock."""
        month = month_of(now or utc_now())
        return BudgetStatus(month, self.calls_in(month), budget, self.path)

    def reserve(self, calls: int, month: str, budget: int | None) -> tuple[bool, int]:
        """Count `calls` more in `month` unless that takes it past `budget` (None: no limit), reading, checking
        and writing under one lock: (whether they were counted, the month's total afterwards)."""
        with self._locked():
            months = self._read()
            used = months.get(month, 0)
            if budget is not None and used + calls > budget:
                return False, used
            months[month] = used + calls
            self._write(months)
        return True, months[month]

    def add(self, calls: int, month: str) -> int:
        """Add `calls` to `month` unchecked (negative: give back reserved calls that were not sent); the month's
        total afterwards (other runs' calls included)."""
        with self._locked():
            months = self._read()
            months[month] = max(0, months.get(month, 0) + calls)
            self._write(months)
        return months[month]

    def _read(self) -> dict[str, int]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:  # first use in this data dir
            return {}
        except OSError as exc:
            raise self._error("read", exc) from None
        try:
            entry = json.loads(text)
            months = entry["calls_by_month"]
            if entry.get("format") != LEDGER_FORMAT or not isinstance(months, dict):
                raise ValueError(f"format {entry.get('format')!r} with calls_by_month {type(months).__name__}")
            return {str(month): _count(calls) for month, calls in months.items()}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise self._error("read", exc) from None

    def _write(self, months: Mapping[str, int]) -> None:
        entry = {"format": LEDGER_FORMAT, "calls_by_month": dict(sorted(months.items())), "updated_at": _stamp()}
        temporary = None
        try:
            with tempfile.NamedTemporaryFile(
                "w", dir=self.path.parent, prefix=self.path.name + ".", suffix=".tmp", delete=False, encoding="utf-8"
            ) as handle:
                temporary = handle.name
                json.dump(entry, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())  # a crash must not leave an empty ledger, which would stop the next run
            os.replace(temporary, self.path)
            temporary = None
        except OSError as exc:
            raise self._error("written", exc) from None
        finally:
            if temporary is not None:  # the write failed: leave no temporary file behind
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover (Windows: the atomic rename only)
            yield
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115 (closed below)
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError as exc:
            raise self._error("locked", exc) from None
        with lock:  # closing it releases the lock
            yield

    def _error(self, action: str, exc: Exception) -> CallLedgerError:
        if isinstance(exc, OSError) and exc.errno in _ACCESS_ERRORS:
            fix = (
                f"make {self.path} and its folder {self.path.parent} readable and writable by the user running "
                "Dagster, or point the warehouse's data_dir (SIGNALS_DATA_DIR) at a folder that user can write"
            )
        else:
            fix = (
                f"fix or delete {self.path}: deleting it restarts this month's count at 0, so the calls already "
                f"made this month are no longer counted (lower {QUOTA_ENV} by them, or check the plan's dashboard)"
            )
        cause = f"{type(exc).__name__}: {exc}"
        error = CallLedgerError(
            f"The Stock News API call ledger {self.path} cannot be {action} ({cause}). Without it this month's calls "
            f"can be neither counted nor held to the budget, so no request was sent. To go on, {fix}."
        )
        error.cause, error.fix = cause, fix
        return error


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
    """The client's `get`, each request it sends (retries included) counted in the ledger before it is sent;
    with a budget, a request is not sent once the month's calls have reached it (CallBudgetExceeded).

    `get` reserves its first request itself. A get function that may send more than one request (retries,
    redirects) calls `reserve()` before each further one: `of_client` wires StockNewsClient's `before_resend`
    to it. What `calls_sent` shows afterwards settles the count: reservations not sent are given back, and
    requests sent without one (a get function not wired) are added, then unchecked."""

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
        self._path = ""
        self._reserved = 0  # requests of the get in progress counted in the ledger

    @classmethod
    def of_client(
        cls, client: StockNewsClient, ledger: CallLedger, budget: int | None, now: Callable[[], datetime] = utc_now
    ) -> MeteredGet:
        """The client's get, its retries and redirects reserved one by one as the client is about to send them."""
        metered = cls(client.get, lambda: client.api_calls, ledger, budget, now)
        client.before_resend = metered.reserve
        return metered

    def status(self) -> BudgetStatus:
        """This month's calls per the ledger, read now under its lock (other runs' calls included)."""
        return self.ledger.status(self.budget, self._now())

    def reserve(self) -> None:
        """Count one more request of the get in progress, before it is sent; CallBudgetExceeded (and it must not
        be sent) when the month's calls have reached the budget, CallLedgerError when the ledger is unusable."""
        counted, used = self.ledger.reserve(1, self._month, self.budget)
        if not counted:
            status = BudgetStatus(self._month, used, self.budget, self.ledger.path)
            stopped = "asking {} (nothing sent)" if not self._reserved else "sending {} again (a retry or redirect)"
            raise CallBudgetExceeded(
                f"The monthly Stock News API call budget is spent: {status.describe()}. Stopped before "
                f"{stopped.format(self._path or '/')}. Wait for the reset, or {BUDGET_FIX}."
            )
        self._reserved += 1

    def get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self._month, self._path, self._reserved = month_of(self._now()), path, 0
        before = self._calls_sent()
        self.reserve()
        try:
            return self._get(path, params)
        finally:
            self._settle(self._calls_sent() - before)

    def _settle(self, sent: int) -> None:
        """Make the ledger match the requests this get sent. A failure here is logged, not raised: the answer
        (already paid for) is kept, and the next reservation stops the run if the ledger stays unusable."""
        unreserved = sent - self._reserved
        if not unreserved:
            return
        try:
            self.ledger.add(unreserved, self._month)
        except CallLedgerError as exc:
            self.ledger.log.warning(
                f"{self._path or '/'} sent {sent} Stock News API request(s), {self._reserved} counted before sending, "
                f"but the ledger could not be corrected by {unreserved:+d} ({exc.cause}), so it is off by that much. "
                f"The next request stops until it is fixed: {exc.fix}."
            )


def _stamp() -> str:
    return utc_now().isoformat(timespec="seconds")


def _count(calls: Any) -> int:
    """A month's count as the ledger keeps it: a whole number, 0 or more."""
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise ValueError(f"a month's count is {calls!r}, not a whole number of calls")
    return calls
