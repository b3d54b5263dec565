"""The FinBERT headline scorer and `load_scorer`, its entry point.

A headline's score is P(positive) - P(negative) in [-1, 1]. Settings arrive validated (the FinBERT
resource's typed fields); here they are resolved for this machine and this model: the device, the
precision (precision="auto" is calibrated on the model loaded), the label indices, the batch size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from signals_assets.sentiment.batching import scoring_batches
from signals_assets.sentiment.calibration import choose_precision
from signals_assets.sentiment.devices import (
    DEFAULT_ATTENTION,
    check_precision_for_device,
    default_tokenize_workers,
    limit_cpu_threads,
    resolve_device,
)
from signals_assets.sentiment.errors import FinBERTSettingError
from signals_assets.sentiment.headline_scores import SCORE_COLUMNS
from signals_assets.sentiment.labels import LabelIndices, resolve_label_indices
from signals_assets.sentiment.loading import load_pretrained
from signals_assets.sentiment.options import DEFAULT_BATCH_SIZE
from signals_assets.sentiment.precisions import Variant, at_precision, forward_probabilities

PROBABILITY_COLUMNS = SCORE_COLUMNS[:3]  # p_positive, p_negative, p_neutral
PROGRESS_INTERVAL_S = 5.0
Progress = Callable[[int, int, float], None]

_logger = logging.getLogger(__name__)


class HeadlineScorer:
    """A loaded FinBERT model; `score(headlines)` gives P(positive), P(negative), P(neutral) and
    score = P(positive) - P(negative) per headline, in input order."""

    def __init__(
        self,
        *,
        model: str,
        revision: str,
        device: torch.device,
        batch_size: int,
        max_length: int,
        labels: LabelIndices,
        tokenizer,
        variant: Variant,
        tokenize_workers: int,
        progress_interval_s: float = PROGRESS_INTERVAL_S,
    ):
        self.model = model
        self.revision = revision
        self.device = str(device)
        self.precision = variant.precision
        self.batch_size = batch_size
        self.max_length = max_length
        self.labels = labels
        self.tokenize_workers = tokenize_workers
        self.progress_interval_s = progress_interval_s
        self.tokenizer = tokenizer
        self._torch_device = device
        self._variant = variant
        self._columns = torch.tensor(list(labels), dtype=torch.long, device=device)

    def __repr__(self) -> str:
        return (
            f"HeadlineScorer(model={self.model!r}, revision={self.revision!r}, device={self.device!r}, "
            f"precision={self.precision!r}, batch_size={self.batch_size}, max_length={self.max_length})"
        )

    def probabilities(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """(n, 3) float32 array of P(positive), P(negative), P(neutral) in input order."""
        total = len(texts)
        # Results stay on the device until the end: no per-batch synchronisation with the host. Each
        # batch's rows land at their input positions, whatever order the batches come in.
        result = torch.empty((total, len(self._columns)), dtype=torch.float32, device=self._torch_device)
        batches = scoring_batches(
            self.tokenizer, texts, self.batch_size, self.max_length, self.tokenize_workers, self._torch_device
        )
        started = last_report = time.perf_counter()
        done = 0
        with torch.inference_mode():
            for batch in batches:
                probabilities = forward_probabilities(self._variant, self._torch_device, batch, self._columns)
                result[batch.positions.to(self._torch_device, non_blocking=True)] = probabilities
                done += len(batch.positions)
                now = time.perf_counter()
                if progress is not None and done < total and now - last_report >= self.progress_interval_s:
                    progress(done, total, now - started)
                    last_report = now
            array = result.cpu().numpy()
        if progress is not None:
            progress(total, total, time.perf_counter() - started)
        return array

    def score(self, headlines: Sequence[str], progress: Progress | None = None) -> pd.DataFrame:
        """Columns p_positive, p_negative, p_neutral, score (float64), one row per headline in input
        order (a pandas Series keeps its index). `progress(done, total, elapsed_s)` is called every
        few seconds and once with done == total at the end."""
        texts = list(headlines)
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(
                    f"Headline at position {position} is {text!r} ({type(text).__name__}), not a string; "
                    "drop missing headlines before scoring."
                )
        index = headlines.index if isinstance(headlines, pd.Series) else None
        if not texts:
            return pd.DataFrame({column: pd.Series(dtype="float64") for column in SCORE_COLUMNS}, index=index)
        probabilities = self.probabilities(texts, progress).astype(np.float64)
        frame = pd.DataFrame(probabilities, columns=PROBABILITY_COLUMNS, index=index)
        frame["score"] = frame["p_positive"] - frame["p_negative"]
        return frame


def load_scorer(
    model: str,
    revision: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
    max_length: int = 64,
    label_map: str | Mapping[Any, str] | None = None,
    log: Any = None,
    *,
    attn_implementation: str | None = None,
    tokenize_workers: int | None = None,
) -> HeadlineScorer:
    """Load a FinBERT checkpoint (hub id or local `save_pretrained` directory) for scoring.

    The settings are those of the FinBERT resource, which validates them. device: 'auto' | 'cpu' |
    'cuda' | 'cuda:N'. precision: 'auto' | 'fp32' | 'bf16' | 'fp16' | 'int8'; auto is bf16 (or fp16)
    on CUDA and, on CPU, the fastest of int8/bf16/fp32 whose scores stay within PRECISION_TOLERANCE of
    fp32 (calibration.py). batch_size None or 0: per device (DEFAULT_BATCH_SIZE). attn_implementation:
    None = per device (DEFAULT_ATTENTION). tokenize_workers: DataLoader processes that tokenize
    batches; None = per device (0 on CPU, up to 12 on CUDA).
    """
    log = log or _logger
    if tokenize_workers is not None and tokenize_workers < 0:
        raise FinBERTSettingError(f"tokenize_workers={tokenize_workers!r}: use 0 (tokenize in this process) or more.")
    torch_device = resolve_device(device, log)
    check_precision_for_device(precision, torch_device)
    if torch_device.type == "cpu":
        limit_cpu_threads()

    tokenizer, network = load_pretrained(model, revision, attn_implementation or DEFAULT_ATTENTION[torch_device.type])
    if not getattr(tokenizer, "is_fast", False):
        log.warning(f"FinBERT model {model!r} has no fast (Rust) tokenizer; tokenization will be slow.")
    labels = resolve_label_indices(network.config.id2label, label_map)
    positions = getattr(network.config, "max_position_embeddings", None)
    if positions is not None and max_length > positions:
        raise FinBERTSettingError(
            f"max_length={max_length} exceeds the model's {positions} positions; use at most {positions}."
        )
    network.to(torch_device)

    if precision == "auto":
        variant = choose_precision(network, tokenizer, labels, torch_device, max_length, log)
    else:
        variant = at_precision(network, precision, torch_device, keep_original=False)
    scorer = HeadlineScorer(
        model=model,
        # A hub snapshot records its commit; a local directory has none.
        revision=getattr(network.config, "_commit_hash", None) or revision or "local",
        device=torch_device,
        batch_size=batch_size or DEFAULT_BATCH_SIZE[torch_device.type],
        max_length=max_length,
        labels=labels,
        tokenizer=tokenizer,
        variant=variant,
        tokenize_workers=default_tokenize_workers(torch_device) if tokenize_workers is None else tokenize_workers,
    )
    log.info(f"FinBERT loaded: {scorer!r}, labels {labels._asdict()}.")
    return scorer
