"""A real `dagster dev` (webserver + daemon) on loopback, for the browser tests and bench/backfill.py.

`DagsterDev` starts `python -m dagster dev -w workspace.yaml -h 127.0.0.1 -p PORT` from the repository
root with a given DAGSTER_HOME, environment and log file, in its own process group, waits until the
webserver answers and the code location is loaded, and on exit stops the group and anything left that
still carries that DAGSTER_HOME (run workers and code servers can outlive their parent).

Also the constants both read dagster dev's runs and the warehouse with. No pytest here:
bench/backfill.py imports this module too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCATION = "signals_assets"  # the code location workspace.yaml loads
# Nothing from the machine may switch the project to real services or leak a key into the UI.
SECRET_ENV = (
    "STOCKNEWS_API_KEY",
    "STOCKNEWS_BASE_URL",
    "NUMERAI_PUBLIC_ID",
    "NUMERAI_SECRET_KEY",
    "NUMERAI_MODEL_NAME",
    "NUMERAI_UNIVERSE",
)
# The statuses a run / a backfill ends in (no more changes after them).
RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
# Every table job weekly_signal writes, with the key of one row within a week: what to check in the
# warehouse after runs through dagster dev (every week present, no row twice).
TABLE_KEYS = {
    "numerai_universe": ["numerai_ticker"],
    "ticker_map": ["numerai_ticker"],
    "raw_articles": ["article_id"],
    "filtered_headlines": ["article_id", "numerai_ticker"],
    "aggregated_headlines": ["numerai_ticker"],
    "finbert_scores": ["variant", "numerai_ticker"],
    "scaled_signal": ["variant", "numerai_ticker"],
    "submission": ["numerai_ticker"],
    "numerai_upload": ["filename"],
    "signal_evaluation": ["signal"],
}
# DuckDB's messages when a second process opens the warehouse for writing.
LOCK_ERRORS = ("Could not set lock", "Conflicting lock")
LOCATION_STATUS = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


class GraphQLError(RuntimeError):
    """The webserver refused a GraphQL request or answered it with errors."""


class DagsterDevError(RuntimeError):
    """`dagster dev` exited, did not come up in time, or its code location failed to load."""


def environment_without_secrets() -> dict[str, str]:
    """This process's environment less SECRET_ENV: a base for the environment of `dagster dev`."""
    return {name: value for name, value in os.environ.items() if name not in SECRET_ENV}


def graphql(url: str, query: str, variables: dict | None = None, timeout_s: float = 60) -> dict:
    """POST one query to the webserver at `url`; its `data`, or GraphQLError with the reason."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:  # GraphQL answers 400 with the reason in the body
        raise GraphQLError(f"GraphQL HTTP {error.code}: {error.read()[:2000]!r}") from None
    if answer.get("errors"):
        raise GraphQLError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def lock_errors(text: str) -> list[str]:
    """The lines of `text` that hold a DuckDB lock error (a run and another writer collided)."""
    return [line for line in text.splitlines() if any(error in line for error in LOCK_ERRORS)]


def count_lock_errors(text: str) -> int:
    """How many DuckDB lock errors `text` holds (every occurrence, several on a line too)."""
    return sum(text.count(error) for error in LOCK_ERRORS)


def free_port() -> int:
    """A loopback port nobody listens on now (the OS picks it), so parallel servers do not clash."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, chars: int = 6000) -> str:
    """The end of a log file, for failure messages."""
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def processes_with_env(marker: str) -> list[int]:
    """Pids of our processes whose environment holds `marker` (the unique DAGSTER_HOME): those that
    left dagster dev's process group (run workers, code servers) are still found this way."""
    pids, needle = [], marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:  # gone, or not ours
            continue
    return pids


def stop(process: subprocess.Popen, home: Path) -> None:
    """SIGTERM the whole process group (webserver, daemon, code servers, run workers), then SIGKILL
    whatever is left, including anything that left the group but still carries our DAGSTER_HOME."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass
    deadline = time.monotonic() + 10
    while (leftovers := processes_with_env(f"DAGSTER_HOME={home}")) and time.monotonic() < deadline:
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)


def wait_until_served(
    process: subprocess.Popen, url: str, log: Path, timeout_s: float = 180, location: str = LOCATION
) -> None:
    """Return once /server_info answers and `location` is loaded: launching earlier finds no job.
    DagsterDevError when the process exits, the location fails to load or `timeout_s` runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise DagsterDevError(f"dagster dev exited with {process.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise DagsterDevError(f"dagster dev did not serve {url} within {timeout_s} s:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                pass
            entries = graphql(url, LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, GraphQLError):
            time.sleep(1)  # not up yet, or the workspace is still loading
            continue
        for entry in entries:
            loaded = entry["locationOrLoadError"]
            if entry["name"] == location and entry["loadStatus"] == "LOADED" and loaded:
                if loaded["__typename"] == "PythonError":
                    raise DagsterDevError(f"code location {location} failed to load: {loaded['message']}")
                return
        time.sleep(1)


class DagsterDev:
    """`with DagsterDev(home, env, log) as dev:` a served `dagster dev` at `dev.url` (a free port unless
    given) using DAGSTER_HOME `home` (set in the copy of `env` it runs with), its output in `log`;
    stopped, with every process carrying `home`, on leaving the block or when it fails to come up."""

    def __init__(
        self,
        home: Path,
        env: dict[str, str],
        log: Path,
        *,
        port: int | None = None,
        start_timeout_s: float = 180,
        location: str = LOCATION,
    ):
        self.home, self.log = Path(home), Path(log)
        self.env = {**env, "DAGSTER_HOME": str(home)}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout_s, self.location = start_timeout_s, location
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> DagsterDev:
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills every child with it
            )
        try:
            wait_until_served(self.process, self.url, self.log, self.start_timeout_s, self.location)
        except BaseException:
            stop(self.process, self.home)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        stop(self.process, self.home)

    def graphql(self, query: str, variables: dict | None = None, timeout_s: float = 60) -> dict:
        return graphql(self.url, query, variables, timeout_s)

    def output(self) -> str:
        """Everything dagster dev (webserver and daemon) wrote so far."""
        return self.log.read_text(errors="replace")


# Every asset of a week, as the weekly_signal job runs them (numerai_diagnostics runs on its own, over many weeks).
WEEK_SELECTION = "*numerai_upload,*signal_evaluation"


def materialize_command(week: str, select: str = WEEK_SELECTION, module: str = "dagster") -> list[str]:
    """`dagster asset materialize` of `select` for one week, as a user types it; `module`
    signals_assets_tests.dagster_cli for the same CLI pointed at the loopback Numerai (and a test's clock)."""
    return [
        sys.executable,
        "-m",
        module,
        "asset",
        "materialize",
        "-m",
        "signals_assets.definitions",
        "--select",
        select,
        "--partition",
        week,
    ]


def started_run_at_step(instance, step_key: str) -> str | None:
    """The id of a STARTED run of `instance` that has started `step_key`, if any."""
    import dagster as dg

    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
        if any(record.event_log_entry.step_key == step_key for record in records):
            return run.run_id
    return None
