"""FinBERT as a Dagster resource: its settings, typed and validated here once (shown in the UI); loading
and scoring live in the pure core (signals_assets.sentiment.scorer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, field_validator

from signals_assets.defs.environment import from_env
from signals_assets.sentiment.errors import FinBERTLoadError
from signals_assets.sentiment.fingerprint import Checkpoint, ModelFingerprint, model_fingerprint
from signals_assets.sentiment.labels import parse_label_map
from signals_assets.sentiment.options import (
    DEFAULT_BATCH_SIZE,
    DEVICE_PATTERN,
    MIN_MAX_LENGTH,
    PRECISION_PATTERN,
    PRECISION_TOLERANCE,
)
from signals_assets.signal.variants import SOURCE_FINBERT

if TYPE_CHECKING:
    from signals_assets.sentiment.scorer import HeadlineScorer

MAX_LENGTH_LIMIT = 512  # BERT's positions; the model's own limit is checked when it loads


class FinBERT(ConfigurableResource):
    """A FinBERT sequence classifier that scores headlines as P(positive) - P(negative).

    A field set by an environment variable defaults to `EnvVar(NAME)` when the variable is set where the
    code location loads (signals_assets.defs.environment); Dagster resolves it when a run starts and
    builds the resource again with the value, so the checks below run on the value then."""

    model: str = Field(
        default=from_env("FINBERT_MODEL", "ProsusAI/finbert"),
        description=(
            "Hugging Face hub id or local directory (made with save_pretrained or "
            "`hf download ProsusAI/finbert --local-dir DIR`). Env FINBERT_MODEL."
        ),
    )
    revision: str | None = Field(
        default=from_env("FINBERT_REVISION", None),
        description="Hub branch, tag or commit to pin; None: the default branch. Env FINBERT_REVISION.",
    )
    device: str = Field(
        default=from_env("FINBERT_DEVICE", "auto"),
        pattern=DEVICE_PATTERN,
        description="'auto' (CUDA when torch sees a GPU, else CPU), 'cpu', 'cuda' or 'cuda:N'. Env FINBERT_DEVICE.",
    )
    precision: str = Field(
        default=from_env("FINBERT_PRECISION", "auto"),
        pattern=PRECISION_PATTERN,
        description=(
            f"'auto', 'fp32', 'bf16', 'fp16' (CUDA only) or 'int8' (CPU only). auto: bf16 on CUDA; on CPU the fastest "
            f"of int8/bf16/fp32 whose scores stay within {PRECISION_TOLERANCE} of fp32, checked when the model loads. "
            "Env FINBERT_PRECISION."
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
        le=MAX_LENGTH_LIMIT,
        description="Word pieces per headline, [CLS] and [SEP] included; longer headlines are truncated. 64 covers nearly all.",
    )
    label_map: str | None = Field(
        default=from_env("FINBERT_LABEL_MAP", None),
        description=(
            "Logit index of each label for models whose config names them LABEL_0.. (env FINBERT_LABEL_MAP), e.g. "
            "'0:negative,1:neutral,2:positive' for ipuneetrathore/bert-base-cased-finetuned-finBERT. "
            "None: read positive/negative/neutral from the model's config.id2label."
        ),
    )

    @field_validator("device", "precision", "label_map", mode="wrap")
    @classmethod
    def _checked_once_resolved(cls, value: Any, handler: Any) -> Any:
        # An EnvVar given explicitly is a str holding the variable's *name*: it is checked when Dagster
        # resolves it at launch and builds the resource with the value, not against the name here.
        return value if isinstance(value, EnvVar) else handler(value)

    @field_validator("label_map")
    @classmethod
    def _check_label_map(cls, value: str | None) -> str | None:
        if value is not None and not isinstance(value, EnvVar):
            parse_label_map(value)
        return value

    def checkpoint(
        self, source: str | None = None, revision: str | None = None, label_map: str | None = None
    ) -> Checkpoint:
        """The model a variant scores with: this resource's own (`source` None or 'finbert'), or another
        checkpoint (a variant's hub id or folder, its revision and label map) run with this resource's device,
        precision, batch size and max_length."""
        if source is None or source == SOURCE_FINBERT:
            return Checkpoint(self.model, self.revision, self.label_map)
        if label_map is not None:
            parse_label_map(label_map)
        return Checkpoint(source, revision, label_map)

    def fingerprint(self, checkpoint: Checkpoint | None = None) -> ModelFingerprint:
        """What the model's scores depend on, without loading it (signals_assets.sentiment.fingerprint): a
        hash of a local directory's model files, or the commit a hub revision resolves to."""
        checkpoint = checkpoint or self.checkpoint()
        return model_fingerprint(checkpoint.model, checkpoint.revision)

    def load_scorer(
        self, log: Any = None, fingerprint: ModelFingerprint | None = None, checkpoint: Checkpoint | None = None
    ) -> HeadlineScorer:
        """Load the model (a few seconds; precision auto also runs its calibration). With a `fingerprint`
        (from `fingerprint()`), the model loaded is the one fingerprinted: a hub id at its commit, and a
        local directory whose files did not change meanwhile."""
        checkpoint = checkpoint or self.checkpoint()
        # torch and transformers load here, in the step that scores, not with the code location: every other
        # process that loads the definitions (the code server, run workers, each step's process or pod) is
        # spared their ~3 s of imports.
        from signals_assets.sentiment.scorer import load_scorer

        scorer = load_scorer(
            model=checkpoint.model,
            revision=fingerprint.load_revision if fingerprint else checkpoint.revision,
            device=self.device,
            precision=self.precision,
            batch_size=self.batch_size or None,
            max_length=self.max_length,
            label_map=checkpoint.label_map,
            log=log,
        )
        if fingerprint is not None and fingerprint.local:
            now = model_fingerprint(checkpoint.model, checkpoint.revision)
            if now.value != fingerprint.value:
                raise FinBERTLoadError(
                    f"The files of FinBERT model {checkpoint.model!r} changed while it loaded (fingerprint "
                    f"{fingerprint.value}, now {now.value}): run again once they are written."
                )
        return scorer
