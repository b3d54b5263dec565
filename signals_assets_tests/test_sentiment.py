"""FinBERT scorer on tiny saved models with a real WordPiece tokenizer (no hub, no GPU needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer

from signals_assets.sentiment import sentiment
from signals_assets.sentiment.resources import FinBERT
from signals_assets.sentiment.sentiment import (
    CALIBRATION_HEADLINES,
    PRECISION_TOLERANCE,
    SCORE_COLUMNS,
    FinBERTLoadError,
    FinBERTSettingError,
    LabelIndices,
    load_scorer,
    resolve_label_indices,
)
from signals_assets_tests.tiny_finbert import build_tiny_finbert

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
    words = " ".join(CALIBRATION_HEADLINES).split()
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
    with pytest.raises(FinBERTSettingError, match="no CUDA GPU.*'auto' or 'cpu'"):
        load_scorer(str(models["positive"]), device="cuda")


def test_precision_device_mismatches_are_clear_errors(models):
    with pytest.raises(FinBERTSettingError, match="fp16.*not supported on the CPU"):
        load_scorer(str(models["positive"]), device="cpu", precision="fp16")
    with pytest.raises(FinBERTSettingError, match="int8.*CPU only"):
        sentiment._check_precision_for_device("int8", torch.device("cuda", 0))
    with pytest.raises(FinBERTSettingError, match="not one of"):
        load_scorer(str(models["positive"]), precision="fp64")


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
    monkeypatch.setattr(unbiased_scorer, "_network", None)  # any model call would fail
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


def test_dataloader_worker_tokenization_gives_the_same_scores(models, unbiased_scorer):
    headlines = varied_headlines(30)
    with_workers = load_scorer(str(models["unbiased"]), device="cpu", precision="fp32", batch_size=4, tokenize_workers=1)
    np.testing.assert_allclose(
        with_workers.score(headlines).to_numpy(), unbiased_scorer.score(headlines).to_numpy(), atol=1e-5
    )


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
    monkeypatch.setattr(sentiment, "auto_precision_candidates", lambda device: ["int8", "bf16"])
    monkeypatch.setattr(sentiment, "CALIBRATION_LIMIT", 1.0)
    assert load_scorer(str(models["unbiased"]), device="cpu").precision == "int8"
    monkeypatch.setattr(sentiment, "CALIBRATION_LIMIT", -1.0)  # nothing is close enough: fp32
    assert load_scorer(str(models["unbiased"]), device="cpu").precision == "fp32"


def test_progress_ends_with_done_equal_to_total(unbiased_scorer, monkeypatch):
    monkeypatch.setattr(unbiased_scorer, "progress_interval_s", 0.0)  # report after every batch
    calls = []
    unbiased_scorer.score(varied_headlines(10), progress=lambda *args: calls.append(args))
    done = [call[0] for call in calls]
    assert done == sorted(done) and len(calls) >= 2
    assert calls[-1][:2] == (10, 10) and calls[-1][2] >= 0


def test_resource_validates_settings_and_loads(models):
    scorer = FinBERT(model=str(models["generic"]), device="cpu", precision="fp32", label_map=SEED_LABEL_MAP).load_scorer()
    assert scorer.batch_size == sentiment.DEFAULT_BATCH_SIZE["cpu"]
    assert (scorer.score(HEADLINES)["score"] > 0.99).all()
    for settings, message in [
        ({"device": "gpu"}, "not a device"),
        ({"precision": "fp64"}, "not one of"),
        ({"label_map": "0:negative"}, "exactly once"),
    ]:
        with pytest.raises(Exception, match=message):
            FinBERT(**settings)
