"""The churn gate before an upload: this week's submission against up to the last five weeks' submissions.

Numerai pays a positive score in full only while the submission's neutral churn against its last five
submissions stays low (numerai-tools' `neutral_churn_penalty`: all of it up to 0.1, about half at 0.2). This
module gathers what the pure gate (`signals_assets.evaluation.churn_gate`) needs from the warehouse (earlier
weeks' rows of `signals.submission` and `signals.numerai_universe`) and from Numerai's files (each date's
neutralizer, where the date has one; the live date usually has none, so plain churn stands in), and turns
its answer into what the `churn_gate` check and `numerai_upload` report. Only a week that would upload is
gated: a backfill or a dry run gets the figures, never a failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import SCHEMA, Warehouse
from signals_assets.evaluation.churn_gate import (
    RECENT_WEEKS,
    ChurnCheck,
    GateOutcome,
    churn_against_recent,
    describe,
    gate,
)
from signals_assets.numerai.datasets import NEUTRALIZER, NumeraiDataError
from signals_assets.numerai.signals_api import NumeraiError
from signals_assets.signal.scaling import SIGNAL_COLUMN, TICKER_COLUMN
from signals_assets.weeks import PARTITION_COLUMN, Week

CHURN_GATE = "churn_gate"  # the check's name
SETTINGS = (
    " Settings: halflife_weeks of the signal_settings resource (env SIGNAL_HALFLIFE_WEEKS); the threshold is "
    "max_churn of the numerai resource (env SIGNAL_MAX_CHURN); churn_gate 'warn' (env SIGNAL_CHURN_GATE=warn) "
    "uploads anyway with a warning."
)


@dataclass(frozen=True)
class ChurnGateReport:
    """What the gate found for a week: the churn figures, the gate's answer, and whether it applies.

    upload_reason: why this week does not upload (a backfill, a dry run, no keys), None when it would;
    the gate applies only when it would.
    """

    week: Week
    check: ChurnCheck
    outcome: GateOutcome
    upload_reason: str | None
    neutralizers: str
    threshold: float
    mode: str
    halflife_weeks: float

    @property
    def applies(self) -> bool:
        return self.upload_reason is None

    @property
    def blocked(self) -> bool:
        """The upload must not go ahead."""
        return self.applies and not self.outcome.passed

    @property
    def warned(self) -> bool:
        """Over the threshold in warn mode: the upload goes ahead with a warning."""
        return self.applies and self.outcome.passed and self.outcome.over_threshold

    @property
    def description(self) -> str:
        if self.applies:
            return self.outcome.message + (SETTINGS if self.outcome.over_threshold else "")
        not_gated = f"Not gated: this week does not upload ({self.upload_reason})."
        if self.check.churn is None:
            return f"{not_gated} {self.outcome.message}"
        side = "over" if self.outcome.over_threshold else "within"
        return (
            f"{not_gated} For the record: {describe(self.check)}, {side} the churn threshold {self.threshold:g}; "
            f"Numerai would keep {self.check.payout_share_kept:.2f} of a positive payout "
            f"(halflife_weeks {self.halflife_weeks:g})."
        )

    def metadata(self) -> dict[str, object]:
        """The figures, the settings and what the gate did; a figure that could not be computed is left out."""
        check = self.check
        figures = {"churn": check.churn, "kind": check.kind, "payout_share_kept": check.payout_share_kept}
        return {
            **{name: value for name, value in figures.items() if value is not None},
            "weeks_compared": ", ".join(check.weeks_compared) or "none",
            "per_week_churn": dict(check.per_week),
            "weeks_skipped": dict(check.skipped),
            "neutralizers": self.neutralizers,
            "threshold": self.threshold,
            "mode": self.mode,
            "halflife_weeks": self.halflife_weeks,
            "gated": self.applies,
            "upload": self.upload_reason or "this week uploads",
        }


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


def stored_weeks(
    warehouse: Warehouse, week: Week, weeks: int = RECENT_WEEKS
) -> tuple[dict[pd.Timestamp, pd.Series], dict[pd.Timestamp, pd.Series]]:
    """The submissions of the `weeks` weeks before `week` that the warehouse holds, and the universes of those
    weeks and of `week` itself, each keyed by its week_start."""
    since = week.week_start - pd.Timedelta(weeks=weeks)
    submissions = _rows(warehouse, "submission", [TICKER_COLUMN, SIGNAL_COLUMN], since, week.week_start)
    universes = _rows(warehouse, "numerai_universe", [TICKER_COLUMN], since, week.week_start)
    earlier = {
        pd.Timestamp(start): signal_series(rows)
        for start, rows in submissions.groupby(PARTITION_COLUMN)
        if pd.Timestamp(start) < week.week_start and not rows.empty
    }
    tickers = {
        pd.Timestamp(start): rows[TICKER_COLUMN].astype(str) for start, rows in universes.groupby(PARTITION_COLUMN)
    }
    return earlier, tickers


def friday_of(week_start: pd.Timestamp) -> date:
    return Week.from_key(week_start.strftime("%Y-%m-%d")).friday


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


def churn_gate_report(
    week: Week,
    submission: pd.DataFrame,
    *,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
    cache_dir: Path,
    log: logging.Logger,
) -> ChurnGateReport:
    """Churn of `submission` (this week's rows) against up to the last five weeks' submissions, and the gate's
    answer under the numerai resource's max_churn (SIGNAL_MAX_CHURN) and churn_gate (SIGNAL_CHURN_GATE)."""
    earlier, universes = stored_weeks(warehouse, week)
    current_universe = universes.pop(week.week_start, None)
    if earlier:
        current_neutralizer, previous_neutralizers, note = neutralizers(
            numerai, numerai_data, cache_dir, week, sorted(earlier), log
        )
    else:
        current_neutralizer, previous_neutralizers, note = None, {}, "no earlier submission, nothing read"
    check = churn_against_recent(
        signal_series(submission),
        earlier,
        current_neutralizer,
        previous_neutralizers,
        current_universe=current_universe,
        previous_universes=universes,
    )
    outcome = gate(check, numerai.max_churn, numerai.churn_gate == "block", signal_settings.halflife_weeks)
    return ChurnGateReport(
        week=week,
        check=check,
        outcome=outcome,
        upload_reason=numerai.reason_not_to_upload(week),
        neutralizers=note,
        threshold=numerai.max_churn,
        mode=numerai.churn_gate,
        halflife_weeks=signal_settings.halflife_weeks,
    )
