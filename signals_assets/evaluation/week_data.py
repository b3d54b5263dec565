"""The Numerai data one week is scored with, read from Numerai's files: `read_week_data` -> `WeekData`.

Three outcomes, as signal_evaluation stores them. The inputs (score_week decides `scored` or `pending` on
how many targets have resolved); not yet (the Friday is newer than the validation data, or its targets are
still NaN: `pending`, and rescoring later fixes it); or a problem with a file, a version or a setting
(`no_data`, `problem` naming the file, what is wrong and the fix). Time fixes a pending week; a problem
needs a user, so it is never stored as pending, where it would wait for targets that never come.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from signals_assets.numerai.datasets import VALIDATION, NumeraiDataError, NumeraiFiles
from signals_assets.numerai.signals_api import NumeraiError

# 60-day targets resolve about 13 weeks after their date; NaN targets on a date this much older than the
# file's newest date are not "not resolved yet" but missing.
RESOLVE_WEEKS = 20


@dataclass
class WeekData:
    """What score_week needs for one Friday, or why the week cannot be scored.

    problem: the week is `no_data`; the message names the file and the fix. note: where the data came from,
    or why the week waits. previous_problem: the previous Friday's neutralizer could not be read (only the
    neutral churn goes without).
    """

    targets: pd.Series | None = None
    neutralizer: pd.DataFrame | None = None
    example_preds: pd.Series | None = None
    previous_neutralizer: pd.DataFrame | None = None
    problem: str | None = None
    note: str = ""
    previous_problem: str | None = None

    def inputs(self) -> dict[str, Any]:
        """score_week's keyword arguments for Numerai's data (and `unusable` for a problem)."""
        return {
            "targets": self.targets,
            "neutralizer": self.neutralizer,
            "example_preds": self.example_preds,
            "previous_neutralizer": self.previous_neutralizer,
            "unusable": self.problem,
        }


def read_week_data(open_files: Callable[[], NumeraiFiles], friday: date, previous_friday: date) -> WeekData:
    """Numerai's targets, neutralizer and example predictions on `friday`, and the neutralizer of
    `previous_friday` (for the neutral churn). Never raises for Numerai's data: every NumeraiError and
    NumeraiDataError becomes `problem` (or `previous_problem`)."""
    try:
        files = open_files()
        data = _friday_data(files, friday)
    except (NumeraiError, NumeraiDataError) as error:
        return WeekData(problem=str(error))
    if data.problem is None:
        try:
            if files.has_date(previous_friday):
                data.previous_neutralizer = files.neutralizer(previous_friday)
        except (NumeraiError, NumeraiDataError) as error:
            data.previous_problem = str(error)
    return data


def _friday_data(files: NumeraiFiles, friday: date) -> WeekData:
    dates = files.dates(VALIDATION)
    where, _fix = files.described(VALIDATION)
    if friday > dates[-1]:
        return WeekData(
            note=f"{friday} is newer than the newest date of {where} ({dates[-1]}): its targets have not resolved "
            "yet (about 13 weeks for 60-day targets); a newer copy of the file brings them"
        )
    if friday < dates[0]:
        return WeekData(
            problem=f"{friday} is before the first date of {where} ({dates[0]}): Numerai has no targets for it. "
            f"Score weeks from {dates[0]} on, or use a validation file reaching further back (NUMERAI_DATA_DIR, "
            "NUMERAI_DATASET_VERSION)."
        )
    if friday not in dates:
        return WeekData(
            problem=f"{friday} is not a date of {where}, which runs from {dates[0]} to {dates[-1]}: Numerai has no "
            "rows for that Friday (e.g. a market holiday), so the week cannot be scored."
        )
    column = files.target_column()
    targets = files.targets(friday)
    if targets.empty and friday < dates[-1] - timedelta(weeks=RESOLVE_WEEKS):
        others = ", ".join(n for n in files.columns(VALIDATION) if n.startswith("target") and n != column)
        return WeekData(
            problem=f"{column} is NaN for every ticker on {friday} in {where}, although the file runs to "
            f"{dates[-1]} ({(dates[-1] - friday).days // 7} weeks later; targets resolve within about 13): the "
            f"column has no values for this date. Set the target setting of the numerai_data resource to another "
            f"column ({others or 'the file has no other'}), or use a validation file with {column} filled in."
        )
    return WeekData(
        targets=targets,
        neutralizer=files.neutralizer(friday),
        example_preds=files.example_preds(friday),
        note=f"target {column} from {where}",
    )
