"""What a week's fetch says about the monthly call budget: the check before it fetches, and the messages when
the calls run out mid-week or a backfill will not fit (the ledger and its enforcement are in quota.py)."""

from __future__ import annotations

from pathlib import Path

from signals_assets.news.client import QuotaExhausted, StockNewsAPIError
from signals_assets.news.quota import BUDGET_FIX, QUOTA_ENV, BudgetStatus, CallBudgetExceeded


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
