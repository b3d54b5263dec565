"""The FinBERT score cache is keyed by a fingerprint of the model's files (or its hub commit): weights
saved over the old ones are scored again, unchanged ones are not (issue 10)."""

import os
import re
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from signals_assets.definitions import build_definitions
from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import warehouse_io_manager
from signals_assets.sentiment.errors import FinBERTLoadError
from signals_assets.sentiment.fingerprint import model_fingerprint
from signals_assets.sentiment.untrained_model import PROSUS_LABELS
from signals_assets_tests.tiny_finbert import build_tiny_finbert

DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]
WEEK = "2026-11-07"
UP_TO_SCORES = [
    "numerai_universe",
    "ticker_map",
    "raw_articles",
    "filtered_headlines",
    "aggregated_headlines",
    "finbert_scores",
]
COMMIT_MAIN, COMMIT_TAG = "1" * 40, "2" * 40


def fingerprint_of(directory) -> str:
    return model_fingerprint(str(directory)).value


def test_the_same_files_give_the_same_fingerprint_wherever_they_lie(tmp_path):
    first = build_tiny_finbert(tmp_path / "a", PROSUS_LABELS, favour="positive", seed=0)
    second = build_tiny_finbert(tmp_path / "b", PROSUS_LABELS, favour="positive", seed=0)
    value = fingerprint_of(first)
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", value)
    assert fingerprint_of(first) == value == fingerprint_of(second)
    described = model_fingerprint(str(first)).described
    assert "model.safetensors" in described and "config.json" in described and "tokenizer.json" in described


def test_weights_saved_over_the_old_ones_change_the_fingerprint(tmp_path):
    directory = build_tiny_finbert(tmp_path / "finbert", PROSUS_LABELS, favour="positive", seed=0)
    original = fingerprint_of(directory)
    build_tiny_finbert(directory, PROSUS_LABELS, favour="positive", seed=1)  # another seed, same shape
    other_seed = fingerprint_of(directory)
    build_tiny_finbert(directory, PROSUS_LABELS, favour="negative", seed=1)  # only a classifier bias differs
    other_favour = fingerprint_of(directory)
    assert len({original, other_seed, other_favour}) == 3
    build_tiny_finbert(directory, PROSUS_LABELS, favour="positive", seed=0)  # the original files again
    assert fingerprint_of(directory) == original


def test_only_the_files_that_define_the_scores_count(tmp_path):
    directory = build_tiny_finbert(tmp_path / "finbert", PROSUS_LABELS, favour="positive")
    original = fingerprint_of(directory)
    (directory / "README.md").write_text("model card")
    (directory / "trainer_state.json").write_text("{}")
    (directory / "checkpoint-10").mkdir()
    (directory / "checkpoint-10" / "model.safetensors").write_bytes(b"an older checkpoint")
    assert fingerprint_of(directory) == original
    for name in ("tokenizer_config.json", "config.json"):
        path = directory / name
        saved = path.read_text()
        path.write_text(saved + " ")
        assert fingerprint_of(directory) != original, name
        path.write_text(saved)
    (directory / "vocab.txt").write_text("[PAD]\n")  # a tokenizer file that was not there
    assert fingerprint_of(directory) != original


def test_a_file_rewritten_with_the_same_size_and_mtime_changes_the_fingerprint(tmp_path):
    directory = build_tiny_finbert(tmp_path / "finbert", PROSUS_LABELS, favour="positive", seed=0)
    weights = directory / "model.safetensors"
    original_stat = weights.stat()
    original = fingerprint_of(directory)
    assert fingerprint_of(directory) == original  # unchanged files, same answer
    content = bytearray(weights.read_bytes())
    content[-1] ^= 0xFF  # the last weight byte, same size
    weights.write_bytes(bytes(content))
    os.utime(weights, ns=(original_stat.st_atime_ns, original_stat.st_mtime_ns))
    assert weights.stat().st_size == original_stat.st_size and weights.stat().st_mtime_ns == original_stat.st_mtime_ns
    assert fingerprint_of(directory) != original


def test_a_missing_model_names_the_setting_and_the_fix(tmp_path):
    with pytest.raises(FinBERTLoadError, match="does not exist.*FINBERT_MODEL"):
        model_fingerprint(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FinBERTLoadError, match="no config.json.*FINBERT_MODEL.*hf download"):
        model_fingerprint(str(tmp_path / "empty"))


@pytest.fixture
def hub_cache(tmp_path):
    """A Hugging Face cache holding acme/finbert at two commits: main and tag v1."""
    repo = tmp_path / "hub" / "models--acme--finbert"
    for ref, commit in (("main", COMMIT_MAIN), ("v1", COMMIT_TAG)):
        (repo / "snapshots" / commit).mkdir(parents=True)
        (repo / "snapshots" / commit / "config.json").write_text("{}")
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return tmp_path / "hub"


def test_a_hub_id_offline_is_the_commit_of_its_local_snapshot(hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    default = model_fingerprint("acme/finbert", None, cache_dir=hub_cache)
    assert default.value == default.load_revision == COMMIT_MAIN and not default.local
    assert model_fingerprint("acme/finbert", "v1", cache_dir=hub_cache).value == COMMIT_TAG
    assert model_fingerprint("acme/finbert", COMMIT_TAG, cache_dir=hub_cache).value == COMMIT_TAG
    with pytest.raises(FinBERTLoadError, match="offline mode is on.*no snapshot.*FINBERT_MODEL"):
        model_fingerprint("acme/other", None, cache_dir=hub_cache)


def test_a_hub_id_online_is_the_hubs_commit_and_an_unreachable_hub_falls_back_to_the_cache(hub_cache, monkeypatch):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(
        HfApi, "model_info", lambda self, repo, revision=None, timeout=None: SimpleNamespace(sha="3" * 40)
    )
    assert model_fingerprint("acme/finbert", cache_dir=hub_cache).value == "3" * 40

    def unreachable(self, repo, revision=None, timeout=None):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(HfApi, "model_info", unreachable)
    cached = model_fingerprint("acme/finbert", cache_dir=hub_cache)
    assert cached.value == COMMIT_MAIN and "could not be reached" in cached.described

    def not_found(self, repo, revision=None, timeout=None):
        response = SimpleNamespace(status_code=404, headers={}, request=None)
        raise RepositoryNotFoundError("404 Client Error. Repository Not Found", response=response)

    monkeypatch.setattr(HfApi, "model_info", not_found)
    with pytest.raises(FinBERTLoadError, match="not on the Hugging Face hub.*FINBERT_MODEL"):
        model_fingerprint("acme/finbert", cache_dir=hub_cache)


def test_files_changed_while_the_model_loads_are_not_scored_under_the_old_fingerprint(tmp_path):
    directory = build_tiny_finbert(tmp_path / "finbert", PROSUS_LABELS, favour="positive", seed=0)
    finbert = FinBERT(model=str(directory), device="cpu", precision="fp32")
    before = finbert.fingerprint()
    assert finbert.load_scorer(fingerprint=before).score(["stocks rise"])["score"].iloc[0] > 0.9
    build_tiny_finbert(directory, PROSUS_LABELS, favour="negative", seed=0)
    with pytest.raises(FinBERTLoadError, match="changed while it loaded"):
        finbert.load_scorer(fingerprint=before)


def scores_of_the_week(warehouse) -> pd.DataFrame:
    with duckdb.connect(str(warehouse.database), read_only=True) as connection:
        scores = connection.execute("SELECT * FROM signals.finbert_scores").fetchdf()
    week = scores[scores["week_start"] == pd.Timestamp(WEEK)]
    return week.sort_values("numerai_ticker").reset_index(drop=True)


def test_new_weights_in_the_same_folder_are_rescored_and_unchanged_ones_are_not(warehouse, tmp_path):
    model_dir = build_tiny_finbert(tmp_path / "finbert", PROSUS_LABELS, favour=None, seed=0)
    resources = {  # as test_pipeline's resources_for builds them
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "news": SampleNews(),
        "finbert": FinBERT(model=str(model_dir)),
        "numerai": NumeraiSignals(universe="sample"),
        "numerai_data": NumeraiData(),
        "signal_settings": SignalSettings(),
    }
    with DagsterInstance.ephemeral() as instance:

        def finbert_scores_of(selection) -> dict:
            result = materialize(GRAPH, partition_key=WEEK, resources=resources, instance=instance, selection=selection)
            assert result.success
            (event,) = [
                e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "finbert_scores"
            ]
            return {key: value.value for key, value in event.materialization.metadata.items()}

        first = finbert_scores_of(UP_TO_SCORES)
        headlines = first["headlines"]
        assert first["headlines_scored"] == headlines > 0
        before = scores_of_the_week(warehouse)

        second = finbert_scores_of(["finbert_scores"])  # the same files: every score reused
        assert second["headlines_scored"] == 0 and second["headlines_reused"] == headlines
        assert second["revision"] == first["revision"]
        pd.testing.assert_frame_equal(scores_of_the_week(warehouse), before)

        build_tiny_finbert(model_dir, PROSUS_LABELS, favour=None, seed=1)  # a new checkpoint saved over the old
        third = finbert_scores_of(["finbert_scores"])
        assert third["headlines_scored"] == headlines and third["headlines_reused"] == 0
        assert third["revision"] != first["revision"]
    # The cache key is the fingerprint, shown in the metadata with what it was computed from.
    assert first["revision"].startswith("sha256:") and str(model_dir) in first["fingerprint_of"]
    after = scores_of_the_week(warehouse)
    model_rows = after["variant"] != "provider_labels"
    model_rows &= after["variant"] != "provider_labels_stories"
    assert (after.loc[model_rows, "revision"] == third["revision"]).all()
    assert (before.loc[model_rows, "revision"] == first["revision"]).all()
    assert not after["sentiment"].equals(before["sentiment"])
    assert (after["sentiment"] - before["sentiment"]).abs().max() > 1e-4
    with duckdb.connect(str(warehouse.database), read_only=True) as connection:
        per_revision = dict(
            connection.execute("SELECT revision, count(*) FROM signals.headline_scores GROUP BY revision").fetchall()
        )
    assert per_revision == {first["revision"]: headlines, third["revision"]: headlines}
