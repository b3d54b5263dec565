"""precision="auto": the fastest precision whose scores stay close to fp32, checked on the model loaded.

The candidates are tried in an order fixed from measurements (BENCHMARKS.md), not timed at load time:
timing a few batches on a shared machine picked fp32 over bf16 when other processes were busy. Each is
compared with fp32 on the calibration headlines (calibration_headlines.txt, one a line: real-looking
headlines of varied length and tone).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
import torch

from signals_assets.sentiment.batching import Batch, pretokenized_batches
from signals_assets.sentiment.labels import LabelIndices
from signals_assets.sentiment.options import PRECISION_TOLERANCE
from signals_assets.sentiment.precisions import Variant, at_precision, forward_probabilities, quantize_dynamic

# The largest deviation over many headlines exceeds the largest over the small calibration set
# (measured on bert-base with int8: 0.0135 over 64 headlines, 0.0209 over 1,500), so a faster
# precision is accepted only when the calibration shows at most half the tolerance.
CALIBRATION_LIMIT = PRECISION_TOLERANCE / 2
CALIBRATION_FILE = "calibration_headlines.txt"


@functools.cache
def calibration_headlines() -> tuple[str, ...]:
    """The calibration headlines, read from the package's data file."""
    text = resources.files(__package__).joinpath(CALIBRATION_FILE).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: without them bf16 is emulated on the CPU and slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_precision_candidates(device: torch.device) -> list[str]:
    """Faster precisions to try before fp32, fastest first. Measured on 2 AVX-512 cores (bert-base,
    batch 64, ~16 tokens): int8 dynamic quantization ~330 headlines/s, bf16 autocast ~230, fp32 ~65."""
    if device.type == "cuda":
        return ["bf16" if torch.cuda.is_bf16_supported() else "fp16"]
    candidates = ["int8"] if quantize_dynamic() is not None else []
    return candidates + (["bf16"] if cpu_has_native_bf16() else [])


def _scores(variant: Variant, device: torch.device, batches: list[Batch], columns: torch.Tensor) -> np.ndarray:
    """Scores (positive - negative) of the calibration headlines, in plan order."""
    with torch.inference_mode():
        probabilities = torch.cat([forward_probabilities(variant, device, batch, columns) for batch in batches]).cpu()
    return (probabilities[:, 0] - probabilities[:, 1]).numpy()


def choose_precision(
    network, tokenizer, labels: LabelIndices, device: torch.device, max_length: int, log: Any
) -> Variant:
    """The first (fastest) of `auto_precision_candidates` whose scores stay within CALIBRATION_LIMIT
    of fp32 on the calibration headlines, checked for this very model; else fp32."""
    headlines = list(calibration_headlines())
    batches = list(pretokenized_batches(tokenizer, headlines, batch_size=16, max_length=max_length))
    columns = torch.tensor(list(labels), dtype=torch.long, device=device)
    reference = _scores(Variant("fp32", network, None), device, batches, columns)
    for precision in auto_precision_candidates(device):
        variant = at_precision(network, precision, device, keep_original=True)
        deviation = float(np.abs(_scores(variant, device, batches, columns) - reference).max())
        accepted = deviation <= CALIBRATION_LIMIT
        log.info(
            f"FinBERT precision auto: {precision} max |score - fp32| {deviation:.4f} on {len(headlines)} "
            f"calibration headlines, limit {CALIBRATION_LIMIT}: {'accepted' if accepted else 'rejected'}."
        )
        if accepted:
            return variant
    log.info(f"FinBERT precision auto: using fp32 on {device}.")
    return Variant("fp32", network, None)
