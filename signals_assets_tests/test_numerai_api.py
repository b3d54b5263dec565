"""Numerai through the real numerapi client against a loopback fake: the upload, the live universe, the resource."""

from __future__ import annotations

import io
import logging
import os
import socket
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numerapi
import numerapi.base_api
import numpy as np
import pandas as pd
import pytest

from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.news.sample import sample_universe
from signals_assets.numerai.datasets import NumeraiDataError
from signals_assets.numerai.log_redaction import KeyRedactingFilter, redacting_library_logs
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI, UploadResult
from signals_assets.numerai.submission_file import build_submission, write_submission_csv
from signals_assets.numerai.universe import UniverseUnavailable, live_universe
from signals_assets.numerai.upload_policy import reason_not_to_upload
from signals_assets.signal.scaling import build_scaled_signal
from signals_assets.weeks import Week, latest_complete_week
from signals_assets_tests.numerai_server import FAKE_PUBLIC_ID, FAKE_SECRET_KEY, FakeNumerai

FRIDAY = date(2026, 11, 13)
NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)  # latest complete week then: 2026-11-14
DATASET = "signals/v2.1"
UNIVERSE = pd.DataFrame(
    {
        "numerai_ticker": [f"T{i:03d} US" for i in range(300)],
        "composite_figi": [f"BBG{i:09d}" for i in range(300)],
    }
)
LOG = logging.getLogger("signals_assets_tests.numerai")
# numerapi logs through logging.getLogger(__name__) in each module; urllib3 logs request lines at DEBUG.
LIBRARY_LOGGERS = (
    "numerapi",
    "numerapi.base_api",
    "numerapi.utils",
    "numerapi.signalsapi",
    "numerapi.numerapi",
    "numerapi.cryptoapi",
    "numerapi.cli",
    "urllib3",
    "urllib3.connectionpool",
)
WRONG_SECRET = "WRONGSECRET789"


@pytest.fixture
def fake(monkeypatch):
    for name in (
        "NUMERAI_PUBLIC_ID",
        "NUMERAI_SECRET_KEY",
        "NUMERAI_MODEL_NAME",
        "NUMERAI_UNIVERSE",
        "TRIGGER_ID",
        "NUMERAI_COMPUTE_ID",
    ):
        monkeypatch.delenv(name, raising=False)
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
        "universe": "live",
    }
    return NumeraiSignals(**{**settings, **overrides})


def _data(**settings) -> NumeraiData:
    """Numerai's files as the live universe reads them: by default downloaded, from the newest version."""
    return NumeraiData(**{"data_dir": None, "dataset_version": None, **settings})


def _api(**overrides) -> SignalsAPI:
    settings = {"public_id": FAKE_PUBLIC_ID, "secret_key": FAKE_SECRET_KEY, "retry_delay_seconds": 0.01}
    settings.update(overrides)
    return SignalsAPI(settings.pop("public_id"), settings.pop("secret_key"), **settings)


@pytest.fixture
def csv_path(tmp_path) -> Path:
    tickers = UNIVERSE["numerai_ticker"].head(250).tolist()
    sentiment = np.random.default_rng(3).uniform(-1, 1, len(tickers))
    scaled = build_scaled_signal(pd.DataFrame({"numerai_ticker": tickers, "sentiment": sentiment}), FRIDAY)
    return write_submission_csv(build_submission(scaled), tmp_path / "out", FRIDAY)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/graphql"


def _age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (pytest swaps it between phases)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


@pytest.fixture
def library_log(capfd):
    """A real formatting handler on the root logger and on numerapi's and urllib3's loggers, all at DEBUG,
    writing to a buffer (returned) and to stderr (captured by capfd)."""
    buffer = io.StringIO()
    handlers = [logging.StreamHandler(buffer), _StderrHandler()]
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        for handler in handlers:
            logger.addHandler(handler)
    yield buffer
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
        for handler in handlers:
            logger.removeHandler(handler)


def _raised(call) -> str:
    with pytest.raises(NumeraiError) as raised:
        call()
    return str(raised.value)


# ----- the upload -----


def test_upload_success_returns_submission_id_and_server_got_the_exact_bytes(fake, csv_path):
    result = _api().upload(csv_path, "my_model")
    assert result == UploadResult(
        submission_id="submission-1", model_id="id-1", model_name="my_model", filename="signals_2026-11-13.csv"
    )
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


def test_resource_uploads_as_its_model(fake, csv_path, caplog):
    with caplog.at_level(logging.INFO, logger=LOG.name):
        result = _numerai().upload_submission(csv_path, LOG)
    assert (result.submission_id, result.model_id, result.model_name) == ("submission-1", "id-1", "my_model")
    assert fake.received_csv == csv_path.read_bytes()
    assert "Uploaded signals_2026-11-13.csv as Signals model my_model: submission submission-1." in caplog.text


def test_plain_numerapi_reports_an_upload_whose_put_was_refused(fake, csv_path):
    # Why SignalsAPI does the upload steps itself: numerapi never checks the PUT's status.
    fake.put_status = 403
    api = numerapi.SignalsAPI(FAKE_PUBLIC_ID, FAKE_SECRET_KEY, show_progress_bars=False)
    assert api.upload_predictions(str(csv_path), model_id="id-1") == "submission-1"
    assert fake.received_csv is None


def test_refused_put_fails_the_upload_and_registers_nothing(fake, csv_path):
    fake.put_status = 403
    with pytest.raises(NumeraiError, match=r"upload storage refused signals_2026-11-13.csv .*HTTP 403") as raised:
        _api().upload(csv_path, "my_model")
    assert "X-Amz-Signature" not in str(raised.value) and "fakesig" not in str(raised.value)
    assert fake.submissions == [] and fake.received_csv is None
    assert "createSignalsSubmission" not in fake.operations()


def test_graphql_error_fails_with_numerais_message_and_the_keys_hint(fake, csv_path):
    fake.graphql_errors["submissionUploadSignalsAuth"] = "API key lacks the upload_submission scope"
    with pytest.raises(
        NumeraiError,
        match=r"refused authorizing the upload.*lacks the upload_submission scope.*NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY",
    ):
        _api().upload(csv_path, "my_model")
    assert fake.received_csv is None and fake.submissions == []


def test_graphql_error_when_registering_fails(fake, csv_path):
    fake.graphql_errors["createSignalsSubmission"] = "Submission window is closed"
    with pytest.raises(NumeraiError, match=r"refused registering the submission.*window is closed.*Monday 14:30"):
        _api().upload(csv_path, "my_model")


@pytest.mark.parametrize("failure", ["http", "graphql", "no_id"])
def test_registering_failure_after_the_put_says_the_file_is_stored_but_not_registered(fake, csv_path, failure):
    if failure == "http":
        fake.fail_with["createSignalsSubmission"] = [503, 503]
    elif failure == "graphql":
        fake.graphql_errors["createSignalsSubmission"] = "internal error"
    else:
        fake.answers["createSignalsSubmission"] = {"createSignalsSubmission": {"id": None, "firstEffectiveDate": None}}
    message = _raised(lambda: _api(request_retries=2).upload(csv_path, "my_model"))
    assert fake.received_csv == csv_path.read_bytes() and fake.submissions == []  # stored, not registered
    assert "Nothing was uploaded" not in message
    assert "signals_2026-11-13.csv was stored at Numerai but not registered as a submission" in message
    assert "rerun the upload (it uploads the file again and registers it)" in message
    # What the message says to do works: the rerun uploads again and registers.
    fake.graphql_errors, fake.answers = {}, {}
    assert _api().upload(csv_path, "my_model").submission_id == "submission-1"
    assert fake.operations().count("PUT /upload/id-1/signals_2026-11-13.csv") == 2


def test_wrong_keys_fail_clearly(fake, csv_path):
    with pytest.raises(NumeraiError, match=r"refused listing the account's models: You must be authenticated"):
        _numerai(secret_key="WRONGSECRET789").upload_submission(csv_path, LOG)
    assert fake.operations() == ["account"]


def test_server_errors_fail_after_the_retries(fake, csv_path):
    fake.graphql_status = 500
    with pytest.raises(
        NumeraiError,
        match=rf"could not reach Numerai at {fake.graphql_url} while listing the account's models: .*500 Server Error",
    ):
        _numerai(request_retries=2).upload_submission(csv_path, LOG)
    assert fake.operations() == ["account", "account"]


def test_unreachable_numerai_fails_clearly(fake, csv_path, monkeypatch):
    url = _closed_port_url()
    monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", url)
    with pytest.raises(NumeraiError, match=rf"could not reach Numerai at {url} .*Error Connecting"):
        _api().upload(csv_path, "my_model")


def test_unknown_model_lists_the_accounts_signals_models(fake, csv_path):
    with pytest.raises(
        NumeraiError, match=r"'nope' is not a Signals model.*: my_model, other_model\. Set NUMERAI_MODEL_NAME"
    ) as raised:
        _numerai(model_name="nope").upload_submission(csv_path, LOG)
    assert "classic_model" not in str(raised.value)
    assert fake.operations() == ["account"]


def test_model_id_is_resolved_among_signals_models_only(fake):
    assert _api().resolve_model_id("other_model") == "id-2"
    with pytest.raises(NumeraiError, match="'classic_model' is not a Signals model"):
        _api().resolve_model_id("classic_model")


def test_upload_without_model_name_or_keys_or_file_makes_no_request(fake, csv_path, tmp_path):
    with pytest.raises(NumeraiError, match="Cannot upload: NUMERAI_MODEL_NAME not set"):
        _numerai(model_name=None).upload_submission(csv_path, LOG)
    with pytest.raises(NumeraiError, match="Cannot upload: NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set"):
        _numerai(public_id=None).upload_submission(csv_path, LOG)
    with pytest.raises(NumeraiError, match="NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set"):
        _api(secret_key=None).resolve_model_id("my_model")
    with pytest.raises(NumeraiError, match=r"Cannot upload .*signals_2026-11-20.csv: no such file"):
        _api().upload(tmp_path / "signals_2026-11-20.csv", "my_model")
    assert fake.requests == []


# ----- which week uploads -----


def test_historical_week_is_skipped_without_any_request(fake):
    reason = reason_not_to_upload(
        Week.from_key("2026-10-31"), upload=True, keys_set=True, model_name="my_model", now=NOW
    )
    assert reason == "week 2026-10-31 is not the latest complete week (2026-11-14): backfills never upload"
    assert fake.requests == []


def test_upload_reasons(fake):
    def reason(key="2026-11-14", upload=True, keys_set=True, model_name="my_model"):
        return reason_not_to_upload(
            Week.from_key(key), upload=upload, keys_set=keys_set, model_name=model_name, now=NOW
        )

    assert reason() is None
    assert "has not closed yet" in reason("2026-11-21")
    assert "upload is off" in reason(upload=False)
    assert reason(keys_set=False).startswith("NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set")
    assert "NUMERAI_MODEL_NAME not set" in reason(model_name=None)
    assert "NUMERAI_MODEL_NAME not set" in reason(model_name="")
    assert fake.requests == []


def test_resource_upload_reasons_follow_its_settings(fake):
    latest = latest_complete_week()
    backfill = Week.from_key((latest.start - timedelta(days=7)).strftime("%Y-%m-%d"))
    assert _numerai().reason_not_to_upload(latest) is None
    assert "backfills never upload" in _numerai().reason_not_to_upload(backfill)
    assert "upload is off" in _numerai(upload=False).reason_not_to_upload(latest)
    assert (
        _numerai(secret_key=None)
        .reason_not_to_upload(latest)
        .startswith("NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY not set")
    )
    assert _numerai(public_id="").reason_not_to_upload(latest).startswith("NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY")
    assert "NUMERAI_MODEL_NAME not set" in _numerai(model_name=None).reason_not_to_upload(latest)
    assert fake.requests == []


# ----- the keys -----


def test_keys_appear_in_no_log_exception_or_repr(fake, csv_path, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    numerai = _numerai()
    api = numerai.api()
    assert api.has_keys and not _api(public_id=None).has_keys
    texts = [repr(numerai), str(numerai), repr(api), str(api)]
    numerai.upload_submission(csv_path, LOG)
    for fault in ("put", "graphql", "status"):
        fake.put_status = 403 if fault == "put" else None
        fake.graphql_errors = {"createSignalsSubmission": "bad"} if fault == "graphql" else {}
        fake.graphql_status = 502 if fault == "status" else None
        with pytest.raises(NumeraiError) as raised:
            numerai.upload_submission(csv_path, LOG)
        texts.append(str(raised.value))
    fake.graphql_status = None
    fake.download_status = 503
    with pytest.raises(NumeraiError) as raised:
        numerai.load_universe(_data(), tmp_path / "numerai", LOG)
    texts.append(str(raised.value))
    texts += [record.getMessage() for record in caplog.records]
    assert any("numerapi" in record.name for record in caplog.records)  # numerapi did log at DEBUG
    for text in texts:
        assert FAKE_PUBLIC_ID not in text and FAKE_SECRET_KEY not in text


def test_keys_reach_no_library_log_when_numerai_echoes_the_authorization_header(
    fake, csv_path, tmp_path, library_log, capfd
):
    fake.echo_authorization = True  # every error answer (body and HTTP reason) repeats the Authorization header
    api = _api(request_retries=1)
    texts = []
    fake.graphql_errors = {"account": "Unauthorized"}  # a GraphQL error: numerapi.base_api logs it at ERROR
    texts.append(_raised(lambda: api.upload(csv_path, "my_model")))
    fake.graphql_errors = {"createSignalsSubmission": "Unauthorized"}  # the same after the PUT
    texts.append(_raised(lambda: api.upload(csv_path, "my_model")))
    fake.graphql_errors = {}
    texts.append(_raised(lambda: _api(secret_key=WRONG_SECRET).upload(csv_path, "my_model")))  # echoes wrong keys
    fake.graphql_status = 500  # an HTTP error: numerapi.utils logs `Http Error: 500 <reason> ...` at ERROR
    texts.append(_raised(lambda: api.upload(csv_path, "my_model")))
    fake.graphql_status = None
    fake.put_status = 403
    texts.append(_raised(lambda: api.upload(csv_path, "my_model")))
    fake.put_status = None
    fake.graphql_errors = {"dataset": "dataset not found"}  # the download path: GraphQL error, then HTTP error
    texts.append(_raised(lambda: api.download(f"{DATASET}/live.parquet", tmp_path / "live.parquet")))
    fake.graphql_errors = {}
    fake.download_status = 503
    texts.append(_raised(lambda: api.download(f"{DATASET}/live.parquet", tmp_path / "live.parquet")))

    logged = library_log.getvalue()
    captured = capfd.readouterr()
    for text in [logged, captured.err, captured.out, *texts]:
        for secret in (FAKE_PUBLIC_ID, FAKE_SECRET_KEY, WRONG_SECRET, "fakesig"):
            assert secret not in text
    # numerapi did log the echoed header, on both of its loggers, to the handlers and to stderr: redacted.
    redacted = "Invalid API key: got header 'Token <redacted>$<redacted>'"
    assert f"ERROR numerapi.base_api: Unauthorized: {redacted}" in logged
    assert f"ERROR numerapi.utils: Http Error: 500 Server Error: Internal Server Error: {redacted}" in logged
    assert redacted in captured.err
    # The download asks for no key: numerapi sends its dataset query and the file's GET unauthorized.
    assert all("authorization" not in req.headers for req in fake.requests if req.operation in ("dataset", None))


def _redacting(name: str) -> bool:
    return any(isinstance(f, KeyRedactingFilter) for f in logging.getLogger(name).filters)


def test_log_redaction_covers_args_formatted_records_and_tracebacks_and_is_removed_after(library_log, capfd):
    header = f"Token {FAKE_PUBLIC_ID}${FAKE_SECRET_KEY}"
    source = logging.getLogger("numerapi.utils")
    with redacting_library_logs([FAKE_PUBLIC_ID, FAKE_SECRET_KEY]):
        assert all(_redacting(name) for name in LIBRARY_LOGGERS)
        source.error("got header %s", header)
        source.error("got header %(header)s", {"header": header})
        source.error("%.2s", header)  # the message hides the key, its args still hold it
        logging.getLogger("numerapi.base_api").debug({"headers": {"Authorization": header}})
        try:
            raise ValueError(header)
        except ValueError:
            source.exception("failed")
    assert not any(_redacting(name) for name in LIBRARY_LOGGERS)  # taken off again afterwards
    logged, (out, err) = library_log.getvalue(), capfd.readouterr()
    assert "got header Token <redacted>$<redacted>" in logged and "ValueError: Token <redacted>" in logged

    # A record a handler already formatted (message and traceback cached on it) is scrubbed too.
    try:
        raise ValueError(header)
    except ValueError:
        record = source.makeRecord(source.name, logging.ERROR, __file__, 1, "got %s", (header,), sys.exc_info())
    formatter = logging.Formatter("%(message)s")
    assert header in formatter.format(record)
    KeyRedactingFilter([FAKE_PUBLIC_ID, FAKE_SECRET_KEY]).filter(record)
    formatted = formatter.format(record)
    assert formatted.startswith("got Token <redacted>$<redacted>") and "ValueError: Token <redacted>" in formatted

    for text in (logged, out, err, formatted, record.getMessage(), str(record.__dict__)):
        assert FAKE_PUBLIC_ID not in text and FAKE_SECRET_KEY not in text


# ----- the live universe -----


def test_universe_is_downloaded_through_numerapi_and_cached_for_a_day(fake, tmp_path):
    cache_dir = tmp_path / "numerai"
    cache = cache_dir / "signals" / "v2.1" / "live.parquet"
    first, origin = live_universe(_api(), DATASET, cache_dir, LOG)
    assert first["numerai_ticker"].tolist() == UNIVERSE["numerai_ticker"].tolist()
    assert origin == f"Numerai's signals/v2.1/live.parquet (cached at {cache})"
    assert fake.operations() == ["dataset", "GET /datasets/signals/v2.1/live.parquet"]
    assert cache.is_file()
    assert [p.name for p in cache.parent.iterdir()] == ["live.parquet"]  # no temp file left behind

    live_universe(_api(), DATASET, cache_dir, LOG)
    assert len(fake.requests) == 2  # served from the cache

    _age(cache, 25)
    live_universe(_api(), DATASET, cache_dir, LOG)
    assert len(fake.requests) == 4  # refreshed
    assert time.time() - cache.stat().st_mtime < 3600


def test_resource_live_universe_is_numerais_file(fake, tmp_path):
    universe, origin = _numerai(universe="live").load_universe(_data(), tmp_path / "numerai", LOG)
    assert universe["numerai_ticker"].tolist() == UNIVERSE["numerai_ticker"].tolist()
    assert origin.startswith("Numerai's signals/v2.1/live.parquet")
    assert (tmp_path / "numerai" / "signals" / "v2.1" / "live.parquet").is_file()
    assert fake.operations()[0] == "listDatasets"  # the version is discovered, as for Numerai's other files


def test_resource_live_universe_follows_the_newest_version_or_the_pinned_one(fake, tmp_path):
    newer = UNIVERSE.head(200)
    fake.add_dataset("signals/v3.0/live.parquet", newer)
    fake.add_dataset("signals/v3.1/train.parquet", b"listed, never fetched")  # newer, but no live file
    cache_dir = tmp_path / "numerai"

    universe, origin = _numerai(universe="live").load_universe(_data(), cache_dir, LOG)
    assert universe["numerai_ticker"].tolist() == newer["numerai_ticker"].tolist()
    assert (
        origin == f"Numerai's signals/v3.0/live.parquet (cached at {cache_dir / 'signals' / 'v3.0' / 'live.parquet'})"
    )

    pinned, origin = _numerai(universe="live").load_universe(_data(dataset_version="v2.1"), cache_dir, LOG)
    assert len(pinned) == len(UNIVERSE) and origin.startswith("Numerai's signals/v2.1/live.parquet")
    assert fake.operations().count("listDatasets") == 1  # pinned: nothing to discover


def test_resource_live_universe_reads_numerai_data_dir_without_numerai(fake, tmp_path):
    folder = tmp_path / "numerai_files"
    folder.mkdir()
    UNIVERSE.head(150).to_parquet(folder / "live.parquet")
    universe, origin = _numerai(universe="live").load_universe(_data(data_dir=str(folder)), tmp_path / "cache", LOG)
    assert len(universe) == 150 and origin == f"{folder / 'live.parquet'} (NUMERAI_DATA_DIR)"
    assert fake.requests == []

    (folder / "live.parquet").unlink()
    with pytest.raises(NumeraiDataError, match=r"NUMERAI_DATA_DIR=.* has no live.parquet.*unset NUMERAI_DATA_DIR"):
        _numerai(universe="live").load_universe(_data(data_dir=str(folder)), tmp_path / "cache", LOG)


def test_a_pinned_version_without_a_live_file_names_the_setting(fake, tmp_path):
    with pytest.raises(
        NumeraiError, match=r"NUMERAI_DATASET_VERSION pins signals/v9.0: check that it has live.parquet"
    ):
        _numerai(universe="live").load_universe(_data(dataset_version="signals/v9.0"), tmp_path / "numerai", LOG)


def test_without_numerais_listing_the_newest_cached_live_universe_is_used(fake, monkeypatch, tmp_path, caplog):
    cache_dir = tmp_path / "numerai"
    live_universe(_api(), DATASET, cache_dir, LOG)
    monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", _closed_port_url())
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        universe, _origin = _numerai(universe="live").load_universe(_data(), cache_dir, LOG)
    assert len(universe) == len(UNIVERSE)
    assert "Could not ask Numerai which dataset versions it has" in caplog.text and "signals/v2.1" in caplog.text


def test_failed_download_falls_back_to_the_cached_universe(fake, tmp_path, caplog):
    cache_dir = tmp_path / "numerai"
    live_universe(_api(), DATASET, cache_dir, LOG)
    _age(cache_dir / "signals" / "v2.1" / "live.parquet", 25)
    fake.download_status = 503
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        universe, _origin = live_universe(_api(), DATASET, cache_dir, LOG)
    assert len(universe) == 300
    assert "Could not refresh the live universe" in caplog.text and "503" in caplog.text
    assert "fakesig" not in caplog.text


def test_corrupt_download_never_replaces_the_cached_universe(fake, tmp_path, caplog):
    cache_dir = tmp_path / "numerai"
    cache = cache_dir / "signals" / "v2.1" / "live.parquet"
    live_universe(_api(), DATASET, cache_dir, LOG)
    before = cache.read_bytes()
    _age(cache, 25)
    fake.datasets[f"{DATASET}/live.parquet"] = b"not a parquet file"
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        universe, _origin = live_universe(_api(), DATASET, cache_dir, LOG)
    assert len(universe) == 300 and cache.read_bytes() == before
    assert "could not be read" in caplog.text
    assert [p.name for p in cache.parent.iterdir()] == ["live.parquet"]


def test_unreadable_cached_universe_is_downloaded_again(fake, tmp_path, caplog):
    cache = tmp_path / "numerai" / "signals" / "v2.1" / "live.parquet"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        universe, _origin = live_universe(_api(), DATASET, tmp_path / "numerai", LOG)
    assert len(universe) == 300
    assert "The cached live universe is unreadable, downloading it again" in caplog.text
    assert fake.operations() == ["dataset", "GET /datasets/signals/v2.1/live.parquet"]


def test_unreadable_cache_and_failed_download_say_to_set_numerai_universe(fake, tmp_path):
    cache = tmp_path / "numerai" / "signals" / "v2.1" / "live.parquet"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"truncated")
    fake.download_status = 503
    with pytest.raises(NumeraiError, match=r"no cached copy.*set NUMERAI_UNIVERSE"):
        live_universe(_api(), DATASET, tmp_path / "numerai", LOG)


@pytest.mark.parametrize("fault", ["download", "graphql", "unreachable"])
def test_failed_download_without_cache_says_to_set_numerai_universe(fake, monkeypatch, tmp_path, fault):
    if fault == "download":
        fake.download_status = 503
    elif fault == "graphql":
        fake.graphql_errors["dataset"] = "dataset signals/v2.1/live.parquet not found"
    else:
        monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", _closed_port_url())
    with pytest.raises(NumeraiError, match=r"Numerai could not be reached .* no cached copy.*set NUMERAI_UNIVERSE"):
        _numerai().load_universe(_data(), tmp_path / "numerai", LOG)
    assert not (tmp_path / "numerai" / "signals" / "v2.1" / "live.parquet").exists()


def test_download_uses_the_configured_retries_and_delay(fake, tmp_path):
    fake.fail_with = {"dataset": [503, 503], "download": [502]}
    started = time.monotonic()
    _api(request_retries=3, retry_delay_seconds=0.01).download(f"{DATASET}/live.parquet", tmp_path / "live.parquet")
    assert time.monotonic() - started < 2  # numerapi's own: 5 s, doubling
    assert fake.operations() == ["dataset"] * 3 + ["GET /datasets/signals/v2.1/live.parquet"] * 2
    assert pd.read_parquet(tmp_path / "live.parquet")["numerai_ticker"].tolist() == UNIVERSE["numerai_ticker"].tolist()

    fake.fail_with = {"dataset": [503]}
    with pytest.raises(NumeraiError, match="503"):
        _api(request_retries=1).download(f"{DATASET}/live.parquet", tmp_path / "again.parquet")
    fake.fail_with = {"download": [503]}
    with pytest.raises(NumeraiError, match="503"):
        _api(request_retries=1).download(f"{DATASET}/live.parquet", tmp_path / "again.parquet")
    assert fake.operations()[5:] == ["dataset", "dataset", "GET /datasets/signals/v2.1/live.parquet"]


def test_unknown_dataset_version_is_refused_with_the_setting_named(fake, tmp_path):
    with pytest.raises(NumeraiError, match=r"refused the download of signals/v9/live.parquet.*dataset_version"):
        _api().download("signals/v9/live.parquet", tmp_path / "live.parquet")
    assert list(tmp_path.iterdir()) == []


# ----- the resource's other universes -----


def test_sample_universe_is_the_packaged_one_without_any_request(fake, tmp_path):
    # Numerai's dataset settings are not read for a universe that is not Numerai's.
    not_a_version = _data(dataset_version="not a version")
    universe, origin = _numerai(universe="sample").load_universe(not_a_version, tmp_path / "numerai", LOG)
    pd.testing.assert_frame_equal(universe, sample_universe())
    assert "sample universe" in origin
    assert fake.requests == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_universe_gives_that_files_tickers(fake, tmp_path, suffix):
    path = tmp_path / f"universe{suffix}"
    frame = pd.DataFrame({"numerai_ticker": ["000640 KR", "AAPL US"], "bloomberg_ticker": ["x", "y"]})
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    universe, origin = _numerai(universe=str(path)).load_universe(_data(), tmp_path / "numerai", LOG)
    assert universe["numerai_ticker"].tolist() == ["000640 KR", "AAPL US"]
    assert origin == f"{path} (NUMERAI_UNIVERSE)"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.parquet", None, "does not exist"),
        ("universe.csv", "ticker\nAAPL\n", "no numerai_ticker column"),
        ("universe.parquet", "not parquet", "could not be read"),
        ("universe.txt", "AAPL US", "neither .parquet nor .csv"),
    ],
)
def test_bad_universe_file_names_the_setting(fake, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(UniverseUnavailable, match=message) as raised:
        _numerai(universe=str(path)).load_universe(_data(), tmp_path / "numerai", LOG)
    assert "NUMERAI_UNIVERSE" in str(raised.value)
    assert fake.requests == []
