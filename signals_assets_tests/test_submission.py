"""Submission building and validation, the universe, and the Numerai upload against a loopback fake."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import date, datetime, timezone
from pathlib import Path

import numerapi
import numerapi.base_api
import numpy as np
import pandas as pd
import pytest
from numerai_tools.submissions import validate_submission_signals

from signals_assets.signal.signal import build_scaled_signal
from signals_assets.submission.resources import NumeraiError, NumeraiSignals
from signals_assets.submission.submission import (
    SubmissionInvalid,
    UniverseUnavailable,
    build_submission,
    load_universe,
    submission_csv_path,
    validate_and_write_submission,
    validate_submission,
    write_submission_csv,
)
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY, FakeNumerai

FRIDAY = date(2026, 11, 13)
NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)  # latest complete week then: 2026-11-14
UNIVERSE = pd.DataFrame(
    {
        "numerai_ticker": [f"T{i:03d} US" for i in range(300)],
        "composite_figi": [f"BBG{i:09d}" for i in range(300)],
    }
)


def _scaled(tickers: list[str], seed: int = 3) -> pd.DataFrame:
    sentiment = np.random.default_rng(seed).uniform(-1, 1, len(tickers))
    return build_scaled_signal(pd.DataFrame({"numerai_ticker": tickers, "sentiment": sentiment}), FRIDAY)


def _universe_tickers(n: int) -> list[str]:
    return UNIVERSE["numerai_ticker"].head(n).tolist()


def _outside_tickers(n: int) -> list[str]:
    return [f"X{i:03d} US" for i in range(n)]


@pytest.fixture
def valid_submission() -> pd.DataFrame:
    return build_submission(_scaled(_universe_tickers(250) + _outside_tickers(10)), include_date=False)


# ----- build and validate -----


def test_valid_submission_report(valid_submission):
    report = validate_submission(UNIVERSE, valid_submission)
    assert list(valid_submission.columns) == ["numerai_ticker", "signal"]
    assert (report.n_submitted, report.n_in_universe) == (260, 250)
    assert report.invalid_tickers == _outside_tickers(10)
    assert (report.ticker_col, report.signal_col, report.date_col) == ("numerai_ticker", "signal", None)


def test_date_column_is_iso_friday_and_accepted():
    rows = build_submission(_scaled(_universe_tickers(150)), include_date=True)
    assert list(rows.columns) == ["numerai_ticker", "signal", "date"]
    assert set(rows["date"]) == {"2026-11-13"}
    assert validate_submission(UNIVERSE, rows).date_col == "date"
    validate_submission_signals(UNIVERSE.copy(), rows.copy(), assert_date_col=True)


def test_validation_does_not_mutate_its_inputs():
    rows = build_submission(_scaled(_universe_tickers(150)), include_date=True)
    before = rows.copy()
    validate_submission(UNIVERSE, rows)
    pd.testing.assert_frame_equal(rows, before)


def test_written_csv_passes_numerai_tools(tmp_path, valid_submission):
    path = write_submission_csv(valid_submission, tmp_path, FRIDAY)
    assert path == tmp_path / "signals_2026-11-13.csv"
    back = pd.read_csv(path)
    validate_submission_signals(UNIVERSE.copy(), back)
    assert back["signal"].gt(0).all() and back["signal"].lt(1).all()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def _with_signals(rows: pd.DataFrame, values: dict[int, float]) -> pd.DataFrame:
    rows = rows.copy()
    for position, value in values.items():
        rows.loc[position, "signal"] = value
    return rows


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: build_submission(_scaled(_universe_tickers(87) + _outside_tickers(225))),
            r"only 87 of 312 tickers are in Numerai's live universe; Numerai requires at least 100",
        ),
        (
            lambda: _with_signals(build_submission(_scaled(_universe_tickers(200))), {3: np.nan, 5: np.nan, 7: np.nan}),
            r"3 NaN signals",
        ),
        (
            lambda: build_submission(_scaled(_universe_tickers(250))).assign(signal=0.5),
            r"signal is constant \(std 0\) across 250 tickers",
        ),
        (
            lambda: pd.concat(
                [build_submission(_scaled(_universe_tickers(200))), build_submission(_scaled(_universe_tickers(12)))]
            ),
            r"12 duplicated tickers: T000 US, T001 US, .*, \.\.\.",
        ),
        (
            lambda: _with_signals(build_submission(_scaled(_universe_tickers(200))), {0: 0.0, 1: 1.0}),
            r"values must lie strictly inside \(0, 1\): 2 of 200 at 0 or 1",
        ),
        (
            lambda: _with_signals(build_submission(_scaled(_universe_tickers(200))), {0: 1.5}),
            r"values must lie strictly inside \(0, 1\): 1 of 200 are outside",
        ),
        (
            lambda: build_submission(_scaled(_universe_tickers(200)))[["signal", "numerai_ticker"]],
            r"Invalid columns \['signal', 'numerai_ticker'\]: Numerai expects a ticker column",
        ),
    ],
    ids=["too-few-in-universe", "nan", "constant", "duplicates", "exact-bounds", "outside", "headers"],
)
def test_invalid_submission_names_rule_and_counts_and_leaves_no_file(tmp_path, make, message):
    rows = make().reset_index(drop=True)
    stale = submission_csv_path(tmp_path, FRIDAY)
    stale.write_text("numerai_ticker,signal\nOLD US,0.5\n")  # an earlier run's file for the same week
    with pytest.raises(SubmissionInvalid, match=message):
        validate_and_write_submission(UNIVERSE, rows, tmp_path, FRIDAY)
    assert not stale.exists()
    assert list(tmp_path.iterdir()) == []


def test_valid_submission_is_written_over_a_stale_file(tmp_path, valid_submission):
    submission_csv_path(tmp_path, FRIDAY).write_text("stale")
    path, report = validate_and_write_submission(UNIVERSE, valid_submission, tmp_path, FRIDAY)
    assert report.n_in_universe == 250
    pd.testing.assert_frame_equal(pd.read_csv(path), valid_submission)


def test_interrupted_write_keeps_the_valid_name_clean(tmp_path, valid_submission, monkeypatch):
    previous = submission_csv_path(tmp_path, FRIDAY)
    previous.write_text("numerai_ticker,signal\nOLD US,0.5\n")

    def write_half_then_fail(self, handle, **kwargs):
        handle.write("numerai_ticker,signal\nT000 US,0.4\n")
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_submission_csv(valid_submission, tmp_path, FRIDAY)
    assert previous.read_text() == "numerai_ticker,signal\nOLD US,0.5\n"
    assert [p.name for p in tmp_path.iterdir()] == [previous.name]


# ----- universe files -----


def test_universe_from_local_csv_and_parquet(tmp_path):
    csv = tmp_path / "universe.csv"
    pd.DataFrame({"numerai_ticker": ["000640 KR", "AAPL US"], "bloomberg_ticker": ["x", "y"]}).to_csv(csv, index=False)
    assert load_universe(csv)["numerai_ticker"].tolist() == ["000640 KR", "AAPL US"]  # leading zeros kept
    parquet = tmp_path / "universe.parquet"
    UNIVERSE.to_parquet(parquet)
    assert len(NumeraiSignals(universe_path=str(parquet)).universe()) == 300


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.parquet", None, "does not exist"),
        ("universe.csv", "ticker\nAAPL\n", "no numerai_ticker column"),
        ("universe.parquet", "not parquet", "could not be read"),
        ("universe.txt", "AAPL US", "neither .parquet nor .csv"),
    ],
)
def test_bad_universe_file_names_the_setting(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(UniverseUnavailable, match=message) as raised:
        NumeraiSignals(universe_path=str(path)).universe()
    assert "NUMERAI_UNIVERSE" in str(raised.value)


# ----- Numerai through the real numerapi client and the fake server -----


@pytest.fixture
def fake(monkeypatch, tmp_path):
    for name in ("NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY", "NUMERAI_MODEL_NAME", "NUMERAI_UNIVERSE", "TRIGGER_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SIGNALS_DATA_DIR", str(tmp_path / "data"))
    models = {"my_model": "id-1", "other_model": "id-2"}
    with FakeNumerai(models=models, universe_df=UNIVERSE, classic_models={"classic_model": "id-9"}) as server:
        monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", server.graphql_url)
        yield server


def _numerai(**overrides) -> NumeraiSignals:
    settings = {
        "public_id": FAKE_PUBLIC_ID,
        "secret_key": FAKE_SECRET_KEY,
        "model_name": "my_model",
        "retry_delay_seconds": 0.01,
    }
    return NumeraiSignals(**{**settings, **overrides})


@pytest.fixture
def csv_path(tmp_path, valid_submission) -> Path:
    return write_submission_csv(valid_submission, tmp_path / "out", FRIDAY)


def test_upload_success_returns_submission_id_and_server_got_the_exact_bytes(fake, csv_path):
    result = _numerai().upload_submission(csv_path)
    assert result.submission_id == "submission-1"
    assert (result.model_id, result.model_name, result.filename) == ("id-1", "my_model", "signals_2026-11-13.csv")
    assert fake.received_csv == csv_path.read_bytes()
    assert fake.operations() == [
        "account",
        "submissionUploadSignalsAuth",
        "PUT /upload/id-1/signals_2026-11-13.csv",
        "createSignalsSubmission",
    ]
    assert fake.submissions == [{"id": "submission-1", "filename": "id-1/signals_2026-11-13.csv", "modelId": "id-1"}]
    authorized = [req for req in fake.requests if req.operation in ("account", "createSignalsSubmission")]
    assert all(req.headers["authorization"] == f"Token {FAKE_PUBLIC_ID}${FAKE_SECRET_KEY}" for req in authorized)


def test_plain_numerapi_reports_an_upload_whose_put_was_refused(fake, csv_path):
    # Why the resource does the upload steps itself: numerapi never checks the PUT's status.
    fake.put_status = 403
    api = numerapi.SignalsAPI(FAKE_PUBLIC_ID, FAKE_SECRET_KEY, show_progress_bars=False)
    assert api.upload_predictions(str(csv_path), model_id="id-1") == "submission-1"
    assert fake.received_csv is None


def test_refused_put_fails_the_upload_and_registers_nothing(fake, csv_path):
    fake.put_status = 403
    with pytest.raises(NumeraiError, match=r"upload storage refused signals_2026-11-13.csv .*HTTP 403") as raised:
        _numerai().upload_submission(csv_path)
    assert "X-Amz-Signature" not in str(raised.value) and "fakesig" not in str(raised.value)
    assert fake.submissions == [] and fake.received_csv is None


def test_graphql_error_fails_with_numerais_message_and_the_keys_hint(fake, csv_path):
    fake.graphql_errors["submissionUploadSignalsAuth"] = "API key lacks the upload_submission scope"
    with pytest.raises(NumeraiError, match=r"refused authorizing the upload.*lacks the upload_submission scope.*"
                       r"NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY"):
        _numerai().upload_submission(csv_path)
    assert fake.received_csv is None and fake.submissions == []


def test_graphql_error_when_registering_fails(fake, csv_path):
    fake.graphql_errors["createSignalsSubmission"] = "Submission window is closed"
    with pytest.raises(NumeraiError, match=r"refused registering the submission.*window is closed.*Monday 14:30"):
        _numerai().upload_submission(csv_path)


def test_wrong_keys_fail_clearly(fake, csv_path):
    with pytest.raises(NumeraiError, match=r"refused listing the account's models: You must be authenticated"):
        _numerai(secret_key="WRONGSECRET789").upload_submission(csv_path)


def test_server_errors_fail_after_the_retries(fake, csv_path):
    fake.graphql_status = 500
    with pytest.raises(NumeraiError, match=rf"could not reach Numerai at {fake.graphql_url} while listing the "
                       r"account's models: .*500 Server Error"):
        _numerai(request_retries=2).upload_submission(csv_path)
    assert fake.operations() == ["account", "account"]


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/graphql"


def test_unreachable_numerai_fails_clearly(fake, csv_path, monkeypatch):
    url = _closed_port_url()
    monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", url)
    with pytest.raises(NumeraiError, match=rf"could not reach Numerai at {url} .*Error Connecting"):
        _numerai().upload_submission(csv_path)


def test_unknown_model_lists_the_accounts_signals_models(fake, csv_path):
    with pytest.raises(NumeraiError, match=r"'nope' is not a Signals model.*: my_model, other_model\. "
                       r"Set NUMERAI_MODEL_NAME") as raised:
        _numerai(model_name="nope").upload_submission(csv_path)
    assert "classic_model" not in str(raised.value)
    assert fake.operations() == ["account"]


def test_historical_week_is_skipped_without_any_request(fake):
    reason = _numerai().upload_reason_skipped("2026-10-31", now=NOW)
    assert reason == "week 2026-10-31 is not the latest complete week (2026-11-14): backfills never upload"
    assert fake.requests == []


def test_upload_reasons(fake):
    assert _numerai().upload_reason_skipped("2026-11-14", now=NOW) is None
    assert "has not closed yet" in _numerai().upload_reason_skipped("2026-11-21", now=NOW)
    assert "upload is off" in _numerai(upload=False).upload_reason_skipped("2026-11-14", now=NOW)
    assert _numerai(secret_key=None).upload_reason_skipped("2026-11-14", now=NOW).startswith(
        "NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set"
    )
    assert "NUMERAI_MODEL_NAME not set" in _numerai(model_name=None).upload_reason_skipped("2026-11-14", now=NOW)
    with pytest.raises(NumeraiError, match="Cannot upload: NUMERAI_MODEL_NAME not set"):
        _numerai(model_name=None).upload_submission("signals_2026-11-13.csv")
    assert fake.requests == []


def test_keys_appear_in_no_log_exception_or_repr(fake, csv_path, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []
    numerai = _numerai()
    texts.append(repr(numerai))
    numerai.upload_submission(csv_path)
    for fault in ("put", "graphql", "status"):
        fake.put_status = 403 if fault == "put" else None
        fake.graphql_errors = {"createSignalsSubmission": "bad"} if fault == "graphql" else {}
        fake.graphql_status = 502 if fault == "status" else None
        with pytest.raises(NumeraiError) as raised:
            numerai.upload_submission(csv_path)
        texts.append(str(raised.value))
    texts += [record.getMessage() for record in caplog.records]
    assert any("numerapi" in record.name for record in caplog.records)  # numerapi did log at DEBUG
    for text in texts:
        assert FAKE_PUBLIC_ID not in text and FAKE_SECRET_KEY not in text


def test_universe_is_downloaded_through_numerapi_and_cached_for_a_day(fake, tmp_path):
    numerai = _numerai()
    first = numerai.universe()
    assert first["numerai_ticker"].tolist() == UNIVERSE["numerai_ticker"].tolist()
    assert fake.operations() == ["dataset", "GET /datasets/signals/v2.1/live.parquet"]
    cache = tmp_path / "data" / "numerai" / "signals" / "v2.1" / "live.parquet"
    assert numerai.universe_cache_path() == cache and cache.is_file()
    assert [p.name for p in cache.parent.iterdir()] == ["live.parquet"]

    numerai.universe()
    assert len(fake.requests) == 2  # served from the cache

    day_old = time.time() - 25 * 3600
    os.utime(cache, (day_old, day_old))
    numerai.universe()
    assert len(fake.requests) == 4  # refreshed


def test_failed_download_falls_back_to_the_cached_universe(fake, caplog):
    numerai = _numerai()
    numerai.universe()
    day_old = time.time() - 25 * 3600
    os.utime(numerai.universe_cache_path(), (day_old, day_old))
    fake.download_status = 503
    with caplog.at_level(logging.WARNING):
        universe = numerai.universe()
    assert len(universe) == 300
    assert "Could not refresh the live universe" in caplog.text and "503" in caplog.text


@pytest.mark.parametrize("fault", ["download", "graphql", "unreachable"])
def test_failed_download_without_cache_says_to_set_numerai_universe(fake, monkeypatch, fault):
    if fault == "download":
        fake.download_status = 503
    elif fault == "graphql":
        fake.graphql_errors["dataset"] = "dataset signals/v2.1/live.parquet not found"
    else:
        monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", _closed_port_url())
    with pytest.raises(NumeraiError, match=r"Numerai could not be reached .* no cached copy.*set NUMERAI_UNIVERSE"):
        _numerai().universe()
