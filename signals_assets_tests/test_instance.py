"""A fresh DAGSTER_HOME, prepared once by `make instance`, takes two first runs started together.

Unprepared, the two processes race to create the instance's SQLite tables and one can fail with
"table secondary_indexes already exists"; `make instance` (which `make ui` runs) creates them first.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from signals_assets.news.sample import SAMPLE_WEEK_KEYS

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="`make` is not installed")
def test_two_first_runs_started_together_on_a_prepared_home_both_succeed(tmp_path):
    home = tmp_path / "dagster_home"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STOCKNEWS_", "NUMERAI_"))}
    env.pop("DAGSTER_HOME", None)
    prepare = subprocess.run(
        ["make", "-s", "instance", f"DAGSTER_HOME={home}", f"BIN={Path(sys.executable).parent}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert prepare.returncode == 0, prepare.stderr
    assert (home / "dagster.yaml").read_text() == (REPO / "dagster.yaml").read_text()

    runs = []
    for index, week in enumerate(SAMPLE_WEEK_KEYS[:2]):
        # Each run its own warehouse file: the race under test is the instance's, not DuckDB's single writer.
        run_env = {**env, "DAGSTER_HOME": str(home), "SIGNALS_DUCKDB_PATH": str(tmp_path / f"w{index}.duckdb")}
        command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "signals_assets.definitions"]
        runs.append(
            subprocess.Popen(
                [*command, "--select", "numerai_universe", "--partition", week],
                env=run_env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    for process in runs:
        try:
            outputs.append(process.communicate(timeout=240)[0])
        finally:
            if process.poll() is None:
                process.kill()
    assert [process.returncode for process in runs] == [0, 0], "\n".join(output[-3000:] for output in outputs)
    with DagsterInstance.from_config(str(home)) as instance:
        statuses = [run.status for run in instance.get_runs()]
    assert statuses == [DagsterRunStatus.SUCCESS, DagsterRunStatus.SUCCESS]
