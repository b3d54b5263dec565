"""FinBERT headline scoring, the pure core (no Dagster): label resolution, model loading, precision
choice and a fast batched scorer.

A headline's score is P(positive) - P(negative) in [-1, 1]. Which logit is "positive" differs between
FinBERT checkpoints (ProsusAI/finbert: 0 positive, 1 negative, 2 neutral; the seed's
ipuneetrathore/bert-base-cased-finetuned-finBERT: generic LABEL_0..2), so label indices are read
from `config.id2label` by name, or from an explicit `label_map`, and never guessed.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

LABEL_NAMES = ("positive", "negative", "neutral")
DEVICES_HELP = "'auto', 'cpu', 'cuda' or 'cuda:N'"
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
PROBABILITY_COLUMNS = ["p_positive", "p_negative", "p_neutral"]
SCORE_COLUMNS = [*PROBABILITY_COLUMNS, "score"]

# precision="auto" promises scores within this distance of fp32 scores.
PRECISION_TOLERANCE = 0.02
# The largest deviation over many headlines exceeds the largest over the small calibration set
# (measured on bert-base with int8: 0.0135 over 64 headlines, 0.0209 over 1,500), so a faster
# precision is accepted only when the calibration shows at most half the tolerance.
CALIBRATION_LIMIT = PRECISION_TOLERANCE / 2

# Measured on 2 CPU cores (bert-base, headlines of ~16 tokens): 32 to 128 are within noise of each
# other. On a GPU large batches keep it busy; tokenization, not the GPU, bounds throughput there.
DEFAULT_BATCH_SIZE = {"cpu": 64, "cuda": 2048}
# Measured: on CPU eager and SDPA attention are within noise at ~16 tokens; on an H100 SDPA was
# slower than eager at these short lengths (shared/reference/finbert.md).
DEFAULT_ATTENTION = {"cpu": "sdpa", "cuda": "eager"}
MIN_MAX_LENGTH = 8  # [CLS] + [SEP] + a few word pieces
PROGRESS_INTERVAL_S = 5.0

_HUB_DOWNLOAD_HELP = (
    "Provide a local copy and point the FinBERT resource's `model` at it (env FINBERT_MODEL=/path/to/finbert): "
    "a directory written by `save_pretrained`, or one made on a machine with internet access by "
    "`hf download ProsusAI/finbert --local-dir /path/to/finbert` (older huggingface_hub: `huggingface-cli download ...`)."
)

_logger = logging.getLogger(__name__)


class FinBERTSettingError(ValueError):
    """A FinBERT setting (model, device, precision, label_map, ...) is invalid for this machine or model."""


class FinBERTLoadError(RuntimeError):
    """The FinBERT model or tokenizer could not be loaded."""


class LabelIndices(NamedTuple):
    """Logit index of each sentiment label in the model's output."""

    positive: int
    negative: int
    neutral: int


# --------------------------------------------------------------------------------------------------
# Labels


def parse_label_map(label_map: str | Mapping[Any, str] | None) -> dict[int, str] | None:
    """'0:negative,1:neutral,2:positive' or {0: 'negative', ...} -> {index: label name}, validated."""
    if label_map is None or (isinstance(label_map, str) and not label_map.strip()):
        return None
    example = "e.g. label_map='0:negative,1:neutral,2:positive'"
    if isinstance(label_map, str):
        pairs = []
        for item in label_map.split(","):
            index, sep, name = item.partition(":")
            if not sep:
                raise FinBERTSettingError(f"label_map={label_map!r}: item {item.strip()!r} is not 'index:label' ({example}).")
            pairs.append((index, name))
    elif isinstance(label_map, Mapping):
        pairs = list(label_map.items())
    else:
        raise FinBERTSettingError(f"label_map must be a string or a dict ({example}), not {type(label_map).__name__}.")

    mapping: dict[int, str] = {}
    for index, name in pairs:
        try:
            position = int(str(index).strip())
        except ValueError:
            raise FinBERTSettingError(f"label_map={label_map!r}: {index!r} is not a logit index ({example}).") from None
        label = str(name).strip().lower()
        if label not in LABEL_NAMES:
            raise FinBERTSettingError(
                f"label_map={label_map!r}: unknown label {name!r}; the labels are {', '.join(LABEL_NAMES)} ({example})."
            )
        if position in mapping:
            raise FinBERTSettingError(f"label_map={label_map!r}: index {position} is given twice ({example}).")
        mapping[position] = label
    if sorted(mapping.values()) != sorted(LABEL_NAMES):
        raise FinBERTSettingError(
            f"label_map={label_map!r} must name each of {', '.join(LABEL_NAMES)} exactly once ({example})."
        )
    return mapping


def resolve_label_indices(id2label: Mapping[Any, str], label_map: str | Mapping[Any, str] | None) -> LabelIndices:
    """Logit indices of positive/negative/neutral: from an explicit `label_map`, else from the
    model's `config.id2label` names (any case). Generic LABEL_k names without a mapping raise."""
    model_labels = {int(index): str(name) for index, name in id2label.items()}
    mapping = parse_label_map(label_map)
    if mapping is not None:
        for index, label in mapping.items():
            if index not in model_labels:
                raise FinBERTSettingError(
                    f"label_map maps index {index}, but the model has only logits {sorted(model_labels)} "
                    f"(id2label {model_labels})."
                )
            named = model_labels[index].strip().lower()
            if named in LABEL_NAMES and named != label:
                raise FinBERTSettingError(
                    f"label_map says index {index} is {label!r}, but the model's id2label names it {model_labels[index]!r} "
                    f"(id2label {model_labels}). Remove label_map to use the model's own names, or fix it."
                )
        by_label = {label: index for index, label in mapping.items()}
        return LabelIndices(**by_label)

    by_label = {}
    for index, name in sorted(model_labels.items()):
        label = name.strip().lower()
        if label in LABEL_NAMES:
            if label in by_label:
                raise FinBERTSettingError(f"The model's id2label names {label!r} twice: {model_labels}. Give an explicit label_map.")
            by_label[label] = index
    if len(by_label) < len(LABEL_NAMES):
        raise FinBERTSettingError(
            f"The model's config.id2label {model_labels} does not name the labels {', '.join(LABEL_NAMES)}, so the "
            "positive and negative logits are unknown and will not be guessed. Set `label_map` on the FinBERT resource "
            "(env FINBERT_LABEL_MAP), e.g. label_map='0:negative,1:neutral,2:positive' for "
            "ipuneetrathore/bert-base-cased-finetuned-finBERT; check the order on the model's card."
        )
    return LabelIndices(**by_label)


# --------------------------------------------------------------------------------------------------
# Settings


def validate_device_setting(device: str) -> str:
    """Normalised device setting; raises on anything but auto/cpu/cuda/cuda:N (no GPU check here)."""
    value = str(device).strip().lower()
    if value in ("auto", "cpu", "cuda"):
        return value
    if value.startswith("cuda:") and value[len("cuda:") :].isdigit():
        return value
    raise FinBERTSettingError(f"device={device!r} is not a device; use {DEVICES_HELP}.")


def validate_precision_setting(precision: str) -> str:
    value = str(precision).strip().lower()
    if value not in PRECISIONS:
        raise FinBERTSettingError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}.")
    return value


def resolve_device(device: str, log: Any = None) -> torch.device:
    """The torch device for a device setting; 'auto' takes CUDA when torch sees a GPU, else the CPU."""
    log = log or _logger
    value = validate_device_setting(device)
    if value == "auto":
        if torch.cuda.is_available():
            chosen = torch.device("cuda", torch.cuda.current_device())
            log.info(f"FinBERT device auto: CUDA is available, using {chosen} ({torch.cuda.get_device_name(chosen)}).")
        else:
            chosen = torch.device("cpu")
            log.info("FinBERT device auto: torch sees no CUDA GPU, using the CPU.")
        return chosen
    if value == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise FinBERTSettingError(
            f"device={device!r} was requested, but torch sees no CUDA GPU (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'none'}). Set the FinBERT resource's device to 'auto' or 'cpu', "
            "or run on a machine with a GPU and a CUDA build of torch."
        )
    index = torch.cuda.current_device() if value == "cuda" else int(value.split(":")[1])
    if index >= torch.cuda.device_count():
        raise FinBERTSettingError(
            f"device={device!r}: torch sees only {torch.cuda.device_count()} GPU(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})."
        )
    return torch.device("cuda", index)


def _check_precision_for_device(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type == "cpu":
        raise FinBERTSettingError(
            "precision='fp16' is not supported on the CPU (slow and inaccurate there). Use 'auto', 'bf16', 'int8' or 'fp32' on CPU."
        )
    if precision == "int8" and device.type == "cuda":
        raise FinBERTSettingError(
            "precision='int8' (dynamic quantization) runs on the CPU only. Use 'auto', 'bf16', 'fp16' or 'fp32' on CUDA."
        )
    if precision == "int8" and _quantize_dynamic() is None:
        raise FinBERTSettingError(
            f"precision='int8' needs torch.ao.quantization.quantize_dynamic, which torch {torch.__version__} no longer has. "
            "Use precision 'auto', 'bf16' or 'fp32'."
        )


def _limit_cpu_threads() -> None:
    """Never run more intra-op threads than CPUs this process may use (containers, taskset)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if torch.get_num_threads() > available:
        torch.set_num_threads(available)


def _quantize_dynamic() -> Callable | None:
    """torch.ao.quantization.quantize_dynamic: deprecated in favour of torchao but still present in
    torch 2.13, and the fastest CPU option measured; None once torch drops it."""
    quantization = getattr(getattr(torch, "ao", None), "quantization", None)
    return getattr(quantization, "quantize_dynamic", None)


# --------------------------------------------------------------------------------------------------
# Loading


def _offline_mode() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; read it per load so it can be switched.
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", ".\\")) or os.path.isabs(model) or Path(model).expanduser().exists()


def _hub_load_errors() -> tuple[type[BaseException], ...]:
    """What a failed `from_pretrained` raises: transformers and huggingface_hub wrap missing files,
    connection and hub errors in OSError (and bad ids in ValueError); EntryNotFoundError is neither."""
    try:
        from huggingface_hub.errors import EntryNotFoundError
    except ImportError:
        return (OSError, ValueError)
    return (OSError, ValueError, EntryNotFoundError)


_LOAD_ERRORS = _hub_load_errors()


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers draws a "Loading weights" bar on stderr per load; noise in a run's logs."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _load_pretrained(model: str, revision: str | None, attn_implementation: str):
    """Tokenizer and fp32 model through `from_pretrained`, from a hub id or a local directory."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if _looks_like_path(model):
        directory = Path(model).expanduser()
        if not directory.is_dir():
            raise FinBERTLoadError(f"FinBERT model directory {model!r} does not exist. {_HUB_DOWNLOAD_HELP}")
        if not (directory / "config.json").is_file():
            raise FinBERTLoadError(
                f"{model!r} holds no saved model (no config.json). {_HUB_DOWNLOAD_HELP}"
            )
        source, is_local, local_files_only = str(directory), True, True
    else:
        source, is_local, local_files_only = model, False, _offline_mode()

    options = {"revision": revision, "local_files_only": local_files_only}
    try:
        with _no_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(source, **options)
            network = AutoModelForSequenceClassification.from_pretrained(
                source, dtype=torch.float32, attn_implementation=attn_implementation, **options
            )
    except _LOAD_ERRORS as error:
        if is_local:
            where = "from its local directory"
        elif local_files_only:
            where = "from the local Hugging Face cache (offline mode: HF_HUB_OFFLINE is set, so nothing is downloaded)"
        else:
            where = "from the Hugging Face hub"
        cause = str(error).strip().splitlines()[0] if str(error).strip() else "no message"
        reason = "" if is_local else (
            " The model could not be downloaded: the hub is unreachable, offline mode is on, or the repository "
            "or revision does not exist."
        )
        raise FinBERTLoadError(
            f"FinBERT model {model!r} (revision {revision or 'default'}) could not be loaded {where} "
            f"({type(error).__name__}: {cause}).{reason} {_HUB_DOWNLOAD_HELP}"
        ) from error
    return tokenizer, network.eval()


# --------------------------------------------------------------------------------------------------
# Batching


class _Batch(NamedTuple):
    positions: torch.Tensor  # input positions of the rows, int64
    input_ids: torch.Tensor
    attention_mask: torch.Tensor


def _batch_plan(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Input positions grouped into batches of similar length (longest first: peak memory shows up
    in the first batch, not at the end of a long run)."""
    order = np.argsort(-lengths, kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _pretokenized_batches(tokenizer, texts: list[str], batch_size: int, max_length: int) -> Iterator[_Batch]:
    """Tokenize everything in one call (the Rust tokenizer is parallel), then pad each length-sorted
    batch only to its own longest row."""
    token_ids = tokenizer(
        texts, truncation=True, max_length=max_length, padding=False,
        return_attention_mask=False, return_token_type_ids=False,
    )["input_ids"]
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(token_ids))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for positions in _batch_plan(lengths, batch_size):
        batch_lengths = torch.from_numpy(lengths[positions])
        input_ids = torch.full((len(positions), int(batch_lengths.max())), pad_id, dtype=torch.long)
        for row, position in enumerate(positions):
            input_ids[row, : lengths[position]] = torch.tensor(token_ids[position], dtype=torch.long)
        attention_mask = (torch.arange(input_ids.shape[1]) < batch_lengths[:, None]).long()
        yield _Batch(torch.from_numpy(positions), input_ids, attention_mask)


class _TokenizingBatches(torch.utils.data.Dataset):
    """One length-sorted batch per item, tokenized and padded inside a DataLoader worker process:
    Python-side tokenization bounds a single-process GPU loop (finbert.md: ~10k/s vs ~50k/s with 12 workers)."""

    def __init__(self, tokenizer, texts: list[str], plan: list[np.ndarray], max_length: int):
        self.tokenizer, self.texts, self.plan, self.max_length = tokenizer, texts, plan, max_length

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, item: int) -> _Batch:
        positions = self.plan[item]
        encoded = self.tokenizer(
            [self.texts[position] for position in positions], truncation=True, max_length=self.max_length,
            padding="longest", return_tensors="pt", return_token_type_ids=False,
        )
        return _Batch(torch.from_numpy(positions), encoded["input_ids"], encoded["attention_mask"])


def _serial_tokenizer_worker(_worker_id: int) -> None:
    # Each worker tokenizes one batch at a time; Rust threads inside every worker would oversubscribe.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _worker_batches(tokenizer, texts: list[str], batch_size: int, max_length: int, workers: int, pin_memory: bool) -> Iterable[_Batch]:
    # Character length sorts nearly as well as token length and needs no tokenization up front.
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    return torch.utils.data.DataLoader(
        _TokenizingBatches(tokenizer, texts, _batch_plan(lengths, batch_size), max_length),
        batch_size=None, shuffle=False, num_workers=workers, pin_memory=pin_memory,
        prefetch_factor=4, worker_init_fn=_serial_tokenizer_worker,
    )


# --------------------------------------------------------------------------------------------------
# Scoring


def _forward_probabilities(network, autocast_dtype, device: torch.device, batch: _Batch, columns: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities on `device`, columns ordered (positive, negative, neutral)."""
    input_ids = batch.input_ids.to(device, non_blocking=True)
    attention_mask = batch.attention_mask.to(device, non_blocking=True)
    autocast = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
    with autocast:
        logits = network(input_ids=input_ids, attention_mask=attention_mask).logits
    return logits.float().softmax(dim=-1).index_select(1, columns)


class HeadlineScorer:
    """A loaded FinBERT model; `score(headlines)` gives P(positive), P(negative), P(neutral) and
    score = P(positive) - P(negative) per headline, in input order."""

    def __init__(
        self, *, model: str, revision: str, device: torch.device, precision: str, batch_size: int,
        max_length: int, labels: LabelIndices, tokenizer, network, autocast_dtype: torch.dtype | None,
        tokenize_workers: int, progress_interval_s: float = PROGRESS_INTERVAL_S,
    ):
        self.model = model
        self.revision = revision
        self.device = str(device)
        self.precision = precision
        self.batch_size = batch_size
        self.max_length = max_length
        self.labels = labels
        self.tokenize_workers = tokenize_workers
        self.progress_interval_s = progress_interval_s
        self.tokenizer = tokenizer
        self._torch_device = device
        self._network = network
        self._autocast_dtype = autocast_dtype
        self._columns = torch.tensor(list(labels), dtype=torch.long, device=device)

    def __repr__(self) -> str:
        return (
            f"HeadlineScorer(model={self.model!r}, revision={self.revision!r}, device={self.device!r}, "
            f"precision={self.precision!r}, batch_size={self.batch_size}, max_length={self.max_length})"
        )

    def _batches(self, texts: list[str]) -> Iterable[_Batch]:
        # Worker processes cost a fork each: only worth it for more than a couple of batches.
        if self.tokenize_workers > 0 and len(texts) > 2 * self.batch_size:
            return _worker_batches(
                self.tokenizer, texts, self.batch_size, self.max_length, self.tokenize_workers,
                pin_memory=self._torch_device.type == "cuda",
            )
        return _pretokenized_batches(self.tokenizer, texts, self.batch_size, self.max_length)

    def probabilities(self, texts: list[str], progress: Callable[[int, int, float], None] | None = None) -> np.ndarray:
        """(n, 3) float32 array of P(positive), P(negative), P(neutral) in input order."""
        total = len(texts)
        # Results stay on the device until the end: no per-batch synchronisation with the host.
        result = torch.empty((total, len(self._columns)), dtype=torch.float32, device=self._torch_device)
        started = last_report = time.perf_counter()
        done = 0
        with torch.inference_mode():
            for batch in self._batches(texts):
                probabilities = _forward_probabilities(self._network, self._autocast_dtype, self._torch_device, batch, self._columns)
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

    def score(self, headlines: Sequence[str], progress: Callable[[int, int, float], None] | None = None) -> pd.DataFrame:
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


# --------------------------------------------------------------------------------------------------
# Precision


class _Variant(NamedTuple):
    precision: str
    network: Any
    autocast_dtype: torch.dtype | None


def _quantized_copy(network):
    with warnings.catch_warnings():
        # torch.ao.quantization warns that it moves to torchao; it is still the supported eager API in 2.13.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return _quantize_dynamic()(copy.deepcopy(network), {torch.nn.Linear}, dtype=torch.qint8)


def _variant(network, precision: str, device: torch.device, *, keep_original: bool) -> _Variant:
    """The model at `precision`: CPU bf16 runs under autocast (layer norms and softmax stay fp32),
    CUDA bf16/fp16 casts the weights, int8 quantizes the Linear layers dynamically."""
    if precision == "fp32":
        return _Variant("fp32", network, None)
    if precision == "int8":
        return _Variant("int8", _quantized_copy(network), None)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if device.type == "cpu":
        return _Variant(precision, network, dtype)
    cast = copy.deepcopy(network) if keep_original else network
    return _Variant(precision, cast.to(dtype), None)


# Real-looking headlines of varied length and tone; precision="auto" compares candidates on them.
CALIBRATION_HEADLINES = (
    "Apple beats earnings estimates as iPhone sales rise",
    "Tesla shares fall after deliveries miss expectations",
    "Microsoft to acquire gaming company in $69 billion deal",
    "Oil prices steady ahead of OPEC meeting",
    "Bank of America reports record quarterly profit on higher interest income",
    "Retailer warns of weaker holiday sales and cuts full-year guidance",
    "Fed holds rates unchanged, signals two cuts later this year",
    "Pharmaceutical company's drug fails late-stage trial, stock plunges 40%",
    "Amazon announces new logistics hub in Texas",
    "Chipmaker raises dividend by 10% and expands buyback program",
    "Regulators open investigation into bank's lending practices",
    "Airline cancels hundreds of flights as storm hits the East Coast",
    "Analysts upgrade Nvidia to buy on strong data center demand",
    "Automaker recalls 500,000 vehicles over faulty airbags",
    "Company names new chief financial officer",
    "Shares of the streaming service jump after subscriber growth tops forecasts",
    "Mining group swings to a loss as commodity prices slump",
    "Insurer completes merger with regional rival",
    "Startup files for IPO on the Nasdaq",
    "Consumer confidence drops to lowest level in two years",
    "Energy firm's quarterly revenue rises 12% on higher natural gas prices, beating analyst estimates",
    "Credit rating agency downgrades the retailer's debt to junk status amid mounting losses",
    "Semiconductor stocks rally as supply shortages ease",
    "Board approves stock split",
    "Lawsuit accuses the social media company of misleading investors about user growth",
    "Food producer maintains outlook despite rising input costs",
    "Bank shares slide after stress test results disappoint",
    "Software maker wins major government contract worth $2 billion",
    "Quarterly results in line with expectations; guidance reaffirmed",
    "Hedge fund discloses new stake in the industrial conglomerate",
    "Hotel chain sees strong rebound in travel bookings this summer",
    "Factory output contracts for a third straight month",
    "Telecom operator to cut 8,000 jobs in restructuring plan",
    "Gold hits record high as investors seek safety",
    "Biotech receives FDA approval for its cancer treatment",
    "Shipping company expects freight rates to normalize next year",
    "Crypto exchange halts withdrawals, customers fear insolvency",
    "Utility raises capital spending plan to modernize the grid",
    "Retail sales unexpectedly rose in March",
    "Luxury brand's sales slow in China as demand cools",
    "Chemical maker reports a fire at its Louisiana plant, production halted",
    "Payments company partners with major bank on digital wallet",
    "CEO sells shares worth $50 million",
    "Real estate investment trust cuts its dividend",
    "Stocks close mixed as investors await inflation data",
    "Defense contractor's backlog reaches an all-time high after new orders",
    "Brewer lifts prices to offset higher costs",
    "Electric vehicle maker delays new model launch to next year",
)


def _calibration_batches(tokenizer, max_length: int) -> list[_Batch]:
    texts = list(CALIBRATION_HEADLINES)
    return list(_pretokenized_batches(tokenizer, texts, batch_size=16, max_length=max_length))


def _calibration_scores(variant: _Variant, device: torch.device, batches: list[_Batch], columns: torch.Tensor) -> np.ndarray:
    """Scores (positive - negative) of the calibration headlines."""
    with torch.inference_mode():
        probabilities = torch.cat([
            _forward_probabilities(variant.network, variant.autocast_dtype, device, batch, columns) for batch in batches
        ]).cpu()
    return (probabilities[:, 0] - probabilities[:, 1]).numpy()


def _cpu_has_native_bf16() -> bool:
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
    candidates = ["int8"] if _quantize_dynamic() is not None else []
    return candidates + (["bf16"] if _cpu_has_native_bf16() else [])


def _auto_precision(network, tokenizer, labels: LabelIndices, device: torch.device, max_length: int, log) -> _Variant:
    """The first (fastest) of `auto_precision_candidates` whose scores stay within CALIBRATION_LIMIT
    of fp32 on the calibration headlines, checked for this very model; else fp32.

    The order is fixed from measurements, not timed at load time: timing a few batches on a shared
    machine picked fp32 over bf16 when other processes were busy."""
    batches = _calibration_batches(tokenizer, max_length)
    columns = torch.tensor(list(labels), dtype=torch.long, device=device)
    reference = _calibration_scores(_Variant("fp32", network, None), device, batches, columns)
    for precision in auto_precision_candidates(device):
        variant = _variant(network, precision, device, keep_original=True)
        deviation = float(np.abs(_calibration_scores(variant, device, batches, columns) - reference).max())
        accepted = deviation <= CALIBRATION_LIMIT
        log.info(
            f"FinBERT precision auto: {precision} max |score - fp32| {deviation:.4f} on {len(CALIBRATION_HEADLINES)} "
            f"calibration headlines, limit {CALIBRATION_LIMIT}: {'accepted' if accepted else 'rejected'}."
        )
        if accepted:
            return variant
    log.info(f"FinBERT precision auto: using fp32 on {device}.")
    return _Variant("fp32", network, None)


# --------------------------------------------------------------------------------------------------
# Entry point


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

    device: 'auto' | 'cpu' | 'cuda' | 'cuda:N'. precision: 'auto' | 'fp32' | 'bf16' | 'fp16' | 'int8';
    auto is bf16 on CUDA and, on CPU, the fastest of int8/bf16/fp32 whose scores stay within
    PRECISION_TOLERANCE of fp32 (checked on calibration headlines at load time, with a margin). batch_size None or
    0: per device (DEFAULT_BATCH_SIZE). attn_implementation: None = per device (DEFAULT_ATTENTION).
    tokenize_workers: DataLoader processes that tokenize batches; None = 0 on CPU, up to 12 on CUDA.
    """
    log = log or _logger
    precision = validate_precision_setting(precision)
    if not isinstance(max_length, int) or max_length < MIN_MAX_LENGTH:
        raise FinBERTSettingError(f"max_length={max_length!r}: use an integer of at least {MIN_MAX_LENGTH} tokens (64 covers nearly all headlines).")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 0):
        raise FinBERTSettingError(f"batch_size={batch_size!r}: use a positive integer, or 0 for the per-device default.")
    if tokenize_workers is not None and tokenize_workers < 0:
        raise FinBERTSettingError(f"tokenize_workers={tokenize_workers!r}: use 0 (tokenize in this process) or more.")
    torch_device = resolve_device(device, log)
    _check_precision_for_device(precision, torch_device)
    if torch_device.type == "cpu":
        _limit_cpu_threads()

    tokenizer, network = _load_pretrained(model, revision, attn_implementation or DEFAULT_ATTENTION[torch_device.type])
    if not getattr(tokenizer, "is_fast", False):
        log.warning(f"FinBERT model {model!r} has no fast (Rust) tokenizer; tokenization will be slow.")
    labels = resolve_label_indices(network.config.id2label, label_map)
    positions = getattr(network.config, "max_position_embeddings", None)
    if positions is not None and max_length > positions:
        raise FinBERTSettingError(f"max_length={max_length} exceeds the model's {positions} positions; use at most {positions}.")
    network.to(torch_device)

    if precision == "auto":
        variant = _auto_precision(network, tokenizer, labels, torch_device, max_length, log)
    else:
        variant = _variant(network, precision, torch_device, keep_original=False)
    workers = tokenize_workers
    if workers is None:
        workers = 0 if torch_device.type == "cpu" else max(1, min(12, (os.cpu_count() or 2) - 2))
    scorer = HeadlineScorer(
        model=model,
        # A hub snapshot records its commit; a local directory has none.
        revision=getattr(network.config, "_commit_hash", None) or revision or "local",
        device=torch_device,
        precision=variant.precision,
        batch_size=batch_size or DEFAULT_BATCH_SIZE[torch_device.type],
        max_length=max_length,
        labels=labels,
        tokenizer=tokenizer,
        network=variant.network,
        autocast_dtype=variant.autocast_dtype,
        tokenize_workers=workers,
    )
    log.info(f"FinBERT loaded: {scorer!r}, labels {labels._asdict()}.")
    return scorer
