"""The signal's settings: its variants (one of them submitted), how stories and tickers are told apart, and how
each ticker's sentiment is smoothed over weeks."""

from __future__ import annotations

import dagster as dg
from pydantic import Field, field_validator, model_validator

from signals_assets.defs.environment import is_set, number_from_env, text_from_env
from signals_assets.news.stories import DEFAULT_SIMILARITY
from signals_assets.signal.smoothing import LOOKBACK_HALFLIVES, MAX_HALFLIFE_WEEKS, validated_halflife
from signals_assets.signal.variants import (
    ATTRIBUTION_EQUAL,
    DEFAULT_VARIANT,
    DEFAULT_VARIANTS,
    SOURCE_FINBERT,
    Variant,
    VariantError,
    checked_variants,
    submitted_variant,
    variants_from_file,
)


class VariantConfig(dg.Config):
    """One signal variant (signals_assets.signal.variants.Variant)."""

    name: str = Field(description="The variant's name: the value of the tables' `variant` column.")
    source: str = Field(
        default=SOURCE_FINBERT,
        description="'finbert' (the finbert resource's model, FINBERT_MODEL), 'provider_labels' (the news "
        "provider's labels), or a FinBERT-style model: a Hugging Face hub id or a local folder.",
    )
    revision: str | None = Field(default=None, description="Hub branch, tag or commit of a model id source.")
    label_map: str | None = Field(
        default=None,
        description="Logit index of each label of a model id source, e.g. '0:neutral,1:positive,2:negative'.",
    )
    collapse_stories: bool = Field(default=False, description="A ticker's copies of one story count once a week.")
    attribution: str = Field(
        default=ATTRIBUTION_EQUAL,
        description="'equal': each tagged ticker in full; 'title': full weight to tickers the title names, "
        "tagged_weight to the others.",
    )
    halflife_weeks: float | None = Field(
        default=None, description="Smoothing over weeks; unset: halflife_weeks of these settings."
    )


def variants_from_environment() -> list[VariantConfig]:
    """The variants of SIGNAL_VARIANTS_FILE when set (read and checked when the code location loads), else the
    project's default set."""
    path = text_from_env("SIGNAL_VARIANTS_FILE")
    if path:
        items = variants_from_file(path, "SIGNAL_VARIANTS_FILE")
    else:
        items = [variant.as_dict() for variant in DEFAULT_VARIANTS]
    return [VariantConfig(**item) for item in items]


def _tagged_weight_default() -> float | None:
    if not is_set("SIGNAL_TAGGED_WEIGHT"):
        return None
    return number_from_env("SIGNAL_TAGGED_WEIGHT", 0.5, 0.0, 1.0)


class SignalSettings(dg.ConfigurableResource):
    """Settings of the signal built from each week's headlines: the variants computed side by side, the one
    submitted, and how a variant's sentiment is smoothed over weeks."""

    variants: list[VariantConfig] = Field(
        default_factory=variants_from_environment,
        description="The signal variants computed every week side by side (env SIGNAL_VARIANTS_FILE: a YAML file "
        "with a `variants:` list). Default: finbert (the blog post's signal), provider_labels (the provider's "
        "labels), and finbert_stories and provider_labels_stories (each with a story counted once and an article's "
        "sentiment given in full to the tickers its title names).",
    )
    variant: str = Field(
        default=text_from_env("SIGNAL_VARIANT", DEFAULT_VARIANT),
        description="The variant that is submitted: submission, the churn gate and numerai_upload use it (env "
        "SIGNAL_VARIANT, default finbert).",
    )
    story_similarity: float = Field(
        default=number_from_env("SIGNAL_STORY_SIMILARITY", DEFAULT_SIMILARITY, 0.05, 1.0),
        ge=0.05,
        le=1.0,
        description="Two headlines of a ticker in a week are one story when their MinHash Jaccard similarity (word "
        "shingles of the normalized title) reaches this (env SIGNAL_STORY_SIMILARITY); exact copies after "
        "normalization always are.",
    )
    tagged_weight: float | None = Field(
        default=_tagged_weight_default(),
        ge=0.0,
        le=1.0,
        description="With attribution 'title': the weight of an article for a ticker it is tagged with but its title "
        "does not name (env SIGNAL_TAGGED_WEIGHT); unset: 1 / the number of tickers the article is tagged with.",
    )
    halflife_weeks: float = Field(
        default=number_from_env("SIGNAL_HALFLIFE_WEEKS", 0.0, 0.0, MAX_HALFLIFE_WEEKS),
        # The environment's value is the default: checked too, so a negative SIGNAL_HALFLIFE_WEEKS fails at load.
        validate_default=True,
        description="Smooth each ticker's sentiment over this and earlier weeks (env SIGNAL_HALFLIFE_WEEKS), for "
        "every variant that sets no halflife of its own: an exponentially decayed mean of the stored weekly "
        "sentiment, a week `age` weeks old weighted 0.5 ** (age / halflife_weeks), over the last ceil("
        f"{LOOKBACK_HALFLIVES} x halflife_weeks) weeks (older ones weigh under 0.4 %), at most "
        f"{MAX_HALFLIFE_WEEKS} weeks. 0 (the default, the blog post's behaviour) is this week only. A longer "
        "halflife churns less from week to week (Numerai penalizes churn) but reacts later to news. Earlier weeks are read from the warehouse: backfill oldest first.",
    )

    @field_validator("halflife_weeks")
    @classmethod
    def _zero_or_positive(cls, value: float) -> float:
        return validated_halflife(value)

    @model_validator(mode="after")
    def _variants_and_the_submitted_one(self) -> SignalSettings:
        # Checked when the code location loads (the defaults, from the environment) and when a run builds the
        # resource with its launch config: a misnamed variant fails before any week is computed.
        try:
            variants = checked_variants([dict(item) for item in self.variants], "signal_settings.variants")
            submitted_variant(variants, self.variant, "SIGNAL_VARIANT (signal_settings.variant)")
        except VariantError as error:
            raise ValueError(str(error)) from None
        return self

    def all_variants(self) -> tuple[Variant, ...]:
        return checked_variants([dict(item) for item in self.variants], "signal_settings.variants")

    def submitted(self) -> Variant:
        return submitted_variant(self.all_variants(), self.variant, "SIGNAL_VARIANT (signal_settings.variant)")

    def halflife_of(self, variant: Variant) -> float:
        return self.halflife_weeks if variant.halflife_weeks is None else variant.halflife_weeks
