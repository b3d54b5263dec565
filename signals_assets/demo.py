"""`make demo`: every sample week through every asset, scored as Numerai scores it, then the backtest.

Runs the same `weekly_signal` job as the schedule once per sample week (oldest first, so each week's churn
and smoothing see the week before), then `backtest_report`, all recorded in DAGSTER_HOME (default
`.dagster_home`) so that `make ui` shows the runs afterwards. The terminal gets a line per week, a line per
asset of the latest week and the backtest tables; Dagster's event stream goes to a log file.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
from pathlib import Path

import dagster as dg

from signals_assets.news.sample import SAMPLE_WEEK_KEYS, sample_articles
from signals_assets.weeks import Week

HUB_HOST = "huggingface.co"
DEMO_MODEL_DIR = "demo-finbert-untrained"
LOG_FILE = "demo.log"  # under the warehouse's data_dir


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def _finbert_override(data_dir: Path) -> dict[str, object]:
    """No override with FINBERT_MODEL set or the hub reachable; else an untrained FinBERT-shaped model
    (with a loud warning) so that every step runs on an offline machine."""
    from signals_assets.defs.environment import is_set
    from signals_assets.defs.sentiment.resources import FinBERT

    if is_set("FINBERT_MODEL"):
        print(f"FinBERT: {os.environ['FINBERT_MODEL']} (FINBERT_MODEL)")
        return {}
    if _hub_reachable():
        print("FinBERT: ProsusAI/finbert from the Hugging Face hub (first run downloads about 440 MB)")
        return {}
    from signals_assets.sentiment.untrained_model import build_demo_model

    directory = build_demo_model(data_dir / DEMO_MODEL_DIR, (item["title"] for item in sample_articles()))
    print(
        "\nWARNING: the Hugging Face hub cannot be reached and FINBERT_MODEL is not set.\n"
        f"WARNING: this demo scores with an UNTRAINED FinBERT-shaped model ({directory}):\n"
        "WARNING: every step runs, but the sentiment and the signal are meaningless.\n"
        "WARNING: for real scores run FINBERT_MODEL=/path/to/finbert make demo (see docs/finbert.md).\n"
    )
    return {"finbert": FinBERT(model=str(directory))}


def _instance() -> tuple[dg.DagsterInstance, Path]:
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and Path("dagster.yaml").exists():
        shutil.copy("dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home)), home


def _account(result: dg.ExecuteInProcessResult) -> list[str]:
    """A line per asset (rows and step time) and per failed check."""
    seconds = {
        event.step_key: event.event_specific_data.duration_ms / 1000 for event in result.get_step_success_events()
    }
    lines = []
    for event in result.get_asset_materialization_events():
        name = event.asset_key.to_user_string()
        metadata = event.materialization.metadata
        rows = metadata.get("dagster/partition_row_count", metadata.get("dagster/row_count"))
        rows_text = f"{rows.value:>7,} rows" if rows is not None else " " * 12
        lines.append(f"  {name:<22} {rows_text}  {seconds.get(name, 0.0):6.1f} s")
    checks = result.get_asset_check_evaluations()
    passed = sum(check.passed for check in checks)
    lines.append(f"  {passed} of {len(checks)} checks passed")
    lines += [f"  check {check.check_name} FAILED: {check.description}" for check in checks if not check.passed]
    return lines


def _write_log(instance: dg.DagsterInstance, run_ids: list[str], path: Path) -> None:
    with path.open("w", encoding="utf-8") as log:
        for run_id in run_ids:
            for entry in instance.all_logs(run_id):
                step = f" {entry.step_key}" if entry.step_key else ""
                log.write(f"{entry.timestamp:.3f} {entry.level}{step} {entry.user_message}\n")


def _week_line(week: Week, result: dg.ExecuteInProcessResult) -> str:
    """One line for a week's run: outcome, time, and each signal's NCORR (or why it has none yet)."""
    seconds = sum(event.event_specific_data.duration_ms for event in result.get_step_success_events()) / 1000
    scores = []
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == "signal_evaluation":
            preview = event.materialization.metadata.get("preview")
            scores = _evaluation_summary(preview.value if preview is not None else None)
    outcome = "ok" if result.success else "FAILED"
    return f"  week {week.key} (Friday {week.friday}): {outcome} in {seconds:5.1f} s  {'; '.join(scores)}"


def _plain(cell: str) -> str:
    """A preview cell as the text it shows: previews escape markdown (`provider\\_labels`)."""
    return re.sub(r"\\(.)", r"\1", cell.strip())


def _evaluation_summary(preview_markdown: str | None) -> list[str]:
    """'finbert NCORR 0.012' per signal row of signal_evaluation's preview table (markdown)."""
    if not preview_markdown:
        return []
    rows = [line.strip("|").split("|") for line in preview_markdown.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        return []
    header = [_plain(cell) for cell in rows[0]]
    found = []
    for row in rows[2:]:
        values = dict(zip(header, (_plain(cell) for cell in row)))
        if values.get("status") == "scored":
            try:
                ncorr = f"{float(values.get('ncorr', '')):+.4f}"
            except ValueError:
                ncorr = "n/a"
            found.append(f"{values.get('signal')} NCORR {ncorr}")
        elif values.get("status"):
            found.append(f"{values.get('signal')} {values.get('status')}")
    return found


def _backtest(
    definitions: dg.Definitions, instance: dg.DagsterInstance, warehouse
) -> tuple[dg.ExecuteInProcessResult, str]:
    """backtest_report over every week in the warehouse, its two tables and the variant table as text."""
    from signals_assets.evaluation.backtest import report_sections
    from signals_assets.evaluation.comparison import variant_table
    from signals_assets.evaluation.report import backtest_tables_text, text_table, variant_table_text

    result = definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey("backtest_report")],
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    if not result.success:
        return result, ""
    with warehouse.connect() as connection:
        rows = connection.execute("SELECT * FROM signals.backtest_report").fetchdf()
        scores = connection.execute("SELECT variant, n_headlines, n_stories FROM signals.finbert_scores").fetchdf()
    summary, halflives = report_sections(rows)
    settings = definitions.resources["signal_settings"]
    variants = settings.all_variants()
    table = variant_table(
        summary,
        scores,
        [variant.name for variant in variants if variant.collapse_stories],
        [variant.name for variant in variants],
    )
    lines = [
        # The submitted variant's halflife trade-off; every variant's is in the report.
        backtest_tables_text(summary, halflives, compact=True, variant=settings.variant),
        "",
        "Variants side by side: NCORR over the scored weeks; over all weeks the (ticker, headline) rows, the",
        "distinct stories among them, and what each variant's mean counted (docs/variants.md reads it):",
        text_table(variant_table_text(table)),
    ]
    return result, "\n".join(lines)


def main() -> int:
    from signals_assets.definitions import build_definitions
    from signals_assets.defs.warehouse import Warehouse
    from signals_assets.numerai.submission_file import submission_csv_path

    # Resolved as a run resolves it: a setting from the environment (SIGNALS_DATA_DIR, ...) is an EnvVar until then.
    warehouse = Warehouse().process_config_and_initialize()
    data_dir = Path(warehouse.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    weeks = [Week.from_key(key) for key in SAMPLE_WEEK_KEYS]
    definitions = build_definitions(_finbert_override(data_dir))
    instance, home = _instance()
    log_path = data_dir / LOG_FILE
    print(f"Materializing the {len(weeks)} sample weeks {weeks[0].key} .. {weeks[-1].key} through every asset...")
    results: list[dg.ExecuteInProcessResult] = []
    with instance:
        job = definitions.resolve_job_def("weekly_signal")
        for week in weeks:
            result = job.execute_in_process(
                partition_key=week.key,
                instance=instance,
                raise_on_error=False,
                # The terminal gets this account; Dagster's own event stream goes to the log file below.
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
            results.append(result)
            print(_week_line(week, result))
            if not result.success:
                break
        report, tables = _backtest(definitions, instance, warehouse) if results[-1].success else (None, "")
        _write_log(instance, [run.run_id for run in results + ([report] if report else [])], log_path)
    failed = next((run for run in results if not run.success), report if report and not report.success else None)
    if failed is not None:
        failures = [event.message for event in failed.all_events if event.is_failure]
        print("The demo run failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        print(f"Full log: {log_path.resolve()}", file=sys.stderr)
        return 1
    latest = weeks[-1]
    print(f"\nThe latest week, {latest.key}, asset by asset:")
    print("\n".join(_account(results[-1])))
    print(f"\n{tables}")
    report_path = report.asset_materializations_for_node("backtest_report")[0].metadata.get("report")
    where = (
        f"{Path(warehouse.delta_root).resolve()} (Delta Lake tables, signals/<asset>)"
        if warehouse.backend == "delta"
        else f"{Path(warehouse.database).resolve()} (DuckDB, schema signals)"
    )
    print(f"\nWarehouse:      {where}")
    print(
        f"Submission CSV: {submission_csv_path(warehouse.submissions_dir(), latest.friday).resolve()} "
        "(validated with numerai-tools; sample weeks are never uploaded)"
    )
    if report_path is not None:
        print(f"Backtest:       {report_path.value}")
    print(f"Full log:       {log_path.resolve()}")
    print(f"Dagster runs recorded in {home}: `make ui` shows them at http://127.0.0.1:3000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
