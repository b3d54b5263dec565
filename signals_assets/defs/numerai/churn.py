"""The churn gate before an upload: this week's submission against the last five that Numerai received.

Numerai pays a positive score in full only while the submission's neutral churn against its last five
submissions stays low (numerai-tools' `neutral_churn_penalty`: all of it up to 0.1, about half at 0.2). This
module runs the pure gate (`signals_assets.evaluation.churn_gate`) over what churn_history.py reads (the last five
uploads as sent, their universes and neutralizers; the live date usually has no neutralizer, so plain churn stands
in) and says what it found. By default (churn_gate 'blend') a week over the threshold is blended toward the last
upload before its file is written (`blend_for_upload`), so it uploads; 'block' stops it, 'warn' uploads it as is.
Only a week that would upload is gated: a backfill or a dry run gets the figures against the stored submissions
of the weeks before it, never a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from signals_assets.defs.numerai.assets import NUMERAI_CACHE
from signals_assets.defs.numerai.churn_history import WeekHistory, signal_series
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import Warehouse
from signals_assets.evaluation.churn_blend import Blend, least_blend
from signals_assets.evaluation.churn_gate import ChurnCheck, GateOutcome, describe, gate
from signals_assets.weeks import Week

CHURN_GATE = "churn_gate"  # the check's name
SETTINGS = (
    " Settings: halflife_weeks of the signal_settings resource (env SIGNAL_HALFLIFE_WEEKS); the threshold is "
    "max_churn of the numerai resource (env SIGNAL_MAX_CHURN); SIGNAL_CHURN_GATE=blend (the default) blends the "
    "week toward the last upload, SIGNAL_CHURN_GATE=block stops the upload, SIGNAL_CHURN_GATE=warn uploads anyway."
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
    compared_with: str
    blend: Mapping[str, object] = field(default_factory=dict)

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
            "weeks_compared_over_shared_tickers": dict(check.common_tickers),
            "compared_with": self.compared_with,
            "neutralizers": self.neutralizers,
            "threshold": self.threshold,
            "mode": self.mode,
            "halflife_weeks": self.halflife_weeks,
            "gated": self.applies,
            "upload": self.upload_reason or "this week uploads",
            **self.blend,
        }


def blend_metadata(blend: Blend, threshold: float) -> dict[str, object]:
    """The blend's figures as the submission and numerai_upload record them."""
    return {
        "blend_weight": round(blend.weight, 6),
        "churn_before_blend": blend.churn_before,
        "churn_after_blend": blend.churn_after,
        "blended_toward": blend.toward,
        "blend": blend.describe(threshold),
    }


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
    blend: Mapping[str, object] | None = None,
) -> ChurnGateReport:
    """Churn of `submission` (this week's rows) against the last five uploads (a week that does not upload: the
    stored submissions of the five weeks before it), and the gate's answer under the numerai resource's max_churn
    (SIGNAL_MAX_CHURN) and churn_gate (SIGNAL_CHURN_GATE). `blend`: what `blend_for_upload` did to the rows, as
    `blend_metadata` gives it (recorded with the submission)."""
    history = WeekHistory.read(week, numerai, numerai_data, warehouse, cache_dir, log)
    check = history.check(signal_series(submission))
    blend = dict(blend or {})
    blended = str(blend["blend"]) if blend.get("blend_weight") else None
    outcome = gate(check, numerai.max_churn, numerai.churn_gate, signal_settings.halflife_weeks, blended)
    return ChurnGateReport(
        week=week,
        check=check,
        outcome=outcome,
        upload_reason=history.upload_reason,
        neutralizers=history.note,
        threshold=numerai.max_churn,
        mode=numerai.churn_gate,
        halflife_weeks=signal_settings.halflife_weeks,
        compared_with=history.compared_with,
        blend=blend,
    )


def blend_for_upload(
    week: Week,
    submission: pd.DataFrame,
    *,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    warehouse: Warehouse,
    cache_dir: Path,
    log: logging.Logger,
) -> Blend | None:
    """With churn_gate 'blend' and a week that uploads: the least blend of `submission` toward the last upload that
    brings its churn within max_churn (weight 0 when it already is). None when there is nothing to blend."""
    if numerai.churn_gate != "blend" or numerai.reason_not_to_upload(week) is not None:
        return None
    history = WeekHistory.read(week, numerai, numerai_data, warehouse, cache_dir, log)
    if not history.previous:
        return None
    latest = max(history.previous)
    current = signal_series(submission)

    def churn_of(signal: pd.Series) -> float:
        return float(history.check(signal).churn)

    return least_blend(
        current,
        history.previous[latest],
        latest.date().isoformat(),
        history.current_universe if history.current_universe is not None else current.index,
        churn_of,
        numerai.max_churn,
    )


BLEND_FIGURES = ("blend_weight", "churn_before_blend", "churn_after_blend", "blended_toward", "blend")


def latest_materialization(context, asset: str, week: Week) -> dg.EventLogRecord | None:
    """The week's latest materialization of `asset` in this instance, or None."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[week.key]), limit=1
    ).records
    return records[0] if records else None


def recorded_blend(context, week: Week) -> dict[str, object]:
    """The blend figures the week's latest submission recorded (none when it was not blended)."""
    record = latest_materialization(context, "submission", week)
    if record is None or record.asset_materialization is None:
        return {}
    metadata = record.asset_materialization.metadata
    return {name: metadata[name].value for name in BLEND_FIGURES if name in metadata}


def gate_report_in(
    context,
    week: Week,
    submission: pd.DataFrame,
    *,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
) -> ChurnGateReport:
    """`churn_gate_report` from a step (the churn_gate check, numerai_upload): its log, the warehouse's Numerai
    cache, and the blend the week's latest submission recorded."""
    return churn_gate_report(
        week,
        submission,
        numerai=numerai,
        numerai_data=numerai_data,
        signal_settings=signal_settings,
        warehouse=warehouse,
        cache_dir=warehouse.cache_dir(NUMERAI_CACHE),
        log=context.log,
        blend=recorded_blend(context, week),
    )
