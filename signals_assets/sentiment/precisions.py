"""The model at a numeric precision, and its forward pass.

fp32 is the model as loaded. On the CPU, bf16 and fp16 run under autocast (layer norms and softmax stay
fp32); on CUDA they cast the weights. int8 quantizes the Linear layers dynamically (CPU only). Which
precision a device allows is `devices.check_precision_for_device`; what precision="auto" picks is
`calibration.choose_precision`.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

if TYPE_CHECKING:
    from signals_assets.sentiment.batching import Batch

_HALF_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Variant(NamedTuple):
    """A model ready to run at `precision`: the network, and the autocast dtype to run it under (None: as is)."""

    precision: str
    network: Any
    autocast_dtype: torch.dtype | None


def quantize_dynamic() -> Callable | None:
    """torch.ao.quantization.quantize_dynamic: deprecated in favour of torchao but still present in
    torch 2.13, and the fastest CPU option measured; None once torch drops it."""
    quantization = getattr(getattr(torch, "ao", None), "quantization", None)
    return getattr(quantization, "quantize_dynamic", None)


def _quantized_copy(network):
    with warnings.catch_warnings():
        # torch.ao.quantization warns that it moves to torchao; it is still the supported eager API in 2.13.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic()(copy.deepcopy(network), {torch.nn.Linear}, dtype=torch.qint8)


def at_precision(network, precision: str, device: torch.device, *, keep_original: bool) -> Variant:
    """The model at `precision` ('fp32', 'bf16', 'fp16' or 'int8') for `device`. keep_original: never
    change `network` itself (calibration compares against it)."""
    if precision == "fp32":
        return Variant("fp32", network, None)
    if precision == "int8":
        return Variant("int8", _quantized_copy(network), None)
    dtype = _HALF_DTYPES[precision]
    if device.type == "cpu":
        return Variant(precision, network, dtype)
    cast = copy.deepcopy(network) if keep_original else network
    return Variant(precision, cast.to(dtype), None)


def forward_probabilities(variant: Variant, device: torch.device, batch: Batch, columns: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities of one batch on `device`, float32, the logits in `columns` order
    (positive, negative, neutral)."""
    input_ids = batch.input_ids.to(device, non_blocking=True)
    attention_mask = batch.attention_mask.to(device, non_blocking=True)
    dtype = variant.autocast_dtype
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    with autocast:
        logits = variant.network(input_ids=input_ids, attention_mask=attention_mask).logits
    return logits.float().softmax(dim=-1).index_select(1, columns)
