"""`make demo` on an offline machine: every asset for the latest sample week, and a valid submission."""

import pandas as pd

from signals_assets import demo
from signals_assets.news.sample import sample_universe
from signals_assets.submission.submission import validate_submission


def test_demo_offline_runs_every_asset_and_says_the_model_is_untrained(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("STOCKNEWS_API_KEY", "NUMERAI_PUBLIC_ID", "NUMERAI_SECRET_KEY", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    # Empty, not deleted: the demo sets FINBERT_MODEL itself and monkeypatch must undo that afterwards.
    monkeypatch.setenv("FINBERT_MODEL", "")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SIGNALS_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("SIGNALS_OUTPUT_DIR", str(tmp_path / "data" / "submissions"))

    assert demo.main() == 0

    printed = capsys.readouterr().out
    assert "UNTRAINED" in printed and "FINBERT_MODEL=/path/to/finbert" in printed
    for table in demo.TABLES:
        assert f"signals.{table}" in printed
    csv_path = tmp_path / "data" / "submissions" / "signals_2026-11-13.csv"
    assert str(csv_path) in printed
    report = validate_submission(sample_universe(), pd.read_csv(csv_path))
    assert report.n_in_universe >= 100
