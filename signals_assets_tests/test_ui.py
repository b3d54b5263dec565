"""The Dagster UI in a real browser, over a real `dagster dev` (webserver + daemon) on loopback.

One `dagster dev` serves the module: a temporary DAGSTER_HOME holding the repository's dagster.yaml
(queued runs, one at a time), a temporary warehouse, the tiny FinBERT and the packaged sample news (no
key). Debian's Chromium is driven by Playwright; without /usr/bin/chromium the module is skipped
(.ci/run installs it).

Screenshots go to each test's tmp dir; their paths are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from signals_assets.defs.partitions import weekly_partitions
from signals_assets.weeks import Week
from signals_assets_tests.dagster_dev import (
    BACKFILL_DONE,
    LOCATION,
    RUN_DONE,
    TABLE_KEYS,
    DagsterDev,
    DagsterDevError,
    environment_without_secrets,
    graphql,
    lock_errors,
    materialize_command,
    started_run_at_step,
    tail,
)

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)",
)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402 (after the skip marker)

REPO = Path(__file__).resolve().parents[1]
expect.set_options(timeout=30_000)  # a loaded 2-core machine renders slowly
# No network here: without these flags Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
]
REPOSITORY = "__repository__"
JOB = "weekly_signal"
UI_WEEK = "2026-11-07"  # the week the browser test materializes
RUN_WEEK = "2026-10-10"  # test 2: one run of this week, then a backfill of the next two
BACKFILL_WEEKS = ["2026-10-17", "2026-10-24"]
SERVER_START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 300
DIALOG_TIMEOUT_MS = 120_000  # the launch dialog loads every partition of 7 assets first


# ----- the dagster dev process -----


@dataclass
class DagsterUI:
    url: str
    home: Path
    warehouse: Path
    submissions: Path
    log: Path
    env: dict[str, str]  # the environment dagster dev runs in

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.url, query, variables, timeout_s=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory, tiny_finbert_dir):
    for week in (UI_WEEK, RUN_WEEK, *BACKFILL_WEEKS):
        assert weekly_partitions.has_partition_key(week), f"partition {week} does not exist yet (clock before it?)"
    root = tmp_path_factory.mktemp("dagster_ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    # The "Join the Dagster community" greeting a fresh instance shows its first visitor would cover the
    # launch dialog: mark it seen, as the UI's Skip button does (dagster/_core/nux.py).
    (home / ".nux").mkdir()
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    env = environment_without_secrets()
    env.update(
        SIGNALS_DUCKDB_PATH=str(root / "warehouse.duckdb"),
        SIGNALS_DATA_DIR=str(root / "data"),
        SIGNALS_OUTPUT_DIR=str(root / "submissions"),
        FINBERT_MODEL=str(tiny_finbert_dir),
        PYTHONUNBUFFERED="1",
    )
    log = root / "dagster_dev.log"
    try:
        # Stopped on leaving the block (module teardown), with every process carrying this DAGSTER_HOME.
        with DagsterDev(home, env, log, start_timeout_s=SERVER_START_TIMEOUT_S) as dev:
            print(f"\ndagster dev at {dev.url}, DAGSTER_HOME={home}, output in {log}")
            yield DagsterUI(dev.url, home, root / "warehouse.duckdb", root / "submissions", log, env)
    except DagsterDevError as error:  # it did not come up: the log's tail says why
        pytest.fail(str(error), pytrace=False)


# ----- GraphQL helpers -----

RUNS = """query($filter: RunsFilter) { runsOrError(filter: $filter) { __typename ... on Runs { results {
  runId jobName status tags { key value } } } } }"""
LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename
  ... on LaunchBackfillSuccess { backfillId }
  ... on PythonError { message }
  ... on PartitionSetNotFoundError { message } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status numPartitions } ... on PythonError { message } } }"""
LOGS = """query($runId: ID!, $cursor: String) { logsForRun(runId: $runId, afterCursor: $cursor) { __typename
  ... on EventConnection { events { __typename ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent { error { message } } } cursor hasMore } } }"""


def runs(ui: DagsterUI, **tags: str) -> list[dict]:
    run_filter = {"tags": [{"key": key, "value": value} for key, value in tags.items()]} if tags else {}
    return ui.graphql(RUNS, {"filter": run_filter})["runsOrError"]["results"]


def launch_run(ui: DagsterUI, week: str) -> str:
    """Launch the weekly job for `week` through the queue, as the UI's Launchpad does; the run id."""
    repository = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    params = {
        "selector": {**repository, "jobName": JOB},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": week}]},
    }
    launched = ui.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def run_status(ui: DagsterUI, run_id: str) -> str:
    (run,) = ui.graphql(RUNS, {"filter": {"runIds": [run_id]}})["runsOrError"]["results"]
    return run["status"]


def wait_for_run(ui: DagsterUI, run_id: str, timeout_s: float = RUN_TIMEOUT_S) -> str:
    deadline = time.monotonic() + timeout_s
    while (status := run_status(ui, run_id)) not in RUN_DONE:
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {status} after {timeout_s} s:\n{tail(ui.log)}")
        time.sleep(2)
    return status


def run_messages(ui: DagsterUI, run_id: str) -> list[str]:
    messages, cursor = [], None
    while True:
        page = ui.graphql(LOGS, {"runId": run_id, "cursor": cursor})["logsForRun"]
        for event in page["events"]:
            messages.append(event.get("message") or "")
            if event.get("error"):
                messages.append(event["error"]["message"])
        cursor = page["cursor"]
        if not page["hasMore"]:
            return messages


# ----- the browser -----


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, dagster_ui):
    context = browser.new_context(base_url=dagster_ui.url, viewport={"width": 1600, "height": 1100})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def screenshot(page: Page, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")  # dialogs fully faded in
    print(f"screenshot: {path}")
    return path


def metadata_row(page: Page, key: str):
    """The row of an asset page's metadata table whose key cell is exactly `key`."""
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))


# ----- tests -----


def test_materialize_a_week_from_the_asset_graph_and_read_its_metadata(dagster_ui, page, tmp_path):
    # The weekly_signal job's asset graph: the weekly assets (the global lineage also holds the unpartitioned
    # backtest_report, which would turn "Materialize all" for a week into a backfill of both).
    page.goto(f"/locations/{LOCATION}/jobs/weekly_signal")
    materialize_all = page.get_by_role("button", name="Materialize all…")
    expect(materialize_all).to_be_enabled()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)
    screenshot(page, tmp_path, "1-asset-graph")

    # The button shows a spinner while the UI loads what it needs to launch (the partitions of 10 assets);
    # on a busy 2-core machine that can take a while, so wait it out rather than click into it.
    expect(materialize_all.get_by_role("progressbar")).to_have_count(0)
    clicked = time.monotonic()
    materialize_all.click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize 10 assets")
    expect(dialog).to_be_visible(timeout=DIALOG_TIMEOUT_MS)
    print(f"launch dialog open {time.monotonic() - clicked:.1f} s after the click")
    expect(dialog.get_by_text("Partition selection")).to_be_visible()
    # The dialog offers the last 90 days only; all of them, so the sample week is there whatever the date.
    dialog.get_by_role("button", name="Show all partitions").click()
    expect(dialog.get_by_role("button", name="All time")).to_be_visible()
    # The partition input of the selection (a key, a comma list or a range "[a...b]").
    partitions = dialog.get_by_role("textbox").first
    partitions.fill(UI_WEEK)
    partitions.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    screenshot(page, tmp_path, "2-partition-dialog")
    dialog.get_by_role("button", name="Launch 1 run").click()
    expect(page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))).to_be_visible()

    # The run the UI launched: the only one from the UI for that week in this fresh instance.
    deadline = time.monotonic() + 30
    while not (launched := runs(dagster_ui, **{"dagster/partition": UI_WEEK, "dagster/from_ui": "true"})):
        assert time.monotonic() < deadline, "the UI launched no run"
        time.sleep(1)
    (run,) = launched
    run_id = run["runId"]
    assert wait_for_run(dagster_ui, run_id) == "SUCCESS", tail(dagster_ui.log)

    page.goto(f"/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_text(f"partition: {UI_WEEK}")).to_be_visible()
    expect(page.get_by_text("10 assets", exact=True)).to_be_visible()
    # The event log (scrolled to its end) shows the run's last events once loaded.
    expect(page.get_by_text("Finished execution of run for", exact=False).first).to_be_visible()
    screenshot(page, tmp_path, "3-run")

    # The submission asset: materialized for the week, with its CSV and row count; the upload asset says
    # per week what happened at Numerai.
    friday = Week.from_key(UI_WEEK).friday.isoformat()
    csv_path = dagster_ui.submissions / f"signals_{friday}.csv"
    submitted = pd.read_csv(csv_path)
    page.goto("/assets/submission")
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(page.get_by_text(UI_WEEK, exact=True).first).to_be_visible()
    expect(metadata_row(page, "path")).to_contain_text(f"signals_{friday}.csv")
    expect(metadata_row(page, "dagster/partition_row_count")).to_contain_text(str(len(submitted)))
    expect(metadata_row(page, "friday")).to_contain_text(friday)
    screenshot(page, tmp_path, "4-submission-asset")
    page.goto("/assets/numerai_upload")
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(metadata_row(page, "status")).to_contain_text("skipped")
    expect(metadata_row(page, "reason")).to_contain_text("backfills never upload")
    screenshot(page, tmp_path, "4b-numerai-upload-asset")

    # scaled_signal: its histogram metadata is a PNG inside markdown, shown in a dialog.
    page.goto("/assets/scaled_signal")
    expect(page.get_by_text("Latest check results")).to_be_visible()
    histogram = metadata_row(page, "histogram")
    histogram.get_by_text("[Show Markdown]").click()
    image = page.get_by_role("dialog").get_by_role("img", name="signal histogram")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > 100 and height > 50, "the histogram PNG did not decode"
    screenshot(page, tmp_path, "5-scaled-signal-histogram")

    page.goto("/asset-groups")
    expect(page.get_by_role("button", name="Materialize all…")).to_be_enabled()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)
    screenshot(page, tmp_path, "6-asset-graph-after-the-run")

    assert not lock_errors(dagster_ui.output())
    assert not lock_errors("\n".join(run_messages(dagster_ui, run_id)))


def test_a_backfill_launched_while_a_run_is_in_flight_completes_every_week(dagster_ui):
    repository = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    run_id = launch_run(dagster_ui, RUN_WEEK)

    # While that run is queued or running, a backfill of two more weeks.
    assert run_status(dagster_ui, run_id) not in RUN_DONE
    backfill = dagster_ui.graphql(
        LAUNCH_BACKFILL,
        {
            "params": {
                "selector": {"partitionSetName": f"{JOB}_partition_set", "repositorySelector": repository},
                "partitionNames": BACKFILL_WEEKS,
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    backfill_id = backfill["backfillId"]

    deadline = time.monotonic() + RUN_TIMEOUT_S + 60 * len(BACKFILL_WEEKS)
    while True:
        state = dagster_ui.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        backfill_runs = runs(dagster_ui, **{"dagster/backfill": backfill_id})
        every_run = runs(dagster_ui)
        if state["status"] in BACKFILL_DONE and all(run["status"] in RUN_DONE for run in every_run):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"backfill {backfill_id} still {state['status']}, runs {every_run}:\n{tail(dagster_ui.log)}")
        time.sleep(3)

    assert state["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, state
    partitions_run = sorted(
        tag["value"] for run in backfill_runs for tag in run["tags"] if tag["key"] == "dagster/partition"
    )
    assert partitions_run == BACKFILL_WEEKS
    # Zero failures: every run of the instance succeeded (a retried run would have left a FAILURE).
    statuses = {run["runId"]: run["status"] for run in every_run}
    assert set(statuses.values()) == {"SUCCESS"}, statuses
    assert run_id in statuses

    for run in [run_id, *(run["runId"] for run in backfill_runs)]:
        assert not lock_errors("\n".join(run_messages(dagster_ui, run))), run
    assert not lock_errors(dagster_ui.output())

    # Every week is whole in DuckDB (read only, once no run is writing), and no row is duplicated.
    weeks = [pd.Timestamp(week) for week in (RUN_WEEK, *BACKFILL_WEEKS)]
    with duckdb.connect(str(dagster_ui.warehouse), read_only=True) as connection:
        for table, key in TABLE_KEYS.items():
            rows = connection.execute(f"SELECT * FROM signals.{table}").fetchdf()
            counts = rows.groupby("week_start").size()
            for week in weeks:
                assert counts.get(week, 0) > 0, f"signals.{table} has no rows for week {week.date()}"
            duplicated = rows[rows.duplicated(["week_start", *key], keep=False)]
            assert duplicated.empty, f"signals.{table} duplicates rows:\n{duplicated.head()}"
        scores = connection.execute("SELECT * FROM signals.headline_scores").fetchdf()
        assert not scores.duplicated(["model", "revision", "headline_id"]).any()
    for week in (RUN_WEEK, *BACKFILL_WEEKS):
        assert (dagster_ui.submissions / f"signals_{Week.from_key(week).friday.isoformat()}.csv").exists()


def test_a_cli_run_killed_mid_step_is_marked_failed_by_the_daemon_and_the_next_run_completes(dagster_ui):
    """kill -9 (as the OOM killer does) a `dagster asset materialize` run on the instance `dagster dev` serves,
    while finbert_scores holds the `gpu` pool's only slot. Nothing notices its death (no code server watches
    it), so it would stay STARTED and hold the queue's only place and the pool's slot for good; the
    fail_runs_whose_process_died sensor marks it failed, frees both, and the next run of the week goes through
    the queue to success. (Last in this module: the backfill test above counts every run of the instance.)"""
    command = materialize_command(UI_WEEK)
    with dg.DagsterInstance.from_config(str(dagster_ui.home)) as instance:
        env = {**dagster_ui.env, "DAGSTER_HOME": str(dagster_ui.home)}
        cli = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while not (run_id := started_run_at_step(instance, "finbert_scores")):
                assert cli.poll() is None and time.monotonic() < deadline, "the CLI run never reached finbert_scores"
                time.sleep(0.05)
            cli.send_signal(signal.SIGKILL)
        finally:
            cli.kill()
            cli.wait()

    assert wait_for_run(dagster_ui, run_id, timeout_s=180) == "FAILURE"
    assert any("is gone" in message for message in run_messages(dagster_ui, run_id))  # the sensor said so
    with dg.DagsterInstance.from_config(str(dagster_ui.home)) as instance:
        assert run_id not in instance.event_log_storage.get_concurrency_run_ids()  # the gpu slot is free
    # The queue's only place is free again: the next run of the week, launched as from the UI, completes.
    assert wait_for_run(dagster_ui, launch_run(dagster_ui, UI_WEEK)) == "SUCCESS", tail(dagster_ui.log)
