"""Where the model runs: the torch device for a device setting, the precisions each device allows,
and the per-device defaults (batch size, attention, tokenizer worker processes, CPU threads)."""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from signals_assets.sentiment.errors import FinBERTSettingError
from signals_assets.sentiment.options import DEVICES_HELP
from signals_assets.sentiment.precisions import quantize_dynamic

# Measured: on CPU eager and SDPA attention are within noise at ~16 tokens; on an H100 SDPA was
# slower than eager at these short lengths (shared/reference/finbert.md).
DEFAULT_ATTENTION = {"cpu": "sdpa", "cuda": "eager"}
# DataLoader processes that tokenize batches for a GPU (finbert.md: 4 / 8 / 12 workers gave 34k / 48k /
# 54k headlines/s on an H100, one process ~10k/s). Two CPUs are left to the main process.
MAX_TOKENIZE_WORKERS = 12

_logger = logging.getLogger(__name__)


def resolve_device(device: str, log: Any = None) -> torch.device:
    """The torch device for a device setting ('auto', 'cpu', 'cuda' or 'cuda:N'); 'auto' takes CUDA
    when torch sees a GPU, else the CPU. A GPU that is not there is a FinBERTSettingError."""
    log = log or _logger
    if device == "auto":
        if torch.cuda.is_available():
            chosen = torch.device("cuda", torch.cuda.current_device())
            log.info(f"FinBERT device auto: CUDA is available, using {chosen} ({torch.cuda.get_device_name(chosen)}).")
        else:
            chosen = torch.device("cpu")
            log.info("FinBERT device auto: torch sees no CUDA GPU, using the CPU.")
        return chosen
    requested = torch.device(device)
    if requested.type == "cpu":
        return requested
    if requested.type != "cuda":
        raise FinBERTSettingError(
            f"device={device!r} is not a device for FinBERT; use {DEVICES_HELP} (env FINBERT_DEVICE)."
        )
    if not torch.cuda.is_available():
        raise FinBERTSettingError(
            f"device={device!r} was requested, but torch sees no CUDA GPU (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'none'}). Set the FinBERT resource's device (env FINBERT_DEVICE) "
            "to 'auto' or 'cpu', or run on a machine with a GPU and a CUDA build of torch."
        )
    index = torch.cuda.current_device() if requested.index is None else requested.index
    if index >= torch.cuda.device_count():
        raise FinBERTSettingError(
            f"device={device!r}: torch sees only {torch.cuda.device_count()} GPU(s) "
            f"(cuda:0..cuda:{torch.cuda.device_count() - 1}); fix the FinBERT resource's device (env FINBERT_DEVICE)."
        )
    return torch.device("cuda", index)


def check_precision_for_device(precision: str, device: torch.device) -> None:
    """A precision the device cannot run is a FinBERTSettingError naming the ones it can."""
    if precision == "fp16" and device.type == "cpu":
        raise FinBERTSettingError(
            "precision='fp16' is not supported on the CPU (slow and inaccurate there). Use 'auto', 'bf16', 'int8' or "
            "'fp32' on CPU (the FinBERT resource's precision, env FINBERT_PRECISION)."
        )
    if precision == "int8" and device.type == "cuda":
        raise FinBERTSettingError(
            "precision='int8' (dynamic quantization) runs on the CPU only. Use 'auto', 'bf16', 'fp16' or 'fp32' on "
            "CUDA (the FinBERT resource's precision, env FINBERT_PRECISION)."
        )
    if precision == "int8" and quantize_dynamic() is None:
        raise FinBERTSettingError(
            f"precision='int8' needs torch.ao.quantization.quantize_dynamic, which torch {torch.__version__} no longer "
            "has. Use precision 'auto', 'bf16' or 'fp32' (env FINBERT_PRECISION)."
        )


def usable_cpus() -> int:
    """CPUs this process may run on (containers, taskset), not the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def limit_cpu_threads() -> None:
    """Never run more intra-op threads than CPUs this process may use."""
    available = usable_cpus()
    if torch.get_num_threads() > available:
        torch.set_num_threads(available)


def default_tokenize_workers(device: torch.device) -> int:
    """0 on the CPU (tokenizing is under 1% of CPU inference); for a GPU, one worker process per CPU
    beyond two, between 1 and MAX_TOKENIZE_WORKERS."""
    if device.type == "cpu":
        return 0
    return max(1, min(MAX_TOKENIZE_WORKERS, usable_cpus() - 2))
