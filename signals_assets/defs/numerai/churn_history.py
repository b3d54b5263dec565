"""What the churn gate compares a week with, read once: the last five submissions Numerai received (the weeks
`numerai_upload` recorded as uploaded, from the copies kept of what was sent), or for a week that does not upload
the stored submissions of the five weeks before it; their universes (signals.numerai_universe); and each date's
neutralizer from Numerai's files where the date has one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.evaluation.churn_gate import RECENT_WEEKS, ChurnCheck, churn_against_recent
from signals_assets.numerai.datasets import NEUTRALIZER, NumeraiDataError
from signals_assets.numerai.signals_api import NumeraiError
from signals_assets.numerai.submission_file import uploaded_csv_path
from signals_assets.signal.scaling import SIGNAL_COLUMN, TICKER_COLUMN
from signals_assets.weeks import PARTITION_COLUMN, Week, friday_of


def signal_series(rows: pd.DataFrame) -> pd.Series:
    """A submission's rows (numerai_ticker, signal, ...) as the signal indexed by ticker."""
    return pd.Series(rows[SIGNAL_COLUMN].to_numpy(dtype="float64"), index=rows[TICKER_COLUMN].astype(str).to_numpy())


def read_submission_csv(path: Path) -> pd.DataFrame:
    """The submission file as it will be uploaded (tickers kept as text: '000640 KR')."""
    return pd.read_csv(path, dtype={TICKER_COLUMN: str})


def _rows(
    warehouse: Warehouse, table: str, columns: list[str], since: pd.Timestamp, until: pd.Timestamp
) -> pd.DataFrame:
    """The table's rows of the weeks from `since` to `until`, both included; none when the table does not exist."""
    query = (
        f"SELECT {PARTITION_COLUMN}, {', '.join(columns)} FROM {SCHEMA}.{table} "
        f"WHERE {PARTITION_COLUMN} >= ? AND {PARTITION_COLUMN} <= ?"
    )
    try:
        with warehouse.connect() as connection:
            return connection.execute(query, [since, until]).fetchdf()
    except duckdb.CatalogException:
        return pd.DataFrame(columns=[PARTITION_COLUMN, *columns])


def universes(warehouse: Warehouse, since: pd.Timestamp, week: Week) -> dict[pd.Timestamp, pd.Series]:
    """The universe tickers of the weeks from `since` to `week`, both included, keyed by week_start."""
    rows = _rows(warehouse, "numerai_universe", [TICKER_COLUMN], since, week.week_start)
    return {pd.Timestamp(start): part[TICKER_COLUMN].astype(str) for start, part in rows.groupby(PARTITION_COLUMN)}


def stored_weeks(warehouse: Warehouse, week: Week, weeks: int = RECENT_WEEKS) -> dict[pd.Timestamp, pd.Series]:
    """The stored submissions of the `weeks` weeks before `week` (what a week that does not upload is compared
    with, for the record), keyed by week_start."""
    since = week.week_start - pd.Timedelta(weeks=weeks)
    submissions = _rows(warehouse, "submission", [TICKER_COLUMN, SIGNAL_COLUMN], since, week.week_start)
    return {
        pd.Timestamp(start): signal_series(rows)
        for start, rows in submissions.groupby(PARTITION_COLUMN)
        if pd.Timestamp(start) < week.week_start and not rows.empty
    }


def uploaded_weeks(
    warehouse: Warehouse, week: Week, weeks: int = RECENT_WEEKS
) -> tuple[dict[pd.Timestamp, pd.Series], dict[pd.Timestamp, str]]:
    """The newest `weeks` submissions before `week` that Numerai received (status `uploaded` in
    signals.numerai_upload), read from the copies kept at upload; and the uploaded weeks whose copy is gone."""
    query = (
        f"SELECT DISTINCT {PARTITION_COLUMN} FROM {SCHEMA}.numerai_upload WHERE status = 'uploaded' "
        f"AND {PARTITION_COLUMN} < ? ORDER BY {PARTITION_COLUMN} DESC LIMIT {int(weeks)}"
    )
    try:
        with warehouse.connect() as connection:
            starts = [pd.Timestamp(start) for (start,) in connection.execute(query, [week.week_start]).fetchall()]
    except duckdb.CatalogException:
        starts = []
    received, unreadable = {}, {}
    for start in starts:
        path = uploaded_csv_path(warehouse.submissions_dir(), friday_of(start))
        try:
            received[start] = signal_series(read_submission_csv(path))
        except (OSError, ValueError, KeyError) as error:
            unreadable[start] = (
                f"uploaded, but the copy of what was sent ({path}) cannot be read ({type(error).__name__}: {error}); "
                "it is kept there at upload: restore it from Numerai's website or your backups"
            )
    return received, unreadable


def neutralizers(
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    cache_dir: Path,
    week: Week,
    earlier: list[pd.Timestamp],
    log: logging.Logger,
) -> tuple[pd.DataFrame | None, dict[pd.Timestamp, pd.DataFrame], str]:
    """This week's neutralizer and the earlier weeks' (those Numerai's files have), and a line saying which.

    Read only when the live date has one: without it the churn is plain, whatever the earlier weeks have.
    When Numerai's files cannot be read, plain churn, with the reason.
    """
    try:
        files = numerai_data.files(cache_dir, numerai.api(), log)
        if not files.has_date(week.friday, NEUTRALIZER):
            return None, {}, f"{week.friday} has no neutralizer in Numerai's {NEUTRALIZER}: plain churn"
        current = files.neutralizer(week.friday)
        previous = {
            start: files.neutralizer(friday_of(start))
            for start in earlier
            if files.has_date(friday_of(start), NEUTRALIZER)
        }
    except (NumeraiError, NumeraiDataError) as error:
        log.warning(f"Numerai's neutralizers could not be read, so the churn gate uses plain churn: {error}")
        return None, {}, f"Numerai's data could not be read ({error}): plain churn"
    return current, previous, f"{len(previous) + 1} dates' neutralizers from Numerai's {NEUTRALIZER}"


@dataclass(frozen=True)
class WeekHistory:
    """What a week is compared with: earlier submissions, their universes and neutralizers, read once."""

    upload_reason: str | None
    previous: dict[pd.Timestamp, pd.Series]
    unreadable: dict[pd.Timestamp, str]
    previous_universes: dict[pd.Timestamp, pd.Series]
    current_universe: pd.Series | None
    current_neutralizer: pd.DataFrame | None
    previous_neutralizers: dict[pd.Timestamp, pd.DataFrame]
    note: str
    compared_with: str

    @classmethod
    def read(cls, week, numerai, numerai_data, warehouse, cache_dir, log) -> WeekHistory:
        upload_reason = numerai.reason_not_to_upload(week)
        if upload_reason is None:
            previous, unreadable = uploaded_weeks(warehouse, week)
            compared_with = "the last five submissions Numerai received (numerai_upload), as sent"
        else:
            previous, unreadable = stored_weeks(warehouse, week), {}
            compared_with = "the stored submissions of the five weeks before (this week does not upload)"
        starts = sorted([*previous, *unreadable])
        found = universes(warehouse, starts[0] if starts else week.week_start, week)
        current_universe = found.pop(week.week_start, None)
        if previous:
            current_neutralizer, previous_neutralizers, note = neutralizers(
                numerai, numerai_data, cache_dir, week, sorted(previous), log
            )
        else:
            current_neutralizer, previous_neutralizers, note = None, {}, "no earlier submission, nothing read"
        return cls(
            upload_reason,
            previous,
            unreadable,
            found,
            current_universe,
            current_neutralizer,
            previous_neutralizers,
            note,
            compared_with,
        )

    def check(self, signal: pd.Series) -> ChurnCheck:
        return churn_against_recent(
            signal,
            self.previous,
            self.current_neutralizer,
            self.previous_neutralizers,
            current_universe=self.current_universe,
            previous_universes=self.previous_universes,
            unreadable=self.unreadable,
        )
