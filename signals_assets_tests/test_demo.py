"""`make demo` on an offline machine, as a user runs it: every sample week through every asset, a short
account on the terminal with the backtest table, the full log in a file, and a valid submission."""

import os
import subprocess
import sys

import pandas as pd

from signals_assets.news.sample import sample_universe
from signals_assets.numerai.validation import validate_submission
from signals_assets.signal.variants import DEFAULT_VARIANTS

ASSETS = [
    "numerai_universe",
    "ticker_map",
    "raw_articles",
    "filtered_headlines",
    "aggregated_headlines",
    "finbert_scores",
    "scaled_signal",
    "submission",
    "numerai_upload",
    "signal_evaluation",
]


def test_demo_offline_tells_what_it_did_and_writes_a_valid_submission(tmp_path):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STOCKNEWS_", "NUMERAI_", "FINBERT_", "SIGNALS_", "DAGSTER_HOME"))
    }
    env["HF_HUB_OFFLINE"] = "1"
    env["SIGNALS_DATA_DIR"] = str(tmp_path / "caches")  # a setting from the environment reaches the demo too
    done = subprocess.run(
        [sys.executable, "-m", "signals_assets.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "caches" / "demo-finbert-untrained").is_dir() and not (
        tmp_path / "data" / "demo-finbert-untrained"
    ).exists()
    printed = done.stdout
    assert "UNTRAINED" in printed and "FINBERT_MODEL=/path/to/finbert" in printed
    # A line per asset with its rows and time, not Dagster's event stream.
    for asset in ASSETS:
        assert any(line.split()[:1] == [asset] and line.rstrip().endswith(" s") for line in printed.splitlines()), asset
    assert "6 of 6 checks passed" in printed
    assert "DEBUG" not in printed + done.stderr and "STEP_SUCCESS" not in printed + done.stderr
    assert len(printed.splitlines()) < 70
    # Every sample week, oldest first; the last one's targets have not resolved.
    week_lines = [line for line in printed.splitlines() if line.strip().startswith("week 2026-")]
    assert [line.split()[1] for line in week_lines] == [
        "2026-10-10",
        "2026-10-17",
        "2026-10-24",
        "2026-10-31",
        "2026-11-07",
    ]
    assert all(" ok in " in line for line in week_lines)
    names = [variant.name for variant in DEFAULT_VARIANTS]
    assert all(f"{name} NCORR" in week_lines[0] for name in names)
    assert all(f"{name} pending" in week_lines[-1] for name in names)
    # The backtest table, every variant side by side, and the submitted variant's halflife trade-off.
    lines = printed.splitlines()
    header = next(line for line in lines if line.startswith("figure") and "finbert" in line)
    assert header.split() == ["figure", *sorted(names)]
    assert next(line for line in lines if line.startswith("scored weeks")).split()[-4:] == ["4"] * 4
    assert any(line.startswith("NCORR mean") for line in lines)
    halflife_rows = [line.split()[:3] for line in lines if line.split()[:1] == ["finbert"] and len(line.split()) == 8]
    assert halflife_rows == [["finbert", halflife, "4"] for halflife in ("0", "2", "4", "8")]
    # The variant table: NCORR, churn, and the stories a _stories variant counted instead of its headlines.
    start = next(index for index, line in enumerate(lines) if line.split()[:3] == ["variant", "weeks", "NCORR"])
    table = {line.split()[0]: line.split()[1:] for line in lines[start + 1 : start + 1 + len(names)]}
    assert list(table) == names
    for name, values in table.items():
        weeks, headlines, stories, counted = int(values[0]), int(values[-3]), int(values[-2]), int(values[-1])
        assert weeks == 4 and stories < headlines
        assert counted == (stories if name.endswith("_stories") else headlines)
    # Planted in the sample: the targets lean on each ticker's own stories, so the labels' stories variant leads.
    assert float(table["provider_labels_stories"][1]) > float(table["provider_labels"][1]) > 0.05
    report_md = tmp_path / "data" / "submissions" / "backtest_report.md"
    assert str(report_md) in printed and "provider_labels" in report_md.read_text()

    csv_path = tmp_path / "data" / "submissions" / "signals_2026-11-13.csv"
    log_path = tmp_path / "caches" / "demo.log"
    assert str(csv_path) in printed and str(log_path) in printed
    assert "STEP_SUCCESS" in log_path.read_text() or "Finished execution" in log_path.read_text()
    report = validate_submission(sample_universe(), pd.read_csv(csv_path))
    assert report.n_in_universe >= 100
    assert (tmp_path / ".dagster_home").is_dir() and "make ui" in printed
