"""The asset graph through Dagster, into a temporary DuckDB file, with real clients on loopback."""

import email.utils
from datetime import timedelta

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, load_asset_checks_from_modules, load_assets_from_modules, materialize

from signals_assets.definitions import ASSET_MODULES, build_resources, defs
from signals_assets.news.resources import StockNewsAPI
from signals_assets.news.sample import sample_articles, sample_tickers
from signals_assets.partitions import Week, latest_complete_week
from signals_assets.sentiment.resources import FinBERT
from signals_assets.submission.resources import NumeraiSignals
from signals_assets.submission.submission import load_universe, validate_submission
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI, Fault

GRAPH = [*load_assets_from_modules(ASSET_MODULES), *load_asset_checks_from_modules(ASSET_MODULES)]
INGESTION = ["ticker_map", "raw_articles", "filtered_headlines"]
WEEK_A, WEEK_B = "2026-10-31", "2026-11-07"


def run(instance, key, resources, selection=None):
    result = materialize(
        GRAPH, partition_key=key, resources=resources, instance=instance, selection=selection, raise_on_error=False
    )
    return result


def table(name: str, db_path) -> pd.DataFrame:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.execute(f"SELECT * FROM signals.{name}").fetchdf()


def week_rows(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame[frame["week_start"] == pd.Timestamp(key)].reset_index(drop=True)


def everything_dagster_recorded(instance) -> str:
    """Every log line and metadata value of every run, as text."""
    return "\n".join(repr(entry) for run_record in instance.get_runs() for entry in instance.all_logs(run_record.run_id))


def everything_in_the_warehouse(db_path) -> str:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        tables = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='signals'").fetchall()
        return "\n".join(connection.execute(f"SELECT * FROM signals.{name}").fetchdf().to_csv() for (name,) in tables)


def metadata_of(result, asset_name: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset_name]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def shift_items(items, weeks: int) -> list[dict]:
    """Sample articles moved forward by whole weeks (same offsets, so same UTC instants + n weeks)."""
    shifted = []
    for item in items:
        published = email.utils.parsedate_to_datetime(item["date"]) + timedelta(weeks=weeks)
        shifted.append({**item, "date": email.utils.format_datetime(published)})
    return shifted


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def api_resources(warehouse_env, sample_universe_csv, tiny_finbert_dir):
    """Resources of definitions.py, pointed at loopback services and the test's files."""
    def make(news_base_url: str, fetch_mode: str = "all_tickers", **numerai_settings):
        return {
            **build_resources(),
            "news": StockNewsAPI(api_key=FAKE_TOKEN, base_url=news_base_url, fetch_mode=fetch_mode, backoff_base_s=0.01),
            "finbert": FinBERT(model=str(tiny_finbert_dir)),
            "numerai": NumeraiSignals(universe_path=str(sample_universe_csv), **numerai_settings),
        }
    return make


def test_definitions_load_with_seven_weekly_assets_a_job_and_a_stopped_schedule():
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == {
        "ticker_map", "raw_articles", "filtered_headlines", "aggregated_headlines",
        "finbert_scores", "scaled_signal", "submission",
    }
    schedule = defs.resolve_schedule_def("weekly_signal_schedule")
    assert schedule.cron_schedule == "0 19 * * 6"
    assert schedule.default_status.value == "STOPPED"


def test_two_weeks_into_duckdb_and_rerunning_one_leaves_the_other_untouched(
    instance, api_resources, warehouse_env, capfd
):
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as server:
        resources = api_resources(server.base_url)
        assert run(instance, WEEK_A, resources, INGESTION).success
        first_b = run(instance, WEEK_B, resources, INGESTION)
        assert first_b.success
        db = warehouse_env / "warehouse.duckdb"
        before = {name: table(name, db) for name in INGESTION}

        rerun = run(instance, WEEK_B, resources, INGESTION)
        assert rerun.success

    for name in INGESTION:
        after = table(name, db)
        pd.testing.assert_frame_equal(week_rows(after, WEEK_A), week_rows(before[name], WEEK_A))
        assert len(week_rows(after, WEEK_B)) == len(week_rows(before[name], WEEK_B)) > 0
    articles = table("raw_articles", db)
    assert not articles.duplicated(["week_start", "article_id"]).any()
    headlines = table("filtered_headlines", db)
    assert not headlines.duplicated(["week_start", "article_id", "numerai_ticker"]).any()
    # No look-ahead: every article lies in its own week's window.
    for key, rows in articles.groupby("week_start"):
        assert Week.from_key(key.strftime("%Y-%m-%d")).contains(rows["published_at"]).all()

    first = metadata_of(first_b, "raw_articles")
    assert first["api_calls"] >= 1 and first["fetch_mode"] == "all_tickers"
    assert first["distinct_tickers"] > 250
    # Week B has closed: its re-run reads the cached responses and costs no API call.
    metadata = metadata_of(rerun, "raw_articles")
    assert metadata["rows"] == len(week_rows(articles, WEEK_B))
    assert metadata["api_calls"] == 0 and metadata["cache_hits"] == first["pages"]

    # The token is in no log line, metadata value, table or captured output.
    assert FAKE_TOKEN not in everything_dagster_recorded(instance)
    assert FAKE_TOKEN not in everything_in_the_warehouse(db)
    captured = capfd.readouterr()
    assert FAKE_TOKEN not in captured.out + captured.err


def test_per_ticker_mode_reads_its_tickers_from_the_ticker_map(instance, api_resources, warehouse_env):
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as server:
        result = run(instance, WEEK_B, api_resources(server.base_url, fetch_mode="per_ticker"), INGESTION)
        assert result.success
        tickers_asked = {params["tickers"] for path, params in server.requests if "tickers" in params}
    mapped = table("ticker_map", warehouse_env / "warehouse.duckdb")
    assert tickers_asked == set(mapped["stocknews_ticker"])
    assert metadata_of(result, "raw_articles")["api_calls"] >= len(tickers_asked)


def test_sample_week_end_to_end_then_a_rerun_scores_nothing(instance, warehouse_env, tiny_finbert_dir):
    resources = {**build_resources(), "finbert": FinBERT(model=str(tiny_finbert_dir))}
    first = run(instance, WEEK_B, resources)
    assert first.success
    scores = metadata_of(first, "finbert_scores")
    assert scores["headlines_scored"] > 0 and scores["headlines_reused"] == 0
    assert scores["device"] == "cpu"

    db = warehouse_env / "warehouse.duckdb"
    cache = table("headline_scores", db)
    assert len(cache) == scores["headlines_scored"] == cache["headline"].nunique()
    aggregated = week_rows(table("aggregated_headlines", db), WEEK_B)
    assert aggregated["n_headlines"].sum() > len(cache)  # shared headlines were scored once

    second = run(instance, WEEK_B, resources)
    assert second.success
    again = metadata_of(second, "finbert_scores")
    assert again["headlines_scored"] == 0 and again["headlines_reused"] == scores["headlines_scored"]
    assert len(table("headline_scores", db)) == len(cache)
    pd.testing.assert_frame_equal(
        week_rows(table("finbert_scores", db), WEEK_B), week_rows(table("finbert_scores", db), WEEK_B)
    )

    signal = week_rows(table("scaled_signal", db), WEEK_B)
    assert signal["signal"].between(0, 1, inclusive="neither").all()
    assert (signal["date"] == pd.Timestamp("2026-11-13")).all()

    csv_path = warehouse_env / "submissions" / "signals_2026-11-13.csv"
    submitted = pd.read_csv(csv_path)
    assert list(submitted.columns) == ["numerai_ticker", "signal"]
    report = validate_submission(resources["news"].sample_universe(), submitted)
    assert report.n_in_universe >= 100
    upload = metadata_of(second, "submission")["upload"]
    assert upload.startswith("skipped") and "backfills never upload" in upload


def test_an_empty_week_scores_nothing_and_submits_nothing(instance, warehouse_env, tiny_finbert_dir):
    resources = {**build_resources(), "finbert": FinBERT(model=str(tiny_finbert_dir))}
    result = run(instance, "2026-09-05", resources)  # before the sample: no news at all
    scores = metadata_of(result, "finbert_scores")
    assert scores["rows"] == 0 and scores["headlines_scored"] == 0
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("no headlines for Numerai tickers: nothing to score" in message for message in messages)
    # The blocking checks stop the week before any file is written.
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert checks["at_least_100_universe_tickers"] is False and checks["submission_is_valid"] is False
    assert not (warehouse_env / "submissions" / "signals_2026-09-11.csv").exists()
    assert "submission" not in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_live_week_uploads_through_numerapi_and_records_the_submission_id(
    instance, api_resources, warehouse_env, fake_numerai, capfd
):
    live = latest_complete_week()
    weeks_ahead = (live.start - Week.from_key(WEEK_B).start).days // 7
    with FakeStockNewsAPI(shift_items(sample_articles(), weeks_ahead), list(sample_tickers())) as server:
        resources = api_resources(
            server.base_url, public_id=FAKE_PUBLIC_ID, secret_key=FAKE_SECRET_KEY, model_name="my_model"
        )
        result = run(instance, live.key, resources)
    assert result.success
    uploaded = metadata_of(result, "submission")
    assert uploaded["upload"] == "uploaded" and uploaded["submission_id"]
    csv_path = warehouse_env / "submissions" / f"signals_{live.friday.isoformat()}.csv"
    assert fake_numerai.received_csv == csv_path.read_bytes()
    recorded = everything_dagster_recorded(instance) + everything_in_the_warehouse(warehouse_env / "warehouse.duckdb")
    captured = capfd.readouterr()
    for secret in (FAKE_SECRET_KEY, FAKE_PUBLIC_ID, FAKE_TOKEN):
        assert secret not in recorded
        assert secret not in captured.out + captured.err


def test_a_week_that_fails_midway_leaves_other_weeks_intact_and_completes_on_rerun(
    instance, api_resources, warehouse_env
):
    db = warehouse_env / "warehouse.duckdb"
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as server:
        resources = api_resources(server.base_url)
        assert run(instance, WEEK_A, resources).success
        before = {name: table(name, db) for name in ("raw_articles", "finbert_scores", "submission")}

        # The news endpoints go down (the ticker list still answers): the run fails at raw_articles.
        server.hook = lambda path, params: None if path.endswith("tickersdbv2") else Fault(503)
        failed = run(instance, WEEK_B, resources)
        assert not failed.success
        assert "StockNewsAPIError" in repr([event.event_specific_data for event in failed.all_events if event.is_step_failure])
        for name, frame in before.items():
            pd.testing.assert_frame_equal(table(name, db), frame)  # week A untouched, week B absent

        server.hook = None
        assert run(instance, WEEK_B, resources).success
    for name in ("raw_articles", "finbert_scores", "scaled_signal", "submission"):
        frame = table(name, db)
        assert len(week_rows(frame, WEEK_B)) > 0
        pd.testing.assert_frame_equal(week_rows(frame, WEEK_A), week_rows(before.get(name, frame), WEEK_A))
