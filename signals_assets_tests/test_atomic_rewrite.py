"""Re-materializing a week replaces its rows all at once or not at all: a run killed with SIGKILL between the IO
manager's delete and its insert, or a disk that fills up while the new rows are written, leaves the week with the
rows it had and every other week untouched.

Real processes and a real disk: a child process materializes weeks of a small table through warehouse_io_manager
and is killed while DuckDB reads the new rows; the DuckDB file sits on a tmpfs of 800 KiB.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from signals_assets.defs.partitions import week_of, weekly_asset
from signals_assets.defs.warehouse import Warehouse, warehouse_io_manager
from signals_assets.weeks import with_week_column

REPO = Path(__file__).resolve().parent.parent
WEEK, OTHER_WEEK = "2024-01-06", "2023-12-30"
OLD_ROWS = 10


class Readings(dg.Config):
    rows: int = OLD_ROWS
    # A file: when set, every new value stalls DuckDB's read of it, after touching the file.
    stall_signal: str = ""


class _Stall:
    """A value DuckDB turns into text with str() while it inserts the frame: by then the week's old rows are
    deleted. It says so through a file and waits there to be killed."""

    def __init__(self, signal_file: str):
        self.signal_file = signal_file

    def __str__(self) -> str:
        Path(self.signal_file).touch()
        time.sleep(60)
        return "never killed"


def _readings(rows: int) -> list[str]:
    """The week's readings: random numbers, which DuckDB cannot compress, so `rows` sets the bytes they need."""
    return [str(value) for value in np.random.default_rng(0).integers(0, 2**62, rows)]


@weekly_asset(group_name="test")
def readings(context: dg.AssetExecutionContext, config: Readings) -> pd.DataFrame:
    week = week_of(context)
    if config.stall_signal:
        values = pd.Series([_Stall(config.stall_signal)] * config.rows, dtype=object)
    else:
        values = pd.Series(_readings(config.rows), dtype=object)
    return with_week_column(pd.DataFrame({"reading": values}), week)


def _materialize(warehouse: Warehouse, week: str, readings_config: Readings) -> dg.ExecuteInProcessResult:
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize(
            [readings],
            partition_key=week,
            resources={"warehouse": warehouse, "io_manager": warehouse_io_manager},
            instance=instance,
            run_config=dg.RunConfig(ops={"readings": readings_config}),
            raise_on_error=False,
        )


def _rows_by_week(database: str) -> dict[str, list[str]]:
    with duckdb.connect(database, read_only=True) as connection:
        rows = connection.execute(
            "SELECT strftime(week_start, '%Y-%m-%d'), reading FROM signals.readings ORDER BY ALL"
        ).fetchall()
    weeks: dict[str, list[str]] = {}
    for week, reading in rows:
        weeks.setdefault(week, []).append(reading)
    return weeks


def _write_both_weeks_then_stall_the_rewrite(database: str, signal_file: str) -> None:
    """In the child process: both weeks with their old rows, then WEEK again with rows that stall."""
    warehouse = Warehouse(database=database, data_dir=str(Path(database).parent / "data"))
    for week in (OTHER_WEEK, WEEK):
        assert _materialize(warehouse, week, Readings()).success
    _materialize(warehouse, WEEK, Readings(stall_signal=signal_file))


def test_a_run_killed_between_the_delete_and_the_insert_leaves_the_week_its_old_rows(tmp_path):
    database, signal_file = str(tmp_path / "warehouse.duckdb"), tmp_path / "inserting"
    log = tmp_path / "child.log"
    with log.open("w") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "signals_assets_tests.test_atomic_rewrite", database, str(signal_file)],
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not signal_file.exists():
            if child.poll() is not None:
                pytest.fail(f"the child ended before DuckDB read the new rows:\n{log.read_text()[-4000:]}")
            assert time.monotonic() < deadline, "DuckDB never read the new rows"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    expected = sorted(_readings(OLD_ROWS))
    assert _rows_by_week(database) == {OTHER_WEEK: expected, WEEK: expected}


@pytest.fixture
def small_disk(tmp_path):
    """A real disk of 800 KiB (tmpfs): room for the warehouse with a few rows, not for a big week."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=800k", "tmpfs", str(folder)], capture_output=True, text=True
        )
    except FileNotFoundError:
        pytest.skip("needs `mount` to make a small tmpfs disk, and this machine has none")
    if mounted.returncode != 0:
        pytest.skip(f"needs a small tmpfs disk, and `mount -t tmpfs` is not permitted here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=30)


@pytest.mark.parametrize(
    "new_rows",
    [
        pytest.param(300_000, id="full_while_writing_the_rows"),  # beyond a row group: DuckDB writes them to the file
        pytest.param(30_000, id="full_at_commit"),  # kept in memory until the commit writes them to the .wal
    ],
)
def test_a_disk_full_during_a_rewrite_fails_the_run_saying_what_to_do_and_keeps_the_weeks_rows(
    tmp_path, small_disk, new_rows
):
    warehouse = Warehouse(database=str(small_disk / "warehouse.duckdb"), data_dir=str(tmp_path / "data"))
    for week in (OTHER_WEEK, WEEK):
        assert _materialize(warehouse, week, Readings()).success

    result = _materialize(warehouse, WEEK, Readings(rows=new_rows))

    assert not result.success
    expected = sorted(_readings(OLD_ROWS))
    assert _rows_by_week(warehouse.database) == {OTHER_WEEK: expected, WEEK: expected}
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error.cause  # Dagster wraps it: "Error occurred while handling output"
    assert error.cls_name == "WarehouseDiskFull"
    assert str(small_disk / "warehouse.duckdb") in error.message
    assert f"free space on {small_disk} or move SIGNALS_DUCKDB_PATH" in error.message


def test_a_rewrite_that_commits_replaces_only_its_weeks_rows(warehouse):
    for week in (OTHER_WEEK, WEEK):
        assert _materialize(warehouse, week, Readings()).success
    assert _materialize(warehouse, WEEK, Readings(rows=3)).success
    assert _rows_by_week(warehouse.database) == {
        OTHER_WEEK: sorted(_readings(OLD_ROWS)),
        WEEK: sorted(_readings(3)),
    }


if __name__ == "__main__":
    _write_both_weeks_then_stall_the_rewrite(*sys.argv[1:])
