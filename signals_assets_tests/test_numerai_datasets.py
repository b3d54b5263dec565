"""Numerai's dataset files: the version (discovered or pinned), where the files come from (a local folder or
downloaded once), per-date reads with predicate pushdown, the target column, the point-in-time universe."""

from __future__ import annotations

import importlib
import importlib.resources
import logging
import os
from datetime import date, timedelta
from pathlib import Path

import numerapi
import numerapi.base_api
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from signals_assets.defs.environment import uses_sample_news
from signals_assets.defs.numerai import data as data_module
from signals_assets.numerai.datasets import (
    DEFAULT_TARGETS,
    EXAMPLE_PREDS,
    LIVE,
    NEUTRALIZER,
    VALIDATION,
    NumeraiDataError,
    NumeraiFiles,
    default_target,
    newest_version,
    normalize_version,
    versions,
)
from signals_assets.numerai.signals_api import NumeraiError, SignalsAPI
from signals_assets_tests.numerai_server import FakeNumerai

FRIDAYS = [date(2024, 1, 5) + timedelta(weeks=i) for i in range(8)]
UNRESOLVED = FRIDAYS[-2:]  # 60-day targets not known yet
LOG = logging.getLogger("signals_assets_tests.numerai_datasets")
DATE_FORMATS = ("timestamp", "timestamp_tz", "iso_string", "yyyymmdd_string", "yyyymmdd_int", "date32", "category")


def tickers_on(i: int) -> list[str]:
    """The universe moves: each week one ticker leaves and one joins."""
    return [f"T{j:03d} US" for j in range(i, 30 + i)]


def validation_frame(extra_rows: int = 0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i, friday in enumerate(FRIDAYS):
        tickers = tickers_on(i) + [f"X{j:05d} US" for j in range(extra_rows)]
        n = len(tickers)
        frame = pd.DataFrame({"numerai_ticker": tickers, "composite_figi": [f"BBG{t[1:4]}" for t in tickers]})
        frame["date"] = pd.Timestamp(friday)
        for column in ("feature_a", "feature_b", "target", "target_jupiter_60", "target_chili_60", "target_20d"):
            frame[column] = rng.random(n)
        if friday in UNRESOLVED:
            frame[["target", "target_jupiter_60", "target_chili_60"]] = np.nan
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def neutralizer_frame() -> pd.DataFrame:
    frame = validation_frame()[["numerai_ticker", "date"]].copy()
    rng = np.random.default_rng(1)
    for k in range(4):
        frame[f"neutralizer_{k}"] = rng.normal(size=len(frame))
    first = frame.groupby("date").cumcount()
    frame.loc[first < 2, [f"neutralizer_{k}" for k in range(4)]] = np.nan  # 2 all-NaN rows a date
    frame.loc[first == 2, "neutralizer_0"] = np.nan  # partly NaN: kept
    return frame


def example_preds_frame() -> pd.DataFrame:
    frame = validation_frame()[["numerai_ticker", "date"]].copy()
    frame["signal"] = np.linspace(0.01, 0.99, len(frame))
    return frame


def live_frame() -> pd.DataFrame:
    return pd.DataFrame({"numerai_ticker": tickers_on(9), "date": pd.Timestamp(FRIDAYS[-1] + timedelta(weeks=2))})


def write_by_date(frame: pd.DataFrame, path: Path, date_as: str = "timestamp", compression: str = "snappy") -> Path:
    """Numerai's schema, one row group per date, the date column stored as `date_as`."""
    frame = frame.copy()
    stamps = frame["date"]
    frame["date"] = {
        "timestamp": lambda: stamps,
        "timestamp_tz": lambda: stamps.dt.tz_localize("America/New_York"),
        "iso_string": lambda: stamps.dt.strftime("%Y-%m-%d"),
        "yyyymmdd_string": lambda: stamps.dt.strftime("%Y%m%d"),
        "yyyymmdd_int": lambda: stamps.dt.strftime("%Y%m%d").astype(int),
        "date32": lambda: stamps.dt.date,
        "category": lambda: stamps.dt.strftime("%Y-%m-%d").astype("category"),
    }[date_as]()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, table.schema, compression=compression) as writer:
        for day in pd.unique(stamps):
            writer.write_table(table.filter(pa.array((stamps == day).to_numpy())))
    return path


def numerai_folder(folder: Path, date_as: str = "timestamp") -> Path:
    write_by_date(validation_frame(), folder / VALIDATION, date_as)
    write_by_date(neutralizer_frame(), folder / NEUTRALIZER, date_as)
    write_by_date(example_preds_frame(), folder / EXAMPLE_PREDS, date_as)
    write_by_date(live_frame(), folder / LIVE, date_as)
    return folder


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Numerai with v2.1 (validation), v3.0 (validation, neutralizer, example preds, live), v3.1 (train, live)."""
    files = numerai_folder(tmp_path / "served")
    with FakeNumerai(models={}) as server:
        for name in (VALIDATION, NEUTRALIZER, EXAMPLE_PREDS, LIVE):
            server.add_dataset(f"signals/v3.0/{name}", (files / name).read_bytes())
        server.add_dataset(f"signals/v2.1/{VALIDATION}", (files / VALIDATION).read_bytes())
        server.add_dataset(f"signals/v2.1/{LIVE}", (files / LIVE).read_bytes())
        server.add_dataset(f"signals/v3.1/{LIVE}", (files / LIVE).read_bytes())
        server.add_dataset("signals/v3.1/train.parquet", b"not needed")
        monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", server.graphql_url)
        yield server


def api() -> SignalsAPI:
    return SignalsAPI(None, None, request_retries=1, retry_delay_seconds=0.01)


def downloads(server: FakeNumerai) -> list[str]:
    return [op for op in server.operations() if op.startswith("GET ")]


# ----- versions and targets -----


def test_newest_version_orders_versions_numerically_and_skips_files_of_other_tournaments():
    listing = [
        "signals/v2.1/validation.parquet",
        "signals/v2.1/validation_sample_weights.parquet",
        "signals/v3.9/validation.parquet",
        "signals/v3.10/validation.parquet",
        "signals/v3.10/live.parquet",
        "signals/v3.11/live.parquet",
        "v5.0/validation.parquet",  # Numerai Classic
    ]
    assert newest_version(listing, VALIDATION) == "signals/v3.10"
    assert newest_version(listing, LIVE) == "signals/v3.11"
    assert newest_version(listing, "validation_sample_weights.parquet") == "signals/v2.1"
    assert list(versions(listing)) == ["signals/v2.1", "signals/v3.9", "signals/v3.10", "signals/v3.11"]
    with pytest.raises(NumeraiDataError, match=r"validation_neutralizer.parquet.*signals/v2.1, signals/v3.9"):
        newest_version(listing, NEUTRALIZER)


def test_version_names_and_default_targets():
    assert normalize_version("signals/v3.0") == normalize_version("v3.0") == normalize_version("3.0") == "signals/v3.0"
    with pytest.raises(NumeraiDataError, match="NUMERAI_DATASET_VERSION"):
        normalize_version("latest")
    assert DEFAULT_TARGETS["signals/v3.0"] == default_target("signals/v3.0") == "target_jupiter_60"
    assert default_target("signals/v3.1") == "target" and default_target("signals/v2.1") == "target_chili_60"
    assert default_target("signals/v4.2") == default_target(None) == "target"  # the fallback


def test_the_fake_answers_numerapis_own_list_datasets(fake):
    listed = numerapi.SignalsAPI(show_progress_bars=False).list_datasets()
    assert "signals/v3.0/validation.parquet" in listed and "signals/v3.1/train.parquet" in listed


def test_each_file_comes_from_the_newest_version_that_has_it(fake, tmp_path, caplog):
    files = NumeraiFiles(cache_dir=tmp_path / "cache", api=api(), log=LOG)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert files.version_of(VALIDATION) == "signals/v3.0"
        assert files.version_of(LIVE) == "signals/v3.1"
    assert "the newest Signals dataset version with it is signals/v3.0" in caplog.text
    assert files.target_column() == "target_jupiter_60"  # v3.0's main target
    assert files.path(VALIDATION) == tmp_path / "cache" / "signals/v3.0" / VALIDATION
    assert files.path(LIVE) == tmp_path / "cache" / "signals/v3.1" / LIVE


def test_a_pinned_version_is_used_and_its_main_target_is_the_default(fake, tmp_path):
    files = NumeraiFiles(cache_dir=tmp_path / "cache", api=api(), version="v2.1")
    targets = files.targets(FRIDAYS[0])
    assert targets.name == "target_chili_60"
    assert "listDatasets" not in fake.operations()  # pinned: nothing to discover
    assert downloads(fake) == [f"GET /datasets/signals/v2.1/{VALIDATION}"]


def test_a_pinned_version_without_the_file_says_what_it_has(fake, tmp_path):
    files = NumeraiFiles(cache_dir=tmp_path / "cache", api=api(), version="signals/v3.1")
    with pytest.raises(NumeraiDataError) as raised:
        files.path(VALIDATION)
    message = str(raised.value)
    assert "signals/v3.1 has no validation.parquet" in message
    assert "live.parquet, train.parquet" in message and "NUMERAI_DATASET_VERSION" in message


def test_numerai_unreachable_without_a_cache_is_loud(monkeypatch, tmp_path):
    monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", "http://127.0.0.1:9/graphql")
    with pytest.raises(NumeraiError, match="could not list Numerai's datasets"):
        NumeraiFiles(cache_dir=tmp_path / "cache", api=api()).path(VALIDATION)


# ----- download once -----


def test_files_are_downloaded_once_and_a_second_instance_makes_no_request(fake, tmp_path):
    first = NumeraiFiles(cache_dir=tmp_path / "cache", api=api())
    first.targets(FRIDAYS[0])
    first.neutralizer(FRIDAYS[0])
    first.targets(FRIDAYS[1])
    assert downloads(fake) == [f"GET /datasets/signals/v3.0/{VALIDATION}", f"GET /datasets/signals/v3.0/{NEUTRALIZER}"]
    seen = len(fake.requests)
    second = NumeraiFiles(cache_dir=tmp_path / "cache", api=api())
    pd.testing.assert_series_equal(second.targets(FRIDAYS[0]), first.targets(FRIDAYS[0]))
    second.neutralizer(FRIDAYS[0])
    assert len(fake.requests) == seen  # the listing and the files came from the cache


def test_the_live_file_is_refreshed_daily_and_a_stale_copy_is_used_when_numerai_fails(fake, tmp_path, caplog):
    cache = tmp_path / "cache"
    NumeraiFiles(cache_dir=cache, api=api()).path(LIVE)
    live = cache / "signals/v3.1" / LIVE
    day_old = live.stat().st_mtime - 2 * 24 * 3600
    os.utime(live, (day_old, day_old))
    NumeraiFiles(cache_dir=cache, api=api(), version="signals/v3.1").path(LIVE)
    assert downloads(fake).count(f"GET /datasets/signals/v3.1/{LIVE}") == 2
    os.utime(live, (day_old, day_old))
    fake.download_status = 404
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        assert NumeraiFiles(cache_dir=cache, api=api(), version="signals/v3.1", log=LOG).path(LIVE) == live
    assert "using the cached" in caplog.text


# ----- a local folder (NUMERAI_DATA_DIR) -----


def test_a_local_folder_is_read_under_numerais_own_names_without_numerai(monkeypatch, tmp_path):
    monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", "http://127.0.0.1:9/graphql")  # never asked
    folder = numerai_folder(tmp_path / "numerai" / "signals" / "v3.0")
    files = NumeraiFiles(data_dir=folder)
    assert files.version_of(VALIDATION) == "signals/v3.0"  # from the folder's name
    assert files.targets(FRIDAYS[0]).name == "target_jupiter_60"
    assert NumeraiFiles(data_dir=folder, version="signals/v3.1").target_column() == "target"
    plain = numerai_folder(tmp_path / "plain")
    assert NumeraiFiles(data_dir=plain).target_column() == "target"  # unknown version: the fallback


def test_a_file_missing_from_the_local_folder_lists_what_it_has(tmp_path):
    folder = tmp_path / "numerai"
    write_by_date(validation_frame(), folder / VALIDATION)
    with pytest.raises(NumeraiDataError) as raised:
        NumeraiFiles(data_dir=folder).neutralizer(FRIDAYS[0])
    assert "NUMERAI_DATA_DIR" in str(raised.value) and "has no validation_neutralizer.parquet" in str(raised.value)
    assert "(it has: validation.parquet)" in str(raised.value)


# ----- per-date reads -----


@pytest.mark.parametrize("date_as", DATE_FORMATS)
def test_dates_and_a_per_date_read_whatever_type_the_date_column_has(tmp_path, date_as):
    files = NumeraiFiles(data_dir=numerai_folder(tmp_path, date_as))
    assert files.dates() == FRIDAYS
    rows = files.read_date(VALIDATION, FRIDAYS[3])
    assert sorted(rows["numerai_ticker"]) == tickers_on(3)
    assert files.last_read.rows == 30 and files.last_read.row_groups_total == len(FRIDAYS)
    if date_as != "category":  # a dictionary column has no min/max statistics to skip by
        assert files.last_read.row_groups_read == 1
    assert files.read_date(VALIDATION, date(2024, 1, 6)).empty  # not a date of the file
    assert files.has_date(FRIDAYS[0]) and not files.has_date(date(2030, 1, 4))


def _bytes_read() -> int:
    """Bytes this process has read through read()/pread() so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
def test_a_per_date_read_reads_only_that_dates_row_groups_from_disk(tmp_path):
    # 8 dates x 20,030 rows x 10 uncompressed columns: each date's row group is 1/8 of the file.
    path = write_by_date(validation_frame(extra_rows=20_000), tmp_path / VALIDATION, compression="none")
    size = path.stat().st_size
    files = NumeraiFiles(data_dir=tmp_path)
    before = _bytes_read()
    pd.read_parquet(path)  # control: a whole read reads the whole file
    assert _bytes_read() - before > 0.9 * size
    before = _bytes_read()
    assert files.dates() == FRIDAYS  # the date column only
    assert _bytes_read() - before < 0.1 * size
    before = _bytes_read()
    rows = files.read_date(VALIDATION, FRIDAYS[5])
    read = _bytes_read() - before
    assert len(rows) == 20_030 and set(rows["date"]) == {pd.Timestamp(FRIDAYS[5])}
    assert (files.last_read.row_groups_read, files.last_read.row_groups_total) == (1, 8)
    assert read < 0.2 * size, f"read {read} of {size} bytes for one date of eight"
    before = _bytes_read()
    files.read_date(VALIDATION, FRIDAYS[6], ["numerai_ticker", "target"])  # 2 of the row group's 10 columns
    assert _bytes_read() - before < 0.05 * size


def test_targets_drop_unresolved_tickers_and_a_missing_target_lists_the_files_targets(tmp_path):
    files = NumeraiFiles(data_dir=numerai_folder(tmp_path), version="signals/v3.0")
    targets = files.targets(FRIDAYS[0])
    assert targets.index.name == "numerai_ticker" and sorted(targets.index) == tickers_on(0)
    assert files.targets(UNRESOLVED[0]).empty
    assert len(files.targets(UNRESOLVED[0], "target_20d")) == 30  # a 20-day target has resolved
    frame = validation_frame().drop(columns=["target_jupiter_60"])
    write_by_date(frame, tmp_path / VALIDATION)
    with pytest.raises(NumeraiDataError) as raised:
        NumeraiFiles(data_dir=tmp_path, version="signals/v3.0").targets(FRIDAYS[0])
    message = str(raised.value)
    assert "'target_jupiter_60'" in message and "target, target_chili_60, target_20d" in message
    assert "target setting" in message
    with pytest.raises(NumeraiDataError, match="no column 'target_nope' \\(the target setting\\)"):
        NumeraiFiles(data_dir=tmp_path, target="target_nope").targets(FRIDAYS[0])


def test_the_neutralizer_and_example_predictions_of_one_date(tmp_path):
    files = NumeraiFiles(data_dir=numerai_folder(tmp_path))
    neutralizer = files.neutralizer(FRIDAYS[2])
    assert list(neutralizer.columns) == [f"neutralizer_{k}" for k in range(4)]
    assert neutralizer.index.name == "numerai_ticker" and len(neutralizer) == 28  # 2 all-NaN rows dropped
    assert neutralizer["neutralizer_0"].isna().sum() == 1
    assert files.last_read.row_groups_read == 1
    preds = files.example_preds(FRIDAYS[2])
    assert preds.name == "signal" and sorted(preds.index) == tickers_on(2)


def test_the_universe_on_a_date_of_the_historical_data_is_that_dates_tickers(tmp_path):
    files = NumeraiFiles(data_dir=numerai_folder(tmp_path, "iso_string"))
    universe = files.universe_on(FRIDAYS[4])
    assert sorted(universe["numerai_ticker"]) == tickers_on(4)
    assert list(universe.columns) == ["numerai_ticker", "composite_figi"]
    assert files.universe_on(FRIDAYS[-1] + timedelta(weeks=1)) is None  # not in the history: use the live one


# ----- the resource -----


def test_the_resource_builds_files_from_its_settings(tmp_path):
    folder = numerai_folder(tmp_path / "numerai")
    resource = data_module.NumeraiData(data_dir=str(folder), dataset_version="signals/v3.1", target="target_20d")
    files = resource.files(tmp_path / "cache")
    assert files.version_of(VALIDATION) == "signals/v3.1" and files.targets(FRIDAYS[0]).name == "target_20d"
    default = data_module.NumeraiData().files(tmp_path / "cache")
    assert default.pinned is None
    # Without STOCKNEWS_API_KEY the sample news goes with the packaged synthetic Numerai files; with it,
    # Numerai's own files (downloaded) unless NUMERAI_DATA_DIR says where they are.
    packaged = Path(str(importlib.resources.files("signals_assets.numerai") / "sample_data"))
    assert default.data_dir == (packaged if uses_sample_news() else None)
    assert (default.api is None) == uses_sample_news()  # a local folder needs no request


def test_the_resource_reads_numerai_dataset_version_and_numerai_data_dir_from_the_environment(monkeypatch, tmp_path):
    folder = numerai_folder(tmp_path / "numerai")
    monkeypatch.setenv("NUMERAI_DATASET_VERSION", "signals/v2.1")
    monkeypatch.setenv("NUMERAI_DATA_DIR", str(folder))
    try:
        module = importlib.reload(data_module)  # field defaults are read when the module loads
        resource = module.NumeraiData(target="target_20d").process_config_and_initialize()
        files = resource.files(tmp_path / "cache")
        assert (files.pinned, files.data_dir) == ("signals/v2.1", folder)
    finally:
        monkeypatch.delenv("NUMERAI_DATASET_VERSION")
        monkeypatch.delenv("NUMERAI_DATA_DIR")
        importlib.reload(data_module)


def test_offline_a_saved_listing_and_the_cached_files_are_used(fake, monkeypatch, tmp_path, caplog):
    cache = tmp_path / "cache"
    expected = NumeraiFiles(cache_dir=cache, api=api()).targets(FRIDAYS[0])
    week_old = (cache / "list_datasets.json").stat().st_mtime - 7 * 24 * 3600
    os.utime(cache / "list_datasets.json", (week_old, week_old))
    monkeypatch.setattr(numerapi.base_api, "API_TOURNAMENT_URL", "http://127.0.0.1:9/graphql")
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        files = NumeraiFiles(cache_dir=cache, api=api(), log=LOG)
        pd.testing.assert_series_equal(files.targets(FRIDAYS[0]), expected)
    assert files.version_of(VALIDATION) == "signals/v3.0" and "using the listing saved at" in caplog.text


def test_a_file_without_a_date_column_is_named(tmp_path):
    pd.DataFrame({"numerai_ticker": ["A US"], "friday_date": [20240105]}).to_parquet(tmp_path / VALIDATION)
    with pytest.raises(NumeraiDataError, match="has no date column"):
        NumeraiFiles(data_dir=tmp_path).dates()
