"""Headlines into padded token batches, grouped by length so that little padding is computed.

Two ways to make the same batches: `pretokenized_batches` tokenizes everything in one call in this
process (the Rust tokenizer is parallel; the CPU path), `worker_batches` tokenizes and pads each batch
in DataLoader worker processes with pinned memory (the CUDA path: Python-side tokenization bounds a
single-process GPU loop, finbert.md: ~10k headlines/s vs ~50k/s with 12 workers). Every batch carries
the input positions of its rows, so the scorer puts results back in input order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np
import torch


class Batch(NamedTuple):
    positions: torch.Tensor  # input positions of the rows, int64
    input_ids: torch.Tensor
    attention_mask: torch.Tensor


def batch_plan(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Input positions grouped into batches of similar length, each position once (longest first:
    peak memory shows up in the first batch, not at the end of a long run)."""
    order = np.argsort(-lengths, kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def pretokenized_batches(tokenizer, texts: list[str], batch_size: int, max_length: int) -> Iterator[Batch]:
    """Tokenize everything in one call, then pad each length-sorted batch only to its own longest row."""
    token_ids = tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(token_ids))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for positions in batch_plan(lengths, batch_size):
        batch_lengths = torch.from_numpy(lengths[positions])
        input_ids = torch.full((len(positions), int(batch_lengths.max())), pad_id, dtype=torch.long)
        for row, position in enumerate(positions):
            input_ids[row, : lengths[position]] = torch.tensor(token_ids[position], dtype=torch.long)
        attention_mask = (torch.arange(input_ids.shape[1]) < batch_lengths[:, None]).long()
        yield Batch(torch.from_numpy(positions), input_ids, attention_mask)


class TokenizingBatches(torch.utils.data.Dataset):
    """One planned batch per item, tokenized and padded when a DataLoader worker asks for it."""

    def __init__(self, tokenizer, texts: list[str], plan: list[np.ndarray], max_length: int):
        self.tokenizer, self.texts, self.plan, self.max_length = tokenizer, texts, plan, max_length

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, item: int) -> Batch:
        positions = self.plan[item]
        encoded = self.tokenizer(
            [self.texts[position] for position in positions],
            truncation=True,
            max_length=self.max_length,
            padding="longest",
            return_tensors="pt",
            return_token_type_ids=False,
        )
        return Batch(torch.from_numpy(positions), encoded["input_ids"], encoded["attention_mask"])


def serial_tokenizer_worker(_worker_id: int) -> None:
    # Each worker tokenizes one batch at a time; Rust threads inside every worker would oversubscribe.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def worker_batches(
    tokenizer, texts: list[str], batch_size: int, max_length: int, workers: int, pin_memory: bool
) -> torch.utils.data.DataLoader:
    """Batches tokenized in `workers` DataLoader processes, in plan order; pinned for a fast,
    asynchronous copy to the GPU when `pin_memory` (torch skips pinning, with a warning, without one)."""
    # Character length sorts nearly as well as token length and needs no tokenization up front.
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    return torch.utils.data.DataLoader(
        TokenizingBatches(tokenizer, texts, batch_plan(lengths, batch_size), max_length),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=4,
        worker_init_fn=serial_tokenizer_worker,
    )


def scoring_batches(
    tokenizer, texts: list[str], batch_size: int, max_length: int, workers: int, device: torch.device
) -> Iterable[Batch]:
    """The batches to score `texts` on `device`: from worker processes (pinned for CUDA) when there are
    workers and more than a couple of batches (a worker costs a fork), else tokenized in this process."""
    if workers > 0 and len(texts) > 2 * batch_size:
        return worker_batches(tokenizer, texts, batch_size, max_length, workers, pin_memory=device.type == "cuda")
    return pretokenized_batches(tokenizer, texts, batch_size, max_length)
