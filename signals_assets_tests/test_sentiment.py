"""FinBERT scorer on tiny saved models with a real WordPiece tokenizer (no hub, no GPU needed), every
part of the CUDA path but the device itself included: worker tokenization with pinned memory, the batch
plan, results gathered in input order, weights cast to half precision, the per-device defaults."""

from __future__ import annotations

import ast
import filecmp
import os
import subprocess
import sys
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer

from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.sentiment import batching, calibration, devices, options
from signals_assets.sentiment.batching import Batch, batch_plan, pretokenized_batches, scoring_batches, worker_batches
from signals_assets.sentiment.calibration import calibration_headlines
from signals_assets.sentiment.errors import FinBERTLoadError, FinBERTSettingError
from signals_assets.sentiment.headline_scores import SCORE_COLUMNS
from signals_assets.sentiment.labels import LabelIndices, resolve_label_indices
from signals_assets.sentiment.loading import load_pretrained
from signals_assets.sentiment.options import PRECISION_TOLERANCE
from signals_assets.sentiment.precisions import Variant, at_precision, forward_probabilities
from signals_assets.sentiment.scorer import load_scorer
from signals_assets.sentiment.untrained_model import build_untrained_model, learn_vocabulary
from signals_assets_tests.tiny_finbert import bert_uncased_vocab_file, build_tiny_finbert, tiny_vocabulary

SENTIMENT_PACKAGE = Path(calibration.__file__).parent

PROSUS_LABELS = {0: "positive", 1: "negative", 2: "neutral"}
GENERIC_LABELS = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
SEED_LABEL_MAP = "0:negative,1:neutral,2:positive"  # ipuneetrathore/bert-base-cased-finetuned-finBERT
HEADLINES = [
    "Apple shares jump after strong quarterly earnings",
    "Oil prices fall as demand weakens",
    "Bank cuts dividend and warns of losses",
    "Tesla stock rises on record deliveries",
]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("tiny_finbert")
    return {
        "positive": build_tiny_finbert(root / "positive", PROSUS_LABELS, favour="positive"),
        "negative": build_tiny_finbert(root / "negative", PROSUS_LABELS, favour="negative"),
        "generic": build_tiny_finbert(root / "generic", GENERIC_LABELS, favour="LABEL_2"),
        "unbiased": build_tiny_finbert(root / "unbiased", PROSUS_LABELS, favour=None),
    }


@pytest.fixture(scope="module")
def unbiased_scorer(models):
    return load_scorer(str(models["unbiased"]), device="cpu", precision="fp32", batch_size=4)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def varied_headlines(count: int) -> list[str]:
    """Distinct headlines of 3 to 20 words from the calibration set's vocabulary."""
    words = " ".join(calibration_headlines()).split()
    return [" ".join(words[index : index + 3 + index % 18]) for index in range(count)]


def test_fixture_tokenizer_splits_real_words_not_unk(models):
    tokenizer = AutoTokenizer.from_pretrained(models["positive"])
    assert len(tokenizer) > 500
    tokens = tokenizer.tokenize("Apple shares jump after strong quarterly earnings")
    assert tokens == ["apple", "shares", "jump", "after", "strong", "quarterly", "earnings"]
    ids = tokenizer("Profits rose at the bank, the company said")["input_ids"]
    assert tokenizer.unk_token_id not in ids


def test_prosus_label_order_with_positive_bias_scores_near_plus_one(models):
    scorer = load_scorer(str(models["positive"]), device="cpu", precision="fp32")
    assert scorer.labels == LabelIndices(positive=0, negative=1, neutral=2)
    scores = scorer.score(HEADLINES)
    assert list(scores.columns) == SCORE_COLUMNS
    assert (scores["score"] > 0.99).all()
    assert np.allclose(scores[["p_positive", "p_negative", "p_neutral"]].sum(axis=1), 1.0, atol=1e-5)
    assert scorer.revision == "local" and scorer.device == "cpu" and scorer.precision == "fp32"


def test_generic_labels_with_label_map_score_near_plus_one(models):
    scorer = load_scorer(str(models["generic"]), device="cpu", precision="fp32", label_map=SEED_LABEL_MAP)
    assert scorer.labels == LabelIndices(positive=2, negative=0, neutral=1)
    assert (scorer.score(HEADLINES)["score"] > 0.99).all()


def test_negative_bias_scores_near_minus_one(models):
    scorer = load_scorer(str(models["negative"]), device="cpu", precision="fp32")
    assert (scorer.score(HEADLINES)["score"] < -0.99).all()


def test_generic_labels_without_label_map_refuse_to_guess(models):
    with pytest.raises(FinBERTSettingError, match="label_map") as raised:
        load_scorer(str(models["generic"]), device="cpu", precision="fp32")
    assert "FINBERT_LABEL_MAP" in str(raised.value) and "LABEL_0" in str(raised.value)


def test_resolve_label_indices_by_name_any_case_and_string_keys():
    # yiyanghkust/finbert-tone: 0 Neutral, 1 Positive, 2 Negative
    assert resolve_label_indices({"0": "Neutral", "1": "Positive", "2": "Negative"}, None) == LabelIndices(1, 2, 0)
    assert resolve_label_indices(GENERIC_LABELS, {0: "negative", 1: "neutral", 2: "positive"}) == LabelIndices(2, 0, 1)


@pytest.mark.parametrize(
    "label_map, message",
    [
        ("0:negative,0:neutral,2:positive", "twice"),
        ("0:negative,1:bullish,2:positive", "unknown label"),
        ("0:negative,1:neutral", "exactly once"),
        ("0-negative,1:neutral,2:positive", "index:label"),
        ("0:negative,1:neutral,5:positive", "only logits"),
    ],
)
def test_invalid_label_maps_raise(label_map, message):
    with pytest.raises(FinBERTSettingError, match=message):
        resolve_label_indices(GENERIC_LABELS, label_map)


def test_label_map_contradicting_named_labels_raises():
    with pytest.raises(FinBERTSettingError, match="id2label names it"):
        resolve_label_indices(PROSUS_LABELS, SEED_LABEL_MAP)


def test_device_auto_falls_back_to_cpu_without_gpu(models, no_gpu):
    scorer = load_scorer(str(models["positive"]), device="auto", precision="fp32")
    assert scorer.device == "cpu"


def test_device_cuda_without_gpu_is_a_clear_error(models, no_gpu):
    with pytest.raises(FinBERTSettingError, match="no CUDA GPU.*FINBERT_DEVICE.*'auto' or 'cpu'"):
        load_scorer(str(models["positive"]), device="cuda")
    with pytest.raises(FinBERTSettingError, match="no CUDA GPU"):
        load_scorer(str(models["positive"]), device="cuda:1")


def test_precision_device_mismatches_are_clear_errors(models):
    with pytest.raises(FinBERTSettingError, match="fp16.*not supported on the CPU"):
        load_scorer(str(models["positive"]), device="cpu", precision="fp16")
    with pytest.raises(FinBERTSettingError, match="int8.*CPU only.*FINBERT_PRECISION"):
        devices.check_precision_for_device("int8", torch.device("cuda", 0))


def test_unknown_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FinBERTLoadError, match="could not be downloaded.*FINBERT_MODEL=/path/to/finbert"):
        load_scorer("signals-assets-tests/no-such-finbert", device="cpu")


def test_missing_or_empty_local_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FinBERTLoadError, match="does not exist.*FINBERT_MODEL"):
        load_scorer(str(tmp_path / "missing"), device="cpu")
    with pytest.raises(FinBERTLoadError, match="no config.json.*save_pretrained"):
        load_scorer(str(tmp_path), device="cpu")


def test_long_headline_is_truncated_to_max_length(models):
    scorer = load_scorer(str(models["unbiased"]), device="cpu", precision="fp32", max_length=16)
    words = ("the company said profits rose " * 60).split()
    long_and_truncated = scorer.score([" ".join(words), " ".join(words[:14])])  # 14 pieces + [CLS] + [SEP]
    assert np.isfinite(long_and_truncated.to_numpy()).all()
    assert long_and_truncated["score"][0] == pytest.approx(long_and_truncated["score"][1], abs=1e-6)
    with pytest.raises(FinBERTSettingError, match="exceeds the model's 128 positions"):
        load_scorer(str(models["unbiased"]), device="cpu", max_length=256)


def test_empty_input_gives_empty_frame_without_running_the_model(unbiased_scorer, monkeypatch):
    monkeypatch.setattr(unbiased_scorer, "_variant", None)  # any model call would fail
    calls = []
    scores = unbiased_scorer.score([], progress=lambda *args: calls.append(args))
    assert scores.empty and list(scores.columns) == SCORE_COLUMNS
    assert calls == []


def test_output_follows_input_order(unbiased_scorer):
    headlines = varied_headlines(40)
    scores = unbiased_scorer.score(headlines)["score"].to_numpy()
    assert scores.std() > 1e-3  # the scores differ, so a misalignment would show
    permutation = np.random.default_rng(0).permutation(len(headlines))
    permuted = unbiased_scorer.score([headlines[index] for index in permutation])["score"].to_numpy()
    np.testing.assert_allclose(permuted, scores[permutation], atol=1e-5)


def test_series_keeps_its_index_and_non_strings_are_refused(unbiased_scorer):
    series = pd.Series(HEADLINES, index=[10, 20, 30, 40])
    assert list(unbiased_scorer.score(series).index) == [10, 20, 30, 40]
    with pytest.raises(TypeError, match="position 1.*drop missing headlines"):
        unbiased_scorer.score(["fine", None])


def test_precisions_stay_within_tolerance_of_fp32(models):
    headlines = varied_headlines(60)
    scores = {
        precision: load_scorer(str(models["unbiased"]), device="cpu", precision=precision)
        for precision in ("fp32", "bf16", "int8", "auto")
    }
    assert scores["auto"].precision in ("fp32", "bf16", "int8")
    reference = scores.pop("fp32").score(headlines)["score"]
    for precision, scorer in scores.items():
        deviation = (scorer.score(headlines)["score"] - reference).abs().max()
        assert deviation <= PRECISION_TOLERANCE, f"{precision} ({scorer.precision}) deviates {deviation:.4f} from fp32"


def test_auto_precision_takes_the_first_candidate_within_the_limit(models, monkeypatch):
    monkeypatch.setattr(calibration, "auto_precision_candidates", lambda device: ["int8", "bf16"])
    monkeypatch.setattr(calibration, "CALIBRATION_LIMIT", 1.0)
    assert load_scorer(str(models["unbiased"]), device="cpu").precision == "int8"
    monkeypatch.setattr(calibration, "CALIBRATION_LIMIT", -1.0)  # nothing is close enough: fp32
    assert load_scorer(str(models["unbiased"]), device="cpu").precision == "fp32"


def test_progress_ends_with_done_equal_to_total(unbiased_scorer, monkeypatch):
    monkeypatch.setattr(unbiased_scorer, "progress_interval_s", 0.0)  # report after every batch
    calls = []
    unbiased_scorer.score(varied_headlines(10), progress=lambda *args: calls.append(args))
    done = [call[0] for call in calls]
    assert done == sorted(done) and len(calls) >= 2
    assert calls[-1][:2] == (10, 10) and calls[-1][2] >= 0


# ----- the CUDA path on the CPU: batch plan, worker tokenization, pinning, gathering, half weights -----


def test_batch_plan_takes_every_position_once_longest_first():
    lengths = np.random.default_rng(0).integers(3, 40, size=103)
    plan = batch_plan(lengths, batch_size=16)
    assert [len(positions) for positions in plan] == [16] * 6 + [7]
    order = np.concatenate(plan)
    assert sorted(order.tolist()) == list(range(103))
    assert (np.diff(lengths[order]) <= 0).all()  # longest first, so each batch holds similar lengths
    assert batch_plan(np.array([], dtype=np.int64), 16) == []


def test_worker_batches_match_pretokenized_batches(models):
    """DataLoader workers (two processes) tokenize and pad each planned batch as the main process would."""
    tokenizer = AutoTokenizer.from_pretrained(models["unbiased"])
    headlines = varied_headlines(50)
    loader = worker_batches(tokenizer, headlines, batch_size=8, max_length=16, workers=2, pin_memory=True)
    assert isinstance(loader, torch.utils.data.DataLoader)
    assert loader.num_workers == 2 and loader.pin_memory is True  # torch skips pinning (with a warning) without a GPU
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
        from_workers = list(loader)
    from_main = list(pretokenized_batches(tokenizer, headlines, batch_size=8, max_length=16))

    def rows(batches: list[Batch]) -> dict[int, list[int]]:
        found = {}
        for batch in batches:
            assert isinstance(batch, Batch) and batch.input_ids.shape == batch.attention_mask.shape
            assert batch.attention_mask[:, -1].any()  # padded to its own longest row, no further
            for position, ids, mask in zip(
                batch.positions.tolist(), batch.input_ids, batch.attention_mask, strict=True
            ):
                found[position] = ids[mask.bool()].tolist()
        return found

    assert len(from_workers) == len(batching.batch_plan(np.ones(50), 8)) == 7
    assert sorted(rows(from_workers)) == list(range(50))
    assert rows(from_workers) == rows(from_main)
    assert max(len(ids) for ids in rows(from_workers).values()) == 16  # truncated at max_length


def test_scoring_batches_pin_worker_batches_for_cuda_only(models):
    tokenizer = AutoTokenizer.from_pretrained(models["unbiased"])
    headlines = varied_headlines(20)
    for_cuda = scoring_batches(tokenizer, headlines, 4, 16, workers=2, device=torch.device("cuda", 0))
    assert isinstance(for_cuda, torch.utils.data.DataLoader) and for_cuda.pin_memory and for_cuda.num_workers == 2
    for_cpu = scoring_batches(tokenizer, headlines, 4, 16, workers=2, device=torch.device("cpu"))
    assert isinstance(for_cpu, torch.utils.data.DataLoader) and not for_cpu.pin_memory
    # No workers, or too few headlines to pay for the forks: tokenized in this process.
    assert not isinstance(
        scoring_batches(tokenizer, headlines, 4, 16, 0, torch.device("cuda", 0)), torch.utils.data.DataLoader
    )
    assert not isinstance(
        scoring_batches(tokenizer, headlines, 10, 16, 2, torch.device("cuda", 0)), torch.utils.data.DataLoader
    )


def test_pinning_keeps_a_batch_whole(monkeypatch):
    """The DataLoader's pin-memory thread rebuilds each batch with pinned tensors: a Batch stays a Batch."""
    pinned = []

    def pin(tensor, *args):
        pinned.append(tensor)
        return tensor.clone()

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    batch = Batch(torch.arange(3), torch.ones(3, 5, dtype=torch.long), torch.ones(3, 5, dtype=torch.long))
    result = torch.utils.data._utils.pin_memory.pin_memory(batch)
    assert isinstance(result, Batch) and len(pinned) == 3
    assert all(torch.equal(got, expected) for got, expected in zip(result, batch, strict=True))


def test_worker_tokenization_gathers_results_in_input_order(models, unbiased_scorer):
    headlines = varied_headlines(40)
    with_workers = load_scorer(
        str(models["unbiased"]), device="cpu", precision="fp32", batch_size=4, tokenize_workers=2
    )
    assert with_workers.tokenize_workers == 2
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
        scores = with_workers.score(headlines).to_numpy()
        permutation = np.random.default_rng(1).permutation(len(headlines))
        permuted = with_workers.score([headlines[index] for index in permutation]).to_numpy()
    np.testing.assert_allclose(scores, unbiased_scorer.score(headlines).to_numpy(), atol=1e-5)
    np.testing.assert_allclose(permuted, scores[permutation], atol=1e-5)


def test_cuda_half_precision_casts_a_copy_of_the_weights(models):
    """On CUDA, bf16/fp16 cast the weights (no autocast); run here on the CPU, the cast model stays close
    to fp32 and calibration's original stays fp32."""
    tokenizer, network = load_pretrained(str(models["unbiased"]), None, "eager")
    variant = at_precision(network, "bf16", torch.device("cuda", 0), keep_original=True)
    assert variant.autocast_dtype is None and variant.precision == "bf16"
    assert {p.dtype for p in variant.network.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in network.parameters()} == {torch.float32}
    cpu, columns = torch.device("cpu"), torch.tensor([0, 1, 2])
    batch = next(pretokenized_batches(tokenizer, varied_headlines(30), 30, 64))
    with torch.inference_mode():
        half = forward_probabilities(variant, cpu, batch, columns)
        full = forward_probabilities(Variant("fp32", network, None), cpu, batch, columns)
    assert half.dtype == torch.float32
    assert (half[:, 0] - half[:, 1] - full[:, 0] + full[:, 1]).abs().max() <= PRECISION_TOLERANCE


def test_cuda_defaults(monkeypatch):
    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    assert devices.default_tokenize_workers(cpu) == 0
    for cpus, workers in [(16, 12), (64, 12), (8, 6), (2, 1), (1, 1)]:
        monkeypatch.setattr(devices, "usable_cpus", lambda cpus=cpus: cpus)
        assert devices.default_tokenize_workers(cuda) == workers
    assert options.DEFAULT_BATCH_SIZE["cuda"] == 2048 and devices.DEFAULT_ATTENTION["cuda"] == "eager"
    for supported, precision in [(True, "bf16"), (False, "fp16")]:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda supported=supported: supported)
        assert calibration.auto_precision_candidates(cuda) == [precision]


# ----- settings: validated once, by the resource -----


def test_calibration_headlines_come_from_the_data_file():
    headlines = calibration_headlines()
    assert (
        len(headlines) == 48
        and len(set(headlines)) == 48
        and all(headline.strip() == headline for headline in headlines)
    )
    assert headlines[0] == "Apple beats earnings estimates as iPhone sales rise"


def test_resource_validates_settings_and_loads(models):
    scorer = FinBERT(
        model=str(models["generic"]), device="cpu", precision="fp32", label_map=SEED_LABEL_MAP
    ).load_scorer()
    assert scorer.batch_size == options.DEFAULT_BATCH_SIZE["cpu"]
    assert (scorer.score(HEADLINES)["score"] > 0.99).all()
    assert FinBERT(device="cuda:1", precision="int8", batch_size=0, max_length=512).device == "cuda:1"
    for settings, message in [
        ({"device": "gpu"}, "(?s)device.*should match pattern"),
        ({"device": "cuda:x"}, "(?s)device.*should match pattern"),
        ({"precision": "fp64"}, "(?s)precision.*should match pattern"),
        ({"batch_size": -1}, "batch_size"),
        ({"max_length": 4}, "max_length"),
        ({"max_length": 1024}, "max_length"),
        ({"label_map": "0:negative"}, "exactly once"),
    ]:
        with pytest.raises(Exception, match=message):  # pydantic's ValidationError
            FinBERT(**settings)


@dg.asset
def _finbert_settings(finbert: FinBERT) -> dict:
    return {"device": finbert.device, "precision": finbert.precision}


def test_an_env_var_setting_is_validated_when_the_run_resolves_it(monkeypatch):
    finbert = FinBERT(device=dg.EnvVar("FINBERT_DEVICE"), precision=dg.EnvVar("FINBERT_PRECISION"))
    monkeypatch.setenv("FINBERT_DEVICE", "cpu")
    monkeypatch.setenv("FINBERT_PRECISION", "bf16")
    result = dg.materialize([_finbert_settings], resources={"finbert": finbert})
    assert result.output_for_node("_finbert_settings") == {"device": "cpu", "precision": "bf16"}
    monkeypatch.setenv("FINBERT_DEVICE", "gpu")
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        dg.materialize([_finbert_settings], resources={"finbert": finbert})
    assert "should match pattern" in str(raised.value.__cause__) and "'gpu'" in str(raised.value.__cause__)


def test_settings_default_to_their_environment_variables():
    """A set variable becomes the field's default (an EnvVar), so a run overriding other fields keeps it."""
    names = {
        "model": "FINBERT_MODEL",
        "revision": "FINBERT_REVISION",
        "device": "FINBERT_DEVICE",
        "precision": "FINBERT_PRECISION",
        "label_map": "FINBERT_LABEL_MAP",
    }
    code = (
        "from signals_assets.defs.sentiment.resources import FinBERT\n"
        "print({name: repr(field.default) for name, field in FinBERT.model_fields.items()})"
    )
    env = {**os.environ, **dict.fromkeys(names.values(), "x")}
    printed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    defaults = eval(printed.strip().splitlines()[-1])  # noqa: S307 (our own repr output)
    for field, variable in names.items():
        assert defaults[field] == repr(dg.EnvVar(variable)), field
    if not any(os.environ.get(variable, "").strip() for variable in names.values()):
        fields = FinBERT.model_fields
        assert (fields["model"].default, fields["device"].default, fields["precision"].default) == (
            "ProsusAI/finbert",
            "auto",
            "auto",
        )
        assert fields["revision"].default is None and fields["label_map"].default is None


def test_the_pure_core_imports_no_dagster():
    for path in SENTIMENT_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(
                name.split(".")[0] == "dagster" or name.startswith("signals_assets.defs") for name in names
            ), path


# ----- the shared builder of untrained models -----


def test_untrained_model_builder_is_deterministic_and_tokenizes_real_words(tmp_path):
    texts = ["Apple shares jump after strong earnings", "Oil prices fall; Apple slides 3%", "Bank cuts dividend"]
    assert learn_vocabulary(texts, 4000) == learn_vocabulary(list(texts), 4000)
    shape = {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 32, "positions": 32}
    first = build_untrained_model(tmp_path / "a", train_texts=iter(texts), vocab_size=4000, **shape)
    again = build_untrained_model(tmp_path / "b", train_texts=texts, vocab_size=4000, **shape)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert filecmp.cmp(first / name, again / name, shallow=False), name
    tokenizer = AutoTokenizer.from_pretrained(first)
    assert tokenizer.convert_ids_to_tokens(tokenizer("Apple slides; banks cut!")["input_ids"]) == [
        "[CLS]",
        "apple",
        "slides",
        ";",
        "bank",
        "##s",
        "c",
        "##u",
        "##t",
        "[UNK]",
        "[SEP]",
    ]  # whole words it learnt, the characters of words it did not, [UNK] for a character it never saw
    with pytest.raises(ValueError, match="exactly one"):
        build_untrained_model(tmp_path / "c", **shape)


def test_untrained_model_builder_takes_a_vocab_file_like_the_dict(tmp_path):
    vocabulary = tiny_vocabulary()
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(sorted(vocabulary, key=vocabulary.get)) + "\n", encoding="utf-8")
    shape = {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 32, "positions": 32}
    from_dict = AutoTokenizer.from_pretrained(build_untrained_model(tmp_path / "dict", vocabulary=vocabulary, **shape))
    from_file = AutoTokenizer.from_pretrained(build_untrained_model(tmp_path / "file", vocabulary=vocab_file, **shape))
    assert from_dict(HEADLINES)["input_ids"] == from_file(HEADLINES)["input_ids"]
    real = AutoTokenizer.from_pretrained(bert_uncased_vocab_file().parent)
    from_real_file = bert_uncased_vocab_file()
    built = AutoTokenizer.from_pretrained(build_untrained_model(tmp_path / "real", vocabulary=from_real_file, **shape))
    assert len(built) == len(real) == 30_522
    assert built(HEADLINES + varied_headlines(20))["input_ids"] == real(HEADLINES + varied_headlines(20))["input_ids"]
