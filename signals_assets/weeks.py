"""The calendar of one week (pure: no Dagster here; the partitions live in defs/partitions.py).

A partition key is the Saturday that opens the window [Saturday 00:00 UTC, next Saturday 00:00 UTC).
The week's signal date is the Friday before the window's end. No asset may use an article published
at or after the window's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pandas as pd

FIRST_WEEK = "2019-03-02"  # Stock News API history starts in March 2019 (Premium plan).

# Column every partitioned table carries, so the DuckDB IO manager can replace one week's rows.
PARTITION_COLUMN = "week_start"


@dataclass(frozen=True)
class Week:
    """One weekly window: [start, end) in UTC."""

    start: datetime
    end: datetime

    @classmethod
    def from_key(cls, key: str) -> Week:
        start = datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        if start.weekday() != 5:
            raise ValueError(f"Partition key {key!r} is not a Saturday; weekly partitions open on Saturdays 00:00 UTC.")
        return cls(start=start, end=start + timedelta(days=7))

    @classmethod
    def from_window(cls, start: datetime, end: datetime) -> Week:
        week = cls.from_key(start.astimezone(timezone.utc).strftime("%Y-%m-%d"))
        if week.end != end.astimezone(timezone.utc):
            raise ValueError(
                f"Window {start} to {end} spans more than one week; materialize one weekly partition per run."
            )
        return week

    @property
    def key(self) -> str:
        return self.start.strftime("%Y-%m-%d")

    @property
    def friday(self) -> date:
        """The week's signal date: the Friday before the window's end."""
        return (self.end - timedelta(days=1)).date()

    @property
    def week_start(self) -> pd.Timestamp:
        """Value of the partition column (naive UTC midnight, as DuckDB compares it)."""
        return pd.Timestamp(self.start).tz_convert("UTC").tz_localize(None)

    def contains(self, instants: pd.Series) -> pd.Series:
        """Mask of UTC timestamps inside [start, end)."""
        return (instants >= pd.Timestamp(self.start)) & (instants < pd.Timestamp(self.end))


def week_stamp(week: date | str | pd.Timestamp) -> pd.Timestamp:
    """A week_start as a naive midnight Timestamp, as the partition column holds it (DuckDB gives naive
    timestamps back)."""
    stamp = pd.Timestamp(week)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def friday_of(week_start: date | str | pd.Timestamp) -> date:
    """The signal date of the week opening on `week_start` (a Saturday, as the partition column holds it):
    the Friday six days later. ValueError when `week_start` is not a Saturday."""
    return Week.from_key(week_stamp(week_start).strftime("%Y-%m-%d")).friday


def latest_complete_week(now: datetime | None = None) -> Week:
    """The last week whose window has closed at `now` (the week the weekly schedule targets)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days_since_saturday = (midnight.weekday() - 5) % 7
    this_window_start = midnight - timedelta(days=days_since_saturday)
    return Week.from_key((this_window_start - timedelta(days=7)).strftime("%Y-%m-%d"))


def unknown_week_message(key: str, now: datetime | None = None) -> str:
    """Why `key` is not one of the weekly partitions, which weeks are, and what to do instead.

    Partitions run from FIRST_WEEK to the latest complete week: a week still open (or not begun) is not a
    partition yet, because its news is incomplete until its window closes.
    """
    latest = latest_complete_week(now)
    valid = (
        f"Weekly partitions are the Saturdays (YYYY-MM-DD) from {FIRST_WEEK} to {latest.key}, the latest complete "
        f"week; pass one of them (e.g. --partition {latest.key})."
    )
    try:
        week = Week.from_key(key)
    except ValueError as error:
        return f"No week {key!r}: {error} {valid}"
    if week.start < Week.from_key(FIRST_WEEK).start:
        return (
            f"No week {key}: it is before the first week, {FIRST_WEEK} (the Stock News API's history starts in "
            f"March 2019). {valid}"
        )
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    closes = f"{week.end:%Y-%m-%d %H:%M} UTC"
    if week.start <= now:
        return (
            f"No week {key} yet: the week is still open until {closes} (signal date Friday {week.friday}), so its "
            f"news is incomplete. It becomes a partition when it closes, and the weekly schedule materializes it "
            f"that Saturday at 19:00 UTC. {valid}"
        )
    return f"No week {key} yet: it starts {week.start:%Y-%m-%d} and closes {closes}. {valid}"


def with_week_column(frame: pd.DataFrame, week: Week) -> pd.DataFrame:
    """`frame` with the partition column first, so the IO manager can replace exactly this week."""
    frame = frame.copy()
    frame.insert(0, PARTITION_COLUMN, pd.Series(week.week_start, index=frame.index, dtype="datetime64[us]"))
    return frame
