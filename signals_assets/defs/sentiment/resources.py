"""FinBERT as a Dagster resource: settings shown in the UI; loading and scoring live in the pure core
(signals_assets.sentiment.sentiment)."""

from __future__ import annotations

from typing import Any, Optional

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, field_validator

from signals_assets.sentiment.sentiment import (
    DEFAULT_BATCH_SIZE,
    MIN_MAX_LENGTH,
    PRECISION_TOLERANCE,
    HeadlineScorer,
    load_scorer,
    parse_label_map,
    validate_device_setting,
    validate_precision_setting,
)


class FinBERT(ConfigurableResource):
    """A FinBERT sequence classifier that scores headlines as P(positive) - P(negative)."""

    model: str = Field(
        default="ProsusAI/finbert",
        description=(
            "Hugging Face hub id or local directory (made with save_pretrained or "
            "`hf download ProsusAI/finbert --local-dir DIR`). Env FINBERT_MODEL."
        ),
    )
    revision: Optional[str] = Field(
        default=None, description="Hub branch, tag or commit to pin; None: the default branch."
    )
    device: str = Field(
        default="auto", description="'auto' (CUDA when torch sees a GPU, else CPU), 'cpu', 'cuda' or 'cuda:N'."
    )
    precision: str = Field(
        default="auto",
        description=(
            f"'auto', 'fp32', 'bf16', 'fp16' (CUDA only) or 'int8' (CPU only). auto: bf16 on CUDA; on CPU the fastest "
            f"of int8/bf16/fp32 whose scores stay within {PRECISION_TOLERANCE} of fp32, checked when the model loads."
        ),
    )
    batch_size: int = Field(
        default=0,
        ge=0,
        description=f"Headlines per forward pass; 0: per device ({DEFAULT_BATCH_SIZE['cpu']} on CPU, {DEFAULT_BATCH_SIZE['cuda']} on CUDA).",
    )
    max_length: int = Field(
        default=64,
        ge=MIN_MAX_LENGTH,
        le=512,
        description="Word pieces per headline, [CLS] and [SEP] included; longer headlines are truncated. 64 covers nearly all.",
    )
    label_map: Optional[str] = Field(
        default=None,
        description=(
            "Logit index of each label for models whose config names them LABEL_0.. (env FINBERT_LABEL_MAP), e.g. "
            "'0:negative,1:neutral,2:positive' for ipuneetrathore/bert-base-cased-finetuned-finBERT. "
            "None: read positive/negative/neutral from the model's config.id2label."
        ),
    )

    # An EnvVar arrives here as the variable's name; its value is checked when the model loads.
    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        return value if isinstance(value, EnvVar) else validate_device_setting(value)

    @field_validator("precision")
    @classmethod
    def _check_precision(cls, value: str) -> str:
        return value if isinstance(value, EnvVar) else validate_precision_setting(value)

    @field_validator("label_map")
    @classmethod
    def _check_label_map(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not isinstance(value, EnvVar):
            parse_label_map(value)
        return value

    def load_scorer(self, log: Any = None) -> HeadlineScorer:
        """Load the model (a few seconds; precision auto also runs its CPU self-check)."""
        return load_scorer(
            model=self.model,
            revision=self.revision,
            device=self.device,
            precision=self.precision,
            batch_size=self.batch_size or None,
            max_length=self.max_length,
            label_map=self.label_map,
            log=log,
        )
