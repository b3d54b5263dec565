"""Shared fixtures: an isolated warehouse per test, the tiny FinBERT, loopback services."""

import numerapi
import pytest

from signals_assets.news.sample import sample_universe
from signals_assets_tests.numerai_server import FakeNumerai
from signals_assets_tests.tiny_finbert import build_tiny_finbert

SECRET_ENV = ("STOCKNEWS_API_KEY", "NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY", "NUMERAI_MODEL_NAME", "NUMERAI_UNIVERSE")


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Caches (API responses, universe) of one test never reach another test or the repo's data/."""
    monkeypatch.setenv("SIGNALS_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch):
    """Every path the project writes points into tmp_path; no key leaks in from the machine."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SIGNALS_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("SIGNALS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIGNALS_OUTPUT_DIR", str(tmp_path / "submissions"))
    return tmp_path


@pytest.fixture(scope="session")
def tiny_finbert_dir(tmp_path_factory):
    """A tiny BERT in ProsusAI/finbert's label order, saved like a hub checkout."""
    return build_tiny_finbert(
        tmp_path_factory.mktemp("tiny_finbert"), {0: "positive", 1: "negative", 2: "neutral"}, favour=None
    )


@pytest.fixture
def sample_universe_csv(tmp_path):
    path = tmp_path / "universe.csv"
    sample_universe().to_csv(path, index=False)
    return path


@pytest.fixture
def fake_numerai(monkeypatch):
    with FakeNumerai(models={"my_model": "model-id-1"}, universe_df=sample_universe()) as fake:
        monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", fake.graphql_url)
        yield fake
