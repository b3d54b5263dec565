"""The submission table, Numerai's validation rule by rule, the CSV file and universe files: pure code, no Numerai."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from numerai_tools.submissions import validate_headers_signals, validate_ids_signals, validate_submission_signals

from signals_assets.numerai.submission_file import (
    build_submission,
    remove_submission_csv,
    submission_csv_path,
    write_submission_csv,
)
from signals_assets.numerai.universe import UniverseUnavailable, load_universe
from signals_assets.numerai.validation import RULES, SubmissionInvalid, check_rules, validate_submission
from signals_assets.signal.scaling import build_scaled_signal

FRIDAY = date(2026, 11, 13)
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


def _submission(n_in_universe: int, n_outside: int = 0, include_date: bool = False) -> pd.DataFrame:
    return build_submission(_scaled(_universe_tickers(n_in_universe) + _outside_tickers(n_outside)), include_date)


def _with_signals(rows: pd.DataFrame, values: dict[int, float]) -> pd.DataFrame:
    rows = rows.copy()
    for position, value in values.items():
        rows.loc[position, "signal"] = value
    return rows


def _with_tickers(rows: pd.DataFrame, values: dict[int, object]) -> pd.DataFrame:
    rows = rows.copy().astype({"numerai_ticker": object})
    for position, value in values.items():
        rows.loc[position, "numerai_ticker"] = value
    return rows


def _by_rule(results) -> dict:
    return {result.rule: result for result in results}


@pytest.fixture
def valid_submission() -> pd.DataFrame:
    return _submission(250, n_outside=10)


# ----- building the table -----


def test_submission_has_ticker_then_signal_sorted_by_ticker(valid_submission):
    assert list(valid_submission.columns) == ["numerai_ticker", "signal"]
    assert valid_submission["numerai_ticker"].is_monotonic_increasing
    assert valid_submission["signal"].dtype == "float64"


def test_date_column_is_iso_friday_and_accepted():
    rows = _submission(150, include_date=True)
    assert list(rows.columns) == ["numerai_ticker", "signal", "date"]
    assert set(rows["date"]) == {"2026-11-13"}
    assert validate_submission(UNIVERSE, rows).date_col == "date"
    validate_submission_signals(UNIVERSE.copy(), rows.copy(), assert_date_col=True)


def test_building_from_a_table_without_the_signal_names_the_missing_column():
    with pytest.raises(ValueError, match="lacks column\\(s\\) signal; build it with build_scaled_signal"):
        build_submission(pd.DataFrame({"numerai_ticker": ["T000 US"]}))


def test_building_from_several_weeks_is_refused():
    scaled = pd.concat([_scaled(["T000 US"]), _scaled(["T001 US"]).assign(date=pd.Timestamp("2026-11-20"))])
    with pytest.raises(ValueError, match="spans 2 dates \\(2026-11-13, 2026-11-20\\).*one week's partition"):
        build_submission(scaled, include_date=True)


# ----- validation, rule by rule -----


def test_valid_submission_report(valid_submission):
    report = validate_submission(UNIVERSE, valid_submission)
    assert (report.n_submitted, report.n_in_universe) == (260, 250)
    assert report.invalid_tickers == _outside_tickers(10)
    assert (report.ticker_col, report.signal_col, report.date_col) == ("numerai_ticker", "signal", None)


def test_valid_submission_passes_all_four_rules_each_reported_on_its_own(valid_submission):
    results, report = check_rules(UNIVERSE, valid_submission)
    assert [result.rule for result in results] == list(RULES) == ["columns", "tickers", "values", "strictly_inside"]
    assert all(result.passed for result in results)
    assert report == validate_submission(UNIVERSE, valid_submission)
    rules = _by_rule(results)
    assert rules["columns"].metadata == {"ticker_column": "numerai_ticker"}
    assert rules["tickers"].metadata == {"in_universe": 250, "submitted": 260, "required": 100}
    assert rules["tickers"].description == "250 of 260 tickers in the universe (at least 100)"
    assert rules["values"].metadata["std"] > 0
    assert rules["strictly_inside"].metadata == {"at_bounds": 0}


@pytest.mark.parametrize(
    ("make", "rule", "message"),
    [
        (
            lambda: _submission(87, n_outside=225),
            "tickers",
            r"only 87 of 312 tickers are in the universe; Numerai requires at least 100: check the ticker mapping",
        ),
        (
            lambda: _with_tickers(_submission(200), {4: None, 9: np.nan}),
            "tickers",
            r"2 rows have no ticker \(numerai_ticker is NaN\)",
        ),
        (
            lambda: pd.concat([_submission(200), _submission(12)]),
            "tickers",
            r"12 duplicated tickers \(T000 US, T001 US, .*, \.\.\.\): one row per ticker",
        ),
        (
            lambda: _submission(200).rename(columns={"numerai_ticker": "bloomberg_ticker"}),
            "tickers",
            r"The universe has no bloomberg_ticker column",
        ),
        (
            lambda: _with_signals(_submission(200), {3: np.nan, 5: np.nan, 7: np.nan}),
            "values",
            r"3 NaN signals among 200 tickers in the universe",
        ),
        (
            lambda: _submission(250).assign(signal=0.5),
            "values",
            r"the signal is constant \(std 0\) across 250 tickers",
        ),
        (
            lambda: _with_signals(_submission(200), {0: 1.5}),
            "values",
            r"1 of 200 values outside \[0, 1\] \(min 0\.\d+, max 1\.5\): scale with scale_signal",
        ),
        (
            lambda: _with_signals(_submission(200), {0: 0.0, 1: 1.0}),
            "strictly_inside",
            r"values must lie strictly inside \(0, 1\): 2 of 200 are at 0 or 1",
        ),
        (
            lambda: _submission(200)[["signal", "numerai_ticker"]],
            "columns",
            r"Invalid columns \['signal', 'numerai_ticker'\]: Numerai expects a ticker column",
        ),
        (
            lambda: _submission(200, include_date=True)[["signal", "numerai_ticker", "date"]],
            "columns",
            r"Invalid columns \['signal', 'numerai_ticker', 'date'\]",
        ),
    ],
    ids=[
        "too-few-in-universe",
        "missing-tickers",
        "duplicates",
        "universe-lacks-the-ticker-column",
        "nan",
        "constant",
        "outside",
        "exact-bounds",
        "headers",
        "headers-with-date",
    ],
)
def test_invalid_submission_names_the_rule_and_counts(make, rule, message):
    rows = make().reset_index(drop=True)
    with pytest.raises(SubmissionInvalid, match=rf"^{rule}: .*{message}"):
        validate_submission(UNIVERSE, rows)

    results, report = check_rules(UNIVERSE, rows)
    assert report is None
    assert [result.rule for result in results] == list(RULES)
    failed_at = RULES.index(rule)
    assert all(result.passed for result in results[:failed_at])
    assert not results[failed_at].passed
    assert pd.Series([results[failed_at].description]).str.contains(message).all()
    for later in results[failed_at + 1 :]:
        assert not later.passed
        assert later.description == f"not checked: the {rule} rule failed first"


def test_invalid_submission_counts_in_metadata():
    rows = pd.concat([_submission(200), _submission(12)]).reset_index(drop=True)
    tickers = _by_rule(check_rules(UNIVERSE, rows)[0])["tickers"]
    assert tickers.metadata == {"missing_tickers": 0, "duplicated_tickers": 12, "in_universe": 212, "required": 100}

    rows = _with_signals(_submission(200), {3: np.nan, 5: np.nan, 7: np.nan})
    values = _by_rule(check_rules(UNIVERSE, rows)[0])["values"]
    assert values.metadata["nan_signals"] == 3 and values.metadata["outside_unit_interval"] == 0


def test_values_at_exactly_0_or_1_fail_strictly_inside_though_numerai_tools_accepts_them():
    rows = _with_signals(_submission(200), {0: 0.0, 1: 1.0})
    validate_submission_signals(UNIVERSE.copy(), rows.copy())  # numerai-tools' range check is inclusive

    results, report = check_rules(UNIVERSE, rows)
    rules = _by_rule(results)
    assert rules["values"].passed
    assert not rules["strictly_inside"].passed
    assert rules["strictly_inside"].metadata == {"at_bounds": 2}
    assert report is None


def test_the_failed_rule_is_the_failed_stage_not_read_from_numerai_tools_message():
    # NaN tickers and NaN signals: numerai-tools' ticker stage fails first, so the tickers rule is the one named.
    rows = _with_signals(_with_tickers(_submission(200), {0: None}), {5: np.nan})
    stage_input = rows.copy()
    ticker_col, _signal_col, _date_col = validate_headers_signals(stage_input)
    with pytest.raises(AssertionError):
        validate_ids_signals(UNIVERSE[ticker_col], stage_input, ticker_col)

    results, _report = check_rules(UNIVERSE, rows)
    assert [(result.rule, result.passed) for result in results] == [
        ("columns", True),
        ("tickers", False),
        ("values", False),
        ("strictly_inside", False),
    ]
    assert results[1].description.startswith("1 rows have no ticker")
    assert results[2].description == "not checked: the tickers rule failed first"


def test_deprecated_data_type_column_is_ignored_as_numerai_tools_does(valid_submission):
    rows = valid_submission.assign(data_type="live")
    results, report = check_rules(UNIVERSE, rows)
    assert all(result.passed for result in results)
    assert report is not None and report.n_in_universe == 250


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_validation_mutates_neither_input_frame(valid):
    rows = _submission(150, include_date=True).assign(data_type="live")  # numerai-tools drops both in place
    if not valid:
        rows = _with_signals(rows, {0: 0.0})
    universe = UNIVERSE.copy()
    rows_before, universe_before = rows.copy(), universe.copy()
    check_rules(universe, rows)
    if valid:
        validate_submission(universe, rows)
    pd.testing.assert_frame_equal(rows, rows_before)
    pd.testing.assert_frame_equal(universe, universe_before)


# ----- the CSV file -----


def test_csv_path_is_named_after_the_friday(tmp_path):
    assert submission_csv_path(tmp_path, FRIDAY) == tmp_path / "signals_2026-11-13.csv"
    assert submission_csv_path(tmp_path, "2026-11-13") == submission_csv_path(tmp_path, pd.Timestamp(FRIDAY))


def test_written_csv_passes_numerai_tools(tmp_path, valid_submission):
    path = write_submission_csv(valid_submission, tmp_path, FRIDAY)
    assert path == tmp_path / "signals_2026-11-13.csv"
    back = pd.read_csv(path)
    validate_submission_signals(UNIVERSE.copy(), back)
    assert back["signal"].gt(0).all() and back["signal"].lt(1).all()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_submission_is_written_over_a_stale_file(tmp_path, valid_submission):
    submission_csv_path(tmp_path, FRIDAY).write_text("stale")
    path = write_submission_csv(valid_submission, tmp_path, FRIDAY)
    pd.testing.assert_frame_equal(pd.read_csv(path), valid_submission)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


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


def test_interrupted_first_write_leaves_no_file(tmp_path, valid_submission, monkeypatch):
    def fail(self, handle, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(KeyboardInterrupt):
        write_submission_csv(valid_submission, tmp_path / "out", FRIDAY)
    assert list((tmp_path / "out").iterdir()) == []


def test_remove_submission_csv_says_whether_a_file_existed(tmp_path, valid_submission):
    path = write_submission_csv(valid_submission, tmp_path, FRIDAY)
    assert remove_submission_csv(tmp_path, FRIDAY) is True
    assert not path.exists()
    assert remove_submission_csv(tmp_path, FRIDAY) is False


# ----- universe files -----


def test_universe_from_local_csv_and_parquet(tmp_path):
    csv = tmp_path / "universe.csv"
    pd.DataFrame({"numerai_ticker": ["000640 KR", "AAPL US"], "bloomberg_ticker": ["x", "y"]}).to_csv(csv, index=False)
    assert load_universe(csv)["numerai_ticker"].tolist() == ["000640 KR", "AAPL US"]  # leading zeros kept
    parquet = tmp_path / "universe.parquet"
    UNIVERSE.to_parquet(parquet)
    loaded = load_universe(parquet)
    assert len(loaded) == 300 and loaded["numerai_ticker"].tolist() == UNIVERSE["numerai_ticker"].tolist()


def test_universe_rows_without_a_ticker_are_dropped(tmp_path):
    csv = tmp_path / "universe.csv"
    csv.write_text("numerai_ticker,bloomberg_ticker\nAAPL US,x\n,y\n")
    assert load_universe(csv)["numerai_ticker"].tolist() == ["AAPL US"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.parquet", None, "does not exist"),
        ("universe.csv", "ticker\nAAPL\n", "no numerai_ticker column"),
        ("universe.csv", "numerai_ticker\n", "lists no tickers"),
        ("universe.parquet", "not parquet", "could not be read"),
        ("universe.txt", "AAPL US", "neither .parquet nor .csv"),
    ],
    ids=["missing", "no-ticker-column", "empty", "corrupt", "wrong-suffix"],
)
def test_bad_universe_file_names_the_setting(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(UniverseUnavailable, match=message) as raised:
        load_universe(path)
    assert "NUMERAI_UNIVERSE" in str(raised.value)
