"""`make demo`: the latest sample week through every asset, then what was written and where.

Runs the same `weekly_signal` job as the schedule, recorded in DAGSTER_HOME (default `.dagster_home`) so
that `make ui` shows the run afterwards.
"""

import os
import shutil
import socket
import sys
from pathlib import Path

import duckdb

from signals_assets.news.sample import SAMPLE_WEEK_KEYS, sample_articles
from signals_assets.partitions import Week

HUB_HOST = "huggingface.co"
DEMO_MODEL_DIR = "demo-finbert-untrained"
TABLES = [
    "ticker_map", "raw_articles", "filtered_headlines", "aggregated_headlines",
    "finbert_scores", "scaled_signal", "submission",
]


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def _build_untrained_demo_model(directory: Path) -> Path:
    """A FinBERT-shaped classifier with random weights and a WordPiece vocabulary learnt from the sample
    headlines: it lets the demo run every asset on an offline machine. Its scores mean nothing."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast
    import torch

    if (directory / "config.json").exists():
        return directory
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece.train_from_iterator(
        (item["title"] for item in sample_articles()),
        trainers.WordPieceTrainer(vocab_size=4000, special_tokens=specials),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )
    labels = {0: "positive", 1: "negative", 2: "neutral"}  # ProsusAI/finbert's order
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=256, max_position_embeddings=128, num_labels=3,
        id2label=labels, label2id={name: index for index, name in labels.items()}, initializer_range=0.2,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _choose_model(data_dir: Path) -> None:
    if os.environ.get("FINBERT_MODEL"):
        print(f"FinBERT: {os.environ['FINBERT_MODEL']} (FINBERT_MODEL)")
        return
    if _hub_reachable():
        print("FinBERT: ProsusAI/finbert from the Hugging Face hub (first run downloads about 440 MB)")
        return
    demo_model = _build_untrained_demo_model(data_dir / DEMO_MODEL_DIR)
    os.environ["FINBERT_MODEL"] = str(demo_model)
    print(
        "\nWARNING: the Hugging Face hub cannot be reached and FINBERT_MODEL is not set.\n"
        f"WARNING: this demo scores with an UNTRAINED FinBERT-shaped model ({demo_model}):\n"
        "WARNING: every step runs, but the sentiment and the signal are meaningless.\n"
        "WARNING: for real scores run FINBERT_MODEL=/path/to/finbert make demo (see README).\n"
    )


def _dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and Path("dagster.yaml").exists():
        shutil.copy("dagster.yaml", home / "dagster.yaml")
    return home


def main() -> int:
    from signals_assets.warehouse import data_dir

    week = Week.from_key(SAMPLE_WEEK_KEYS[-1])
    home = _dagster_home()
    _choose_model(data_dir())

    from dagster import DagsterInstance

    from signals_assets.definitions import build_definitions
    from signals_assets.warehouse import duckdb_path, submissions_dir

    print(f"Materializing sample week {week.key} (signal date {week.friday}) through every asset...")
    with DagsterInstance.get() as instance:
        # Built now, after FINBERT_MODEL is settled: resources read the environment when built.
        result = build_definitions().resolve_job_def("weekly_signal").execute_in_process(
            partition_key=week.key, instance=instance, raise_on_error=False
        )
    if not result.success:
        failures = [event.message for event in result.all_events if event.is_failure]
        print("The demo run failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1

    database = duckdb_path()
    print(f"\nWrote week {week.key} to DuckDB {Path(database).resolve()} (schema signals):")
    with duckdb.connect(database, read_only=True) as connection:
        for name in TABLES:
            (rows,) = connection.execute(
                f"SELECT count(*) FROM signals.{name} WHERE week_start = ?", [week.week_start.to_pydatetime()]
            ).fetchone()
            print(f"  signals.{name:<22} {rows:>6} rows")
        (cached,) = connection.execute("SELECT count(*) FROM signals.headline_scores").fetchone()
        print(f"  signals.{'headline_scores':<22} {cached:>6} rows (per-headline FinBERT probabilities, all weeks)")
    csv_path = submissions_dir() / f"signals_{week.friday.isoformat()}.csv"
    print(f"\nSubmission CSV: {csv_path.resolve()} (validated with numerai-tools; sample weeks are never uploaded)")
    print(f"Dagster run recorded in {home}: `make ui` shows it at http://127.0.0.1:3000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
