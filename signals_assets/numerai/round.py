"""Numerai's weekly Signals round as this project meets it (pure: no Dagster here; the sensors are in defs/round.py).

A week [Saturday 00:00, next Saturday 00:00) UTC is submitted to the round that opens when it has closed:
Saturday 18:00 UTC; the round closes Monday 14:30 UTC. A model that misses a round gets stake 0, so a week
that has not uploaded by the next morning is run again, twice, and shortly before the close someone is told.

The weekly schedule runs the week on Saturday 19:00 UTC, and Dagster's run_retries retry a failed run at
once. The slots below come after that: each is a moment from which, until the next slot (or the close), the
round sensor acts once for the week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from signals_assets.weeks import Week, latest_complete_week

# From the week's end (the Saturday 00:00 UTC that closes it).
OPENS_AFTER = timedelta(hours=18)  # Saturday 18:00 UTC
CLOSES_AFTER = timedelta(days=2, hours=14, minutes=30)  # Monday 14:30 UTC


@dataclass(frozen=True)
class Slot:
    """A moment after the week's end at which the round sensor acts once: run the week again, or alert."""

    name: str
    action: Literal["retry", "alert"]
    after: timedelta  # from the week's end

    def describe(self) -> str:
        # 2000-01-01 was a Saturday: the weekday and time of the slot, whatever the week.
        when = f"{(datetime(2000, 1, 1, tzinfo=timezone.utc) + self.after):%A %H:%M} UTC"
        return f"{'retry' if self.action == 'retry' else 'missed-upload alert'} at {when}"


# Sunday morning: Saturday's run and its run_retries have had the night. Monday morning: a last try with
# hours to spare. Monday noon: two and a half hours before the close, enough for a person to step in.
SLOTS = (
    Slot("sunday-retry", "retry", timedelta(days=1, hours=8)),
    Slot("monday-retry", "retry", timedelta(days=2, hours=8)),
    Slot("missed-upload", "alert", timedelta(days=2, hours=12)),
)


@dataclass(frozen=True)
class Round:
    """The round a closed week is submitted to."""

    week: Week

    @property
    def opens(self) -> datetime:
        return self.week.end + OPENS_AFTER

    @property
    def closes(self) -> datetime:
        return self.week.end + CLOSES_AFTER

    def starts(self, slot: Slot) -> datetime:
        return self.week.end + slot.after

    def slot_at(self, now: datetime) -> Slot | None:
        """The slot in effect at `now`: the latest one begun, while the round is open; None before the first
        slot and once the round has closed."""
        now = now.astimezone(timezone.utc)
        if now >= self.closes:
            return None
        begun = [slot for slot in SLOTS if self.starts(slot) <= now]
        return begun[-1] if begun else None

    def slot_key(self, slot: Slot) -> str:
        """The week and slot: each slot acts at most once per week (the sensor's cursor and run key)."""
        return f"{self.week.key}-{slot.name}"

    def why_no_slot(self, now: datetime) -> str:
        """Why the round sensor does nothing at `now` (outside every slot), and when it acts next."""
        now = now.astimezone(timezone.utc)
        plan = ", ".join(slot.describe() for slot in SLOTS)
        if now >= self.closes:
            return (
                f"{now:%a %Y-%m-%d %H:%M} UTC: the round of week {self.week.key} closed at {self.closes:%a %H:%M} "
                f"UTC; the next week's round opens Saturday 18:00 UTC. Plan per week: {plan}."
            )
        first = SLOTS[0]
        return (
            f"{now:%a %Y-%m-%d %H:%M} UTC: week {self.week.key} is left to Saturday's scheduled run (19:00 UTC) and "
            f"its run_retries until the first slot, {first.describe()} ({self.starts(first):%Y-%m-%d %H:%M} UTC). "
            f"Plan per week: {plan}; the round closes {self.closes:%a %Y-%m-%d %H:%M} UTC."
        )


def round_at(now: datetime) -> Round:
    """The round at stake at `now`: that of the latest complete week."""
    return Round(latest_complete_week(now))
