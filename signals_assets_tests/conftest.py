"""Shared fixtures: an isolated warehouse per test, the tiny FinBERT, loopback services."""

import numerapi
import pytest

from signals_assets.defs.warehouse import Warehouse
from signals_assets.news.sample import sample_universe
from signals_assets_tests.numerai_server import FakeNumerai
from signals_assets_tests.tiny_finbert import build_tiny_finbert

SECRET_ENV = ("STOCKNEWS_API_KEY", "NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY", "NUMERAI_MODEL_NAME", "NUMERAI_UNIVERSE")


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    """Every path the project writes, inside the test's tmp_path."""
    return Warehouse(
        database=str(tmp_path / "warehouse.duckdb"),
        data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "submissions"),
    )


@pytest.fixture
def no_secrets_in_env(monkeypatch):
    """No key leaks in from the machine into a process a test starts."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


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


# The longest test files first: `make test` spreads files over two pytest-xdist workers (--dist loadfile), and the
# Postgres backfill (minutes of mostly waiting on a queue and a pool) and the browser tests then overlap the rest.
LONGEST_FIRST = ("test_postgres_backfill.py", "test_ui.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within each rank stays
