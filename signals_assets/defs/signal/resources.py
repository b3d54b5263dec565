"""The signal's settings: how each ticker's sentiment is smoothed over weeks."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from signals_assets.defs.environment import number_from_env


class SignalSettings(dg.ConfigurableResource):
    """Settings of the signal built from FinBERT's weekly scores."""

    halflife_weeks: float = Field(
        default=number_from_env("SIGNAL_HALFLIFE_WEEKS", 0.0),
        ge=0,
        description="Smooth each ticker's sentiment over this and earlier weeks (env SIGNAL_HALFLIFE_WEEKS): an "
        "exponentially decayed mean of the stored weekly FinBERT scores, a week `age` weeks old weighted "
        "0.5 ** (age / halflife_weeks). 0 (the default, the seed's behaviour) is this week only. A longer "
        "halflife churns less from week to week (Numerai penalizes churn) but reacts later to news.",
    )
