"""Is a submission valid by Numerai's rules? numerai-tools' validator, run once, stage by stage.

`validate_submission_signals` runs three stages, each numerai-tools' own function: the columns
(`validate_headers_signals`), the tickers (`validate_ids_signals`: no missing ticker, no duplicate,
at least SIGNALS_MIN_TICKERS in the universe) and the values (`validate_values`: no NaN, inside [0, 1],
non-zero spread). Running the stages one by one tells which rule failed without reading the wording
of numerai-tools' assertion messages; the counts in each result are computed here for the message.
One rule is added: values strictly inside (0, 1), since numerai-tools' range check is inclusive while
Numerai's rules (and its own message) say exclusive.

numerai-tools is imported in the functions that use it: it imports scipy and scikit-learn (~2 s), which the
code location would otherwise pay every time it loads (the Dagster shell imports RULES from here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from signals_assets.signal.scaling import TICKER_COLUMN, listed_tickers

# The rules, in the order numerai-tools checks them; each is one check result in the UI.
RULES = ("columns", "tickers", "values", "strictly_inside")
UNIVERSE_FIX = (
    "check the ticker mapping (e.g. 'AAPL US') and that the universe is the week's (numerai_universe; "
    "NUMERAI_UNIVERSE), or cover more tickers"
)


class SubmissionInvalid(Exception):
    """The submission breaks a Numerai Signals rule; the message names the rule and the counts."""


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationReport:
    n_submitted: int
    n_in_universe: int
    ticker_col: str
    signal_col: str
    date_col: str | None = None
    invalid_tickers: list[str] = field(default_factory=list)


def check_rules(universe: pd.DataFrame, submission: pd.DataFrame) -> tuple[list[RuleResult], ValidationReport | None]:
    """One result per rule in RULES, and the report when every rule passed.

    A rule after a failed stage is reported failed as "not checked" (numerai-tools stops there too).
    Neither frame is changed (numerai-tools drops columns in place: it gets copies).
    """
    from numerai_tools.submissions import (
        SIGNALS_MIN_TICKERS,
        validate_headers_signals,
        validate_ids_signals,
        validate_values,
    )

    results: list[RuleResult] = []
    columns = [str(column) for column in submission.columns]  # as given: the header check drops the date column
    submission = submission.drop(columns=["data_type"], errors="ignore").copy()
    try:
        ticker_col, signal_col, date_col = validate_headers_signals(submission)
    except AssertionError:
        results.append(_columns_failed(columns))
        return _not_checked(results), None
    results.append(RuleResult("columns", True, f"columns {ticker_col}, {signal_col}", {"ticker_column": ticker_col}))

    if ticker_col not in universe.columns:
        results.append(
            RuleResult(
                "tickers",
                False,
                f"The universe has no {ticker_col} column to check the submission's tickers against; submit the "
                f"ticker column the universe carries ({TICKER_COLUMN}).",
            )
        )
        return _not_checked(results), None
    try:
        live, invalid_tickers = validate_ids_signals(universe[ticker_col].copy(), submission, ticker_col)
    except AssertionError:
        results.append(_tickers_failed(universe, submission, ticker_col))
        return _not_checked(results), None
    results.append(
        RuleResult(
            "tickers",
            True,
            f"{len(live)} of {len(submission)} tickers in the universe (at least {SIGNALS_MIN_TICKERS})",
            {"in_universe": len(live), "submitted": len(submission), "required": SIGNALS_MIN_TICKERS},
        )
    )

    signals = live[signal_col]
    try:
        validate_values(live, signal_col)
    except AssertionError:
        results.append(_values_failed(signals))
        return _not_checked(results), None
    std = float(signals.std())
    results.append(RuleResult("values", True, f"no NaN, inside [0, 1], std {std:.3g}", {"std": std}))

    at_bounds = int((signals.le(0) | signals.ge(1)).sum())
    results.append(
        RuleResult(
            "strictly_inside",
            at_bounds == 0,
            "every value strictly inside (0, 1)"
            if at_bounds == 0
            else f"values must lie strictly inside (0, 1): {at_bounds} of {len(live)} are at 0 or 1 (numerai-tools' own "
            "check is inclusive); scale with scale_signal, which keeps every value strictly inside.",
            {"at_bounds": at_bounds},
        )
    )
    if at_bounds:
        return results, None
    report = ValidationReport(
        n_submitted=len(submission),
        n_in_universe=len(live),
        ticker_col=str(ticker_col),
        signal_col=str(signal_col),
        date_col=None if date_col is None else str(date_col),
        invalid_tickers=sorted(str(ticker) for ticker in invalid_tickers),
    )
    return results, report


def validate_submission(universe: pd.DataFrame, submission: pd.DataFrame) -> ValidationReport:
    """The report, or SubmissionInvalid naming the first rule broken and its counts."""
    results, report = check_rules(universe, submission)
    if report is None:
        failed = next(result for result in results if not result.passed)
        raise SubmissionInvalid(f"{failed.rule}: {failed.description}")
    return report


def _not_checked(results: list[RuleResult]) -> list[RuleResult]:
    failed = results[-1].rule
    rest = RULES[len(results) :]
    return results + [RuleResult(rule, False, f"not checked: the {failed} rule failed first") for rule in rest]


def _columns_failed(columns: list[str]) -> RuleResult:
    from numerai_tools.submissions import SIGNALS_ALLOWED_DATE_COLS, SIGNALS_ALLOWED_ID_COLS, SIGNALS_ALLOWED_PRED_COLS

    return RuleResult(
        "columns",
        False,
        f"Invalid columns {columns}: Numerai expects a ticker column (one of {', '.join(SIGNALS_ALLOWED_ID_COLS)}) "
        f"then a signal column (one of {', '.join(SIGNALS_ALLOWED_PRED_COLS)}), in that order, plus optionally one "
        f"date column ({' or '.join(SIGNALS_ALLOWED_DATE_COLS)}). Build the table with build_submission.",
        {"columns": ", ".join(columns)},
    )


def _tickers_failed(universe: pd.DataFrame, submission: pd.DataFrame, ticker_col: str) -> RuleResult:
    from numerai_tools.submissions import SIGNALS_MIN_TICKERS

    tickers = submission[ticker_col]
    missing = int(tickers.isna().sum())
    in_universe = tickers.notna() & tickers.astype(str).isin(set(universe[ticker_col].astype(str)))
    live = tickers[in_universe].astype(str)
    duplicated = sorted(set(live[live.duplicated()]))
    problems = []
    if missing:
        problems.append(
            f"{missing} rows have no ticker ({ticker_col} is NaN): drop rows whose ticker could not be mapped"
        )
    if duplicated:
        problems.append(f"{len(duplicated)} duplicated tickers ({listed_tickers(duplicated)}): one row per ticker")
    if in_universe.sum() < SIGNALS_MIN_TICKERS:
        problems.append(
            f"only {int(in_universe.sum())} of {len(submission)} tickers are in the universe; Numerai requires at least "
            f"{SIGNALS_MIN_TICKERS}: {UNIVERSE_FIX}"
        )
    return RuleResult(
        "tickers",
        False,
        "; ".join(problems) or "numerai-tools rejected the tickers",
        {
            "missing_tickers": missing,
            "duplicated_tickers": len(duplicated),
            "in_universe": int(in_universe.sum()),
            "required": SIGNALS_MIN_TICKERS,
        },
    )


def _values_failed(signals: pd.Series) -> RuleResult:
    nan = int(signals.isna().sum())
    outside = int((~signals.dropna().between(0, 1)).sum())
    std = float(signals.std()) if signals.notna().sum() > 1 else 0.0
    problems = []
    if nan:
        problems.append(f"{nan} NaN signals among {len(signals)} tickers in the universe: drop unscored tickers")
    if outside:
        problems.append(
            f"{outside} of {len(signals)} values outside [0, 1] (min {float(signals.min())!r}, "
            f"max {float(signals.max())!r}): scale with scale_signal"
        )
    if not problems:
        problems.append(
            f"the signal is constant (std {std:.3g}) across {len(signals)} tickers: Numerai needs a ranking, the week "
            "needs tickers with different sentiment"
        )
    return RuleResult(
        "values", False, "; ".join(problems), {"nan_signals": nan, "outside_unit_interval": outside, "std": std}
    )
