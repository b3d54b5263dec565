"""What a process per step costs: loading the code location, and one week under SIGNALS_EXECUTOR=multiprocess.

Two measurements, each side by side with its baseline in the same run:

1. Loading the code location in a fresh interpreter (`build_definitions()`, as every code server, run worker,
   spawned step process and Kubernetes step pod does): as the project loads it now (torch, transformers,
   scikit-learn, scipy and matplotlib imported only by the steps that use them) against the same load with
   those imported up front (what the code location cost before they were deferred). Median of --loads runs.
2. One sample week (the packaged sample's first week, FakeStockNewsAPI on loopback, the tiny FinBERT, the Delta
   warehouse, a fresh SQLite DAGSTER_HOME) run by `dagster job execute` with the project's `multiprocess`
   executor (a forkserver that preloaded the code location: signals_assets.defs.execution) against Dagster's
   stock `multiprocess_executor` (a spawned interpreter per step), over the same definitions. Printed: the
   run's wall time, the CPU seconds of the run and its children, and per step the time from Dagster's "worker
   starting" to "step started" (the process's start-up).

    .venv/bin/python bench/step_processes.py            # needs the `scale` extra (the Delta warehouse)
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources as package_resources
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from signals_assets.definitions import build_definitions  # noqa: E402
from signals_assets.news.sample import SAMPLE_WEEK_KEYS, sample_articles, sample_tickers, sample_universe  # noqa: E402
from signals_assets_tests.stocknews_server import FAKE_TOKEN, FakeStockNewsAPI  # noqa: E402
from signals_assets_tests.tiny_finbert import build_tiny_finbert  # noqa: E402

PROJECT_ENV = ("STOCKNEWS_", "NUMERAI_", "FINBERT_", "SIGNALS_", "SIGNAL_", "DAGSTER_")
DEFERRED = "torch, transformers, sklearn.preprocessing, numerai_tools.scoring, matplotlib.figure"
LOAD = "import time; t = time.perf_counter(); {pre}import signals_assets.definitions as d; d.build_definitions(); print(time.perf_counter() - t)"


@dg.definitions
def spawn_definitions() -> dg.Definitions:
    """The code location with Dagster's stock multiprocess executor (a spawned interpreter per step)."""
    return build_definitions(executor=dg.multiprocess_executor)


def load_seconds(env: dict[str, str], eager: bool) -> float:
    pre = f"import {DEFERRED}; " if eager else ""
    done = subprocess.run(
        [sys.executable, "-c", LOAD.format(pre=pre)], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def run_week(env: dict[str, str], target: list[str], home: Path) -> dict[str, object]:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [sys.executable, "-m", "dagster", "job", "execute", *target, "-j", "weekly_signal"]
    command += ["--tags", f'{{"dagster/partition": "{SAMPLE_WEEK_KEYS[0]}"}}']
    done = subprocess.run(command, cwd=REPO, env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"the run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        starting, startup = {}, []
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_WORKER_STARTING":
                starting[entry.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_START" and entry.step_key in starting:
                startup.append(entry.timestamp - starting[entry.step_key])
    return {"wall_s": wall, "cpu_s": cpu, "steps": len(startup), "startup_median_s": statistics.median(startup)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=5, help="fresh-interpreter loads per variant (median)")
    args = parser.parse_args()
    base_env = {name: value for name, value in os.environ.items() if not name.startswith(PROJECT_ENV)}
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )

    loads = {"deferred (now)": [], "eager (before)": []}
    for _ in range(args.loads):  # interleaved, so both see the same machine
        loads["deferred (now)"].append(load_seconds(base_env, eager=False))
        loads["eager (before)"].append(load_seconds(base_env, eager=True))
    print(f"\nloading the code location in a fresh interpreter (median of {args.loads}):")
    for name, values in loads.items():
        print(f"  {name:16s} {statistics.median(values):5.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})")

    with tempfile.TemporaryDirectory(prefix="bench-steps-") as folder:
        root = Path(folder)
        finbert = build_tiny_finbert(root / "finbert", {0: "positive", 1: "negative", 2: "neutral"}, favour=None)
        universe = root / "universe.csv"
        sample_universe().to_csv(universe, index=False)
        with FakeStockNewsAPI(list(sample_articles()), list(sample_tickers())) as api:
            results = {}
            for name, target in (
                ("forkserver (project)", ["-m", "signals_assets.definitions"]),
                ("spawn (Dagster default)", ["-f", str(Path(__file__).resolve()), "-a", "spawn_definitions"]),
            ):
                env = {
                    **base_env,
                    "SIGNALS_WAREHOUSE": "delta",
                    "SIGNALS_DELTA_ROOT": str(root / name.split()[0] / "delta"),
                    "SIGNALS_EXECUTOR": "multiprocess",
                    "SIGNALS_DATA_DIR": str(root / name.split()[0] / "data"),
                    "SIGNALS_OUTPUT_DIR": str(root / name.split()[0] / "out"),
                    "STOCKNEWS_API_KEY": FAKE_TOKEN,
                    "STOCKNEWS_BASE_URL": api.base_url,
                    "NUMERAI_UNIVERSE": str(universe),
                    "NUMERAI_DATA_DIR": str(package_resources.files("signals_assets.numerai") / "sample_data"),
                    "FINBERT_MODEL": str(finbert),
                    "FINBERT_PRECISION": "fp32",
                    "FINBERT_DEVICE": "cpu",
                }
                results[name] = run_week(env, target, root / name.split()[0] / "home")
    print(f"\none sample week ({SAMPLE_WEEK_KEYS[0]}), SIGNALS_EXECUTOR=multiprocess, `dagster job execute`:")
    for name, result in results.items():
        print(
            f"  {name:24s} wall {result['wall_s']:6.1f} s, CPU {result['cpu_s']:6.1f} s, "
            f"{result['steps']} step processes, start-up median {result['startup_median_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
