"""A backfill of 12 (or more) historical weeks through `dagster dev` with the shipped dagster.yaml.

The packaged sample covers five weeks (2026-10-10 .. 2026-11-07), so the weeks before it are made from
the sample's items moved back by whole weeks (same weekday and time of day, re-expressed in US Eastern
time; each copy gets its own URL and a headline suffix, so every week scores new headlines instead of
reusing the FinBERT cache). A loopback stand-in of the Stock News API (FakeStockNewsAPI) serves them,
and the code location sees a real-looking news source: STOCKNEWS_API_KEY (the fake's token),
STOCKNEWS_BASE_URL (the fake) and NUMERAI_UNIVERSE (the sample universe as a csv).

`dagster dev` (webserver + daemon) runs with a temporary DAGSTER_HOME holding the repository's
dagster.yaml; the backfill of job `weekly_signal` is launched with the CLI
(`dagster job backfill -w workspace.yaml --job weekly_signal --partitions ... --noprompt`, default) or
through the webserver's GraphQL (`launchPartitionBackfill`, what the UI does). When every run has
ended, it prints runs launched / succeeded / failed, DuckDB lock errors ("Could not set lock",
"Conflicting lock") found in the run event logs, the runs' captured stdout/stderr and the process
output, the wall time and the rows of every week in every table, and writes them as the section
"## 12-week backfill (bench/backfill.py)" of BENCHMARKS.md (only that section is replaced).

Exit status 1 when a run failed, a lock error appeared or a week is incomplete in DuckDB.

    .venv/bin/python bench/backfill.py                 # 12 weeks ending 2026-11-07, tiny FinBERT, CLI
    .venv/bin/python bench/backfill.py --launch graphql --weeks 16
    .venv/bin/python bench/backfill.py --bert-base     # a bert-base shaped FinBERT (random weights)
"""

from __future__ import annotations

import argparse
import email.utils
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from importlib import metadata as package_metadata
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # signals_assets_tests (the fake API, the tiny model) is not installed

from signals_assets.news.sample import SAMPLE_WEEK_KEYS, sample_articles, sample_tickers, sample_universe  # noqa: E402
from signals_assets.weeks import Week  # noqa: E402
from signals_assets_tests.dagster_dev import (  # noqa: E402
    BACKFILL_DONE,
    LOCATION,
    LOCK_ERRORS,
    RUN_DONE,
    TABLE_KEYS,
    DagsterDev,
    DagsterDevError,
    count_lock_errors,
    environment_without_secrets,
    graphql,
)
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI  # noqa: E402

SECTION = "## 12-week backfill (bench/backfill.py)"
BENCHMARKS = REPO / "BENCHMARKS.md"
REPOSITORY, JOB = "__repository__", "weekly_signal"
EASTERN = ZoneInfo("America/New_York")
PROSUS_LABELS = {0: "positive", 1: "negative", 2: "neutral"}
# Dagster's run-retry daemon may launch a retry some seconds after a failure: wait this long for one.
RETRY_GRACE_S = 90


# ----- the weeks and their news -----


def week_keys(end: str, count: int) -> list[str]:
    last = Week.from_key(end).start
    return [(last - timedelta(weeks=back)).strftime("%Y-%m-%d") for back in reversed(range(count))]


def _published(item) -> datetime:
    return email.utils.parsedate_to_datetime(item["date"]).astimezone(timezone.utc)


def synthetic_articles(weeks: list[str]) -> list[dict]:
    """The packaged sample as it is, plus, for every other week, one sample week's items moved by whole
    weeks (the sample weeks in turn), with their own URLs and headlines."""
    items = [dict(item) for item in sample_articles()]
    by_week = {key: [] for key in SAMPLE_WEEK_KEYS}
    for item in items:
        key = _week_key_of(_published(item))
        if key in by_week:
            by_week[key].append(item)
    made = 0
    for week in weeks:
        if week in SAMPLE_WEEK_KEYS:
            continue
        source = SAMPLE_WEEK_KEYS[made % len(SAMPLE_WEEK_KEYS)]
        made += 1
        shift = Week.from_key(week).start - Week.from_key(source).start
        for item in by_week[source]:
            published = (_published(item) + shift).astimezone(EASTERN)
            items.append(
                {
                    **item,
                    "date": email.utils.format_datetime(published),
                    "news_url": f"{item['news_url']}?copy={week}",
                    "title": f"{item['title']} ({published:%b %d})",
                }
            )
    return items


def _week_key_of(instant: datetime) -> str:
    saturday = instant - timedelta(days=(instant.weekday() - 5) % 7)
    return saturday.strftime("%Y-%m-%d")


def build_model(directory: Path, bert_base: bool) -> Path:
    from signals_assets_tests.tiny_finbert import bert_uncased_vocab_file, build_tiny_finbert

    if not bert_base:
        return build_tiny_finbert(directory, PROSUS_LABELS, favour=None)
    # bert-base (12 layers, hidden 768) with ProsusAI/finbert's labels and the bert-base-uncased
    # tokenizer, random weights: FinBERT's compute without downloading it.
    from signals_assets.sentiment.untrained_model import build_untrained_model

    return build_untrained_model(directory, PROSUS_LABELS, vocabulary=bert_uncased_vocab_file().parent)


# ----- launching and watching -----

RUNS = """query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status startTime endTime creationTime tags { key value } } } } }"""
LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status } ... on PythonError { message } } }"""
LOGS = """query($runId: ID!, $cursor: String) { logsForRun(runId: $runId, afterCursor: $cursor) {
  ... on EventConnection { events { __typename ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent { error { message stack cause { message stack } } }
    ... on RunFailureEvent { error { message stack cause { message stack } } } } cursor hasMore } } }"""


def tag(run: dict, key: str) -> str | None:
    return next((item["value"] for item in run["tags"] if item["key"] == key), None)


def launch_cli(weeks: list[str], env: dict, log: Path) -> str:
    command = [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "backfill",
        "-w",
        "workspace.yaml",
        "--job",
        JOB,
        "--partitions",
        ",".join(weeks),
        "--noprompt",
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    with log.open("a") as output:
        output.write(f"\n$ {shlex.join(command)}\n{done.stdout}\n{done.stderr}\n")
    found = re.search(r"Launched backfill job `([^`]+)`", done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"dagster job backfill failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return found.group(1)


def launch_graphql(url: str, weeks: list[str]) -> str:
    repository = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    answer = graphql(
        url,
        LAUNCH_BACKFILL,
        {
            "params": {
                "selector": {"partitionSetName": f"{JOB}_partition_set", "repositorySelector": repository},
                "partitionNames": weeks,
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise SystemExit(f"launchPartitionBackfill failed: {answer}")
    return answer["backfillId"]


def wait_for_runs(url: str, backfill_id: str, weeks: list[str], timeout_s: float) -> list[dict]:
    """Every run of the instance once each week has a successful run or its failure was not retried."""
    deadline = time.monotonic() + timeout_s
    reported: set[str] = set()
    quiet_since = None
    while True:
        status = graphql(url, BACKFILL, {"id": backfill_id})["partitionBackfillOrError"].get("status")
        runs = graphql(url, RUNS, {"filter": {}})["runsOrError"]["results"]
        for run in sorted(runs, key=lambda run: run["endTime"] or 0):
            if run["status"] in RUN_DONE and run["runId"] not in reported:
                reported.add(run["runId"])
                took = (run["endTime"] or 0) - (run["startTime"] or run["endTime"] or 0)
                print(f"  {tag(run, 'dagster/partition')}  {run['status']:<8} {took:5.1f} s  run {run['runId'][:8]}")
        every_week_ran = {tag(run, "dagster/partition") for run in runs} >= set(weeks)
        settled = every_week_ran and status in BACKFILL_DONE and all(run["status"] in RUN_DONE for run in runs)
        if settled:
            latest = {}
            for run in sorted(runs, key=lambda run: run["creationTime"]):
                latest[tag(run, "dagster/partition")] = run
            if all(run["status"] == "SUCCESS" for run in latest.values()):
                return runs
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > RETRY_GRACE_S:
                return runs
        else:
            quiet_since = None
        if time.monotonic() > deadline:
            raise SystemExit(f"backfill {backfill_id} not done after {timeout_s} s (status {status})")
        time.sleep(3)


def run_log_text(url: str, run_id: str) -> str:
    lines, cursor = [], None
    while True:
        page = graphql(url, LOGS, {"runId": run_id, "cursor": cursor})["logsForRun"]
        for event in page["events"]:
            lines.append(event.get("message") or "")
            error = event.get("error")
            while error:
                lines += [error.get("message") or "", "".join(error.get("stack") or [])]
                error = error.get("cause")
        cursor = page["cursor"]
        if not page["hasMore"]:
            return "\n".join(lines)


# ----- results -----


def warehouse_rows(db_path: Path, weeks: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Rows per week (index) per table (columns), and what is wrong (missing weeks, duplicated rows)."""
    problems = []
    counts = pd.DataFrame(0, index=weeks, columns=list(TABLE_KEYS), dtype="int64")
    with duckdb.connect(str(db_path), read_only=True) as connection:
        for table, key in TABLE_KEYS.items():
            rows = connection.execute(f"SELECT * FROM signals.{table}").fetchdf()
            per_week = rows.groupby(rows["week_start"].dt.strftime("%Y-%m-%d")).size()
            for week in weeks:
                counts.loc[week, table] = int(per_week.get(week, 0))
                if counts.loc[week, table] == 0:
                    problems.append(f"signals.{table} has no rows for {week}")
            duplicated = int(rows.duplicated(["week_start", *key]).sum())
            if duplicated:
                problems.append(f"signals.{table} has {duplicated} duplicated rows per (week_start, {', '.join(key)})")
        scored = connection.execute(
            "SELECT count(*), count(DISTINCT headline_id) FROM signals.headline_scores"
        ).fetchone()
    counts.index.name = "week"
    return counts, problems + (
        [f"headline_scores duplicates {scored[0] - scored[1]} headlines"] if scored[0] != scored[1] else []
    )


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"Model name:\s*(.+)", lscpu).group(1).strip()
        cpus = re.search(r"^CPU\(s\):\s*(\d+)", lscpu, re.M).group(1)
    except (OSError, AttributeError):
        model, cpus = platform.processor() or "unknown CPU", str(os.cpu_count())
    memory_kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (FinBERT on CPU)"
    return f"{model}, {cpus} CPUs, {memory_kb / 2**20:.0f} GiB RAM, {gpu}; {platform.system()} {platform.release()}"


def versions() -> str:
    names = ["dagster", "dagster-webserver", "dagster-duckdb", "duckdb", "torch", "transformers"]
    return ", ".join(f"{name} {package_metadata.version(name)}" for name in names)


def write_section(text: str) -> None:
    """Replace (or append) only this script's section of BENCHMARKS.md."""
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    start = current.find(SECTION)
    if start == -1:
        updated = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        following = current.find("\n## ", start + len(SECTION))
        end = len(current) if following == -1 else following + 1
        updated = current[:start] + text.rstrip("\n") + "\n" + ("\n" + current[end:] if following != -1 else "")
    BENCHMARKS.write_text(updated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weeks", type=int, default=12, help="consecutive weeks to backfill (default 12)")
    parser.add_argument("--end", default=SAMPLE_WEEK_KEYS[-1], help="the last week (default the sample's last)")
    parser.add_argument("--launch", choices=["cli", "graphql"], default="cli", help="how to launch (default cli)")
    parser.add_argument("--bert-base", action="store_true", help="a bert-base shaped FinBERT instead of the tiny one")
    parser.add_argument("--model", type=Path, help="a local FinBERT directory to use instead")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the runs (default 3600)")
    parser.add_argument("--workdir", type=Path, help="keep DAGSTER_HOME, DuckDB and logs here (default: temporary)")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    weeks = week_keys(args.end, args.weeks)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    home, log = workdir / "dagster_home", workdir / "dagster_dev.log"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    db_path = workdir / "warehouse.duckdb"
    for stale in (db_path, workdir / "warehouse.duckdb.wal"):
        stale.unlink(missing_ok=True)
    universe = workdir / "universe.csv"
    sample_universe().to_csv(universe, index=False)
    if args.model:
        model, model_name = args.model.resolve(), str(args.model)
    else:
        model = build_model(workdir / ("bert-base-finbert" if args.bert_base else "tiny-finbert"), args.bert_base)
        model_name = (
            "bert-base shaped FinBERT (random weights)" if args.bert_base else "tiny FinBERT (2 layers, hidden 32)"
        )
    articles = synthetic_articles(weeks)
    print(
        f"{len(weeks)} weeks {weeks[0]} .. {weeks[-1]}, {len(articles)} articles, model {model_name}, work dir {workdir}"
    )

    with FakeStockNewsAPI(articles, list(sample_tickers())) as api:
        env = environment_without_secrets()
        env.update(
            DAGSTER_HOME=str(home),
            STOCKNEWS_API_KEY=FAKE_TOKEN,
            STOCKNEWS_BASE_URL=api.base_url,
            NUMERAI_UNIVERSE=str(universe),
            FINBERT_MODEL=str(model),
            SIGNALS_DUCKDB_PATH=str(db_path),
            SIGNALS_DATA_DIR=str(workdir / "data"),
            SIGNALS_OUTPUT_DIR=str(workdir / "submissions"),
            PYTHONUNBUFFERED="1",
        )
        try:
            with DagsterDev(home, env, log) as dev:
                url = dev.url
                print(f"dagster dev at {url}; launching the backfill ({args.launch})")
                load_at_launch = os.getloadavg()[0]
                started = time.time()
                backfill_id = launch_cli(weeks, env, log) if args.launch == "cli" else launch_graphql(url, weeks)
                print(f"backfill {backfill_id}: {len(weeks)} runs queued (max_concurrent_runs 1)")
                runs = wait_for_runs(url, backfill_id, weeks, args.timeout)
                event_log_locks = sum(count_lock_errors(run_log_text(url, run["runId"])) for run in runs)
        except DagsterDevError as error:
            raise SystemExit(str(error)) from None
        api_requests = len(api.requests)

    ended = max(run["endTime"] or 0 for run in runs)
    wall_s = ended - started
    first_start = min(run["startTime"] or ended for run in runs)
    durations = [run["endTime"] - run["startTime"] for run in runs if run["startTime"] and run["endTime"]]
    gap_s = max(0.0, (ended - first_start - sum(durations)) / max(1, len(durations) - 1))
    statuses = [run["status"] for run in runs]
    retries = sum(1 for run in runs if tag(run, "dagster/parent_run_id") or tag(run, "dagster/retry_number"))
    compute_log_locks = sum(
        count_lock_errors(path.read_text(errors="replace")) for path in (home / "storage").rglob("*") if path.is_file()
    )
    output_locks = count_lock_errors(log.read_text(errors="replace"))
    lock_total = event_log_locks + compute_log_locks + output_locks
    counts, problems = warehouse_rows(db_path, weeks)

    launched, succeeded = len(runs), statuses.count("SUCCESS")
    failed, canceled = statuses.count("FAILURE"), statuses.count("CANCELED")
    command = "bench/backfill.py" + "".join(f" {arg}" for arg in sys.argv[1:])
    summary = [
        f"runs launched {launched}, succeeded {succeeded}, failed {failed}, canceled {canceled}, retries {retries}",
        f"DuckDB lock errors ({' / '.join(LOCK_ERRORS)}): {lock_total} "
        f"(run event logs {event_log_locks}, run stdout/stderr {compute_log_locks}, dagster dev output {output_locks})",
        f"wall time {wall_s:.0f} s from launch to the last run's end ({ended - first_start:.0f} s first run start to last end); "
        f"per run median {statistics.median(durations):.1f} s, max {max(durations):.1f} s",
        f"between runs (dequeue + run process start) {gap_s:.1f} s on average",
        f"fake Stock News API requests served: {api_requests}; 1-minute load average at launch {load_at_launch:.1f}",
    ]
    ok = failed == 0 and canceled == 0 and lock_total == 0 and not problems and succeeded >= len(weeks)
    print("\n" + "\n".join(summary))
    print("\nrows per week per table:\n" + counts.to_string())
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("\nOK" if ok else "\nFAILED")

    if not args.no_write:
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = "\n".join(
            [
                SECTION,
                "",
                f"`.venv/bin/python {command}` ({when}; result: **{'OK' if ok else 'FAILED'}**)",
                "",
                f"- Machine: {machine()}",
                f"- Versions: {versions()}",
                f"- Instance: the repository's dagster.yaml (QueuedRunCoordinator, `max_concurrent_runs: 1`, pools "
                f"`default_limit: 1`, run retries 2) in a fresh DAGSTER_HOME; `dagster dev` (webserver + daemon); "
                f"job `{JOB}` (in-process executor)",
                "- Launched with: "
                + (
                    f"`dagster job backfill -w workspace.yaml --job {JOB} --partitions {weeks[0]},...,{weeks[-1]} --noprompt`"
                    if args.launch == "cli"
                    else "GraphQL `launchPartitionBackfill` against the webserver (as the UI does)"
                ),
                f"- Data: {len(weeks)} weeks {weeks[0]} .. {weeks[-1]} served by FakeStockNewsAPI on loopback "
                f"({len(articles)} articles: the sample's 5 weeks plus {len(weeks) - len(set(weeks) & set(SAMPLE_WEEK_KEYS))} "
                "weeks of its items moved back by whole weeks, own URLs and headlines); NUMERAI_UNIVERSE = the sample universe; "
                f"model: {model_name}",
                "",
                *[f"- {line}" for line in summary],
                *[f"- PROBLEM: {problem}" for problem in problems],
                "",
                "Rows per week in every table:",
                "",
                counts.reset_index().to_markdown(index=False),
                "",
            ]
        )
        write_section(section)
        print(f"wrote the section '{SECTION}' of {BENCHMARKS}")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
