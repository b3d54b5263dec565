"""The churn gate before numerai_upload, through real materializations into DuckDB and the loopback Numerai.

Earlier weeks' submissions and universes are planted as rows (the frames the assets themselves write, built
with the project's functions); the week under test is materialized: its universe, its submission (with the
churn_gate check) and its upload.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import resources as package_files

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckSeverity, DagsterInstance, materialize

from signals_assets.definitions import build_definitions
from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.numerai.upload import UPLOAD_COLUMNS
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import warehouse_io_manager
from signals_assets.news.sample import sample_universe
from signals_assets.numerai.submission_file import UPLOADED_DIR, build_submission, write_submission_csv
from signals_assets.signal.scaling import build_scaled_signal
from signals_assets.weeks import Week, latest_complete_week, with_week_column
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY

DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]
WEEK_RUN = ["numerai_universe", "submission", "numerai_upload"]
UPLOAD_OPERATIONS = {"submissionUploadSignalsAuth", "createSignalsSubmission"}
SAMPLE_NUMERAI_FILES = str(package_files.files("signals_assets.numerai") / "sample_data")
TICKERS = sample_universe()["numerai_ticker"].astype(str).tolist()


def weeks_before(week: Week, count: int) -> list[Week]:
    return [Week.from_key((week.start - timedelta(weeks=n)).strftime("%Y-%m-%d")) for n in range(count, 0, -1)]


def sentiment(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, len(TICKERS))


def scaled(week: Week, values: np.ndarray) -> pd.DataFrame:
    frame = build_scaled_signal(pd.DataFrame({"numerai_ticker": TICKERS, "sentiment": values}), week.friday)
    return with_week_column(frame, week)


def plant(db_path, table: str, frame: pd.DataFrame) -> None:
    """Rows as the week's asset writes them (the DuckDB IO manager creates a table from the frame the same way)."""
    with duckdb.connect(str(db_path)) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS signals")
        connection.register("planted", frame)
        connection.execute(f"CREATE TABLE IF NOT EXISTS signals.{table} AS SELECT * FROM planted WHERE false")
        connection.execute(f"INSERT INTO signals.{table} SELECT * FROM planted")
        connection.unregister("planted")


def plant_upload(warehouse, week: Week, rows: pd.DataFrame) -> None:
    """What numerai_upload leaves after an upload: its record, and the copy of the file as sent."""
    record = {column: None for column in UPLOAD_COLUMNS}
    record.update(friday=week.friday.isoformat(), status="uploaded", filename=f"signals_{week.friday}.csv")
    plant(warehouse.database, "numerai_upload", with_week_column(pd.DataFrame([record]).astype("string"), week))
    write_submission_csv(rows, warehouse.submissions_dir() / UPLOADED_DIR, week.friday)


def plant_history(
    warehouse, week: Week, earlier_values: np.ndarray, week_values: np.ndarray, uploaded: int = 5
) -> list[Week]:
    """Five earlier weeks' submissions and universes (each the same signal), the newest `uploaded` of them
    uploaded, and this week's scaled_signal."""
    universe = sample_universe()[["numerai_ticker", "bloomberg_ticker"]].astype("string")
    earlier = weeks_before(week, 5)
    for n, previous in enumerate(earlier):
        rows = build_submission(scaled(previous, earlier_values))
        plant(warehouse.database, "submission", with_week_column(rows, previous))
        plant(warehouse.database, "numerai_universe", with_week_column(universe, previous))
        if n >= 5 - uploaded:
            plant_upload(warehouse, previous, rows)
    plant(warehouse.database, "scaled_signal", scaled(week, week_values))
    return earlier


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def resources(warehouse, tiny_finbert_dir):
    def make(**numerai_settings) -> dict:
        numerai = {
            "universe": "sample",
            "public_id": FAKE_PUBLIC_ID,
            "secret_key": FAKE_SECRET_KEY,
            "model_name": "my_model",
            "retry_delay_seconds": 0.01,
            "max_churn": 0.2,
            "churn_gate": "block",
            **numerai_settings,
        }
        return {
            "warehouse": warehouse,
            "io_manager": warehouse_io_manager,
            "news": SampleNews(),
            "finbert": FinBERT(model=str(tiny_finbert_dir)),
            "numerai": NumeraiSignals(**numerai),
            # The packaged synthetic Numerai files: neutralizers for the sample Fridays, none for the live one.
            "numerai_data": NumeraiData(data_dir=SAMPLE_NUMERAI_FILES, dataset_version=None),
            "signal_settings": SignalSettings(halflife_weeks=0),
        }

    return make


def run(instance, week: Week, resources: dict, selection=WEEK_RUN):
    return materialize(
        GRAPH, partition_key=week.key, resources=resources, instance=instance, selection=selection, raise_on_error=False
    )


def gate_evaluation(result):
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "churn_gate"]
    return evaluation


def figures(evaluation) -> dict:
    return {key: value.value for key, value in evaluation.metadata.items()}


def materialized(result) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def uploads_received(fake) -> set[str]:
    return UPLOAD_OPERATIONS & set(fake.operations())


def upload_record(db_path, week: Week) -> list[str]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT status FROM signals.numerai_upload WHERE week_start = ?", [week.week_start]
        ).fetchall()
    return [status for (status,) in rows]


def test_churn_over_the_threshold_blocks_the_upload_naming_the_figure_threshold_and_halflife(
    instance, resources, warehouse, fake_numerai
):
    live = latest_complete_week()
    earlier = plant_history(warehouse, live, sentiment(1), sentiment(2))  # unrelated: churn near 1

    result = run(instance, live, resources())

    assert not result.success
    evaluation = gate_evaluation(result)
    assert evaluation.passed is False and evaluation.severity == AssetCheckSeverity.ERROR
    found = figures(evaluation)
    assert found["kind"] == "plain" and found["churn"] > 0.5  # the live Friday has no neutralizer
    assert found["weeks_compared"] == ", ".join(week.key for week in reversed(earlier))
    assert found["threshold"] == 0.2 and found["mode"] == "block" and found["halflife_weeks"] == 0
    assert 0 <= found["payout_share_kept"] < 0.1 and found["gated"] is True
    message = evaluation.description
    assert message.startswith("Upload blocked:")
    assert f"{found['churn']:.4f}" in message and "threshold 0.2" in message and "halflife_weeks 0" in message
    assert all(name in message for name in ("SIGNAL_HALFLIFE_WEEKS", "SIGNAL_MAX_CHURN", "SIGNAL_CHURN_GATE=blend"))
    # The upload never ran: Numerai received nothing; the week's file is still written.
    assert "numerai_upload" not in materialized(result) and "submission" in materialized(result)
    assert fake_numerai.received_csv is None and not uploads_received(fake_numerai)
    assert (warehouse.submissions_dir() / f"signals_{live.friday.isoformat()}.csv").is_file()


def test_warn_mode_uploads_with_a_warning(instance, resources, warehouse, fake_numerai):
    live = latest_complete_week()
    plant_history(warehouse, live, sentiment(1), sentiment(2))

    result = run(instance, live, resources(churn_gate="warn"))

    assert result.success
    evaluation = gate_evaluation(result)
    assert evaluation.passed is False and evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.description.startswith("Churn warning (blocking is off, uploading anyway)")
    assert "threshold 0.2" in evaluation.description and "halflife_weeks 0" in evaluation.description
    csv_path = warehouse.submissions_dir() / f"signals_{live.friday.isoformat()}.csv"
    assert fake_numerai.received_csv == csv_path.read_bytes()
    assert upload_record(warehouse.database, live) == ["uploaded"]


def test_churn_under_the_threshold_uploads(instance, resources, warehouse, fake_numerai):
    live = latest_complete_week()
    earlier_values = sentiment(1)
    nudged = earlier_values + np.random.default_rng(3).normal(0, 0.02, len(TICKERS))
    plant_history(warehouse, live, earlier_values, nudged)

    result = run(instance, live, resources())

    assert result.success
    evaluation = gate_evaluation(result)
    found = figures(evaluation)
    assert evaluation.passed is True and found["churn"] < 0.2 and len(found["per_week_churn"]) == 5
    assert evaluation.description.startswith("Churn gate passed")
    assert fake_numerai.received_csv is not None and upload_record(warehouse.database, live) == ["uploaded"]


def test_a_backfilled_week_over_the_threshold_is_not_failed_and_reports_neutral_churn(
    instance, resources, warehouse, fake_numerai
):
    week = Week.from_key("2026-11-07")  # Friday 2026-11-13: the packaged files have its neutralizer
    assert week.start < latest_complete_week().start
    plant_history(warehouse, week, sentiment(1), sentiment(2))

    result = run(instance, week, resources())

    assert result.success
    evaluation = gate_evaluation(result)
    found = figures(evaluation)
    assert evaluation.passed is True and found["gated"] is False
    assert found["kind"] == "neutral" and found["churn"] > 0.2
    # The packaged files have the neutralizers of 2026-10-16 .. 2026-11-13: the week of 2026-10-09 is left out.
    assert list(found["per_week_churn"]) == ["2026-10-31", "2026-10-24", "2026-10-17", "2026-10-10"]
    assert "no neutralizer" in found["weeks_skipped"]["2026-10-03"]
    assert evaluation.description.startswith("Not gated: this week does not upload")
    assert (
        "backfills never upload" in evaluation.description and "over the churn threshold 0.2" in evaluation.description
    )
    assert upload_record(warehouse.database, week) == ["skipped"] and not uploads_received(fake_numerai)


def test_the_first_week_has_nothing_to_compare_and_uploads(instance, resources, warehouse, fake_numerai):
    live = latest_complete_week()
    plant(warehouse.database, "scaled_signal", scaled(live, sentiment(2)))

    result = run(instance, live, resources())

    assert result.success
    evaluation = gate_evaluation(result)
    assert evaluation.passed is True and "nothing to compare" in evaluation.description
    assert figures(evaluation)["weeks_compared"] == "none"
    assert fake_numerai.received_csv is not None


def test_an_upload_materialized_without_the_check_is_gated_too(instance, resources, warehouse, fake_numerai):
    live = latest_complete_week()
    plant_history(warehouse, live, sentiment(1), sentiment(2))
    written = run(instance, live, resources(upload=False))  # a dry run writes the week's file, uploads nothing
    assert written.success and gate_evaluation(written).passed is True

    result = run(instance, live, resources(), selection=["numerai_upload"])

    assert not result.success
    assert not result.get_asset_check_evaluations()  # the check was not in this run: the upload gated itself
    failure = next(event for event in result.all_events if event.is_step_failure)
    message = str(failure.event_specific_data.error)
    assert "Upload blocked:" in message and "threshold 0.2" in message and "halflife_weeks 0" in message
    assert fake_numerai.received_csv is None and not uploads_received(fake_numerai)


def test_the_default_blend_uploads_a_churny_week_within_the_threshold(instance, resources, warehouse, fake_numerai):
    live = latest_complete_week()
    plant_history(warehouse, live, sentiment(1), sentiment(2))  # unrelated: churn near 1

    result = run(instance, live, resources(churn_gate="blend"))

    assert result.success
    written = metadata_of(result, "submission")
    assert written["churn_before_blend"] > 0.5 and 0 < written["blend_weight"] < 1
    assert written["churn_after_blend"] <= 0.2 and written["blended_toward"] == weeks_before(live, 1)[0].key
    evaluation = gate_evaluation(result)
    found = figures(evaluation)
    assert evaluation.passed is True and found["churn"] <= 0.2 and found["blend_weight"] == written["blend_weight"]
    assert evaluation.description.startswith("Churn gate passed") and "Blended" in evaluation.description
    csv_path = warehouse.submissions_dir() / f"signals_{live.friday.isoformat()}.csv"
    assert fake_numerai.received_csv == csv_path.read_bytes()
    uploaded = metadata_of(result, "numerai_upload")
    assert uploaded["status"] == "uploaded" and uploaded["churn"] <= 0.2
    assert uploaded["blend_weight"] == written["blend_weight"] and uploaded["churn_before_blend"] > 0.5
    assert (warehouse.submissions_dir() / UPLOADED_DIR / csv_path.name).read_bytes() == csv_path.read_bytes()


def test_the_gate_compares_with_what_numerai_received_not_every_stored_week(
    instance, resources, warehouse, fake_numerai
):
    live = latest_complete_week()
    earlier = plant_history(warehouse, live, sentiment(1), sentiment(1), uploaded=2)  # three weeks never uploaded

    result = run(instance, live, resources())

    found = figures(gate_evaluation(result))
    assert found["weeks_compared"] == ", ".join(week.key for week in reversed(earlier[-2:]))
    assert "numerai_upload" in found["compared_with"]


def test_uploads_that_cannot_be_compared_block_instead_of_passing(instance, resources, warehouse, fake_numerai):
    live = latest_complete_week()
    others = pd.DataFrame({"numerai_ticker": [f"Z{i:03d} US" for i in range(len(TICKERS))]})
    for previous in weeks_before(live, 2):  # Numerai received these, over a universe this week no longer has
        rows = build_submission(scaled(previous, sentiment(1)).assign(numerai_ticker=others["numerai_ticker"]))
        plant(warehouse.database, "numerai_universe", with_week_column(others.assign(bloomberg_ticker="x"), previous))
        plant_upload(warehouse, previous, rows)
    plant(warehouse.database, "scaled_signal", scaled(live, sentiment(2)))

    result = run(instance, live, resources())

    assert not result.success and fake_numerai.received_csv is None
    evaluation = gate_evaluation(result)
    assert evaluation.severity == AssetCheckSeverity.ERROR and figures(evaluation)["churn"] == 1.0
    assert "none of the earlier submissions can be compared" in evaluation.description


def plant_scores(warehouse, week: Week, values: np.ndarray) -> None:
    scores = pd.DataFrame({"numerai_ticker": TICKERS, "sentiment": values, "n_headlines": 1})
    plant(warehouse.database, "finbert_scores", with_week_column(scores, week))


def test_a_stale_or_changed_file_is_never_uploaded(instance, resources, warehouse, fake_numerai, tmp_path):
    live = latest_complete_week()
    plant_scores(warehouse, live, sentiment(2))
    rebuild = ["numerai_universe", "scaled_signal", *WEEK_RUN[1:]]
    assert run(instance, live, resources(upload=False), selection=rebuild).success  # a dry run writes the file
    csv_path = warehouse.submissions_dir() / f"signals_{live.friday.isoformat()}.csv"
    checked = csv_path.read_bytes()

    # Changed by hand: not the stored submission.
    csv_path.write_bytes(checked.replace(b"0.", b"0.9", 1))
    changed = run(instance, live, resources(), selection=["numerai_upload"])
    assert metadata_of(changed, "numerai_upload")["status"] == "skipped"
    assert "is not the week's stored submission" in metadata_of(changed, "numerai_upload")["reason"]

    # Re-run over a universe the signal fails: the checks fail and the file of the dry run is removed.
    small = tmp_path / "small_universe.csv"
    sample_universe().head(60).to_csv(small, index=False)
    failed = run(instance, live, resources(universe=str(small)), selection=rebuild)
    assert not failed.success and not csv_path.exists()
    assert not {"submission", "numerai_upload"} & materialized(failed)
    alone = run(instance, live, resources(), selection=["numerai_upload"])
    assert metadata_of(alone, "numerai_upload")["status"] == "skipped"
    assert "no submission file" in metadata_of(alone, "numerai_upload")["reason"]

    # The checked file put back by hand still matches the stored submission, but the signal was rebuilt since.
    csv_path.write_bytes(checked)
    restored = run(instance, live, resources(), selection=["numerai_upload"])
    reason = metadata_of(restored, "numerai_upload")["reason"]
    assert "was rebuilt" in reason and "scaled_signal" in reason
    assert fake_numerai.received_csv is None and not uploads_received(fake_numerai)
    assert upload_record(warehouse.database, live) == ["skipped"]


def metadata_of(result, asset: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {key: value.value for key, value in event.materialization.metadata.items()}
