"""Is the week's signal a valid Numerai Signals submission? One blocking check, one result per rule."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.partitions import weekly_partitions
from signals_assets.numerai.submission_file import build_submission
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
    numerai: NumeraiSignals, scaled_signal: pd.DataFrame, numerai_universe: pd.DataFrame
) -> Iterator[dg.AssetCheckResult]:
    """numerai-tools' validator, run once over the week's submission and universe; a failed rule blocks the
    submission file and the upload."""
    rows = build_submission(scaled_signal, include_date=numerai.include_date_column)
    results, _report = check_rules(numerai_universe, rows)
    for result in results:
        yield dg.AssetCheckResult(
            asset_key="scaled_signal",
            check_name=f"submission_{result.rule}",
            passed=result.passed,
            description=result.description,
            metadata=result.metadata,
        )
