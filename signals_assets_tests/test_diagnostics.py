"""numerai_diagnostics: the submitted variant's stored weeks sent to Numerai's diagnostics and its per-era figures
stored next to the project's, through the real numerapi client against the loopback Numerai (numerai_server.py),
on a real DuckDB warehouse; the refusals, every quiet failure made loud, and no key in any log."""

from __future__ import annotations

import io
import logging
import re
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

# serialize_value has no public name: it renders a whole event log entry (metadata and error info) as text.
from dagster._serdes import serialize_value

from signals_assets.defs.jobs import weekly_signal_job
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.diagnostics import numerai_diagnostics
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import warehouse_io_manager
from signals_assets.numerai.diagnostics import (
    comparison,
    diagnostics_file,
    era_friday,
    per_era_frame,
    stored_weeks_of,
    with_project_figures,
)
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY
from signals_assets_tests.test_numerai_api import _StderrHandler

SUBMITTED, OTHER = "finbert_stories", "finbert"
VALIDATION_FRIDAYS = [date(2024, 1, 5) + timedelta(weeks=k) for k in range(6)]
SENT = VALIDATION_FRIDAYS[:3]  # stored and valid
CONSTANT = VALIDATION_FRIDAYS[3]  # stored, but its signal is constant: the values rule fails
OUTSIDE = date(2023, 12, 29)  # stored, before Numerai's validation dates
UNIVERSE = [f"T{i:03d} US" for i in range(150)]
STRAYS = ["ZZZ1 US", "ZZZ2 US"]  # stored tickers not in Numerai's universe of the date
ERA_CORR = {SENT[0].isoformat(): 0.02, SENT[1].isoformat(): -0.01, SENT[2].isoformat(): 0.03}
PROJECT_CORR = {SENT[0]: 0.025, SENT[1]: -0.004, SENT[2]: 0.02}
WRONG_SECRET = "WRONGSECRET789"
LIBRARY_LOGGERS = ("numerapi", "numerapi.base_api", "numerapi.utils", "urllib3", "urllib3.connectionpool", "dagster")
FAST = {"max_wait_s": 5.0, "poll_interval_s": 0.01}


def validation_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"numerai_ticker": UNIVERSE, "date": pd.Timestamp(friday), "target": rng.random(len(UNIVERSE))})
        for friday in VALIDATION_FRIDAYS
    ]
    return pd.concat(frames, ignore_index=True)


def scaled_signal_rows() -> pd.DataFrame:
    """Two variants of five stored weeks: three valid validation weeks, a constant one, one outside."""
    frames = []
    for friday in [OUTSIDE, *SENT, CONSTANT]:
        tickers = UNIVERSE[:120] + STRAYS
        for offset, variant in ((0.0, SUBMITTED), (0.5, OTHER)):
            signal = np.full(len(tickers), 0.5) if friday == CONSTANT else (np.arange(len(tickers)) + 0.5) / 244
            frames.append(
                pd.DataFrame(
                    {
                        "week_start": pd.Timestamp(friday - timedelta(days=6)),
                        "variant": variant,
                        "numerai_ticker": tickers,
                        "signal": signal + (offset if friday != CONSTANT else 0.0),
                        "date": pd.Timestamp(friday),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def evaluation_rows() -> pd.DataFrame:
    rows = []
    for friday, corr in PROJECT_CORR.items():
        for variant, shift in ((SUBMITTED, 0.0), (OTHER, 0.5)):
            rows.append(
                {
                    "week_start": pd.Timestamp(friday - timedelta(days=6)),
                    "signal": variant,
                    "status": "scored",
                    "ncorr": corr / 2 + shift,
                    "numerai_corr": corr + shift,
                }
            )
    return pd.DataFrame(rows)


def plant(warehouse, table: str, frame: pd.DataFrame) -> None:
    with warehouse.connect() as connection:
        connection.register("frame", frame)
        connection.execute(f"CREATE OR REPLACE TABLE signals.{table} AS SELECT * FROM frame")


@pytest.fixture
def served(fake_numerai, warehouse, monkeypatch):
    """Real news (a key set), Numerai's validation data on the fake, and stored weeks of two variants."""
    for name in ("NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY", "NUMERAI_MODEL_NAME", "TRIGGER_ID", "NUMERAI_COMPUTE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STOCKNEWS_API_KEY", "a-real-key")
    fake_numerai.add_dataset("signals/v3.0/validation.parquet", validation_frame())
    fake_numerai.era_corr = dict(ERA_CORR)
    plant(warehouse, "scaled_signal", scaled_signal_rows())
    plant(warehouse, "signal_evaluation", evaluation_rows())
    return fake_numerai


def resources(warehouse, **numerai) -> dict:
    settings = {
        "public_id": FAKE_PUBLIC_ID,
        "secret_key": FAKE_SECRET_KEY,
        "model_name": "my_model",
        "request_retries": 2,
        "retry_delay_seconds": 0.01,
        "universe": "live",
    }
    return {
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "numerai": NumeraiSignals(**{**settings, **numerai}),
        "numerai_data": NumeraiData(data_dir=None, dataset_version=None),
        "signal_settings": SignalSettings(variant=SUBMITTED),
    }


def materialize(warehouse, instance=None, config=FAST, **numerai):
    return dg.materialize(
        [numerai_diagnostics],
        resources=resources(warehouse, **numerai),
        run_config={"ops": {"numerai_diagnostics": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def failure(result) -> str:
    assert not result.success
    (event,) = result.get_step_failure_events()
    return event.step_failure_data.user_failure_data.description


# ----- the pure core -----


def test_rows_of_a_table_written_before_variants_are_the_legacy_variant():
    # No variant column and no date column: the Friday is six days after the week's Saturday.
    stored = pd.DataFrame({"week_start": [pd.Timestamp("2024-01-06")], "numerai_ticker": ["A US"], "signal": [0.3]})
    rows = stored_weeks_of(stored, "finbert")
    assert rows.to_dict("records") == [{"numerai_ticker": "A US", "signal": 0.3, "friday": date(2024, 1, 12)}]
    assert stored_weeks_of(stored, SUBMITTED).empty
    with_nulls = stored.assign(variant=[None])
    assert len(stored_weeks_of(with_nulls, "finbert")) == 1


def test_eras_are_dates_and_the_comparison_needs_three_varying_eras():
    assert era_friday("2024-01-05") == era_friday(20240105) == era_friday("2024-01-05T00:00:00Z") == date(2024, 1, 5)
    assert era_friday("era12") is None and era_friday(None) is None
    answer = {"perEraDiagnostics": [{"era": "2024-01-12", "validationCorr": 0.01}, {"era": "2024-01-05"}]}
    frame = per_era_frame(answer, "d-1")
    assert frame["era"].tolist() == ["2024-01-05", "2024-01-12"]
    assert frame["validation_corr"].isna().tolist() == [True, False]
    evaluation = pd.DataFrame(
        {"week_start": [pd.Timestamp("2024-01-06")], "signal": ["x"], "ncorr": [0.1], "numerai_corr": [0.02]}
    )
    merged = with_project_figures(frame, evaluation, "x")
    assert merged["numerai_corr"].tolist()[1] == 0.02 and pd.isna(merged["numerai_corr"][0])
    assert comparison(merged) == {
        "eras_compared": 1,
        "project_numerai_corr_mean": 0.02,
        "numerai_validation_corr_mean": 0.01,
        "mean_abs_difference": 0.01,
        "correlation": None,
    }


def test_the_file_keeps_valid_validation_weeks_in_the_dates_universe():
    rows = stored_weeks_of(scaled_signal_rows(), SUBMITTED)
    universes = {friday: pd.DataFrame({"numerai_ticker": UNIVERSE}) for friday in VALIDATION_FRIDAYS}
    built = diagnostics_file(rows, VALIDATION_FRIDAYS, universes.get)
    assert built.fridays == SENT and built.outside == [OUTSIDE]
    assert [(out.friday, out.rule) for out in built.left_out] == [(CONSTANT, "values")]
    assert built.tickers_dropped == len(STRAYS) * len(SENT)
    assert set(built.rows["numerai_ticker"]) == set(UNIVERSE[:120])


# ----- the asset -----


def test_diagnostics_send_the_submitted_variants_valid_weeks_and_store_numerais_figures_beside_the_projects(
    served, warehouse
):
    served.diagnostics_pending_polls = 2
    result = materialize(warehouse)
    assert result.success

    operations = [op for op in served.operations() if not op.startswith(("GET", "dataset", "listDatasets"))]
    assert operations == [
        "account",
        "diagnosticsUploadAuth",
        "PUT /diagnostics/model-id-1/diagnostics_finbert_stories_2024-01-05_2024-01-19.csv",
        "createDiagnostics",
        "diagnostics",
        "diagnostics",
        "diagnostics",
    ]
    sent = pd.read_csv(io.BytesIO(served.received_diagnostics_csv))
    assert list(sent.columns) == ["numerai_ticker", "signal", "date"]
    assert sorted(sent["date"].unique()) == [friday.isoformat() for friday in SENT]
    assert set(sent["numerai_ticker"]) <= set(UNIVERSE) and sent["signal"].between(0, 0.5, inclusive="neither").all()
    stored = stored_weeks_of(scaled_signal_rows(), SUBMITTED)  # only the submitted variant's values went
    expected = stored[stored["friday"].isin(SENT) & stored["numerai_ticker"].isin(UNIVERSE)]
    assert np.allclose(np.sort(sent["signal"]), np.sort(expected["signal"]))
    assert served.received_csv is None and served.submissions == []  # a diagnostics upload is no submission

    with warehouse.connect() as connection:
        table = connection.execute("SELECT * FROM signals.numerai_diagnostics ORDER BY era").fetchdf()
    assert table["era"].tolist() == [friday.isoformat() for friday in SENT]
    assert set(table["diagnostics_id"]) == {"diagnostics-1"}
    assert table["validation_corr"].tolist() == list(ERA_CORR.values())
    assert np.allclose(table["numerai_corr"], list(PROJECT_CORR.values()))  # the submitted variant's, not OTHER's
    assert np.allclose(table["ncorr"], [corr / 2 for corr in PROJECT_CORR.values()])
    assert {"validation_mmc", "validation_bmc", "validation_alpha", "validation_churn", "example_preds_corr"} <= set(
        table.columns
    )

    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["weeks_uploaded"].value == 3 and metadata["eras_accepted"].value == 3
    assert metadata["diagnostics_id"].value == "diagnostics-1"
    assert list(metadata["left_out"].value) == [CONSTANT.isoformat()]
    assert metadata["left_out"].value[CONSTANT.isoformat()].startswith("values: the signal is constant")
    assert metadata["weeks_outside_validation"].value == 1
    assert metadata["validation_corr_mean"].value == pytest.approx(np.mean(list(ERA_CORR.values())))
    compared = metadata["project_vs_numerai"].value
    differences = [abs(PROJECT_CORR[date.fromisoformat(era)] - corr) for era, corr in ERA_CORR.items()]
    assert compared["eras_compared"] == 3 and compared["mean_abs_difference"] == pytest.approx(np.mean(differences))
    assert compared["correlation"] == pytest.approx(
        np.corrcoef(list(PROJECT_CORR.values()), list(ERA_CORR.values()))[0, 1]
    )


def test_the_weekly_job_leaves_the_diagnostics_out():
    stand_ins = [dg.asset(name=name)(lambda: None) for name in ("scaled_signal", "backtest_report")]
    weekly = weekly_signal_job.selection.resolve([numerai_diagnostics, *stand_ins])
    assert dg.AssetKey("numerai_diagnostics") not in weekly and dg.AssetKey("scaled_signal") in weekly


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("failed", r"diagnostics diagnostics-1 of .* failed: your file covers no era with enough tickers\."),
        ("graphql", r"Numerai refused reading diagnostics diagnostics-1: diagnostics are down for maintenance\."),
        ("http_500", r"could not reach Numerai .* while creating the diagnostics of .*500 Server Error.*was stored at"),
        ("put", r"diagnostics file was not sent \(.* to send it again\): Numerai's upload storage refused .*HTTP 403"),
        ("timeout", r"had not finished diagnostics diagnostics-1 .*status pending.*numer\.ai.*longer max_wait_s"),
    ],
)
def test_each_quiet_numerapi_failure_fails_the_asset_loudly(served, warehouse, setup, message):
    config = FAST
    if setup == "failed":
        served.diagnostics_failure = "your file covers no era with enough tickers"
    elif setup == "graphql":
        served.graphql_errors["diagnostics"] = "diagnostics are down for maintenance"
    elif setup == "http_500":
        served.fail_with["createDiagnostics"] = [500, 500]
    elif setup == "put":
        served.put_status = 403
    else:
        served.diagnostics_pending_polls = 10_000
        config = {"max_wait_s": 0.2, "poll_interval_s": 0.05}
    result = materialize(warehouse, config=config)
    assert re.search(message, failure(result))
    if setup == "put":
        assert "createDiagnostics" not in served.operations()
    with warehouse.connect() as connection:
        tables = connection.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'signals'").fetchall()
    assert ("numerai_diagnostics",) not in tables


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("sample", r"packaged sample news \(STOCKNEWS_API_KEY is not set\).*Set STOCKNEWS_API_KEY"),
        ("no_keys", r"NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY are not set\. Set both"),
        ("no_model", r"NUMERAI_MODEL_NAME is not set\. Set it"),
        ("no_validation_week", r"None of the 1 stored weeks of 'finbert_stories'.*validation dates only"),
    ],
)
def test_refusals_say_why_and_what_to_set(served, warehouse, monkeypatch, case, message):
    numerai = {}
    if case == "sample":
        monkeypatch.delenv("STOCKNEWS_API_KEY")
    elif case == "no_keys":
        numerai = {"public_id": None, "secret_key": None}
    elif case == "no_model":
        numerai = {"model_name": None}
    else:
        rows = scaled_signal_rows()
        plant(warehouse, "scaled_signal", rows[rows["date"] == pd.Timestamp(OUTSIDE)])
    assert re.search(message, failure(materialize(warehouse, **numerai)))
    sent = [op for op in served.operations() if op not in ("listDatasets", "dataset") and not op.startswith("GET")]
    assert sent == []  # nothing reached Numerai's API beyond the public validation data


def test_no_key_reaches_a_log_the_event_log_or_an_error_when_numerai_echoes_the_authorization_header(
    served, warehouse, capfd
):
    served.echo_authorization = True  # every error answer, body and HTTP reason, repeats the Authorization header
    buffer = io.StringIO()
    handlers = [logging.StreamHandler(buffer), _StderrHandler()]
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        for handler in handlers:
            handler.setLevel(logging.DEBUG)
            logger.addHandler(handler)
    texts = []
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            faults = [
                {"graphql_errors": {"createDiagnostics": "Unauthorized"}},
                {"fail_with": {"diagnostics": [500, 500]}},
                {"put_status": 403},
                {"diagnostics_failure": f"rejected for Token {FAKE_PUBLIC_ID}${FAKE_SECRET_KEY}"},
                {"secret_key": WRONG_SECRET},
            ]
            for fault in faults:
                served.graphql_errors, served.fail_with, served.put_status = {}, {}, None
                served.diagnostics_failure = None
                numerai = {}
                for name, value in fault.items():
                    if name == "secret_key":
                        numerai[name] = value
                    else:
                        setattr(served, name, value)
                result = materialize(warehouse, instance, **numerai)
                texts.append(failure(result))
                texts += [serialize_value(entry) for entry in instance.all_logs(result.run_id)]
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
            for handler in handlers:
                logger.removeHandler(handler)
    captured = capfd.readouterr()
    logged = buffer.getvalue()
    assert "Token <redacted>$<redacted>" in logged  # numerapi did log the echoed header: redacted
    for text in [logged, captured.err, captured.out, *texts]:
        for secret in (FAKE_PUBLIC_ID, FAKE_SECRET_KEY, WRONG_SECRET, "fakesig"):
            assert secret not in text
