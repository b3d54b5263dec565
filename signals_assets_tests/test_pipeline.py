"""The asset graph through Dagster, into a temporary DuckDB file, with real clients on loopback."""

import email.utils
from datetime import timedelta

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from signals_assets.definitions import build_definitions
from signals_assets.defs.ingestion.resources import SampleNews, StockNewsAPI
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import warehouse_io_manager
from signals_assets.news.sample import sample_articles, sample_tickers, sample_universe
from signals_assets.numerai.validation import validate_submission
from signals_assets.signal.variants import DEFAULT_VARIANTS
from signals_assets.weeks import Week, latest_complete_week
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI, Fault

DEFINITIONS = build_definitions()
# Every asset of a week's run: numerai_diagnostics is not one (it refuses the sample, and runs on its own).
GRAPH = [
    *(asset for asset in DEFINITIONS.assets if asset.key.to_user_string() != "numerai_diagnostics"),
    *DEFINITIONS.asset_checks,
]
INGESTION = ["numerai_universe", "ticker_map", "raw_articles", "filtered_headlines"]
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
    return "\n".join(
        repr(entry) for run_record in instance.get_runs() for entry in instance.all_logs(run_record.run_id)
    )


def everything_in_the_warehouse(db_path) -> str:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='signals'"
        ).fetchall()
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


def resources_for(warehouse, news, finbert_dir, **numerai_settings) -> dict:
    return {
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "news": news,
        "finbert": FinBERT(model=str(finbert_dir)),
        "numerai": NumeraiSignals(**{"universe": "sample", **numerai_settings}),
        "numerai_data": NumeraiData(),
        "signal_settings": SignalSettings(),
    }


@pytest.fixture
def api_resources(warehouse, sample_universe_csv, tiny_finbert_dir):
    """The project's resources, pointed at loopback services and the test's files."""

    def make(news_base_url: str, fetch_mode: str = "all_tickers", **numerai_settings):
        news = StockNewsAPI(api_key=FAKE_TOKEN, base_url=news_base_url, fetch_mode=fetch_mode, backoff_base_s=0.01)
        return resources_for(
            warehouse, news, tiny_finbert_dir, **{"universe": str(sample_universe_csv), **numerai_settings}
        )

    return make


@pytest.fixture
def sample_resources(warehouse, tiny_finbert_dir):
    return resources_for(warehouse, SampleNews(), tiny_finbert_dir)


@pytest.fixture
def db(warehouse):
    return warehouse.database


def test_definitions_load_weekly_assets_in_one_group_per_defs_folder_a_job_and_a_stopped_schedule():
    groups = {spec.key.to_user_string(): spec.group_name for spec in DEFINITIONS.resolve_all_asset_specs()}
    assert groups == {
        "numerai_universe": "numerai",
        "ticker_map": "ingestion",
        "raw_articles": "ingestion",
        "filtered_headlines": "ingestion",
        "aggregated_headlines": "sentiment",
        "finbert_scores": "sentiment",
        "scaled_signal": "signal",
        "submission": "numerai",
        "numerai_upload": "numerai",
        "signal_evaluation": "evaluation",
        "backtest_report": "evaluation",
        "numerai_diagnostics": "numerai",
    }
    checks = {key.name for key in DEFINITIONS.resolve_asset_graph().asset_check_keys}
    assert checks == {
        "no_headline_from_the_future",
        "submission_columns",
        "submission_tickers",
        "submission_values",
        "submission_strictly_inside",
        "churn_gate",
    }
    schedule = DEFINITIONS.resolve_schedule_def("weekly_signal_schedule")
    assert schedule.cron_schedule == "0 19 * * 6"
    assert schedule.default_status.value == "STOPPED"


def test_two_weeks_into_duckdb_and_rerunning_one_leaves_the_other_untouched(instance, api_resources, db, capfd):
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as server:
        resources = api_resources(server.base_url)
        assert run(instance, WEEK_A, resources, INGESTION).success
        first_b = run(instance, WEEK_B, resources, INGESTION)
        assert first_b.success
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
    assert metadata["dagster/partition_row_count"] == len(week_rows(articles, WEEK_B))
    assert metadata["api_calls"] == 0 and metadata["cache_hits"] == first["pages"]

    # The token is in no log line, metadata value, table or captured output.
    assert FAKE_TOKEN not in everything_dagster_recorded(instance)
    assert FAKE_TOKEN not in everything_in_the_warehouse(db)
    captured = capfd.readouterr()
    assert FAKE_TOKEN not in captured.out + captured.err


def test_per_ticker_mode_reads_its_tickers_from_the_ticker_map(instance, api_resources, db):
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as server:
        result = run(instance, WEEK_B, api_resources(server.base_url, fetch_mode="per_ticker"), INGESTION)
        assert result.success
        tickers_asked = {params["tickers"] for path, params in server.requests if "tickers" in params}
    mapped = table("ticker_map", db)
    assert tickers_asked == set(mapped["stocknews_ticker"])
    assert metadata_of(result, "raw_articles")["api_calls"] >= len(tickers_asked)


def test_sample_week_end_to_end_then_a_rerun_scores_nothing(instance, sample_resources, warehouse, db):
    resources = sample_resources
    first = run(instance, WEEK_B, resources)
    assert first.success
    scores = metadata_of(first, "finbert_scores")
    assert scores["headlines_scored"] > 0 and scores["headlines_reused"] == 0
    assert scores["device"] == "cpu"

    cache = table("headline_scores", db)
    first_scores = week_rows(table("finbert_scores", db), WEEK_B)
    assert len(cache) == scores["headlines_scored"] == cache["headline"].nunique()
    aggregated = week_rows(table("aggregated_headlines", db), WEEK_B)
    assert aggregated["n_headlines"].sum() > len(cache)  # shared headlines were scored once

    second = run(instance, WEEK_B, resources)
    assert second.success
    again = metadata_of(second, "finbert_scores")
    assert again["headlines_scored"] == 0 and again["headlines_reused"] == scores["headlines_scored"]
    assert len(table("headline_scores", db)) == len(cache)
    # The re-run's per-ticker sentiment, from reused scores only, equals the first run's.
    pd.testing.assert_frame_equal(week_rows(table("finbert_scores", db), WEEK_B), first_scores)

    signal = week_rows(table("scaled_signal", db), WEEK_B)
    assert signal["signal"].between(0, 1, inclusive="neither").all()
    assert (signal["date"] == pd.Timestamp("2026-11-13")).all()

    csv_path = warehouse.submissions_dir() / "signals_2026-11-13.csv"
    submitted = pd.read_csv(csv_path)
    assert list(submitted.columns) == ["numerai_ticker", "signal"]
    report = validate_submission(sample_universe(), submitted)
    assert report.n_in_universe >= 100
    checks = {evaluation.check_name: evaluation.passed for evaluation in second.get_asset_check_evaluations()}
    assert all(checks.values()) and len(checks) == 6
    upload = metadata_of(second, "numerai_upload")
    assert upload["status"] == "skipped" and "backfills never upload" in upload["reason"]
    uploads = table("numerai_upload", db)
    assert uploads[["status", "filename"]].values.tolist() == [["skipped", "signals_2026-11-13.csv"]]
    universe = metadata_of(first, "numerai_universe")
    assert "sample" in universe["source"] and universe["dagster/partition_row_count"] == len(sample_universe())


def test_an_empty_week_scores_nothing_and_submits_nothing(instance, sample_resources, warehouse):
    result = run(instance, "2026-09-05", sample_resources)  # before the sample: no news at all
    scores = metadata_of(result, "finbert_scores")
    assert scores["dagster/partition_row_count"] == 0 and scores["headlines_scored"] == 0
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("no headlines for Numerai tickers: nothing to score" in message for message in messages)
    # The blocking checks stop the week before any file is written.
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert checks["submission_tickers"] is False
    assert not (warehouse.submissions_dir() / "signals_2026-09-11.csv").exists()
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not materialized & {"submission", "numerai_upload"}


def test_live_week_uploads_through_numerapi_and_records_the_submission_id(
    instance, api_resources, warehouse, db, fake_numerai, capfd
):
    live = latest_complete_week()
    weeks_ahead = (live.start - Week.from_key(WEEK_B).start).days // 7
    with FakeStockNewsAPI(shift_items(sample_articles(), weeks_ahead), list(sample_tickers())) as server:
        resources = api_resources(
            server.base_url, public_id=FAKE_PUBLIC_ID, secret_key=FAKE_SECRET_KEY, model_name="my_model"
        )
        result = run(instance, live.key, resources)
    assert result.success
    uploaded = metadata_of(result, "numerai_upload")
    assert uploaded["status"] == "uploaded" and uploaded["submission_id"] and uploaded["model_name"] == "my_model"
    stored = week_rows(table("numerai_upload", db), live.key)
    assert stored[["status", "submission_id"]].values.tolist() == [["uploaded", uploaded["submission_id"]]]
    csv_path = warehouse.submissions_dir() / f"signals_{live.friday.isoformat()}.csv"
    assert fake_numerai.received_csv == csv_path.read_bytes()
    recorded = everything_dagster_recorded(instance) + everything_in_the_warehouse(db)
    captured = capfd.readouterr()
    for secret in (FAKE_SECRET_KEY, FAKE_PUBLIC_ID, FAKE_TOKEN):
        assert secret not in recorded
        assert secret not in captured.out + captured.err


def test_a_week_that_fails_midway_leaves_other_weeks_intact_and_completes_on_rerun(instance, api_resources, db):
    with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as server:
        resources = api_resources(server.base_url)
        assert run(instance, WEEK_A, resources).success
        before = {name: table(name, db) for name in ("raw_articles", "finbert_scores", "submission")}

        # The news endpoints go down (the ticker list still answers): the run fails at raw_articles.
        server.hook = lambda path, params: None if path.endswith("tickersdbv2") else Fault(503)
        failed = run(instance, WEEK_B, resources)
        assert not failed.success
        assert "StockNewsAPIError" in repr(
            [event.event_specific_data for event in failed.all_events if event.is_step_failure]
        )
        for name, frame in before.items():
            pd.testing.assert_frame_equal(table(name, db), frame)  # week A untouched, week B absent

        server.hook = None
        assert run(instance, WEEK_B, resources).success
    for name in ("raw_articles", "finbert_scores", "scaled_signal", "submission"):
        frame = table(name, db)
        assert len(week_rows(frame, WEEK_B)) > 0
        pd.testing.assert_frame_equal(week_rows(frame, WEEK_A), week_rows(before.get(name, frame), WEEK_A))


def test_sample_weeks_are_evaluated_as_numerai_scores_them_and_the_unresolved_week_is_pending(
    instance, sample_resources, db
):
    for week in (WEEK_A, WEEK_B):
        assert run(instance, week, sample_resources).success
    evaluation = table("signal_evaluation", db)
    assert set(evaluation.columns) >= {
        "week_start",
        "signal",
        "status",
        "coverage",
        "ncorr",
        "numerai_corr",
        "nmmc_proxy",
        "neutral_churn",
        "churn_penalty",
    }
    resolved = week_rows(evaluation, WEEK_A).set_index("signal")
    # A row per variant, `signal` holding its name.
    assert set(resolved.index) == {variant.name for variant in DEFAULT_VARIANTS}
    assert set(resolved["status"]) == {"scored"}
    assert resolved[["coverage", "ncorr", "numerai_corr", "nmmc_proxy"]].notna().all().all()
    # The sample's targets lean on the provider's labels (scripts/make_sample_data.py): the baselines earn.
    assert resolved.loc["provider_labels", "ncorr"] > 0.05 and resolved.loc["provider_labels_stories", "ncorr"] > 0.05
    # The sample's last Friday has no resolved 60-day target yet: pending, not an error; churn is known.
    latest = week_rows(evaluation, WEEK_B).set_index("signal")
    assert set(latest["status"]) == {"pending"} and latest["ncorr"].isna().all()
    assert latest[["neutral_churn", "churn_penalty"]].notna().all().all()
    # The first evaluated week had no previous signal: churn is NULL there, with the reason in metadata.
    assert resolved["neutral_churn"].isna().all()
