"""A run killed mid-step (kill -9, as the OOM killer does) costs the user nothing more than that run.

Real processes: `dagster asset materialize` runs in a subprocess on an instance with the shipped
dagster.yaml and is killed with SIGKILL while `finbert_scores` runs (the step in the `gpu` pool).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from signals_assets.defs.dead_runs import fail_runs_whose_process_died
from signals_assets_tests.dagster_dev import materialize_command, started_run_at_step

REPO = Path(__file__).resolve().parent.parent
PROJECT_ENV_PREFIXES = ("STOCKNEWS_", "NUMERAI_", "FINBERT_", "SIGNALS_", "DAGSTER_HOME")
WEEK_A, WEEK_B = "2026-10-31", "2026-11-07"


def _environment(tmp_path: Path, home: Path, finbert_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_ENV_PREFIXES)}
    env.update(
        DAGSTER_HOME=str(home),
        SIGNALS_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
        SIGNALS_DATA_DIR=str(tmp_path / "data"),
        SIGNALS_OUTPUT_DIR=str(tmp_path / "submissions"),
        FINBERT_MODEL=str(finbert_dir),
    )
    return env


def test_a_run_killed_during_finbert_scores_blocks_no_later_run_and_is_marked_failed(tmp_path, tiny_finbert_dir):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = _environment(tmp_path, home, tiny_finbert_dir)
    subprocess.run([sys.executable, "-m", "dagster", "instance", "migrate"], env=env, check=True, capture_output=True)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        killed = subprocess.Popen(
            materialize_command(WEEK_A), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 240
            while not started_run_at_step(instance, "finbert_scores"):
                assert killed.poll() is None, "the run ended before finbert_scores started"
                assert time.monotonic() < deadline, "finbert_scores never started"
                time.sleep(0.05)
            killed.send_signal(signal.SIGKILL)
        finally:
            killed.kill()
            killed.wait()
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED  # nothing told Dagster: the process just vanished

        # The next run, of another week, through the CLI: it completes instead of waiting for a slot forever.
        done = subprocess.run(materialize_command(WEEK_B), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        assert "blocked by limit for pool" not in done.stdout + done.stderr

        # Under `dagster dev` the daemon runs this sensor: the dead run is marked failed and frees its slots.
        result = fail_runs_whose_process_died(dg.build_sensor_context(instance=instance))
        assert run.run_id in result.skip_message
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()
        # A live run is left alone: the finished one of week B is not touched, nothing else is marked.
        again = fail_runs_whose_process_died(dg.build_sensor_context(instance=instance))
        assert again.skip_message == "No dead runs."
