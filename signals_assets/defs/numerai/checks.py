"""The numerai group's blocking checks: is the week's signal a valid Numerai Signals submission (one result
per rule), and does the week's submission churn too much to upload (the churn gate)."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from signals_assets.defs.metadata import bounded, bounded_metadata
from signals_assets.defs.numerai.churn import CHURN_GATE, gate_report_in
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.partitions import week_of, weekly_partitions
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import Warehouse
from signals_assets.numerai.submission_file import build_submission, remove_submission_csv, submitted_rows
from signals_assets.numerai.validation import RULES, check_rules

RULE_DESCRIPTIONS = {
    "columns": "A ticker column then a signal column, as Numerai accepts them (numerai-tools).",
    "tickers": "No missing or duplicated ticker, and at least numerai-tools' minimum in the week's universe.",
    "values": "No NaN, every value inside [0, 1], non-zero spread (numerai-tools).",
    "strictly_inside": "Every value strictly inside (0, 1), as Numerai's rules say (numerai-tools checks [0, 1]).",
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            f"submission_{rule}",
            asset="scaled_signal",
            blocking=True,
            partitions_def=weekly_partitions,
            additional_deps=["numerai_universe"],
            description=RULE_DESCRIPTIONS[rule],
        )
        for rule in RULES
    ],
    ins={"scaled_signal": dg.AssetIn("scaled_signal"), "numerai_universe": dg.AssetIn("numerai_universe")},
)
def submission_is_valid(
    context: dg.AssetCheckExecutionContext,
    numerai: NumeraiSignals,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
    scaled_signal: pd.DataFrame,
    numerai_universe: pd.DataFrame,
) -> Iterator[dg.AssetCheckResult]:
    """numerai-tools' validator, run once over the submitted variant's signal (SIGNAL_VARIANT) and the universe; a failed rule blocks the
    submission file and the upload, and removes the week's file of an earlier run, so no unchecked file is left
    where numerai_upload looks."""
    week = week_of(context)
    rows = build_submission(
        submitted_rows(scaled_signal, signal_settings.variant), include_date=numerai.include_date_column
    )
    results, _report = check_rules(numerai_universe, rows)
    removed = not all(result.passed for result in results) and remove_submission_csv(
        warehouse.submissions_dir(), week.friday
    )
    if removed:
        context.log.warning(
            f"Removed the submission file of week {week.key} left by an earlier run: it fails the checks."
        )
    for result in results:
        yield dg.AssetCheckResult(
            asset_key="scaled_signal",
            check_name=f"submission_{result.rule}",
            passed=result.passed,
            description=str(bounded(result.description)),
            metadata=bounded_metadata(result.metadata),
        )


@dg.asset_check(
    asset="submission",
    name=CHURN_GATE,
    blocking=True,
    partitions_def=weekly_partitions,
    additional_deps=["numerai_universe"],
    description="Before an upload: the mean neutral churn (plain churn where the live date has no neutralizer) "
    "of the week's submission against the last five submissions Numerai received, and the payout share Numerai would "
    "keep. Over max_churn (SIGNAL_MAX_CHURN) it fails: with churn_gate 'block' (SIGNAL_CHURN_GATE) as an error "
    "that stops numerai_upload, with 'warn' as a warning; with 'blend' (the default) the submission was blended "
    "toward the last upload before it was written, and the check fails as a warning only when no blend reached the "
    "threshold. A week that does not upload (a backfill, a dry run) always passes, with the figures.",
)
def churn_gate(
    context: dg.AssetCheckExecutionContext,
    numerai: NumeraiSignals,
    numerai_data: NumeraiData,
    signal_settings: SignalSettings,
    warehouse: Warehouse,
    submission: pd.DataFrame,
) -> dg.AssetCheckResult:
    """The churn gate: fails with ERROR severity (blocking numerai_upload) when the week would upload and its
    churn is over the threshold in block mode; with WARN severity in warn and blend mode."""
    week = week_of(context)
    report = gate_report_in(
        context,
        week,
        submission,
        numerai=numerai,
        numerai_data=numerai_data,
        signal_settings=signal_settings,
        warehouse=warehouse,
    )
    if report.blocked:
        context.log.error(report.description)
    elif report.warned:
        context.log.warning(report.description)
    else:
        context.log.info(report.description)
    return dg.AssetCheckResult(
        passed=not (report.blocked or report.warned),
        severity=dg.AssetCheckSeverity.ERROR if report.blocked else dg.AssetCheckSeverity.WARN,
        description=str(bounded(report.description)),
        metadata=bounded_metadata(report.metadata()),
    )
