"""The signal's settings: how each ticker's sentiment is smoothed over weeks."""

from __future__ import annotations

import dagster as dg
from pydantic import Field, field_validator

from signals_assets.defs.environment import number_from_env
from signals_assets.signal.smoothing import LOOKBACK_HALFLIVES, MAX_HALFLIFE_WEEKS, validated_halflife


class SignalSettings(dg.ConfigurableResource):
    """Settings of the signal built from FinBERT's weekly scores."""

    halflife_weeks: float = Field(
        default=number_from_env("SIGNAL_HALFLIFE_WEEKS", 0.0, 0.0, MAX_HALFLIFE_WEEKS),
        # The environment's value is the default: checked too, so a negative SIGNAL_HALFLIFE_WEEKS fails at load.
        validate_default=True,
        description="Smooth each ticker's sentiment over this and earlier weeks (env SIGNAL_HALFLIFE_WEEKS): an "
        "exponentially decayed mean of the stored weekly FinBERT scores, a week `age` weeks old weighted "
        "0.5 ** (age / halflife_weeks), over the last ceil("
        f"{LOOKBACK_HALFLIVES} x halflife_weeks) weeks (older ones weigh under 0.4 %), at most "
        f"{MAX_HALFLIFE_WEEKS} weeks. 0 (the default, the blog post's behaviour) is this week only. A longer "
        "halflife churns less from week to week (Numerai penalizes churn) but reacts later to news. Earlier weeks are read from the warehouse: backfill oldest first.",
    )

    @field_validator("halflife_weeks")
    @classmethod
    def _zero_or_positive(cls, value: float) -> float:
        return validated_halflife(value)
