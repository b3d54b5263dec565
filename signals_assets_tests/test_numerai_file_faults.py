"""Numerai files that cannot be read or used, written for real into NUMERAI_DATA_DIR-style folders (copies of
the packaged synthetic files with one file broken) and into the download cache: each gives one
NumeraiDataError naming the file, what is wrong and the fix; `signal_evaluation` stores the week as `no_data`
with that reason (never `pending`: time does not mend a broken file); the point-in-time universe falls back
to the live file."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from datetime import timedelta
from importlib import resources as package_files
from pathlib import Path

import duckdb
import numerapi
import numerapi.base_api
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, materialize

from signals_assets.definitions import build_definitions
from signals_assets.defs.ingestion.resources import SampleNews
from signals_assets.defs.numerai.data import NumeraiData
from signals_assets.defs.numerai.resources import NumeraiSignals
from signals_assets.defs.sentiment.resources import FinBERT
from signals_assets.defs.signal.resources import SignalSettings
from signals_assets.defs.warehouse import warehouse_io_manager
from signals_assets.evaluation.scoring import score_week
from signals_assets.evaluation.week_data import read_week_data
from signals_assets.news.sample import SAMPLE_WEEK_KEYS, sample_universe
from signals_assets.numerai.datasets import EXAMPLE_PREDS, LIVE, NEUTRALIZER, VALIDATION, NumeraiDataError, NumeraiFiles
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI
from signals_assets.numerai.universe import numerai_live_universe
from signals_assets.signal.scaling import build_scaled_signal
from signals_assets.weeks import Week, with_week_column
from signals_assets_tests.numerai_server import FakeNumerai

PACKAGED = Path(str(package_files.files("signals_assets.numerai") / "sample_data"))
WEEK = Week.from_key(SAMPLE_WEEK_KEYS[1])  # a sample week whose targets have resolved, the week before it too
FRIDAY, PREVIOUS_FRIDAY = WEEK.friday, WEEK.friday - timedelta(days=7)
TICKERS = sample_universe()["numerai_ticker"].astype(str).tolist()
LOG = logging.getLogger("signals_assets_tests.numerai_file_faults")


def rewrite(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    change(pd.read_parquet(path)).to_parquet(path, index=False)


def on_friday(frame: pd.DataFrame) -> pd.Series:
    return frame["date"] == pd.Timestamp(FRIDAY)


def duplicate_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame[on_friday(frame)].head(3)], ignore_index=True)


def infinite_targets(frame: pd.DataFrame) -> pd.DataFrame:
    targets = [column for column in frame.columns if column.startswith("target")]
    frame.loc[on_friday(frame), targets] = np.inf
    return frame


def damage_fridays_row_group(path: Path) -> None:
    """Overwrite the first page of the Friday's row group: the footer stays whole, the page does not."""
    metadata = pq.ParquetFile(path).metadata
    (group,) = [
        i
        for i in range(metadata.num_row_groups)
        if metadata.row_group(i).column(1).statistics.min == pd.Timestamp(FRIDAY)
    ]
    offset = metadata.row_group(group).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 64] = b"\xab" * 64
    path.write_bytes(bytes(data))


# fault -> (the broken file, how it is broken, words the message must hold about the problem)
FAULTS: dict[str, tuple[str, Callable[[Path], object], str]] = {
    "corrupt bytes": (VALIDATION, lambda p: p.write_bytes(b"PAR1 not a parquet file at all"), "no parquet footer"),
    "truncated": (VALIDATION, lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "cut short"),
    "empty file": (VALIDATION, lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    "no rows": (VALIDATION, lambda p: rewrite(p, lambda f: f.iloc[:0]), "has no rows"),
    "damaged page": (VALIDATION, damage_fridays_row_group, "pyarrow"),
    "duplicate rows": (NEUTRALIZER, lambda p: rewrite(p, duplicate_rows), "6 duplicated (date, numerai_ticker) rows"),
    "no prediction column": (EXAMPLE_PREDS, lambda p: rewrite(p, lambda f: f.drop(columns="signal")), "no prediction"),
    "lower-case tickers": (
        VALIDATION,
        lambda p: rewrite(p, lambda f: f.assign(numerai_ticker=f["numerai_ticker"].str.lower())),
        "not upper-case",
    ),
    "infinite targets": (VALIDATION, lambda p: rewrite(p, infinite_targets), "are infinite"),
    "no target column": (
        VALIDATION,
        lambda p: rewrite(p, lambda f: f.drop(columns=[c for c in f.columns if c.startswith("target")])),
        "has no column 'target'",
    ),
    "missing file": (NEUTRALIZER, lambda p: p.unlink(), "has no validation_neutralizer.parquet"),
}


def broken_folder(tmp_path: Path, fault: str) -> Path:
    folder = tmp_path / "numerai"
    shutil.copytree(PACKAGED, folder)
    name, damage, _words = FAULTS[fault]
    damage(folder / name)
    return folder


def assert_names_file_problem_and_fix(message: str, fault: str, folder: Path) -> None:
    name, _damage, words = FAULTS[fault]
    assert name in message and words in message, message
    assert "NUMERAI_DATA_DIR" in message and (str(folder / name) in message or str(folder) in message), message


def read_fault(files: NumeraiFiles, name: str) -> object:
    """What the evaluation reads of `name` on the Friday."""
    if name == NEUTRALIZER:
        return files.neutralizer(FRIDAY)
    if name == EXAMPLE_PREDS:
        return files.example_preds(FRIDAY)
    return files.targets(FRIDAY)


# ----- each fault: one error naming the file, the problem and the fix -----


@pytest.mark.parametrize("fault", [fault for fault in FAULTS if fault != "missing file"])
def test_a_file_that_cannot_be_read_or_used_is_one_error_naming_it_and_the_fix(tmp_path, fault):
    folder = broken_folder(tmp_path, fault)
    with pytest.raises(NumeraiDataError) as raised:
        read_fault(NumeraiFiles(data_dir=folder), FAULTS[fault][0])
    assert_names_file_problem_and_fix(str(raised.value), fault, folder)


def test_duplicates_are_reported_as_duplicates_not_as_a_hint_about_filters(tmp_path):
    folder = broken_folder(tmp_path, "duplicate rows")
    with pytest.raises(NumeraiDataError) as raised:
        NumeraiFiles(data_dir=folder).neutralizer(FRIDAY)
    message = str(raised.value)
    assert f"e.g. {TICKERS[0]!r}" in message and str(FRIDAY) in message and "filters" not in message


def test_a_damaged_cached_download_says_to_delete_it(tmp_path):
    cache = tmp_path / "cache"
    cached = cache / "signals/v3.0" / VALIDATION
    cached.parent.mkdir(parents=True)
    cached.write_bytes((PACKAGED / VALIDATION).read_bytes()[:-100])  # cut short: the footer is gone
    files = NumeraiFiles(cache_dir=cache, api=SignalsAPI(None, None), version="signals/v3.0")
    with pytest.raises(NumeraiDataError) as raised:
        files.targets(FRIDAY)
    message = str(raised.value)
    assert f"Numerai's signals/v3.0/{VALIDATION}" in message and "cut short" in message
    assert f"Delete {cached} so that the next run downloads it again" in message


# ----- the week: no_data with the reason, pending only while targets resolve -----


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_week_is_no_data_with_the_reason_never_pending(tmp_path, fault):
    folder = broken_folder(tmp_path, fault)
    data = read_week_data(lambda: NumeraiFiles(data_dir=folder), FRIDAY, PREVIOUS_FRIDAY)
    assert data.problem is not None
    assert_names_file_problem_and_fix(data.problem, fault, folder)
    signal = pd.Series(np.linspace(0.01, 0.99, len(TICKERS)), index=TICKERS)
    score = score_week(signal, TICKERS, **data.inputs())
    assert score.status == "no_data" and score.ncorr is None
    assert set(score.reasons.values()) == {data.problem}


def test_only_unresolved_targets_wait():
    def files() -> NumeraiFiles:
        return NumeraiFiles(data_dir=PACKAGED)

    newest = Week.from_key(SAMPLE_WEEK_KEYS[-1]).friday  # NaN targets: the newest date of the file
    for friday in (newest, newest + timedelta(weeks=1)):
        data = read_week_data(files, friday, friday - timedelta(days=7))
        assert data.problem is None
        signal = pd.Series(np.linspace(0.01, 0.99, len(TICKERS)), index=TICKERS)
        assert score_week(signal, TICKERS, **data.inputs()).status == "pending"
    before = read_week_data(files, FRIDAY - timedelta(weeks=10), FRIDAY - timedelta(weeks=11))
    assert "is before the first date" in before.problem


def test_targets_nan_long_after_they_should_have_resolved_are_no_data(tmp_path):
    fridays = [FRIDAY + timedelta(weeks=i) for i in range(26)]
    rows = [{"numerai_ticker": t, "date": pd.Timestamp(f), "target": 0.5} for f in fridays for t in TICKERS[:20]]
    frame = pd.DataFrame(rows)
    frame.loc[frame["date"] == pd.Timestamp(FRIDAY), "target"] = np.nan
    frame.to_parquet(tmp_path / VALIDATION, index=False)
    data = read_week_data(lambda: NumeraiFiles(data_dir=tmp_path), FRIDAY, PREVIOUS_FRIDAY)
    assert "target is NaN for every ticker" in data.problem and "25 weeks later" in data.problem


def test_targets_that_can_never_resolve_are_no_data_in_score_week():
    signal = pd.Series(np.linspace(0.01, 0.99, len(TICKERS)), index=TICKERS)
    infinite = score_week(signal, TICKERS, targets=pd.Series(np.inf, index=TICKERS))
    assert infinite.status == "no_data" and "infinite" in infinite.reasons["ncorr"]
    lower = score_week(signal, TICKERS, targets=pd.Series(0.5, index=[t.lower() for t in TICKERS]))
    assert lower.status == "no_data" and "differ only in upper/lower case" in lower.reasons["ncorr"]
    unresolved = score_week(signal, TICKERS, targets=pd.Series(np.nan, index=TICKERS))
    assert unresolved.status == "pending"


# ----- the saved listing and the download -----


@pytest.fixture
def fake(monkeypatch):
    with FakeNumerai(models={}) as server:
        for name in (VALIDATION, NEUTRALIZER, EXAMPLE_PREDS, LIVE):
            server.add_dataset(f"signals/v3.0/{name}", (PACKAGED / name).read_bytes())
        monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", server.graphql_url)
        yield server


def api() -> SignalsAPI:
    return SignalsAPI(None, None, request_retries=1, retry_delay_seconds=0.01)


@pytest.mark.parametrize("saved", ['["signals/v3.0/validation.par', '{"not": "a list"}'])
def test_an_unreadable_saved_listing_is_asked_again_and_rewritten_whole(fake, tmp_path, caplog, saved):
    listing = tmp_path / "cache" / "list_datasets.json"
    listing.parent.mkdir(parents=True)
    listing.write_text(saved)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        assert NumeraiFiles(cache_dir=tmp_path / "cache", api=api(), log=LOG).version_of(VALIDATION) == "signals/v3.0"
    assert str(listing) in caplog.text and "asking Numerai again" in caplog.text
    assert "signals/v3.0/validation.parquet" in json.loads(listing.read_text())
    assert sorted(p.name for p in listing.parent.iterdir()) == ["list_datasets.json"]  # no temp file left


def test_a_download_that_is_not_parquet_names_the_file_numerai_and_the_fix(fake, tmp_path):
    fake.datasets[f"signals/v3.0/{NEUTRALIZER}"] = b"<html><body>Access denied</body></html>"
    files = NumeraiFiles(cache_dir=tmp_path / "cache", api=api())
    with pytest.raises(NumeraiDataError) as raised:
        files.neutralizer(FRIDAY)
    message = str(raised.value)
    assert f"The {NEUTRALIZER} that Numerai served for signals/v3.0 is not a parquet file" in message
    assert "nothing was cached" in message and "NUMERAI_DATASET_VERSION" in message
    assert not (tmp_path / "cache" / "signals/v3.0" / NEUTRALIZER).exists()


# ----- the universe -----


def test_a_live_download_that_is_not_a_universe_names_what_numerai_served(fake, tmp_path):
    fake.datasets[f"signals/v3.0/{LIVE}"] = b"<html><body>Access denied</body></html>"
    files = NumeraiFiles(cache_dir=tmp_path / "cache", api=api(), version="signals/v3.0")
    with pytest.raises(NumeraiError) as raised:
        numerai_live_universe(files, LOG)
    message = str(raised.value)
    assert "Numerai served an unusable file for the live universe" in message
    assert f"The signals/v3.0/{LIVE} that Numerai served could not be read" in message and ".live." not in message


def test_an_unreadable_live_file_in_the_folder_names_numerai_data_dir(tmp_path):
    folder = tmp_path / "numerai"
    shutil.copytree(PACKAGED, folder)
    (folder / LIVE).write_bytes(b"truncated")
    with pytest.raises(NumeraiDataError) as raised:
        numerai_live_universe(NumeraiFiles(data_dir=folder), LOG)
    message = str(raised.value)
    assert f"{folder / LIVE} (NUMERAI_DATA_DIR) is not a usable live universe" in message
    assert "unset NUMERAI_DATA_DIR" in message and "NUMERAI_UNIVERSE" in message


# ----- through Dagster: the stored rows -----

DEFINITIONS = build_definitions()
GRAPH = [*DEFINITIONS.assets, *DEFINITIONS.asset_checks]


def plant(database: str, table: str, frame: pd.DataFrame) -> None:
    """Rows as the week's asset writes them (the DuckDB IO manager creates a table from the frame the same way)."""
    with duckdb.connect(database) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS signals")
        connection.register("planted", frame)
        connection.execute(f"CREATE TABLE IF NOT EXISTS signals.{table} AS SELECT * FROM planted WHERE false")
        connection.execute(f"INSERT INTO signals.{table} SELECT * FROM planted")
        connection.unregister("planted")


def plant_week(database: str) -> None:
    """The week's stored signal of two variants and its universe: what signal_evaluation reads besides Numerai's
    files."""
    sentiment = np.random.default_rng(7).uniform(-1, 1, len(TICKERS))
    scaled = pd.concat(
        [
            build_scaled_signal(pd.DataFrame({"numerai_ticker": TICKERS, "sentiment": values}), FRIDAY).assign(
                variant=name
            )
            for name, values in (("finbert", sentiment), ("provider_labels", np.sign(sentiment)))
        ],
        ignore_index=True,
    )
    universe = sample_universe()[["numerai_ticker", "bloomberg_ticker"]].astype("string")
    for table, frame in (("scaled_signal", scaled), ("numerai_universe", universe)):
        plant(database, table, with_week_column(frame, WEEK))


def materialize_alone(warehouse, folder: Path, selection: str = "signal_evaluation", **numerai):
    """`selection` alone for the week, with Numerai's files from `folder`: the result, its metadata and warnings."""
    resources = {
        "warehouse": warehouse,
        "io_manager": warehouse_io_manager,
        "news": SampleNews(),
        "finbert": FinBERT(),  # never loaded: only the selected asset runs
        "signal_settings": SignalSettings(),
        "numerai": NumeraiSignals(**{"universe": "sample", **numerai}),
        "numerai_data": NumeraiData(data_dir=str(folder), dataset_version=None),
    }
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            GRAPH, partition_key=WEEK.key, selection=[selection], resources=resources, instance=instance
        )
        warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    (event,) = result.get_asset_materialization_events()
    return result, {key: value.value for key, value in event.materialization.metadata.items()}, warnings


@pytest.mark.parametrize("fault", ["corrupt bytes", "duplicate rows", "no target column", "missing file"])
def test_signal_evaluation_stores_no_data_with_the_reason(warehouse, tmp_path, fault):
    plant_week(warehouse.database)
    folder = broken_folder(tmp_path, fault)
    result, metadata, warnings = materialize_alone(warehouse, folder)
    assert result.success
    with duckdb.connect(warehouse.database, read_only=True) as connection:
        rows = connection.execute(
            "SELECT signal, status, ncorr FROM signals.signal_evaluation WHERE week_start = ?", [WEEK.key]
        ).fetchdf()
    assert rows["status"].tolist() == ["no_data", "no_data"] and rows["ncorr"].isna().all()
    assert_names_file_problem_and_fix(metadata["numerai_data"], fault, folder)
    assert metadata["reasons"]["finbert"]["ncorr"] == metadata["numerai_data"]
    assert any("cannot be scored (no_data)" in w and metadata["numerai_data"] in w for w in warnings)


def test_the_point_in_time_universe_falls_back_to_the_live_file_when_validation_is_unreadable(warehouse, tmp_path):
    folder = broken_folder(tmp_path, "corrupt bytes")
    result, metadata, warnings = materialize_alone(warehouse, folder, "numerai_universe", universe="live")
    assert result.success
    assert metadata["point_in_time"] is False and metadata["source"] == f"{folder / LIVE} (NUMERAI_DATA_DIR)"
    (warning,) = [w for w in warnings if "the live universe is used" in w]
    assert f"{folder / VALIDATION} (NUMERAI_DATA_DIR) is not a readable parquet file" in warning


def test_numerai_unreachable_is_no_data_too(monkeypatch, tmp_path):
    monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", "http://127.0.0.1:9/graphql")
    data = read_week_data(lambda: NumeraiFiles(cache_dir=tmp_path / "cache", api=api()), FRIDAY, PREVIOUS_FRIDAY)
    assert "could not list Numerai's datasets" in data.problem
